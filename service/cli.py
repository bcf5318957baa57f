"""The ``frontier-atlas`` command line: ``serve`` (more subcommands can be added)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from service.maps.cli import add_map_command
from service.settings import Settings
from service.studio.cli import add_studio_commands  # studio (issue 11)


def _serve(args: argparse.Namespace) -> int:
    # Granian, not uvicorn: uvicorn has no deadline for reading a request's headers,
    # so idle and slow-header sockets were held for ever (issue 13).
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    settings = Settings()
    server = settings.server
    problem = _store_problem(settings)
    if problem:  # one clear line, not a traceback from every worker
        print(f"frontier-atlas serve: cannot start: {problem}", file=sys.stderr)
        return 2
    Server(
        "service.asgi:app",
        address=args.host or server.host,
        port=args.port or server.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        workers=args.workers or server.workers,
        websockets=False,
        backlog=2048,
        # Request line + headers must arrive within 5 s and fit in 64 KiB (else 431).
        # HTTP/1 only: in "auto" mode granian first sniffs for an HTTP/2 preface with no
        # deadline, so sockets that never send a byte stayed open; now they close at 5 s.
        http1_settings=HTTP1Settings(header_read_timeout=5_000, max_buffer_size=64 * 1024),
        log_level=server.log_level if server.log_level != "trace" else "debug",
        log_access=server.access_log,
        respawn_failed_workers=True,
    ).serve()
    return 0


def _store_problem(settings: Settings) -> str | None:
    """Open the store once (building the embedded file if needed): None, or what is wrong."""
    import asyncio

    from service.domain.errors import StoreError
    from service.store import open_store

    async def check() -> None:
        store = await open_store(settings.store)
        await store.close()

    try:
        asyncio.run(check())
    except StoreError as exc:
        return exc.detail
    return None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each subcommand sets ``func``."""
    parser = argparse.ArgumentParser(prog="frontier-atlas", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API (HOST, PORT, WORKERS env or flags)")
    serve.add_argument("--host", help="interface (default $HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default $PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default $WORKERS or 1)")
    serve.set_defaults(func=_serve)
    build = sub.add_parser("build-store", help="build the embedded store file from the data "
                           "directory (also done at start-up when it is missing or stale)")
    build.add_argument("--force", action="store_true", help="rebuild even if it is current")
    build.set_defaults(func=_build_store)
    load = sub.add_parser("load", help="import the data into PostGIS "
                          "($FRONTIER_ATLAS_DATABASE_URL or --database-url)")
    load.add_argument("--database-url", help="postgresql://… (default: the setting)")
    load.set_defaults(func=_load)
    add_map_command(sub)
    add_studio_commands(sub)  # studio (issue 11): keys create|list|revoke, maps export|import
    return parser


def _build_store(args: argparse.Namespace) -> int:
    from service.store.embedded import build_file, describe, ensure_file

    store = Settings().store
    if args.force:
        build_file(store.data_dir, store.file)
    else:
        ensure_file(store.data_dir, store.file)
    info = describe(store.file)
    print(f"{info['path']}: {info['bytes']:,} bytes, data {info['data_version']}, "
          f"{sum(info['counts'].values()):,} features")
    return 0


def _load(args: argparse.Namespace) -> int:
    import asyncio

    store = Settings().store
    url = args.database_url or store.database_url
    if not url:
        raise SystemExit("frontier-atlas load: set FRONTIER_ATLAS_DATABASE_URL or --database-url")
    try:
        from service.store import postgis
    except ImportError as exc:
        raise SystemExit(f"frontier-atlas load: no PostGIS backend ({exc})") from None
    data = asyncio.run(postgis.load(url, store.data_dir))
    counts = {cid: len(col.features) for cid, col in data.collections.items()}
    print(f"loaded data {data.data_version} into PostGIS: {counts}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValidationError as exc:  # a bad setting: say which, in one line per field
        for err in exc.errors():
            name = "FRONTIER_ATLAS_" + "_".join(str(p) for p in err["loc"]).upper()
            print(f"frontier-atlas: {name}: {err['msg']}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
