"""Profiling experiment (not part of ``make bench``): our app with FastAPI's thread hops removed.

Every ``def`` route and dependency of the service runs in anyio's thread pool
(one hand-off per sync dependency plus one for the endpoint). This serves the
unchanged app with ``run_in_threadpool`` replaced by a direct call, which is
what declaring them ``async def`` does, to measure what the hops cost::

    .venv/bin/python bench/profile_experiment.py PORT MODE

MODE is a comma-separated set of: ``threads`` (the app as is), ``direct`` (no thread
hops), ``nolog`` (uvicorn access log off), ``nomw`` (without the caching and CORS
middleware), ``async`` (same as direct).
"""

from __future__ import annotations

import sys

import uvicorn


def main() -> None:
    port = int(sys.argv[1])
    modes = set((sys.argv[2] if len(sys.argv) > 2 else "direct").split(","))
    if modes & {"direct", "async"}:
        import fastapi.dependencies.utils
        import fastapi.routing

        async def direct(func, *args, **kwargs):  # type: ignore[no-untyped-def]
            return func(*args, **kwargs)

        fastapi.routing.run_in_threadpool = direct  # type: ignore[assignment]
        fastapi.dependencies.utils.run_in_threadpool = direct  # type: ignore[assignment]
    from service.app import create_app

    app = create_app()
    if "nomw" in modes:
        app.user_middleware = [
            m
            for m in app.user_middleware
            if m.cls.__name__ not in ("HttpCachingMiddleware", "CORSMiddleware")
        ]
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="info",
        proxy_headers=True,
        access_log="nolog" not in modes,
    )


if __name__ == "__main__":
    main()
