"""The cache of rendered pages and images."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from threading import Lock
from typing import Any


class RenderCache:
    """A small thread-safe LRU of rendered pages/images keyed by normalised inputs."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = Lock()
        self.hits = self.misses = 0

    def peek(self, key: Any) -> Any | None:
        """The cached value for *key*, or None (never makes it)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        return None

    def get_or_make(self, key: Any, make: Callable[[], Any]) -> Any:
        """The cached value for *key*, made once."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        value = make()
        with self._lock:
            self.misses += 1
            self._items[key] = value
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value
