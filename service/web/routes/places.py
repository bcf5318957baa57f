"""Places: search by name (any script) or distance, and distances to every border."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service.domain.errors import InvalidParameterError
from service.domain.records import PlaceQuery
from service.web.links import href, link, moved, self_links
from service.web.models import PlaceBorders
from service.web.params import (
    FormatDep,
    LimitDep,
    OffsetDep,
    SettingsDep,
    StoreDep,
    parse_filters,
    parse_lonlat,
)
from service.web.responses import GEOJSON, HTML, GeoJSONResponse, document_response
from service.web.routes.ogc import ERRORS, feature_collection, feature_response
from service.web.routing import AtlasRoute

router = APIRouter(tags=["Places"], route_class=AtlasRoute)


@router.get(
    "/places",
    summary="Search places by name and/or distance",
    description="`q` ignores case, diacritics and script (Divin, Дивин, Дзівін and dzivin all "
    "find Divin first); `near=lon,lat` with `radius_km` (default 25, at most 1,000) finds "
    "places within that geodesic distance, nearest first, with `distance_km`.",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
async def places(
    request: Request,
    fmt: FormatDep,
    store: StoreDep,
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
    if radius_km is not None and radius_km > (ceiling := settings.limits.max_radius_km):
        raise InvalidParameterError(f"radius_km must be at most {ceiling:g}.")
    point = parse_lonlat("near", near) if near is not None else None
    col = await store.collection("places")
    raw_filters = {k: v for k, v in (("country", country), ("kind", kind)) if v is not None}
    filters = parse_filters(store, col.queryables, raw_filters)
    page = await store.search_places(PlaceQuery(q, point, radius_km, filters, limit, offset))
    return feature_collection(request, fmt, col, page, limit, offset, store.info.data_time)


@router.get(
    "/places/{placeId}",
    summary="One place",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
async def place(
    request: Request,
    placeId: str,  # noqa: N803 - URL template name
    fmt: FormatDep,
    store: StoreDep,
) -> Response:
    """A place as a GeoJSON Feature."""
    feature = await store.place(placeId)
    if feature.id != placeId:
        return moved(request, placeId, feature.id)
    col = await store.collection("places")
    return feature_response(request, fmt, col, feature, f"places/{placeId}")


@router.get(
    "/places/{placeId}/borders",
    summary="Distance from a place to every border",
    response_model=PlaceBorders,
    responses=ERRORS,
)
async def place_borders(
    request: Request,
    placeId: str,  # noqa: N803 - URL template name
    fmt: FormatDep,
    store: StoreDep,
) -> Response:
    """Geodesic distance (km, WGS84) to each border, nearest first, with the nearest point."""
    feature = await store.place(placeId)
    if feature.id != placeId:
        return moved(request, placeId, feature.id)
    assert feature.lonlat is not None
    lon, lat = feature.lonlat
    name = feature.properties.get("name")
    doc = {
        "place": feature.id,
        "name": name,
        "title": f"Borders near {name}",
        "coordinates": [lon, lat],
        "borders": [d.to_dict() for d in await store.distances_to_borders(lon, lat)],
        "links": [
            *self_links(request, f"places/{placeId}/borders"),
            link(href(request, f"places/{placeId}"), "related", GEOJSON, "The place"),
        ],
    }
    return document_response(request, fmt, "place-borders", doc)
