"""The store interface: the only way routes, maps and the CLI reach data.

Two backends implement it: ``EmbeddedStore`` (a read-only SQLite file built from
the committed GeoJSON, the default) and ``PostgisStore`` (PostgreSQL/PostGIS,
for replicas that share one database). Both keep the small layers (borders,
countries, crossings) in memory as a ``Frontier``; the questions asked of those
layers are answered there, the same way for every backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import orjson
import shapely

from service.domain.errors import CollectionNotFoundError
from service.domain.frontier import BorderLevel, Frontier, LayerFeature, layer
from service.domain.geometry import BBox
from service.domain.records import (
    BorderDistance,
    CollectionMeta,
    CountryRef,
    Feature,
    FeaturePage,
    ItemsQuery,
    PlacePoint,
    PlaceQuery,
    StoreInfo,
)


@runtime_checkable
class FeatureStore(Protocol):
    """Read access to every collection, plus the reporter's questions."""

    frontier: Frontier
    info: StoreInfo

    async def collections(self) -> list[CollectionMeta]:
        """Every collection, in API order."""
        ...

    async def collection(self, collection_id: str) -> CollectionMeta:
        """One collection, or CollectionNotFoundError."""
        ...

    async def feature(self, collection_id: str, feature_id: str) -> Feature:
        """One feature by id, or FeatureNotFoundError."""
        ...

    async def items(self, collection_id: str, query: ItemsQuery) -> FeaturePage:
        """A page of the features matching bbox, filters and datetime, in data order."""
        ...

    async def search_places(self, query: PlaceQuery) -> FeaturePage:
        """Places by name (best match, then population) and/or distance (nearest first)."""
        ...

    async def place(self, place_id: str) -> Feature:
        """A place by id, or PlaceNotFoundError with a hint."""
        ...

    async def places_within(self, bbox: BBox) -> list[PlacePoint]:
        """Every place inside *bbox*, largest population first."""
        ...

    async def border(self, border_id: str, simplify_m: float | None = None) -> BorderLevel:
        """A border (any spelling of its id) at full resolution or simplified (metres)."""
        ...

    async def distances_to_borders(self, lon: float, lat: float) -> list[BorderDistance]:
        """Geodesic distance (km) from a point to every border, nearest first."""
        ...

    async def nearest_border(self, lon: float, lat: float) -> BorderDistance:
        """The nearest border to a point and the geodesic distance (km) to it."""
        ...

    async def country_at(self, lon: float, lat: float) -> CountryRef | None:
        """The country whose land holds the point, or None."""
        ...

    async def crossings_on(self, border_id: str) -> list[Feature]:
        """The crossings on a border (any spelling of its id)."""
        ...

    async def close(self) -> None:
        """Release files, connections and pools."""
        ...


class CollectionLookup:
    """Collection metadata read once when a store opens, and feature records from rows;
    the same for every backend."""

    #: collection id -> (metadata, all points?, first feature number)
    _collections: dict[str, tuple[CollectionMeta, bool, int]]

    def _meta(self, collection_id: str) -> tuple[CollectionMeta, bool, int]:
        try:
            return self._collections[collection_id]
        except KeyError:
            raise CollectionNotFoundError(
                f"No collection {collection_id!r}. Collections: {', '.join(self._collections)}."
            ) from None

    async def collections(self) -> list[CollectionMeta]:
        """Every collection, in API order."""
        return [meta for meta, _, _ in self._collections.values()]

    async def collection(self, collection_id: str) -> CollectionMeta:
        """One collection, or CollectionNotFoundError."""
        return self._meta(collection_id)[0]

    @staticmethod
    def _features(collection_id: str, rows: Iterable[Sequence[Any]]) -> list[Feature]:
        """Feature records from (id, body, lon, lat) rows."""
        return [Feature(collection_id, fid, body, (lon, lat) if lon is not None else None)
                for fid, body, lon, lat in rows]  # fmt: skip


class FrontierQueries:
    """The questions every backend answers from its in-memory ``Frontier``."""

    frontier: Frontier

    async def border(self, border_id: str, simplify_m: float | None = None) -> BorderLevel:
        """A border at full resolution or simplified (metres)."""
        return self.frontier.border(border_id, simplify_m)

    async def distances_to_borders(self, lon: float, lat: float) -> list[BorderDistance]:
        """Geodesic distance (km) from a point to every border, nearest first."""
        return self.frontier.distances_to_borders(lon, lat)

    async def nearest_border(self, lon: float, lat: float) -> BorderDistance:
        """The nearest border to a point and the geodesic distance (km) to it."""
        return self.frontier.nearest_border(lon, lat)

    async def country_at(self, lon: float, lat: float) -> CountryRef | None:
        """The country whose land holds the point, or None."""
        return self.frontier.country_at(lon, lat)

    async def crossings_on(self, border_id: str) -> list[Feature]:
        """The crossings on a border."""
        return [c.feature for c in self.frontier.crossings_on(self.frontier.border_id(border_id))]


def _layer(collection: str, rows: Iterable[Sequence[Any]]) -> dict[str, LayerFeature]:
    rows = list(rows)
    features = [Feature(collection, row[0], bytes(row[1])) for row in rows]
    if all(len(row) > 2 and row[2] is not None for row in rows):  # stored WKB: no parsing
        geoms = shapely.from_wkb([bytes(row[2]) for row in rows])
    else:
        geoms = shapely.from_geojson([orjson.dumps(orjson.loads(f.body)["geometry"])
                                      for f in features])  # fmt: skip
    for f, g in zip(features, geoms, strict=True):
        if g.geom_type == "Point":
            object.__setattr__(f, "lonlat", (float(g.x), float(g.y)))
    return layer(features, geoms)


def build_frontier(
    small: dict[str, list[Sequence[Any]]],
    levels: Iterable[Sequence[Any]],
    codes: Iterable[tuple[str, str, str]],
) -> Frontier:
    """The in-memory small layers from stored rows: (id, GeoJSON bytes[, WKB]) per
    collection, prepared border levels (id, tolerance in metres, bytes[, WKB, length km,
    vertices]) and country codes. With the WKB (and level figures) no GeoJSON is parsed."""
    codes = list(codes)
    frontier = Frontier(
        borders=_layer("borders", small.get("borders", [])),
        countries=_layer("countries", small.get("countries", [])),
        crossings=_layer("crossings", small.get("crossings", [])),
        alpha3={a3: a2 for a3, a2, _ in codes},
        country_names={a2: name for _, a2, name in codes},
    )
    for row in levels:
        bid, tolerance, body = row[0], row[1], bytes(row[2])
        if len(row) > 5 and row[3] is not None:
            geom, length, vertices = shapely.from_wkb(bytes(row[3])), row[4], row[5]
        else:
            doc = orjson.loads(body)
            geom = shapely.from_geojson(orjson.dumps(doc["geometry"]))
            length = doc["properties"]["simplified_length_km"]
            vertices = doc["properties"]["vertices"]
        frontier.levels[(bid, float(tolerance))] = BorderLevel(
            geom, float(length), int(vertices), body)
    return frontier
