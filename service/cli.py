"""The ``frontier-atlas`` command line: ``serve`` (more subcommands can be added)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from service.mapcli import add_map_command
from service.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    # Granian, not uvicorn: uvicorn has no deadline for reading a request's headers,
    # so idle and slow-header sockets were held for ever (issue 13).
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    settings = Settings()
    Server(
        "service.main:app",
        address=args.host or settings.host,
        port=args.port or settings.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        workers=args.workers or settings.workers,
        websockets=False,
        backlog=2048,
        # Request line + headers must arrive within 5 s and fit in 64 KiB (else 431).
        # HTTP/1 only: in "auto" mode granian first sniffs for an HTTP/2 preface with no
        # deadline, so sockets that never send a byte stayed open; now they close at 5 s.
        http1_settings=HTTP1Settings(header_read_timeout=5_000, max_buffer_size=64 * 1024),
        log_level=settings.log_level if settings.log_level != "trace" else "debug",
        log_access=settings.access_log,
        respawn_failed_workers=True,
    ).serve()
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
