"""``frontier-atlas keys create|list|revoke`` and ``frontier-atlas maps export|import``.

They open the same maps repository as the service (the settings decide which), so an
API key made here works at once for every replica that shares the database.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from service.settings import Settings
from service.studio.store import MapRepository, export_json, import_json, open_repository


def _repository() -> MapRepository:
    settings = Settings().studio
    return open_repository(settings.state_dir, settings.database_url)


def _keys_create(args: argparse.Namespace) -> int:
    repo = _repository()
    try:
        key, secret = repo.create_key(args.name)
    finally:
        repo.close()
    print(f"{key.id}\t{key.name}\tcreated {key.created}")
    print(f"secret (shown once, stored only as a hash): {secret}")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    repo = _repository()
    try:
        keys = repo.keys()
    finally:
        repo.close()
    for key in keys:
        state = f"revoked {key.revoked}" if key.revoked else "active"
        print(f"{key.id}\t{key.name}\tcreated {key.created}\t{state}")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    repo = _repository()
    try:
        key = repo.revoke_key(args.key_id)
    except Exception as exc:  # the repository's errors carry a readable detail
        print(f"frontier-atlas keys revoke: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 1
    finally:
        repo.close()
    print(f"{key.id}\trevoked {key.revoked}")
    return 0


def _maps_export(args: argparse.Namespace) -> int:
    repo = _repository()
    try:
        data = export_json(repo)
    finally:
        repo.close()
    if args.output == "-":
        sys.stdout.buffer.write(data + b"\n")
    else:
        Path(args.output).write_bytes(data + b"\n")
        print(f"exported to {args.output}", file=sys.stderr)
    return 0


def _maps_import(args: argparse.Namespace) -> int:
    data = sys.stdin.buffer.read() if args.input == "-" else Path(args.input).read_bytes()
    repo = _repository()
    try:
        report = import_json(repo, data)
    except Exception as exc:
        print(f"frontier-atlas maps import: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 1
    finally:
        repo.close()
    print(f"imported {report.imported} map(s); skipped {len(report.skipped)} already present"
          + (f": {', '.join(report.skipped)}" if report.skipped else ""))
    return 0


def add_studio_commands(sub: Any) -> None:
    """Register ``keys`` and ``maps`` on the ``frontier-atlas`` parser."""
    keys = sub.add_parser("keys", help="API keys for scripted map making (stored hashed)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key; its secret is printed once")
    create.add_argument("name", help="who or what uses it, e.g. 'newsroom bot'")
    create.set_defaults(func=_keys_create)
    keys_sub.add_parser("list", help="every key, revoked ones too").set_defaults(func=_keys_list)
    revoke = keys_sub.add_parser("revoke", help="stop a key working at once")
    revoke.add_argument("key_id", help="the key's id (key_…)")
    revoke.set_defaults(func=_keys_revoke)

    maps = sub.add_parser("maps", help="back up and restore saved maps as JSON")
    maps_sub = maps.add_subparsers(dest="maps_command", required=True)
    export = maps_sub.add_parser("export", help="every map and every version, as JSON")
    export.add_argument("-o", "--output", default="-", help="file (default: stdout)")
    export.set_defaults(func=_maps_export)
    imp = maps_sub.add_parser("import", help="add the maps of an export (existing ids skipped)")
    imp.add_argument("input", help="export file, or - for stdin")
    imp.set_defaults(func=_maps_import)
