"""The Python ceiling: a bare Starlette app returning pre-built bytes.

It serves every file of ``$BENCH_BYTES_DIR`` (the bodies our service returned,
captured by ``bench/run.py``) at ``/e/<file name>``, read once at import, with
the content type our service sent. Run it with the same uvicorn as the service.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_DIR = Path(os.environ.get("BENCH_BYTES_DIR", "bench/work/bytes"))
_TYPES: dict[str, str] = json.loads((_DIR / "types.json").read_text())
_BODIES = {name: (_DIR / name).read_bytes() for name in _TYPES}


async def body(request: Request) -> Response:
    name = request.path_params["name"]
    data = _BODIES.get(name)
    if data is None:
        return Response(b"not found", status_code=404)
    return Response(data, media_type=_TYPES[name])


app = Starlette(routes=[Route("/e/{name}", body)])
