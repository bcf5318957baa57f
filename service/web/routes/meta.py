"""The API description (/api, /api.html) and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.web.models import Health
from service.web.params import FormatDep, StoreDep
from service.web.responses import HTMLResponse, JSONResponse, OpenAPIResponse, document_response
from service.web.routing import AtlasRoute

router = APIRouter(tags=["Service"], route_class=AtlasRoute)


@router.get("/api", summary="OpenAPI 3.0 description", response_class=OpenAPIResponse)
async def api(request: Request, fmt: FormatDep) -> Response:
    """The OpenAPI 3.0 document of this API (``f=html`` gives the HTML docs)."""
    doc = request.app.state.openapi_30()
    if fmt == "html":
        return document_response(request, fmt, "api", doc)
    return OpenAPIResponse(doc)


@router.get("/api.html", summary="API documentation (HTML)", include_in_schema=True,
            response_class=HTMLResponse)
async def api_html(request: Request) -> Response:
    """Human-readable documentation of every endpoint and problem type, served locally."""
    return document_response(request, "html", "api", request.app.state.openapi_30())


@router.get("/healthz", summary="Readiness: every subsystem checked", response_model=Health,
            responses={503: {"model": Health, "description": "A subsystem is failing"}})
async def healthz(request: Request, store: StoreDep) -> Response:
    """200 when the store answers a question of each kind and the map renderers are up;
    503 naming the failing subsystem otherwise. Also the data version, feature counts
    and the response cache's hits, misses and size."""
    subsystems = await request.app.state.readiness.report(store)
    failing = [name for name, sub in subsystems.items() if sub["status"] == "failing"]
    doc = {
        "status": "failing" if failing else "ok",
        "store": store.info.backend,
        "data_version": store.info.data_version,
        "features": {c.id: c.count for c in await store.collections()},
        "loaded_at": store.info.data_time,
        "maps": subsystems["maps"]["status"].replace("ok", "ready"),
        "subsystems": subsystems,
        "response_cache": request.app.state.response_memo.stats(),
        "renders": request.app.state.map_service.limiter.stats(),
    }
    return JSONResponse(doc, status_code=503 if failing else 200,
                        headers={"cache-control": "no-store"})


@router.get("/livez", summary="Liveness: the process answers (no data access)")
async def livez() -> Response:
    """200 while the process can answer at all; restart it when this fails."""
    return JSONResponse({"status": "alive"}, headers={"cache-control": "no-store"})
