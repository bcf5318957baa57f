"""Typed records that cross the store interface: what a query asks and what it gets.

Coordinates are CRS84 (lon, lat in degrees) everywhere; distances in kilometres.
A feature travels as its finished GeoJSON bytes (serialized once, when the store
was built) plus the properties a caller may need to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import orjson

from service.domain.expressions import Expression, Property
from service.domain.geometry import BBox

#: A closed interval of time (UTC); None is an open end.
Interval = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Queryable:
    """A property filter a collection declares: ``?name=value`` on its items.

    ``prop`` is the feature property it tests; ``many`` says that property holds a
    list (the filter matches when any element equals the value).
    """

    name: str
    type: str  # "string" | "boolean"
    description: str
    prop: str
    many: bool = False


@dataclass(frozen=True)
class CollectionMeta:
    """A collection's description: size, extents and the filters it declares."""

    id: str
    title: str
    description: str
    count: int
    extent: BBox
    temporal: tuple[str, str] | None
    queryables: tuple[Queryable, ...]


@dataclass(frozen=True)
class Feature:
    """One feature: its id and its finished GeoJSON bytes; properties parsed on demand."""

    collection: str
    id: str
    body: bytes
    lonlat: tuple[float, float] | None = None  # for points

    @cached_property
    def properties(self) -> Mapping[str, Any]:
        """The feature's properties (parsed from the stored bytes on first use)."""
        return orjson.loads(self.body).get("properties") or {}

    def to_dict(self) -> dict[str, Any]:
        """The GeoJSON Feature as a dict (parsed from the stored bytes)."""
        return orjson.loads(self.body)


@dataclass(frozen=True)
class FeaturePage:
    """One page of matching features and how many match in all."""

    matched: int
    features: list[Feature]
    distances_km: list[float | None] = field(default_factory=list)  # per feature, for `near`


@dataclass(frozen=True)
class SortKey:
    """One ``sortby`` key: a property, ascending unless *descending* (nulls sort first
    ascending, last descending; ties keep data order)."""

    prop: Property
    descending: bool = False


@dataclass(frozen=True)
class ItemsQuery:
    """The items of a collection: bbox (CRS84), equality filters, datetime, a CQL2
    expression, ids, an order (data order when empty), one page."""

    bbox: BBox | None = None
    filters: Mapping[str, Any] = field(default_factory=dict)
    interval: Interval | None = None
    limit: int = 100
    offset: int = 0
    where: Expression | None = None
    ids: tuple[str, ...] | None = None
    sortby: tuple[SortKey, ...] = ()

    @property
    def everything(self) -> bool:
        """True when nothing narrows or reorders the collection (a plain page)."""
        return (self.bbox is None and not self.filters and self.interval is None
                and self.where is None and self.ids is None and not self.sortby)


@dataclass(frozen=True)
class PlaceQuery:
    """A place search: a name in any script and/or a point with a radius (km)."""

    q: str | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    filters: Mapping[str, Any] = field(default_factory=dict)
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class PlacePoint:
    """A place reduced to what a map needs to choose among places."""

    id: str
    lon: float
    lat: float
    population: int


@dataclass(frozen=True)
class BorderDistance:
    """Geodesic distance (km, WGS84) from a point to one border, and the nearest point."""

    border: str
    name: str | None
    distance_km: float
    nearest_lon: float
    nearest_lat: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the API."""
        return {
            "border": self.border,
            "name": self.name,
            "distance_km": self.distance_km,
            "nearest_point": {"type": "Point",
                              "coordinates": [self.nearest_lon, self.nearest_lat]},
        }  # fmt: skip


@dataclass(frozen=True)
class CountryRef:
    """A country named in an answer."""

    id: str
    iso_a3: str | None
    name: str | None
    name_local: str | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the API."""
        return {"id": self.id, "iso_a3": self.iso_a3, "name": self.name,
                "name_local": self.name_local}  # fmt: skip


@dataclass(frozen=True)
class StoreInfo:
    """What a store reports about itself (health, headers, pages)."""

    backend: str  # "embedded" | "postgis"
    data_version: str
    data_time: str  # RFC 3339: when the data was built (the same on every worker)
    location: str  # file path or database (without password)
    opened_seconds: float
