"""Liveness and readiness: what each subsystem can do right now, checked for real.

Liveness (``/livez``) only says the process answers. Readiness (``/healthz``)
asks the store the questions the API asks (an item, a search, the nearest
border, the country at a point) and reports the map renderers' state; the result
is kept for a second or two so that a probe costs nothing under load.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from service.domain.records import ItemsQuery, PlaceQuery
from service.store.base import FeatureStore

logger = logging.getLogger("service.web.health")

#: How long one readiness result is reused (seconds).
READINESS_TTL_S = 2.0
#: A store check slower than this counts as failing (seconds).
CHECK_TIMEOUT_S = 2.0


async def _store_checks(store: FeatureStore) -> dict[str, Any]:
    """The store's answers to one question of each kind, or what went wrong."""
    probes = {
        "items": lambda: store.items("places", ItemsQuery(limit=1)),
        "search": lambda: store.search_places(PlaceQuery(q="Minsk", limit=1)),
        "nearest_border": lambda: store.nearest_border(27.56, 53.9),
        "country_at": lambda: store.country_at(27.56, 53.9),
    }
    out = {}
    for name, probe in probes.items():
        started = time.perf_counter()
        try:
            await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
            out[name] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 2)}
        except Exception as exc:  # noqa: BLE001 - a probe reports every failure
            logger.error("readiness: store check %s failed: %s", name, exc)
            out[name] = {"status": "failing", "detail": type(exc).__name__}
    return out


class Readiness:
    """Readiness of the app's subsystems, cached for ``READINESS_TTL_S``."""

    def __init__(self) -> None:
        self._at = 0.0
        self._doc: dict[str, Any] | None = None
        self.maps: dict[str, Any] = {"status": "warming"}

    async def report(self, store: FeatureStore) -> dict[str, Any]:
        """Every subsystem's status; ``status`` is ``ok`` only if all are."""
        now = time.monotonic()
        if self._doc is not None and now - self._at < READINESS_TTL_S:
            return {**self._doc, "maps": dict(self.maps)}
        checks = await _store_checks(store)
        store_ok = all(c["status"] == "ok" for c in checks.values())
        self._doc = {"store": {"status": "ok" if store_ok else "failing",
                               "backend": store.info.backend, "checks": checks}}  # fmt: skip
        self._at = now
        return {**self._doc, "maps": dict(self.maps)}
