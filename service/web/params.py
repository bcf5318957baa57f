"""Typed dependencies (``...Dep`` aliases) that parse and validate request input.

They are ``async def`` although they never await: FastAPI runs a plain ``def``
dependency in its thread pool, and those hand-offs cost more than the work.

Every bad value raises InvalidParameterError (400, problem+json); routes only
see clean, typed values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from service.domain import crs
from service.domain.errors import BorderNotFoundError, InvalidParameterError
from service.domain.expressions import Property
from service.domain.geometry import BBox
from service.domain.records import Interval, Queryable, SortKey
from service.domain.values import parse_bool
from service.settings import Settings
from service.store.base import FeatureStore
from service.web.problems import UnknownParameterError
from service.web.responses import Format, ItemsFormat, negotiate, negotiate_items

#: Query parameters accepted everywhere (the representation switch).
COMMON_PARAMS = frozenset({"f"})
#: Page size when ``limit`` is absent, and the largest page (OGC /req/core/fc-limit-*).
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


async def get_store(request: Request) -> FeatureStore:
    """The store opened in the lifespan."""
    return request.app.state.store


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


StoreDep = Annotated[FeatureStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_format(
    request: Request,
    f: Annotated[
        str | None,
        Query(description="Representation: json (default) or html; else the Accept header."),
    ] = None,
) -> Format:
    """json or html, from ``f`` or the Accept header."""
    return negotiate(request)


FormatDep = Annotated[Format, Depends(get_format)]


#: The attribute under which a route keeps its allowed names (computed on first use).
_ALLOWED_ATTR = "_atlas_allowed_query_params"


def allowed_query_params(request: Request) -> frozenset[str]:
    """Names of the query parameters the matched route declares."""
    route = request.scope.get("route")
    names = getattr(route, _ALLOWED_ATTR, None)
    if names is None:
        names = _declared_query_params(getattr(route, "dependant", None))
        if route is not None:
            setattr(route, _ALLOWED_ATTR, names)  # a route's parameters never change
    return names


def _declared_query_params(dependant: Any) -> frozenset[str]:
    names = set(COMMON_PARAMS)
    stack = [dependant] if dependant is not None else []
    while stack:  # the route's own parameters and those of its dependencies
        current = stack.pop()
        names.update(p.alias for p in current.query_params)
        stack.extend(current.dependencies)
    return frozenset(names)


def check_query_params(request: Request, allowed: frozenset[str] | set[str]) -> None:
    """400 for any query parameter not in *allowed* (OGC /req/core/query-param-unknown)."""
    params = request.query_params
    if not params or allowed.issuperset(params.keys()):
        return
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise UnknownParameterError(
            f"Unknown query parameter(s): {', '.join(unknown)}. "
            f"Allowed here: {', '.join(sorted(allowed)) or 'none'}."
        )


#: Routes whose allowed parameters depend on the collection (its queryables); they
#: call ``check_query_params`` themselves once they know it.
ROUTES_WITH_OWN_FILTERS = frozenset({"items"})


async def reject_unknown_params(request: Request) -> None:
    """App-wide dependency; routes that take open-ended filters opt out and check themselves."""
    route = request.scope.get("route")
    if getattr(route, "name", None) in ROUTES_WITH_OWN_FILTERS:
        return
    check_query_params(request, allowed_query_params(request))


def _float(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameterError(f"{name} must be a number; got {text[:40]!r}.") from None
    if not math.isfinite(value):
        raise InvalidParameterError(f"{name} must be a finite number.")
    return value


def parse_bbox_numbers(text: str) -> list[float]:
    """4 numbers (lower corner, upper corner) or 6 (with heights, which are dropped)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (4, 6):
        raise InvalidParameterError(
            "bbox must be 4 numbers (west,south,east,north) or 6 (with min and max height)."
        )
    values = [_float("bbox", p) for p in parts]
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    return values


def parse_bbox(text: str, bbox_crs: str = crs.CRS84) -> BBox:
    """``west,south,east,north`` (or 6 numbers with heights) in CRS84 degrees, or the
    corners of a box in *bbox_crs* (its axis order), as the CRS84 box containing it."""
    values = parse_bbox_numbers(text)
    if bbox_crs == crs.EPSG4326:
        values = [values[1], values[0], values[3], values[2]]  # lat,lon -> lon,lat
    elif bbox_crs != crs.CRS84:
        return crs.bbox_to_crs84(values, bbox_crs)
    west, south, east, north = values
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise InvalidParameterError("bbox longitudes must be within -180..180.")
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise InvalidParameterError("bbox latitudes must be within -90..90.")
    if south > north:
        raise InvalidParameterError("bbox south must not exceed north.")
    # west > east is allowed: the box crosses the antimeridian.
    return BBox(west, south, east, north)


async def get_bbox(
    bbox: Annotated[
        str | None,
        Query(
            description="Only features that intersect the box: lower left corner, upper "
            "right corner (4 numbers, or 6 with heights), in CRS84 longitude/latitude "
            "degrees unless `bbox-crs` names another CRS; west > east crosses the "
            "antimeridian.",
            examples=["23.0,51.0,33.0,56.5"],
        ),
    ] = None,
    bbox_crs: Annotated[
        str | None,
        Query(
            alias="bbox-crs",
            description="CRS of `bbox` (a URI from the collection's `crs` list); "
            "default CRS84.",
        ),
    ] = None,
) -> BBox | None:
    """The bbox parameter, parsed (and brought to CRS84)."""
    uri = crs.CRS84 if bbox_crs is None else crs.parse_crs(bbox_crs, "bbox-crs")
    return None if bbox is None else parse_bbox(bbox, uri)


BBoxDep = Annotated[BBox | None, Depends(get_bbox)]


async def get_crs(
    crs_: Annotated[
        str | None,
        Query(alias="crs", description="CRS of the coordinates in the response (a URI from "
              "the collection's `crs` list; default CRS84). EPSG:4326 is latitude, "
              "longitude; EPSG:3035 northing, easting."),
    ] = None,
) -> str:
    """The response CRS (a supported URI)."""
    return crs.CRS84 if crs_ is None else crs.parse_crs(crs_, "crs")


CrsDep = Annotated[str, Depends(get_crs)]


async def get_limit(
    limit: Annotated[
        int,
        Query(
            ge=1,
            description=f"Items per page (default {DEFAULT_LIMIT}); values above "
            f"{MAX_LIMIT:,} are clamped to it.",
            json_schema_extra={"maximum": MAX_LIMIT},
        ),
    ] = DEFAULT_LIMIT,
) -> int:
    """Page size, clamped to the maximum (as OGC API – Features allows)."""
    return min(limit, MAX_LIMIT)


async def get_offset(
    offset: Annotated[int, Query(ge=0, description="Items to skip (for paging).")] = 0,
) -> int:
    """Items to skip."""
    return offset


LimitDep = Annotated[int, Depends(get_limit)]
OffsetDep = Annotated[int, Depends(get_offset)]


def _instant(text: str, end: bool) -> datetime | None:
    if text in ("", ".."):
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment.replace(hour=23, minute=59, second=59) if end else moment
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameterError(
            "datetime must be an RFC 3339 date or date-time, or an interval start/end "
            "with '..' for an open end (e.g. 2023-01-01/..)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_datetime(text: str) -> Interval:
    """An OGC ``datetime`` value as a closed interval (None for an open end)."""
    if "/" in text:
        start_text, _, end_text = text.partition("/")
        if start_text in ("", "..") and end_text in ("", ".."):
            raise InvalidParameterError("datetime interval needs at least one bound.")
        start, end = _instant(start_text, False), _instant(end_text, True)
        if start and end and start > end:
            raise InvalidParameterError("datetime interval starts after it ends.")
        return start, end
    if text in ("", ".."):
        raise InvalidParameterError("datetime must not be empty.")
    return _instant(text, False), _instant(text, True)


async def get_datetime(
    datetime: Annotated[  # noqa: A002 - OGC parameter name
        str | None,
        Query(
            description="Date, date-time or interval (2023-05-05, 2023-01-01/.., ../2024-12-31): "
            "features with a date in it (crossings carry dates; other collections none).",
        ),
    ] = None,
) -> Interval | None:
    """The datetime parameter, parsed."""
    return None if datetime is None else parse_datetime(datetime)


DatetimeDep = Annotated[Interval | None, Depends(get_datetime)]


def parse_lonlat(name: str, text: str) -> tuple[float, float]:
    """``lon,lat`` in CRS84 degrees."""
    parts = text.split(",")
    if len(parts) != 2:
        raise InvalidParameterError(f"{name} must be lon,lat in degrees, e.g. 24.575,51.958.")
    lon, lat = (_float(name, p.strip()) for p in parts)
    check_lonlat(lon, lat)
    return lon, lat


def check_lonlat(lon: float, lat: float) -> None:
    """400 unless lon within -180..180 and lat within -90..90."""
    if not (-180 <= lon <= 180):
        raise InvalidParameterError("Longitude must be within -180..180 degrees.")
    if not (-90 <= lat <= 90):
        raise InvalidParameterError("Latitude must be within -90..90 degrees.")


def parse_filters(store: FeatureStore, queryables: Iterable[Queryable],
                  raw: Mapping[str, str]) -> dict[str, Any]:  # fmt: skip
    """Validate ``?name=value`` property filters against *queryables*; 400 on a bad value.

    Booleans are true/false; country codes may be alpha-2 or alpha-3 and border ids
    any spelling (both become canonical); other values are compared ignoring case.
    """
    by_name = {q.name: q for q in queryables}
    filters: dict[str, Any] = {}
    for name, text in raw.items():
        queryable = by_name[name]
        if queryable.type == "boolean":
            value = parse_bool(name, text)
            filters[name] = value
        elif name == "country":
            code = store.frontier.alpha2(text)
            if code is None:
                raise InvalidParameterError(
                    f"{name} must be an ISO 3166-1 alpha-2 or alpha-3 code, e.g. BY or BLR."
                )
            filters[name] = code
        elif name == "border":
            try:
                filters[name] = store.frontier.border_id(text)
            except BorderNotFoundError as exc:
                raise InvalidParameterError(f"border: {exc.detail}") from None
        else:
            filters[name] = text
    return filters


async def get_items_format(
    request: Request,
    f: Annotated[
        str | None,
        Query(description="Representation: json (GeoJSON, default), html, csv, ndjson "
              "(newline-delimited GeoJSON) or geojsonseq (RFC 8142); else the Accept header."),
    ] = None,
) -> ItemsFormat:
    """json, html, csv, ndjson or seq, from ``f`` or the Accept header."""
    return negotiate_items(request)


ItemsFormatDep = Annotated[ItemsFormat, Depends(get_items_format)]


def split_list(text: str, name: str) -> tuple[str, ...]:
    """A comma-separated list without empty items (400 when it is empty)."""
    items = tuple(p.strip() for p in text.split(",") if p.strip())
    if not items:
        raise InvalidParameterError(f"{name} must list at least one value.")
    return items


def parse_sortby(text: str, properties: Iterable[Property]) -> tuple[SortKey, ...]:
    """``sortby=+name,-population``: properties (ascending unless prefixed with -)."""
    by_name = {p.name: p for p in properties}
    keys = []
    for item in split_list(text, "sortby"):
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if name.lower().endswith((" desc", " asc")):  # sortby=name DESC (OGC API Records)
            name, _, direction = name.rpartition(" ")
            descending = direction.lower() == "desc"
        if name not in by_name:
            raise InvalidParameterError(
                f"sortby: {name!r} is not sortable here; sortable: {', '.join(by_name)}.")
        keys.append(SortKey(by_name[name], descending))
    return tuple(keys)


@dataclass(frozen=True)
class ItemsOptions:
    """The items parameters beyond Part 1: filter, sortby, properties, skipGeometry, ids."""

    filter: str | None
    filter_lang: str
    filter_crs: str | None
    sortby: str | None
    properties: tuple[str, ...] | None
    skip_geometry: bool
    ids: tuple[str, ...] | None


async def get_items_options(
    filter_: Annotated[str | None, Query(
        alias="filter", description="A CQL2 filter (Basic CQL2: comparisons, AND/OR/NOT, "
        "LIKE, IN, BETWEEN, IS NULL; S_INTERSECTS with the geometry) on the collection's "
        "queryables, e.g. `kind = 'town' AND population > 5000`.")] = None,
    filter_lang: Annotated[Literal["cql2-text", "cql2-json"], Query(
        alias="filter-lang", description="Language of `filter`.")] = "cql2-text",
    filter_crs: Annotated[str | None, Query(
        alias="filter-crs", description="CRS of geometries in `filter`: CRS84 only.")] = None,
    sortby: Annotated[str | None, Query(
        description="Comma-separated queryables, each ascending or with - descending "
        "(`-population,name`); ties keep data order.")] = None,
    properties: Annotated[str | None, Query(
        description="Comma-separated properties to keep in each feature.")] = None,
    skip_geometry: Annotated[str | None, Query(
        alias="skipGeometry", description="true: features without their geometry.")] = None,
    ids: Annotated[str | None, Query(
        description="Comma-separated feature ids: only those features.")] = None,
) -> ItemsOptions:
    """The extended items parameters, checked for form (their meaning needs the collection)."""
    if filter_crs is not None and crs.parse_crs(filter_crs, "filter-crs") != crs.CRS84:
        raise InvalidParameterError("filter-crs: only CRS84 is supported.")
    return ItemsOptions(
        filter=filter_, filter_lang=filter_lang, filter_crs=filter_crs, sortby=sortby,
        properties=None if properties is None else tuple(
            p.strip() for p in properties.split(",") if p.strip()),
        skip_geometry=False if skip_geometry is None else parse_bool("skipGeometry",
                                                                    skip_geometry),
        ids=None if ids is None else split_list(ids, "ids"),
    )  # fmt: skip


ItemsOptionsDep = Annotated[ItemsOptions, Depends(get_items_options)]
