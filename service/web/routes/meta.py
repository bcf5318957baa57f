"""The API description (/api, /api.html) and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.web.models import Health
from service.web.params import FormatDep, StoreDep
from service.web.responses import HTMLResponse, JSONResponse, OpenAPIResponse, document_response

router = APIRouter(tags=["Service"])


@router.get("/api", summary="OpenAPI 3.0 description", response_class=OpenAPIResponse)
def api(request: Request, fmt: FormatDep) -> Response:
    """The OpenAPI 3.0 document of this API (``f=html`` gives the HTML docs)."""
    doc = request.app.state.openapi_30()
    if fmt == "html":
        return document_response(request, fmt, "api", doc)
    return OpenAPIResponse(doc)


@router.get("/api.html", summary="API documentation (HTML)", include_in_schema=True,
            response_class=HTMLResponse)
def api_html(request: Request) -> Response:
    """Human-readable documentation of every endpoint and problem type, served locally."""
    return document_response(request, "html", "api", request.app.state.openapi_30())


@router.get("/healthz", summary="Health check", response_model=Health)
async def healthz(request: Request, store: StoreDep) -> Response:
    """200 once the store is open: backend, data version, feature counts, map warm-up."""
    doc = {
        "status": "ok",
        "store": store.info.backend,
        "data_version": store.info.data_version,
        "features": {c.id: c.count for c in await store.collections()},
        "loaded_at": store.info.data_time,
        "maps": "ready" if getattr(request.app.state, "maps_ready", False) else "warming",
    }
    return JSONResponse(doc, headers={"cache-control": "no-store"})
