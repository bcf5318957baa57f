"""Stores: the one way to reach data. ``open_store(settings)`` picks the backend."""

from __future__ import annotations

from service.settings import StoreSettings
from service.store.base import FeatureStore


async def open_store(settings: StoreSettings) -> FeatureStore:
    """PostGIS when ``database_url`` is set, else the embedded file (built if needed)."""
    if settings.database_url:
        from service.store.postgis import PostgisStore  # psycopg only when asked for

        return await PostgisStore.open(settings.database_url, pool_size=settings.pool_size)
    from service.store.embedded import EmbeddedStore

    return EmbeddedStore.open(settings.data_dir, settings.file, settings.mmap_bytes)
