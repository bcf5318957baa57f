"""Pydantic models of the documents the API returns (OpenAPI schemas and test validation).

Routes build plain dicts (or join pre-serialized bytes) for speed; these models
describe those documents for the OpenAPI description and for the tests.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Link(BaseModel):
    """An OGC API link."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class LandingPage(BaseModel):
    """``/``."""

    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    """``/conformance``."""

    conformsTo: list[str]  # noqa: N815 - OGC name


class SpatialExtent(BaseModel):
    """Bounding boxes in CRS84, degrees."""

    bbox: list[list[float]]
    crs: str


class TemporalExtent(BaseModel):
    """Time interval (RFC 3339, open ends null)."""

    interval: list[list[str | None]]
    trs: str


class Extent(BaseModel):
    """A collection's extent."""

    spatial: SpatialExtent
    temporal: TemporalExtent | None = None


class CollectionInfo(BaseModel):
    """``/collections/{collectionId}``."""

    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    description: str
    links: list[Link]
    extent: Extent
    itemType: str  # noqa: N815 - OGC name
    crs: list[str]


class Collections(BaseModel):
    """``/collections``."""

    links: list[Link]
    collections: list[CollectionInfo]


class BorderSummary(BaseModel):
    """One row of ``/borders``: codes, names, measured and cited lengths (km)."""

    id: str
    countries: list[str]
    countries_alpha3: list[str]
    country_names: list[str]
    name: str
    length_km: float = Field(description="Geodesic length on WGS84 measured from our geometry")
    cited_length_km: float | None = Field(description="Published figure, see cited_source")
    cited_source: str | None
    cited_breakdown_km: dict[str, float] | None = None
    other_cited_figures: str | None = None
    deviation_pct: float | None = None
    clipped: bool
    rings: int | None = None
    source: str | None = None
    links: list[Link]


class Borders(BaseModel):
    """``/borders``."""

    borders: list[BorderSummary]
    links: list[Link]


class BorderDistance(BaseModel):
    """Distance from a point to one border and the nearest point on it."""

    border: str
    name: str | None
    distance_km: float
    nearest_point: dict[str, Any]


class PlaceBorders(BaseModel):
    """``/places/{placeId}/borders``."""

    place: str
    name: str
    coordinates: list[float]
    borders: list[BorderDistance]
    links: list[Link]


class CountryRef(BaseModel):
    """A country in a /locate answer."""

    id: str
    iso_a3: str | None
    name: str | None
    name_local: str | None


class Locate(BaseModel):
    """``/locate``."""

    lon: float
    lat: float
    country: CountryRef | None
    nearest_border: BorderDistance
    links: list[Link]


class Problem(BaseModel):
    """RFC 9457 problem details with the OGC exception code."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None


class Health(BaseModel):
    """``/healthz``."""

    status: str
    store: str = Field(description="embedded or postgis")
    data_version: str = Field(description="version of the data every answer comes from")
    features: dict[str, int]
    loaded_at: str = Field(description="when the data was built (RFC 3339)")
    subsystems: dict[str, Any] = Field(description="store checks and map renderers, each "
                                       "with its status (ok, warming or failing)")
    response_cache: dict[str, int] = Field(description="entries, bytes, budget, hits, misses")
    renders: dict[str, int] = Field(description="map renders running and waiting, the bounds, "
                                    "and how many were refused (503)")
    maps: str = Field(description="ready, or warming (the first map pages may wait for it)")
