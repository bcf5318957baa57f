"""OGC API – Features Part 1: landing page, conformance, collections, items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from service.catalog import Catalog, Collection
from service.web.links import href, link, page_links, self_links
from service.web.models import CollectionInfo, Collections, Conformance, LandingPage, Problem
from service.web.params import (
    BBoxDep,
    CatalogDep,
    DatetimeDep,
    FormatDep,
    LimitDep,
    OffsetDep,
    SettingsDep,
    allowed_query_params,
    check_query_params,
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
def landing(request: Request, fmt: FormatDep, settings: SettingsDep) -> Response:
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
def conformance(request: Request, fmt: FormatDep) -> Response:
    """The OGC conformance classes this API implements."""
    doc = {"conformsTo": CONFORMANCE, "links": self_links(request, "conformance"),
           "title": "Conformance"}  # fmt: skip
    return document_response(request, fmt, "conformance", doc)


def collection_info(request: Request, col: Collection) -> dict[str, Any]:
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
def collections(request: Request, fmt: FormatDep, catalog: CatalogDep) -> Response:
    """Every collection: borders, countries, places, crossings."""
    doc = {
        "links": self_links(request, "collections"),
        "collections": [collection_info(request, c) for c in catalog.collections.values()],
    }
    return document_response(request, fmt, "collections", doc)


@router.get(
    "/collections/{collectionId}",
    summary="One feature collection",
    response_model=CollectionInfo,
    responses=ERRORS,
)
def collection(
    request: Request,
    collectionId: str,  # noqa: N803 - OGC template name
    fmt: FormatDep,
    catalog: CatalogDep,
) -> Response:
    """Description, extent (CRS84) and links of one collection."""
    return document_response(
        request, fmt, "collection", collection_info(request, catalog.collection(collectionId))
    )


def parse_filters(catalog: Catalog, col: Collection, request: Request) -> dict[str, Any]:
    """The collection's declared property filters present in the query string."""
    return catalog.parse_filters(
        col, {q.name: request.query_params[q.name] for q in col.queryables
              if q.name in request.query_params}
    )  # fmt: skip


def feature_collection(
    request: Request,
    fmt: FormatDep,
    col: Collection,
    matched: Sequence[int],
    limit: int,
    offset: int,
    timestamp: str,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A page of a collection's features as GeoJSON (joined cached bytes) or HTML."""
    page = matched[offset : offset + limit]
    meta = {
        "numberMatched": len(matched),
        "numberReturned": len(page),
        "timeStamp": timestamp,
        "links": page_links(request, len(matched), offset, limit, len(page)),
        **(extra or {}),
    }
    if fmt == "html":
        doc = {"type": "FeatureCollection", "collection": col.id, "title": col.title,
               "features": [col.features[i] for i in page], **meta}  # fmt: skip
        return document_response(request, fmt, "items", doc)
    body = b"".join(
        [
            b'{"type":"FeatureCollection","features":[',
            b",".join(col.feature_bytes[i] for i in page),
            b"],",
            orjson.dumps(meta)[1:],
        ]
    )
    return GeoJSONResponse(body)


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    description="GeoJSON FeatureCollection, paged with limit/offset and next/prev links. "
    "Collections also take equality filters on the properties listed under `queryables` in "
    "their description: borders `country`, `clipped`; countries `iso_a2`, `iso_a3`; places "
    "`country`, `kind`, `near_belarus_frontier`; crossings `border`, `kind`, `road`.",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
def items(
    request: Request,
    collectionId: str,  # noqa: N803 - OGC template name
    fmt: FormatDep,
    catalog: CatalogDep,
    bbox: BBoxDep,
    limit: LimitDep,
    offset: OffsetDep,
    interval: DatetimeDep,
) -> Response:
    """Features matching bbox, datetime and property filters, one page at a time."""
    col = catalog.collection(collectionId)
    check_query_params(request, allowed_query_params(request) | {q.name for q in col.queryables})
    matched = col.query(bbox, parse_filters(catalog, col, request), interval)
    return feature_collection(request, fmt, col, matched, limit, offset, catalog.loaded_at)


items.checks_own_params = True  # type: ignore[attr-defined]


def feature_response(
    request: Request, fmt: FormatDep, col: Collection, index: int, path: str,
    body: bytes | None = None,
) -> Response:  # fmt: skip
    """One feature: cached bytes with the links spliced in, or its HTML page."""
    links = [
        *self_links(request, path, GEOJSON),
        link(href(request, f"collections/{col.id}"), "collection", JSON, col.title),
    ]
    if fmt == "html":
        doc = {**col.features[index], "links": links}
        if body is not None:
            doc = {**orjson.loads(body), "links": links}
        return document_response(request, fmt, "feature", doc)
    raw = body if body is not None else col.feature_bytes[index]
    # Splice the links into the cached serialization rather than re-serializing it.
    return GeoJSONResponse(raw[:-1] + b',"links":' + orjson.dumps(links) + b"}")


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
)
def item(
    request: Request,
    collectionId: str,  # noqa: N803 - OGC template name
    featureId: str,  # noqa: N803 - OGC template name
    fmt: FormatDep,
    catalog: CatalogDep,
) -> Response:
    """A GeoJSON Feature by id."""
    col = catalog.collection(collectionId)
    index = col.get(featureId)
    return feature_response(request, fmt, col, index, f"collections/{col.id}/items/{featureId}")
