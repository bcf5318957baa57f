"""Bounds on map rendering: how many renders run at once, how many may wait, and
giving memory back to the system after a burst.

A cold map page costs tens to hundreds of milliseconds of CPU and a large PNG
seconds and hundreds of megabytes; without a bound, one client asking for many
different maps at once takes the service down. Cached answers never wait here.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

from service.domain.errors import BusyError

logger = logging.getLogger("service.maps.limits")
T = TypeVar("T")


def _libc_trim() -> Callable[[], None]:
    """glibc's malloc_trim (returns freed heap pages to the system), or a no-op."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return lambda: None
    return lambda: trim(0)


trim_memory = _libc_trim()


class RenderLimiter:
    """At most *concurrency* renders at once and *queue* waiting for a turn; past that,
    BusyError (the web layer answers 503 with Retry-After)."""

    def __init__(self, concurrency: int = 2, queue: int = 16, retry_after_s: int = 5) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.retry_after_s = retry_after_s
        self._slots = asyncio.Semaphore(concurrency)
        self.waiting = 0
        self.running = 0
        self.refused = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run *fn* in a worker thread when a slot is free."""
        if self._slots.locked() and self.waiting >= self.queue:
            self.refused += 1
            raise BusyError(
                f"Too many maps are being drawn right now ({self.running} drawing, "
                f"{self.waiting} waiting); try again in {self.retry_after_s} s.",
                retry_after_s=self.retry_after_s,
            )
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        finally:
            self.running -= 1
            self._slots.release()
            if self.running == 0 and self.waiting == 0:
                trim_memory()  # after a burst, give the renderers' memory back

    def stats(self) -> dict[str, int]:
        """Renders running and waiting now, the bounds, and how many were refused."""
        return {"running": self.running, "waiting": self.waiting,
                "concurrency": self.concurrency, "queue": self.queue, "refused": self.refused}
