"""The ceiling for ``bench/uncached.py``: a bare Starlette app answering each
benchmark URL with the exact bytes and content type our service returned for it.

``$BENCH_UNCACHED_DIR/index.json`` maps ``path?query`` to ``[blob, offset, length,
content type]``; the blobs are read once at import. Unknown URLs answer 404.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_DIR = Path(os.environ.get("BENCH_UNCACHED_DIR", "bench/work/uncached"))
_INDEX: dict[str, list] = json.loads((_DIR / "index.json").read_text())
_BLOBS = {name: (_DIR / name).read_bytes() for name in {v[0] for v in _INDEX.values()}}
_BODIES: dict[bytes, tuple[bytes, str]] = {
    url.encode(): (_BLOBS[blob][off : off + size], ctype)
    for url, (blob, off, size, ctype) in _INDEX.items()
}
del _BLOBS


async def body(request: Request) -> Response:
    key = request.scope["raw_path"]
    if request.scope["query_string"]:
        key += b"?" + request.scope["query_string"]
    hit = _BODIES.get(key)
    if hit is None:
        return Response(b"not found", status_code=404)
    return Response(hit[0], media_type=hit[1])


app = Starlette(routes=[Route("/{rest:path}", body)])
