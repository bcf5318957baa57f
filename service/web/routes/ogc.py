"""OGC API – Features Part 1: landing page, conformance, collections, items."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from service.domain.records import CollectionMeta, Feature, FeaturePage, ItemsQuery
from service.web.links import href, link, page_links, self_links
from service.web.models import CollectionInfo, Collections, Conformance, LandingPage, Problem
from service.web.params import (
    BBoxDep,
    DatetimeDep,
    FormatDep,
    LimitDep,
    OffsetDep,
    SettingsDep,
    StoreDep,
    allowed_query_params,
    check_query_params,
    parse_filters,
)
from service.web.responses import (
    GEOJSON,
    HTML,
    JSON,
    OPENAPI_JSON,
    GeoJSONResponse,
    document_response,
)

router = APIRouter(tags=["OGC API - Features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Invalid or unknown parameter (problem+json)"},
    404: {"model": Problem, "description": "Not found (problem+json)"},
}


@router.get(
    "/",
    summary="Landing page",
    response_model=LandingPage,
    responses={200: {"content": {HTML: {}}}},
)
async def landing(request: Request, fmt: FormatDep, settings: SettingsDep) -> Response:
    """Links to the API description, conformance, collections and the reporter's endpoints."""
    doc = {
        "title": settings.title,
        "description": "The frontiers of Belarus as OGC API – Features: borders, countries, "
        "places and crossings, with measured border lengths, distances, zones and search.",
        "links": [
            *self_links(request, ""),
            link(href(request, "api"), "service-desc", OPENAPI_JSON, "OpenAPI 3.0 description"),
            link(href(request, "api.html"), "service-doc", HTML, "API documentation"),
            link(href(request, "conformance"), "conformance", JSON, "Conformance classes"),
            link(href(request, "collections"), "data", JSON, "Collections"),
            link(href(request, "borders"), "related", JSON, "Borders with measured lengths"),
            link(href(request, "places", q="Divin"), "related", GEOJSON, "Place search"),
            link(href(request, "locate", lon=30.0, lat=54.0), "related", JSON, "Locate a point"),
        ],
    }
    return document_response(request, fmt, "landing", doc)


@router.get("/conformance", summary="Conformance classes", response_model=Conformance)
async def conformance(request: Request, fmt: FormatDep) -> Response:
    """The OGC conformance classes this API implements."""
    doc = {"conformsTo": CONFORMANCE, "links": self_links(request, "conformance"),
           "title": "Conformance"}  # fmt: skip
    return document_response(request, fmt, "conformance", doc)


def collection_info(request: Request, col: CollectionMeta) -> dict[str, Any]:
    """The description of one collection, with links and extent."""
    extent: dict[str, Any] = {"spatial": {"bbox": [list(col.extent)], "crs": CRS84}}
    if col.temporal:
        extent["temporal"] = {"interval": [list(col.temporal)], "trs": GREGORIAN}
    items = f"collections/{col.id}/items"
    return {
        "id": col.id,
        "title": col.title,
        "description": col.description,
        "links": [
            *self_links(request, f"collections/{col.id}"),
            link(href(request, items), "items", GEOJSON, f"{col.title} as GeoJSON"),
            link(href(request, items, f="html"), "items", HTML, f"{col.title} as HTML"),
        ],
        "extent": extent,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "queryables": {q.name: {"type": q.type, "description": q.description}
                       for q in col.queryables},
    }  # fmt: skip


@router.get("/collections", summary="Feature collections", response_model=Collections)
async def collections(request: Request, fmt: FormatDep, store: StoreDep) -> Response:
    """Every collection: borders, countries, places, crossings, events."""
    doc = {
        "links": self_links(request, "collections"),
        "collections": [collection_info(request, c) for c in await store.collections()],
    }
    return document_response(request, fmt, "collections", doc)


@router.get(
    "/collections/{collectionId}",
    summary="One feature collection",
    response_model=CollectionInfo,
    responses=ERRORS,
)
async def collection(
    request: Request,
    collectionId: str,  # noqa: N803 - OGC template name
    fmt: FormatDep,
    store: StoreDep,
) -> Response:
    """Description, extent (CRS84) and links of one collection."""
    return document_response(
        request, fmt, "collection", collection_info(request, await store.collection(collectionId))
    )


def feature_collection(
    request: Request,
    fmt: FormatDep,
    col: CollectionMeta,
    page: FeaturePage,
    limit: int,
    offset: int,
    timestamp: str,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A page of features as a GeoJSON FeatureCollection (joined stored bytes) or HTML.

    The one place a FeatureCollection is assembled; features found by distance get
    their ``distance_km`` (km) among the properties.
    """
    meta = {
        "numberMatched": page.matched,
        "numberReturned": len(page.features),
        "timeStamp": timestamp,
        "links": page_links(request, page.matched, offset, limit, len(page.features)),
        **(extra or {}),
    }
    distances = page.distances_km or [None] * len(page.features)

    def with_distance(f: Feature, km: float | None) -> dict[str, Any]:
        doc = f.to_dict()
        if km is not None:
            doc["properties"] = {**(doc.get("properties") or {}), "distance_km": km}
        return doc

    if fmt == "html":
        doc = {"type": "FeatureCollection", "collection": col.id, "title": col.title,
               "features": [with_distance(f, d) for f, d in zip(page.features, distances,
                                                                strict=True)],
               **meta}  # fmt: skip
        return document_response(request, fmt, "items", doc)
    parts = [f.body if d is None else orjson.dumps(with_distance(f, d))
             for f, d in zip(page.features, distances, strict=True)]  # fmt: skip
    body = b"".join(
        [b'{"type":"FeatureCollection","features":[', b",".join(parts), b"],",
         orjson.dumps(meta)[1:]]
    )  # fmt: skip
    return GeoJSONResponse(body)


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    description="GeoJSON FeatureCollection, paged with limit/offset and next/prev links. "
    "Collections also take equality filters on the properties listed under `queryables` in "
    "their description: borders `country`, `clipped`; countries `iso_a2`, `iso_a3`; places "
    "`country`, `kind`, `near_belarus_frontier`; crossings `border`, `kind`, `road`; events "
    "`border`.",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
    name="items",
)
async def items(
    request: Request,
    collectionId: str,  # noqa: N803 - OGC template name
    fmt: FormatDep,
    store: StoreDep,
    bbox: BBoxDep,
    limit: LimitDep,
    offset: OffsetDep,
    interval: DatetimeDep,
) -> Response:
    """Features matching bbox, datetime and property filters, one page at a time."""
    col = await store.collection(collectionId)
    check_query_params(request, allowed_query_params(request) | {q.name for q in col.queryables})
    raw = {q.name: request.query_params[q.name] for q in col.queryables
           if q.name in request.query_params}  # fmt: skip
    query = ItemsQuery(bbox, parse_filters(store, col.queryables, raw), interval, limit, offset)
    page = await store.items(col.id, query)
    return feature_collection(request, fmt, col, page, limit, offset, store.info.data_time)


def feature_response(
    request: Request, fmt: FormatDep, col: CollectionMeta, feature: Feature, path: str,
    body: bytes | None = None,
) -> Response:  # fmt: skip
    """One feature: stored bytes with the links spliced in, or its HTML page."""
    links = [
        *self_links(request, path, GEOJSON),
        link(href(request, f"collections/{col.id}"), "collection", JSON, col.title),
    ]
    raw = body if body is not None else feature.body
    if fmt == "html":
        return document_response(request, fmt, "feature", {**orjson.loads(raw), "links": links})
    # Splice the links into the stored serialization rather than re-serializing it.
    return GeoJSONResponse(raw[:-1] + b',"links":' + orjson.dumps(links) + b"}")


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
async def item(
    request: Request,
    collectionId: str,  # noqa: N803 - OGC template name
    featureId: str,  # noqa: N803 - OGC template name
    fmt: FormatDep,
    store: StoreDep,
) -> Response:
    """A GeoJSON Feature by id."""
    col = await store.collection(collectionId)
    feature = await store.feature(col.id, featureId)
    return feature_response(request, fmt, col, feature, f"collections/{col.id}/items/{featureId}")
