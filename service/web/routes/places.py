"""Places: search by name (any script) or distance, and distances to every border."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service.errors import InvalidParameterError
from service.web.links import href, link, page_links, self_links
from service.web.models import PlaceBorders
from service.web.params import (
    CatalogDep,
    FormatDep,
    LimitDep,
    OffsetDep,
    SettingsDep,
    parse_lonlat,
)
from service.web.responses import GEOJSON, HTML, GeoJSONResponse, document_response
from service.web.routes.ogc import ERRORS, feature_response

router = APIRouter(tags=["Places"])


@router.get(
    "/places",
    summary="Search places by name and/or distance",
    description="`q` ignores case, diacritics and script (Divin, Дивин, Дзівін and dzivin all "
    "find Divin first); `near=lon,lat` with `radius_km` (default 25, at most 1,000) finds "
    "places within that geodesic distance, nearest first, with `distance_km`.",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
def places(
    request: Request,
    fmt: FormatDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    limit: LimitDep,
    offset: OffsetDep,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Name, in any script.")
    ] = None,
    near: Annotated[
        str | None, Query(description="lon,lat in degrees.", examples=["24.575,51.958"])
    ] = None,
    radius_km: Annotated[
        float | None, Query(gt=0, description="Search radius in km (with near).")
    ] = None,
    country: Annotated[str | None, Query(description="alpha-2 or alpha-3 code.")] = None,
    kind: Annotated[str | None, Query(description="capital, city, town or village.")] = None,
) -> Response:
    """Matching places as a GeoJSON FeatureCollection, best match (or nearest) first."""
    if radius_km is not None and near is None:
        raise InvalidParameterError("radius_km needs near=lon,lat.")
    if radius_km is not None and radius_km > settings.max_radius_km:
        raise InvalidParameterError(f"radius_km must be at most {settings.max_radius_km:g}.")
    point = parse_lonlat("near", near) if near is not None else None
    col = catalog.collection("places")
    raw_filters = {k: v for k, v in (("country", country), ("kind", kind)) if v is not None}
    filters = catalog.parse_filters(col, raw_filters)
    hits = catalog.search_places(q, point, radius_km, filters)
    page = hits[offset : offset + limit]
    meta: dict[str, Any] = {
        "numberMatched": len(hits),
        "numberReturned": len(page),
        "timeStamp": catalog.loaded_at,
        "links": page_links(request, len(hits), offset, limit, len(page)),
    }

    def feature(i: int, distance: float | None) -> dict[str, Any]:
        f = col.features[i]
        if distance is None:
            return f
        return {**f, "properties": {**f["properties"], "distance_km": round(distance, 3)}}

    if fmt == "html":
        doc = {"type": "FeatureCollection", "collection": "places", "title": "Places",
               "features": [feature(i, d) for i, d in page], **meta}  # fmt: skip
        return document_response(request, fmt, "items", doc)
    parts = [col.feature_bytes[i] if d is None else orjson.dumps(feature(i, d)) for i, d in page]
    body = b'{"type":"FeatureCollection","features":[' + b",".join(parts) + b"],"
    return GeoJSONResponse(body + orjson.dumps(meta)[1:])


@router.get(
    "/places/{placeId}",
    summary="One place",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
def place(
    request: Request,
    placeId: str,  # noqa: N803 - URL template name
    fmt: FormatDep,
    catalog: CatalogDep,
) -> Response:
    """A place as a GeoJSON Feature."""
    index = catalog.place(placeId)
    return feature_response(request, fmt, catalog.collection("places"), index, f"places/{placeId}")


@router.get(
    "/places/{placeId}/borders",
    summary="Distance from a place to every border",
    response_model=PlaceBorders,
    responses=ERRORS,
)
def place_borders(
    request: Request,
    placeId: str,  # noqa: N803 - URL template name
    fmt: FormatDep,
    catalog: CatalogDep,
) -> Response:
    """Geodesic distance (km, WGS84) to each border, nearest first, with the nearest point."""
    index = catalog.place(placeId)
    feature = catalog.collection("places").features[index]
    lon, lat = feature["geometry"]["coordinates"][:2]
    doc = {
        "place": feature["id"],
        "name": feature["properties"].get("name"),
        "title": f"Borders near {feature['properties'].get('name')}",
        "coordinates": [lon, lat],
        "borders": list(catalog.distances_to_borders(float(lon), float(lat))),
        "links": [
            *self_links(request, f"places/{placeId}/borders"),
            link(href(request, f"places/{placeId}"), "related", GEOJSON, "The place"),
        ],
    }
    return document_response(request, fmt, "place-borders", doc)
