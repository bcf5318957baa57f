"""The FastAPI application factory: ``create_app(settings)`` (no app is created at import)."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from fastapi import Depends, FastAPI

from service import __version__
from service.domain import line_index
from service.maps import content as maps
from service.settings import Settings
from service.store import nearby, open_store
from service.store.base import FeatureStore
from service.web import pages
from service.web.health import Readiness
from service.web.middleware import (
    ForwardedMiddleware,
    HttpCachingMiddleware,
    PublicOriginMiddleware,
    RequestLimitsMiddleware,
    ResponseHeadersMiddleware,
    ResponseMemo,
)
from service.web.openapi import to_openapi_30
from service.web.params import reject_unknown_params
from service.web.problems import UnexpectedErrorMiddleware, register_error_handlers
from service.web.routes import borders, locate, meta, ogc, places, studio
from service.web.routes.maps import install as install_maps
from service.web.routes.maps import start as start_maps

logger = logging.getLogger("service")

DESCRIPTION = (
    "The frontiers of Belarus as OGC API – Features (Part 1: Core, GeoJSON, HTML, OpenAPI 3.0) "
    "plus border analytics: measured lengths, distances, crossings, zones and place search. "
    "Data © OpenStreetMap contributors (ODbL) and GeoNames (CC BY 4.0)."
)


def create_app(settings: Settings | None = None, store: FeatureStore | None = None) -> FastAPI:
    """Build the application; the store is opened once, in the lifespan (unless given)."""
    settings = settings or Settings()
    http = settings.http

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = store or await open_store(settings.store)
        app.state.store = opened
        start_maps(app, settings, opened)
        studio.start(app, settings.studio)  # studio (issue 11): saved maps, opened on first use
        logger.info("store: %s %s, data %s, opened in %.2f s", opened.info.backend,
                    opened.info.location, opened.info.data_version, opened.info.opened_seconds)
        # The compiled searches (numba: loaded from its cache, or compiled once) and the
        # map pages' shared work (basemaps, the frontier map) are done in the background,
        # so start-up does not wait for them and the first reader rarely does.
        app.state.maps_ready = False
        readiness = app.state.readiness

        def warm_up() -> None:
            try:
                line_index.compile_search()
                nearby.compile_walk()
            except Exception:  # a query would compile them again, and say why it failed
                logger.exception("compiling the searches failed")
            try:
                maps.warm_up(opened.frontier)
            except Exception as exc:
                logger.exception("map warm-up failed")
                readiness.maps = {"status": "failing", "detail": f"{type(exc).__name__}: {exc}"}
                return
            readiness.maps = {"status": "ok"}
            app.state.maps_ready = True
            gc.freeze()  # the maps' shared work is long-lived too (see _tune_gc)

        _tune_gc()
        threading.Thread(target=warm_up, daemon=True, name="map-warm-up").start()
        try:
            yield
        finally:
            studio.stop(app)  # studio (issue 11)
            if store is None:
                await opened.close()

    app = FastAPI(
        title=http.title,
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,  # served by routes/meta.py as OpenAPI 3.0 at /api
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(reject_unknown_params)],
    )
    app.state.settings = settings
    # The one memo of finished responses; /healthz reports its hits, misses and size.
    app.state.response_memo = ResponseMemo(http.response_memo_bytes)
    app.state.readiness = Readiness()
    # Replaceable by the map pages: (kind, document, request) -> HTML string.
    app.state.html_renderer = pages.render

    @cache
    def openapi_30() -> dict[str, Any]:
        return to_openapi_30(app.openapi())

    app.state.openapi_30 = openapi_30
    register_error_handlers(app)
    for module in (ogc, borders, places, locate, meta):
        app.include_router(module.router)
    install_maps(app)  # /maps/…, /oembed, /static; maps on f=html collection pages
    studio.install(app)  # /api/maps, /maps/saved/…, /studio
    app.add_middleware(UnexpectedErrorMiddleware)  # innermost: a 500 gets every header below
    app.add_middleware(
        HttpCachingMiddleware,
        max_age=http.cache_max_age,
        min_size=http.compress_min_bytes,
        memo=app.state.response_memo,
    )
    # X-Data-Version, security headers and CORS, in one pass over each response's headers.
    app.add_middleware(ResponseHeadersMiddleware, version=lambda: _data_version(app), cors={
        "allow_origins": list(http.cors_origins),
        "allow_methods": ["GET", "HEAD", "OPTIONS"],
        "allow_headers": ["*"],
        "expose_headers": ["ETag", "Content-Encoding", "X-Data-Version"],
        "max_age": 86400,
    })  # fmt: skip
    # Each of these costs a layer on every request: added only when configured.
    if http.public_base_url or http.allowed_hosts:
        app.add_middleware(PublicOriginMiddleware, public_base_url=http.public_base_url,
                           allowed_hosts=list(http.allowed_hosts))  # fmt: skip
    if http.trusted_proxies:
        app.add_middleware(ForwardedMiddleware, trusted=list(http.trusted_proxies))
    app.add_middleware(RequestLimitsMiddleware)  # outermost: refuse oversized requests first
    return app


#: Allocations between two young-generation collections (CPython's default is 700): a
#: request allocates a few thousand short-lived objects, so with the default every
#: request paid for several collections.
GC_GEN0_THRESHOLD = 20_000


def _tune_gc() -> None:
    """Keep the collector off what lives as long as the process: the objects made at
    start-up (store, frontier geometry, imported modules, ~85,000) are moved out of its
    reach, so a full collection no longer walks them (one took 0.1-0.4 s, in the middle
    of a request: the long tail of the latency), and young collections run less often.
    No collection first: it would cost start-up as much, for little garbage."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(GC_GEN0_THRESHOLD, gc.get_threshold()[0]), gen1, gen2)


def _data_version(app: FastAPI) -> str | None:
    store = getattr(app.state, "store", None)
    return store.info.data_version if store is not None else None
