"""Borders: lengths, features at several levels of detail, crossings and zones."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from service.domain.errors import InvalidParameterError
from service.domain.records import FeaturePage, ItemsQuery
from service.web.links import current_links, href, link, self_links
from service.web.models import Borders
from service.web.params import FormatDep, SettingsDep, StoreDep
from service.web.responses import GEOJSON, HTML, GeoJSONResponse, document_response
from service.web.routes.ogc import ERRORS, feature_collection, feature_response
from service.web.routing import AtlasRoute

router = APIRouter(tags=["Borders"], route_class=AtlasRoute)

BORDER_ID_DOC = (
    "Two country codes, alpha-2 or alpha-3, in any order and case: BY-RU, ru-by, BLR-RUS."
)


@router.get("/borders", summary="Every border with measured and cited lengths",
            response_model=Borders)  # fmt: skip
async def borders(request: Request, fmt: FormatDep, store: StoreDep) -> Response:
    """Codes, names, measured geodesic length and the cited length with its source (km)."""
    rows = [
        {**row, "links": [link(href(request, f"borders/{row['id']}"), "item", GEOJSON)]}
        for row in store.frontier.borders_summary()
    ]
    doc = {"title": "Borders", "borders": rows, "links": self_links(request, "borders")}
    return document_response(request, fmt, "borders", doc)


@router.get(
    "/borders/{borderId}",
    summary="One border as a GeoJSON Feature",
    description=f"{BORDER_ID_DOC} With `simplify` (metres), a topology-preserving "
    "simplification (EPSG:3035) whose every point lies within that distance of the full "
    "line, with `simplified_length_km` beside the full `length_km`.",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
async def border(
    request: Request,
    borderId: str,  # noqa: N803 - URL template name
    fmt: FormatDep,
    store: StoreDep,
    simplify: Annotated[
        float | None, Query(gt=0, le=100_000, description="Tolerance in metres (> 0).")
    ] = None,
) -> Response:
    """The border line, full resolution or simplified; a dict look-up and cached bytes."""
    level = await store.border(borderId, simplify)
    canonical = store.frontier.border_id(borderId)
    col = await store.collection("borders")
    feature = store.frontier.borders[canonical].feature
    return feature_response(request, fmt, col, feature, f"borders/{canonical}", body=level.body)


@router.get(
    "/borders/{borderId}/crossings",
    summary="Crossings on a border",
    description=BORDER_ID_DOC,
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
async def crossings(
    request: Request,
    borderId: str,  # noqa: N803 - URL template name
    fmt: FormatDep,
    store: StoreDep,
) -> Response:
    """The border checkpoints on that border as a FeatureCollection (may be empty)."""
    canonical = store.frontier.border_id(borderId)
    matched = await store.crossings_on(canonical)
    col = await store.collection("crossings")
    return feature_collection(
        request, fmt, col, FeaturePage(len(matched), matched), len(matched) or 1, 0,
        store.info.data_time, extra={"border": canonical},
    )  # fmt: skip


@router.get(
    "/borders/{borderId}/zone",
    summary="The strip of a given width along a border",
    description=f"{BORDER_ID_DOC} `side` is `both` or one of the border's two countries "
    "(alpha-2 or alpha-3); one side is the buffer clipped to that country's land polygon.",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
async def zone(
    request: Request,
    borderId: str,  # noqa: N803 - URL template name
    fmt: FormatDep,
    store: StoreDep,
    settings: SettingsDep,
    width_km: Annotated[float, Query(gt=0, description="Width of the strip in kilometres.")],
    side: Annotated[
        str, Query(max_length=4, description="both, or a country code of the border.")
    ] = "both",
) -> Response:
    """The border zone as a (Multi)Polygon Feature, with its geodesic area."""
    if width_km > (ceiling := settings.limits.max_zone_width_km):
        raise InvalidParameterError(f"width_km must be at most {ceiling:g}.")
    canonical = store.frontier.border_id(borderId)
    side = "both" if side.lower() == "both" else side.upper()
    feature = await run_in_threadpool(store.frontier.zone, canonical, float(width_km), side)
    if fmt == "html":
        doc = {**feature, "links": current_links(request, GEOJSON)}
        return document_response(request, fmt, "feature", doc)
    return GeoJSONResponse(orjson.dumps(feature, option=orjson.OPT_SERIALIZE_NUMPY))


@router.get(
    "/borders/{borderId}/events",
    summary="Timeline of a border's regime",
    description=f"{BORDER_ID_DOC} The dated, sourced events (closures, checks, agreements) "
    "that concern this border, oldest first, from the `events` collection.",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
async def events(
    request: Request,
    borderId: str,  # noqa: N803 - URL template name
    fmt: FormatDep,
    store: StoreDep,
) -> Response:
    """The events of one border as a FeatureCollection (may be empty)."""
    canonical = store.frontier.border_id(borderId)
    col = await store.collection("events")
    query = ItemsQuery(filters={"border": canonical}, limit=col.count or 1)
    page = await store.items(col.id, query)
    return feature_collection(request, fmt, col, page, col.count or 1, 0, store.info.data_time,
                              extra={"border": canonical})  # fmt: skip
