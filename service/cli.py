"""The ``frontier-atlas`` command line: ``serve`` (more subcommands can be added)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from service.maps.cli import add_map_command
from service.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    uvicorn.run(
        "service.asgi:app",
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        log_level=settings.log_level,
        access_log=settings.access_log,
        proxy_headers=True,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each subcommand sets ``func``."""
    parser = argparse.ArgumentParser(prog="frontier-atlas", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API (HOST, PORT, WORKERS env or flags)")
    serve.add_argument("--host", help="interface (default $HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default $PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default $WORKERS or 1)")
    serve.set_defaults(func=_serve)
    add_map_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
