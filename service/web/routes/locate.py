"""Which country a point lies in, and the nearest border."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service.web.links import current_links
from service.web.models import Locate
from service.web.params import FormatDep, StoreDep, check_lonlat
from service.web.responses import document_response
from service.web.routes.ogc import ERRORS
from service.web.routing import AtlasRoute

router = APIRouter(tags=["Borders"], route_class=AtlasRoute)


@router.get("/locate", summary="Country at a point and the nearest border",
            response_model=Locate, responses=ERRORS)  # fmt: skip
async def locate(
    request: Request,
    fmt: FormatDep,
    store: StoreDep,
    lon: Annotated[float, Query(description="Longitude, degrees (CRS84).")],
    lat: Annotated[float, Query(description="Latitude, degrees (CRS84).")],
) -> Response:
    """The country whose land holds the point (null on lakes or outside the data) and the
    nearest border with the geodesic distance (km) and nearest point."""
    check_lonlat(lon, lat)
    doc = {
        "title": f"Location {lon:.5f}, {lat:.5f}",
        "lon": lon,
        "lat": lat,
        "country": country.to_dict() if (country := await store.country_at(lon, lat)) else None,
        "nearest_border": (await store.nearest_border(lon, lat)).to_dict(),
        "links": current_links(request),
    }
    return document_response(request, fmt, "locate", doc)
