"""Typed dependencies (``...Dep`` aliases) that parse and validate request input.

They are ``async def`` although they never await: FastAPI runs a plain ``def``
dependency in its thread pool, and those hand-offs cost more than the work.

Every bad value raises InvalidParameterError (400, problem+json); routes only
see clean, typed values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from service.domain.errors import BorderNotFoundError, InvalidParameterError
from service.domain.geometry import BBox
from service.domain.records import Interval, Queryable
from service.domain.values import parse_bool
from service.settings import Settings
from service.store.base import FeatureStore
from service.web.problems import UnknownParameterError
from service.web.responses import Format, negotiate

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


def allowed_query_params(request: Request) -> set[str]:
    """Names of the query parameters the matched route declares."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    names = set(COMMON_PARAMS)
    stack = [dependant] if dependant is not None else []
    while stack:  # the route's own parameters and those of its dependencies
        current = stack.pop()
        names.update(p.alias for p in current.query_params)
        stack.extend(current.dependencies)
    return names


def check_query_params(request: Request, allowed: set[str]) -> None:
    """400 for any query parameter not in *allowed* (OGC /req/core/query-param-unknown)."""
    unknown = sorted(set(request.query_params) - allowed)
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


def parse_bbox(text: str) -> BBox:
    """``west,south,east,north`` (or 6 numbers with heights) in CRS84 degrees."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (4, 6):
        raise InvalidParameterError(
            "bbox must be 4 numbers (west,south,east,north) or 6 (with min and max height)."
        )
    values = [_float("bbox", p) for p in parts]
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
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
            description="west,south,east,north in CRS84 degrees (west > east crosses "
            "the antimeridian); 6 numbers with heights are accepted.",
            examples=["23.0,51.0,33.0,56.5"],
        ),
    ] = None,
) -> BBox | None:
    """The bbox parameter, parsed."""
    return None if bbox is None else parse_bbox(bbox)


BBoxDep = Annotated[BBox | None, Depends(get_bbox)]


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
