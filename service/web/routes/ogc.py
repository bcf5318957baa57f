"""OGC API – Features Part 1: landing page, conformance, collections, items."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from service.domain import crs
from service.domain.collections import WITHOUT_GEOMETRY, properties_of
from service.domain.expressions import parse_filter
from service.domain.records import CollectionMeta, Feature, FeaturePage, ItemsQuery
from service.web.links import href, link, link_header, moved, page_links, self_links
from service.web.middleware import NO_MEMO_HEADER
from service.web.models import CollectionInfo, Collections, Conformance, LandingPage, Problem
from service.web.outputs import FeatureShape, content_crs, ndjson, shaped_bodies, to_csv
from service.web.params import (
    BBoxDep,
    CrsDep,
    DatetimeDep,
    FormatDep,
    ItemsFormatDep,
    ItemsOptions,
    ItemsOptionsDep,
    LimitDep,
    OffsetDep,
    SettingsDep,
    StoreDep,
    allowed_query_params,
    check_query_params,
    parse_filters,
    parse_sortby,
)
from service.web.responses import (
    CSV,
    GEOJSON,
    GEOJSON_SEQ,
    HTML,
    HTML_TYPE,
    JSON,
    NDJSON,
    OPENAPI_JSON,
    Format,
    GeoJSONResponse,
    ItemsFormat,
    JSONResponse,
    document_response,
)
from service.web.routing import AtlasRoute

router = APIRouter(tags=["OGC API - Features"], route_class=AtlasRoute)

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
]
CRS84 = crs.CRS84
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
        "title": settings.http.title,
        "description": "The frontiers of Belarus as OGC API – Features: borders, countries, "
        "places and crossings, with measured border lengths, distances, zones and search.",
        "links": [
            *self_links(request, ""),
            link(href(request, "api"), "service-desc", OPENAPI_JSON, "OpenAPI 3.0 description"),
            link(href(request, "api.html"), "service-doc", HTML_TYPE, "API documentation"),
            link(href(request, "conformance"), "conformance", JSON, "Conformance classes"),
            link(href(request, "collections"), "data", JSON, "Collections"),
            link(href(request, "borders"), "related", JSON, "Borders with measured lengths"),
            link(href(request, "places", q="Divin"), "related", GEOJSON, "Place search"),
            link(href(request, "locate", lon=30.0, lat=54.0), "related", JSON, "Locate a point"),
            link(href(request, "studio"), "related", HTML_TYPE,
                 "Map studio: make, publish and embed a map"),
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
    info = {
        "id": col.id,
        "title": col.title,
        "description": col.description,
        "links": [
            *self_links(request, f"collections/{col.id}"),
            link(href(request, items), "items", GEOJSON, f"{col.title} as GeoJSON"),
            link(href(request, items, f="html"), "items", HTML_TYPE, f"{col.title} as HTML"),
        ],
        "extent": extent,
        "itemType": "feature",
        "crs": list(crs.SUPPORTED),
        "storageCrs": CRS84,
        "queryables": {q.name: {"type": q.type, "description": q.description}
                       for q in col.queryables},
    }  # fmt: skip
    info["links"] += [
        link(href(request, f"collections/{col.id}/queryables"),
             "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json",
             f"Queryables of {col.title}"),
        link(href(request, f"collections/{col.id}/sortables"),
             "http://www.opengis.net/def/rel/ogc/1.0/sortables", "application/schema+json",
             f"Sortables of {col.title}"),
    ]  # fmt: skip
    return info


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


def _timestamp() -> str:
    """The time of this response (RFC 3339, UTC, to the second)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _etag(request: Request, data_version: str, representation: str) -> str:
    """A strong ETag that names the data version, the URL and the representation, so it
    stays the same through a data version although the body holds the response time."""
    key = f"{data_version}\n{request.url}\n{representation}".encode()
    return '"' + hashlib.blake2b(key, digest_size=16).hexdigest() + '"'


def feature_collection(
    request: Request,
    fmt: ItemsFormat,
    col: CollectionMeta,
    page: FeaturePage,
    limit: int,
    offset: int,
    timestamp: str,
    extra: dict[str, Any] | None = None,
    shape: FeatureShape | None = None,
    data_version: str | None = None,
) -> Response:
    """A page of features as a GeoJSON FeatureCollection (joined stored bytes), HTML, CSV
    or newline-delimited GeoJSON.

    The one place a FeatureCollection is assembled; features found by distance get
    their ``distance_km`` (km) among the properties. With *data_version* the
    ``timeStamp`` is the time of the response and the ETag is derived from the version.
    """
    shape = shape or FeatureShape()
    links = page_links(request, page.matched, offset, limit, len(page.features))
    if data_version is not None:
        timestamp = _timestamp()
    meta = {
        "numberMatched": page.matched,
        "numberReturned": len(page.features),
        "timeStamp": timestamp,
        "links": links,
        **(extra or {}),
    }
    distances = page.distances_km or [None] * len(page.features)

    def with_distance(f: Feature, km: float | None) -> dict[str, Any]:
        doc = f.to_dict()
        if km is not None:
            doc["properties"] = {**(doc.get("properties") or {}), "distance_km": km}
        return doc

    headers: dict[str, str] = {"Link": link_header(links)}
    if data_version is not None:
        headers["ETag"] = _etag(request, data_version, fmt)
        headers[NO_MEMO_HEADER] = "1"
    if fmt == "html":
        doc = {"type": "FeatureCollection", "collection": col.id, "title": col.title,
               "features": [with_distance(f, d) for f, d in zip(page.features, distances,
                                                                strict=True)],
               **meta}  # fmt: skip
        response = document_response(request, "html", "items", doc)
        response.headers.update(headers)
        return response
    parts = shaped_bodies([f.body if d is None else orjson.dumps(with_distance(f, d))
                           for f, d in zip(page.features, distances, strict=True)], shape)
    headers.update(content_crs(shape))
    if fmt == "csv":
        docs = [orjson.loads(p) for p in parts]
        return Response(to_csv(docs, shape.properties), media_type=CSV, headers=headers)
    if fmt == "ndjson":
        return Response(ndjson(parts), media_type=NDJSON, headers=headers)
    if fmt == "seq":
        return Response(b"".join(b"\x1e" + p + b"\n" for p in parts), media_type=GEOJSON_SEQ,
                        headers=headers)  # fmt: skip
    body = b"".join(
        [b'{"type":"FeatureCollection","features":[', b",".join(parts), b"],",
         orjson.dumps(meta)[1:]]
    )  # fmt: skip
    return GeoJSONResponse(body, headers=headers)


ITEMS_DESCRIPTION = (
    "GeoJSON FeatureCollection (also HTML, CSV, newline-delimited GeoJSON), paged with "
    "limit/offset and next/prev links. Filter with `bbox`, `datetime`, a CQL2 `filter` on "
    "the collection's queryables (/collections/{collectionId}/queryables) or equality "
    "filters on the properties listed under `queryables` in its description: borders "
    "`country`, `clipped`; countries `iso_a2`, `iso_a3`; places `country`, `kind`, "
    "`near_belarus_frontier`; crossings `border`, `kind`, `road`; events `border`."
)


def _shape(options: ItemsOptions, crs_uri: str) -> FeatureShape:
    return FeatureShape(crs_uri, options.properties, options.skip_geometry)


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    description=ITEMS_DESCRIPTION,
    response_class=GeoJSONResponse,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}, **ERRORS},
    name="items",
)
async def items(
    request: Request,
    collectionId: str,  # noqa: N803 - OGC template name
    fmt: ItemsFormatDep,
    store: StoreDep,
    bbox: BBoxDep,
    limit: LimitDep,
    offset: OffsetDep,
    interval: DatetimeDep,
    crs_uri: CrsDep,
    options: ItemsOptionsDep,
) -> Response:
    """Features matching bbox, datetime, filter and property filters, one page at a time."""
    col = await store.collection(collectionId)
    check_query_params(request, allowed_query_params(request) | {q.name for q in col.queryables})
    raw = {q.name: request.query_params[q.name] for q in col.queryables
           if q.name in request.query_params}  # fmt: skip
    properties = properties_of(col.id)
    where = None if options.filter is None else parse_filter(
        options.filter, options.filter_lang, properties, col.id not in WITHOUT_GEOMETRY)
    sortby = () if options.sortby is None else parse_sortby(options.sortby, properties)
    query = ItemsQuery(bbox, parse_filters(store, col.queryables, raw), interval, limit, offset,
                       where=where, ids=options.ids, sortby=sortby)  # fmt: skip
    page = await store.items(col.id, query)
    return feature_collection(request, fmt, col, page, limit, offset, store.info.data_time,
                              shape=_shape(options, crs_uri),
                              data_version=store.info.data_version)  # fmt: skip


def feature_response(
    request: Request, fmt: FormatDep, col: CollectionMeta, feature: Feature, path: str,
    body: bytes | None = None, shape: FeatureShape | None = None,
) -> Response:  # fmt: skip
    """One feature: stored bytes with the links spliced in, or its HTML page."""
    shape = shape or FeatureShape()
    links = [
        *self_links(request, path, GEOJSON),
        link(href(request, f"collections/{col.id}"), "collection", JSON, col.title),
    ]
    raw = body if body is not None else feature.body
    if fmt == "html":
        return document_response(request, fmt, "feature", {**orjson.loads(raw), "links": links})
    raw = shaped_bodies([raw], shape)[0]
    headers = {"Link": link_header(links), **content_crs(shape)}
    # Splice the links into the stored serialization rather than re-serializing it.
    return GeoJSONResponse(raw[:-1] + b',"links":' + orjson.dumps(links) + b"}",
                           headers=headers)  # fmt: skip


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
    crs_uri: CrsDep,
) -> Response:
    """A GeoJSON Feature by id (in the CRS ``crs`` names)."""
    col = await store.collection(collectionId)
    feature = await store.feature(col.id, featureId)
    if feature.id != featureId:
        return moved(request, featureId, feature.id)
    return feature_response(request, fmt, col, feature, f"collections/{col.id}/items/{featureId}",
                            shape=FeatureShape(crs_uri))  # fmt: skip


@router.get(
    "/collections/{collectionId}/queryables",
    summary="Queryables of a collection (JSON Schema)",
    response_class=JSONResponse,
    responses={200: {"content": {"application/schema+json": {}, HTML: {}}}, **ERRORS},
    name="queryables",
)
async def queryables(
    request: Request,
    collectionId: str,  # noqa: N803 - OGC template name
    fmt: FormatDep,
    store: StoreDep,
) -> Response:
    """The properties `filter` may name, as a JSON Schema (OGC API – Features Part 3)."""
    col = await store.collection(collectionId)
    return _schema_response(request, fmt, col, "queryables", True)


@router.get(
    "/collections/{collectionId}/sortables",
    summary="Sortables of a collection (JSON Schema)",
    response_class=JSONResponse,
    responses={200: {"content": {"application/schema+json": {}, HTML: {}}}, **ERRORS},
    name="sortables",
)
async def sortables(
    request: Request,
    collectionId: str,  # noqa: N803 - OGC template name
    fmt: FormatDep,
    store: StoreDep,
) -> Response:
    """The properties `sortby` may name, as a JSON Schema."""
    col = await store.collection(collectionId)
    return _schema_response(request, fmt, col, "sortables", False)


def _schema_response(request: Request, fmt: Format, col: CollectionMeta, kind: str,
                     with_geometry: bool) -> Response:  # fmt: skip
    props: dict[str, Any] = {
        p.name: {"title": p.name, "type": p.type,
                 **({"description": p.description} if p.description else {})}
        for p in properties_of(col.id)
    }  # fmt: skip
    if with_geometry and col.id not in WITHOUT_GEOMETRY:
        props["geometry"] = {"title": "geometry", "format": "geometry-any",
                             "x-ogc-role": "primary-geometry"}  # fmt: skip
    doc = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": href(request, f"collections/{col.id}/{kind}"),
        "type": "object",
        "title": f"{col.title} {kind}",
        "properties": props,
        "additionalProperties": False,
    }
    if fmt == "html":
        return document_response(request, fmt, "collection", {
            "id": col.id, "title": doc["title"], "description": col.description,
            "links": self_links(request, f"collections/{col.id}/{kind}")})  # fmt: skip
    return Response(orjson.dumps(doc), media_type="application/schema+json")
