"""The API description (/api, /api.html) and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.web.models import Health
from service.web.params import CatalogDep, FormatDep
from service.web.responses import JSONResponse, OpenAPIResponse, document_response

router = APIRouter(tags=["Service"])


@router.get("/api", summary="OpenAPI 3.0 description", response_class=OpenAPIResponse)
def api(request: Request, fmt: FormatDep) -> Response:
    """The OpenAPI 3.0 document of this API (``f=html`` gives the HTML docs)."""
    doc = request.app.state.openapi_30()
    if fmt == "html":
        return document_response(request, fmt, "api", doc)
    return OpenAPIResponse(doc)


@router.get("/api.html", summary="API documentation (HTML)", include_in_schema=True)
def api_html(request: Request) -> Response:
    """Human-readable documentation of every endpoint and problem type, served locally."""
    return document_response(request, "html", "api", request.app.state.openapi_30())


@router.get("/healthz", summary="Health check", response_model=Health)
def healthz(request: Request, catalog: CatalogDep) -> Response:
    """200 once the data is loaded; feature counts; background work still running."""
    doc = {
        "status": "ok",
        "features": {cid: len(c.features) for cid, c in catalog.collections.items()},
        "loaded_at": catalog.loaded_at,
        "search_index": "ready" if catalog.search_ready else "building",
        "maps": "ready" if getattr(request.app.state, "maps_ready", False) else "warming",
    }
    return JSONResponse(doc, headers={"cache-control": "no-store"})
