"""The data, loaded once: collections, spatial indexes, cached serializations.

Nothing here reads a file after ``Catalog.load``; every answer is a look-up in
structures built at start-up, or a small computation over them (cached where
it is worth it).
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from service.domain import geometry
from service.domain.geometry import BBox
from service.domain.search import NameIndex
from service.errors import (
    BorderNotFoundError,
    CollectionNotFoundError,
    FeatureNotFoundError,
    InvalidParameterError,
    PlaceNotFoundError,
)

logger = logging.getLogger("service.catalog")

COLLECTION_FILES = ("borders", "countries", "places", "crossings")

#: Interval of time, both ends inclusive-exclusive [start, end); None = open.
Interval = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Queryable:
    """A property filter a collection declares: ``?name=value`` on its items."""

    name: str
    type: str  # "string" | "boolean"
    description: str
    values: Callable[[dict[str, Any]], Iterable[Any]]


def _prop(name: str) -> Callable[[dict[str, Any]], Iterable[Any]]:
    return lambda props: [props.get(name)]


QUERYABLES: dict[str, list[Queryable]] = {
    "borders": [
        Queryable("country", "string", "alpha-2 or alpha-3 code of either country",
                  lambda p: p.get("countries") or []),
        Queryable("clipped", "boolean", "true if the line is cut at the map window",
                  _prop("clipped")),
    ],
    "countries": [
        Queryable("iso_a2", "string", "ISO 3166-1 alpha-2 code", _prop("iso_a2")),
        Queryable("iso_a3", "string", "ISO 3166-1 alpha-3 code", _prop("iso_a3")),
    ],
    "places": [
        Queryable("country", "string", "alpha-2 or alpha-3 country code", _prop("country")),
        Queryable("kind", "string", "capital, city, town or village", _prop("kind")),
        Queryable("near_belarus_frontier", "boolean", "close to a frontier of Belarus",
                  _prop("near_belarus_frontier")),
    ],
    "crossings": [
        Queryable("border", "string", "border id, e.g. BY-RU (any order, alpha-2 or -3)",
                  _prop("border")),
        Queryable("kind", "string", "road or rail", _prop("kind")),
        Queryable("road", "string", "road number, e.g. M1/E30", _prop("road")),
    ],
}  # fmt: skip

TITLES = {
    "borders": ("Borders", "Land borders of Belarus and its neighbours, measured geodesically."),
    "countries": ("Countries", "Land polygons (lakes as holes) clipped to 19–40°E, 49–58.5°N."),
    "places": ("Places", "Cities, towns and villages (GeoNames) with Latin and Cyrillic names."),
    "crossings": ("Crossings", "Border checkpoints of Belarus, with the dates of their changes."),
}


def _date_span(value: str) -> tuple[datetime, datetime] | None:
    """A ``YYYY-MM-DD`` or ``YYYY-MM`` value as the [start, end) span it denotes (UTC)."""
    try:
        if len(value) == 7:
            start = datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC)
            end = (start + timedelta(days=32)).replace(day=1)
            return start, end
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


@dataclass
class Collection:
    """One feature collection with its spatial index and serialized features."""

    id: str
    title: str
    description: str
    features: list[dict[str, Any]]
    geoms: list[BaseGeometry]
    queryables: list[Queryable]
    ids: dict[str, int] = field(default_factory=dict)
    feature_bytes: list[bytes] = field(default_factory=list)
    dates: list[list[tuple[datetime, datetime]]] = field(default_factory=list)
    tree: STRtree | None = None
    extent: BBox = BBox(-180.0, -90.0, 180.0, 90.0)
    temporal: tuple[str, str] | None = None

    @classmethod
    def build(cls, cid: str, document: dict[str, Any]) -> Collection:
        """Index a GeoJSON FeatureCollection document."""
        features = document["features"]
        # GEOS parses GeoJSON far faster than shapely.geometry.shape builds objects.
        geoms = list(shapely.from_geojson([orjson.dumps(f["geometry"]) for f in features]))
        title, description = TITLES.get(cid, (cid.title(), ""))
        col = cls(cid, title, description, features, geoms, QUERYABLES.get(cid, []))
        col.ids = {str(f["id"]): i for i, f in enumerate(features)}
        col.tree = STRtree(geoms)
        if geoms:
            bounds = shapely.bounds(np.asarray(geoms, dtype=object))
            col.extent = BBox(
                float(bounds[:, 0].min()), float(bounds[:, 1].min()),
                float(bounds[:, 2].max()), float(bounds[:, 3].max()),
            )  # fmt: skip
        col.dates = [
            [span for v in (f["properties"].get("dates") or {}).values()
             if isinstance(v, str) and (span := _date_span(v))]
            for f in features
        ]  # fmt: skip
        spans = [s for d in col.dates for s in d]
        if spans:
            col.temporal = (
                min(s for s, _ in spans).isoformat().replace("+00:00", "Z"),
                max(e for _, e in spans).isoformat().replace("+00:00", "Z"),
            )
        col.reserialize()
        return col

    def reserialize(self) -> None:
        """Serialize each feature once; item responses join these byte strings."""
        # orjson's bytes carry a large spare allocation (~4 kB for a 150-byte feature);
        # a copy through memoryview keeps only the bytes themselves.
        self.feature_bytes = [bytes(memoryview(orjson.dumps(f))) for f in self.features]

    def get(self, feature_id: str) -> int:
        """Index of a feature by id, or FeatureNotFoundError."""
        try:
            return self.ids[feature_id]
        except KeyError:
            raise FeatureNotFoundError(
                f"No feature with id {feature_id!r} in collection {self.id!r}; "
                f"it has {len(self.features)} features, list them at "
                f"/collections/{self.id}/items."
            ) from None

    def query(
        self,
        bbox: BBox | None = None,
        filters: dict[str, Any] | None = None,
        interval: Interval | None = None,
    ) -> Sequence[int]:
        """Indexes of the features matching bbox, property filters and datetime, in order."""
        if bbox is None and not filters and interval is None:
            return range(len(self.features))  # nothing to test: no walk over every feature
        if bbox is None:
            hits: Iterable[int] = range(len(self.features))
        else:
            assert self.tree is not None
            found: set[int] = set()
            for part in geometry.bbox_parts(bbox):
                found.update(int(i) for i in self.tree.query(part, predicate="intersects"))
            hits = sorted(found)
        result = []
        by_name = {q.name: q for q in self.queryables}
        for i in hits:
            props = self.features[i]["properties"]
            if filters and not all(
                any(_same(value, v) for v in by_name[name].values(props))
                for name, value in filters.items()
            ):
                continue
            if interval is not None and not any(
                _overlaps(span, interval) for span in self.dates[i]
            ):
                continue
            result.append(i)
        return result


def _same(wanted: Any, value: Any) -> bool:
    if isinstance(wanted, bool) or value is None:
        return wanted is value or wanted == value
    return str(value).casefold() == str(wanted).casefold()


def _overlaps(span: tuple[datetime, datetime], interval: Interval) -> bool:
    start, end = interval
    return (end is None or span[0] <= end) and (start is None or span[1] > start)


@dataclass
class BorderLevel:
    """A border at one level of detail, serialized."""

    geometry: BaseGeometry
    length_km: float
    vertices: int
    feature_bytes: bytes


@dataclass(eq=False)  # hashed by identity, for the lru_caches on its methods
class Catalog:
    """Every collection plus the derived tables the reporter's questions need."""

    data_dir: Path
    collections: dict[str, Collection]
    alpha3: dict[str, str]
    country_names: dict[str, str]
    simplify_levels_m: tuple[float, ...]
    loaded_at: str = ""
    load_seconds: float = 0.0
    _places_index: Future[NameIndex] | None = None
    border_levels: dict[tuple[str, float | None], BorderLevel] = field(default_factory=dict)

    @property
    def places_index(self) -> NameIndex:
        """The place-name index (waits for its background build on first use)."""
        assert self._places_index is not None
        return self._places_index.result()

    @property
    def search_ready(self) -> bool:
        """True once the place-name index is built."""
        return self._places_index is not None and self._places_index.done()

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, data_dir: Path, simplify_levels_m: Iterable[float] = ()) -> Catalog:
        """Read the four GeoJSON files in *data_dir* and build every index."""
        started = time.perf_counter()

        def build(cid: str) -> Collection:
            return Collection.build(cid, orjson.loads((data_dir / f"{cid}.geojson").read_bytes()))

        # GEOS parses the large country polygons without the GIL, overlapping with the
        # other layers; the place-name index (pure Python, ~0.5 s) is then built in the
        # background while the server starts; a search waits for it if it comes first.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog")
        countries = pool.submit(build, "countries")
        collections = {cid: build(cid) for cid in COLLECTION_FILES if cid != "countries"}
        collections["countries"] = countries.result()
        collections = {cid: collections[cid] for cid in COLLECTION_FILES}
        alpha3, names = _country_codes(data_dir, collections["countries"].features)
        catalog = cls(data_dir, collections, alpha3, names, tuple(simplify_levels_m))
        catalog._places_index = pool.submit(_build_name_index, collections["places"].features)
        pool.shutdown(wait=False)
        catalog._measure_borders()
        catalog.loaded_at = (
            datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        )
        catalog.load_seconds = time.perf_counter() - started
        logger.info("catalog loaded from %s in %.2f s", data_dir, catalog.load_seconds)
        return catalog

    def _measure_borders(self) -> None:
        borders = self.collections["borders"]
        for i, feature in enumerate(borders.features):
            props = feature["properties"]
            geom = borders.geoms[i]
            props["length_km"] = round(geometry.geodesic_length_km(geom), 3)
            codes = props.get("countries") or feature["id"].split("-")
            props["countries_alpha3"] = [self.alpha3_of(c) for c in codes]
            props["country_names"] = [self.country_names.get(c, c) for c in codes]
        borders.reserialize()
        for i, feature in enumerate(borders.features):
            vertices = int(shapely.get_num_coordinates(borders.geoms[i]))
            self.border_levels[(feature["id"], None)] = BorderLevel(
                borders.geoms[i], feature["properties"]["length_km"], vertices,
                borders.feature_bytes[i],
            )  # fmt: skip
            metric = geometry.to_metric(borders.geoms[i])  # projected once for every level
            for level in self.simplify_levels_m:
                self.border_levels[(feature["id"], level)] = self._simplified(i, level, metric)

    def _simplified(
        self, i: int, tolerance_m: float, metric: BaseGeometry | None = None
    ) -> BorderLevel:
        borders = self.collections["borders"]
        feature = borders.features[i]
        simple = geometry.simplify(borders.geoms[i], tolerance_m, metric)
        length = round(geometry.geodesic_length_km(simple), 3)
        vertices = int(shapely.get_num_coordinates(simple))
        props = dict(feature["properties"])
        props.update(
            simplify_m=tolerance_m,
            simplified_length_km=length,
            vertices=vertices,
            full_vertices=int(shapely.get_num_coordinates(borders.geoms[i])),
        )
        body = orjson.dumps(
            {"type": "Feature", "id": feature["id"], "properties": props,
             "geometry": shapely.geometry.mapping(simple)},
            option=orjson.OPT_SERIALIZE_NUMPY,
        )  # fmt: skip
        return BorderLevel(simple, length, vertices, body)

    # ------------------------------------------------------------------ look-ups
    def collection(self, cid: str) -> Collection:
        """A collection by id, or CollectionNotFoundError listing the ones there are."""
        try:
            return self.collections[cid]
        except KeyError:
            raise CollectionNotFoundError(
                f"No collection {cid!r}. Collections: {', '.join(self.collections)}."
            ) from None

    def parse_filters(self, col: Collection, raw: dict[str, str]) -> dict[str, Any]:
        """Validate ``?name=value`` property filters for *col*; 400 on a bad value."""
        by_name = {q.name: q for q in col.queryables}
        filters: dict[str, Any] = {}
        for name, text in raw.items():
            queryable = by_name[name]
            if queryable.type == "boolean":
                if text.lower() not in ("true", "false"):
                    raise InvalidParameterError(f"{name} must be true or false.")
                filters[name] = text.lower() == "true"
            elif name == "country":
                code = self.alpha2(text)
                if code is None:
                    raise InvalidParameterError(
                        f"{name} must be an ISO 3166-1 alpha-2 or alpha-3 code, e.g. BY or BLR."
                    )
                filters[name] = code
            elif name == "border":
                try:
                    filters[name] = self.border_id(text)
                except BorderNotFoundError as exc:
                    raise InvalidParameterError(f"border: {exc.detail}") from None
            else:
                filters[name] = text
        return filters

    def alpha2(self, code: str) -> str | None:
        """The alpha-2 code for an alpha-2 or alpha-3 code (any case), or None."""
        code = code.strip().upper()
        if len(code) == 3:
            return self.alpha3.get(code)
        if len(code) == 2 and code.isalpha():
            return code
        return None

    def alpha3_of(self, a2: str) -> str:
        """The alpha-3 code of an alpha-2 code (the code itself when unknown)."""
        for a3, value in self.alpha3.items():
            if value == a2:
                return a3
        return a2

    def borders_of(self, a2: str) -> list[str]:
        """Ids of the borders a country has."""
        return [
            f["id"] for f in self.collections["borders"].features
            if a2 in (f["properties"].get("countries") or f["id"].split("-"))
        ]  # fmt: skip

    def border_id(self, raw: str) -> str:
        """Canonical border id (``BY-RU``) for ``RU-BY``, ``by-ru``, ``BLR-RUS``, ..."""
        parts = [p for p in raw.replace("_", "-").replace("–", "-").split("-") if p]
        codes = [self.alpha2(p) for p in parts]
        if len(codes) != 2 or None in codes:
            raise BorderNotFoundError(
                f"Border ids are two country codes, alpha-2 or alpha-3, such as BY-RU or "
                f"BLR-RUS; {raw!r} is not one. Borders: "
                f"{', '.join(self.collections['borders'].ids)}."
            )
        candidate = "-".join(sorted(c for c in codes if c))
        if candidate in self.collections["borders"].ids:
            return candidate
        known = [c for c in codes if c and self.borders_of(c)]
        hint = (
            " ".join(
                f"{self.country_names.get(c, c)} has borders: {', '.join(self.borders_of(c))}."
                for c in known
            )
            or f"Borders: {', '.join(self.collections['borders'].ids)}."
        )
        raise BorderNotFoundError(f"No border {candidate} in the data. {hint}")

    def border(self, border_id: str, simplify_m: float | None = None) -> BorderLevel:
        """The border at full resolution or simplified to *simplify_m* metres."""
        key = (self.border_id(border_id), simplify_m)
        level = self.border_levels.get(key)
        if level is None:
            level = self._simplified_cached(key[0], simplify_m)
        return level

    @lru_cache(maxsize=256)  # noqa: B019 - the catalog lives as long as the app
    def _simplified_cached(self, border_id: str, simplify_m: float | None) -> BorderLevel:
        assert simplify_m is not None
        return self._simplified(self.collections["borders"].ids[border_id], simplify_m)

    def borders_summary(self) -> list[dict[str, Any]]:
        """Every border with codes, names, measured and cited lengths."""
        keys = ("countries", "countries_alpha3", "country_names", "name", "length_km",
                "cited_length_km", "cited_source", "cited_breakdown_km",
                "other_cited_figures", "deviation_pct", "clipped", "rings", "source")  # fmt: skip
        return [
            {"id": f["id"], **{k: f["properties"].get(k) for k in keys}}
            for f in self.collections["borders"].features
        ]

    def place(self, place_id: str) -> int:
        """Index of a place by id, or PlaceNotFoundError with a hint."""
        places = self.collections["places"]
        if place_id in places.ids:
            return places.ids[place_id]
        hits = self.places_index.search(place_id)[:3]
        hint = (
            " Did you mean " + ", ".join(places.features[m.item]["id"] for m in hits) + "?"
            if hits else " Search by name with /places?q=."
        )  # fmt: skip
        raise PlaceNotFoundError(f"No place with id {place_id!r}.{hint}")

    def search_places(
        self,
        q: str | None = None,
        near: tuple[float, float] | None = None,
        radius_km: float | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[tuple[int, float | None]]:
        """Places matching name *q* and/or within *radius_km* of *near*, best first.

        With *q*, results are ranked by match quality, then population; with only
        *near*, by distance. Returns (place index, distance in km or None).
        """
        places = self.collections["places"]
        allowed = set(places.query(filters=filters)) if filters else None
        distances: dict[int, float] = {}
        if near is not None:
            lon, lat = near
            radius = radius_km if radius_km is not None else 25.0
            box = geometry.degrees_around(lon, lat, radius)
            candidates = places.query(bbox=box)
            coords = np.array([places.geoms[i].coords[0] for i in candidates]).reshape(-1, 2)
            dist = geometry.geodesic_distances_km(lon, lat, coords[:, 0], coords[:, 1])
            distances = {i: float(d) for i, d in zip(candidates, dist, strict=True) if d <= radius}

        def population(i: int) -> int:
            return -(places.features[i]["properties"].get("population") or 0)

        if q:
            ranked = [(m.rank, population(m.item), m.item) for m in self.places_index.search(q)]
            order = [i for _, _, i in sorted(ranked)]
            if near is not None:
                order = [i for i in order if i in distances]
        elif near is not None:
            order = sorted(distances, key=lambda i: (distances[i], i))
        else:
            order = list(range(len(places.features)))
        if allowed is not None:
            order = [i for i in order if i in allowed]
        return [(i, distances.get(i)) for i in order]

    @lru_cache(maxsize=2048)  # noqa: B019 - the catalog lives as long as the app
    def distances_to_borders(self, lon: float, lat: float) -> tuple[dict[str, Any], ...]:
        """Geodesic distance (km) from lon/lat to every border, nearest first."""
        borders = self.collections["borders"]
        rows = []
        for i, feature in enumerate(borders.features):
            nearest = geometry.nearest_point(lon, lat, borders.geoms[i])
            rows.append({
                "border": feature["id"],
                "name": feature["properties"].get("name"),
                "distance_km": round(nearest.distance_km, 3),
                "nearest_point": {"type": "Point",
                                  "coordinates": [round(nearest.lon, 6), round(nearest.lat, 6)]},
            })  # fmt: skip
        rows.sort(key=lambda r: r["distance_km"])
        return tuple(rows)

    def country_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        """The country whose land polygon holds lon/lat (None for lakes, sea, elsewhere)."""
        countries = self.collections["countries"]
        assert countries.tree is not None
        hits = countries.tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        feature = countries.features[int(sorted(hits)[0])]
        props = feature["properties"]
        return {"id": feature["id"], "iso_a3": props.get("iso_a3"), "name": props.get("name"),
                "name_local": props.get("name_local")}  # fmt: skip

    @lru_cache(maxsize=128)  # noqa: B019 - the catalog lives as long as the app
    def zone(self, border_id: str, width_km: float, side: str) -> bytes:
        """The strip *width_km* wide along a border, on one side (alpha-2) or ``both``."""
        borders = self.collections["borders"]
        i = borders.ids[border_id]
        codes = borders.features[i]["properties"].get("countries") or border_id.split("-")
        within = None
        if side != "both":
            a2 = self.alpha2(side)
            if a2 not in codes:
                raise InvalidParameterError(
                    f"side must be 'both' or one of the border's countries: {', '.join(codes)}."
                )
            countries = self.collections["countries"]
            within = countries.geoms[countries.ids[a2]] if a2 in countries.ids else None
            side = a2
        polygon = geometry.zone(borders.geoms[i], width_km * 1000.0, within)
        area_m2, _ = geometry.GEOD.geometry_area_perimeter(shapely.orient_polygons(polygon))
        return orjson.dumps({
            "type": "Feature",
            "id": f"{border_id}-zone-{width_km:g}km-{side}",
            "properties": {
                "border": border_id, "width_km": width_km, "side": side,
                "area_km2": round(abs(area_m2) / 1e6, 1),
                "method": "buffer in an azimuthal equidistant projection centred on the "
                          "border, clipped to the country's land polygon for one side",
            },
            "geometry": shapely.geometry.mapping(polygon),
        }, option=orjson.OPT_SERIALIZE_NUMPY)  # fmt: skip

    def crossings_on(self, border_id: str) -> list[int]:
        """Indexes of the crossings on a border (canonical id)."""
        return self.collections["crossings"].query(filters={"border": border_id})


def _build_name_index(places: list[dict[str, Any]]) -> NameIndex:
    """Name index over each place's name, local name, id and alternate names."""
    return NameIndex.build(
        (
            f["properties"].get("name") or "",
            [f["properties"].get("name_local") or "", f["id"],
             *(f["properties"].get("alternate_names") or [])],
        )
        for f in places
    )  # fmt: skip


def _country_codes(
    data_dir: Path, countries: list[dict[str, Any]]
) -> tuple[dict[str, str], dict[str, str]]:
    """alpha-3 → alpha-2 and alpha-2 → English name, from the curated table and the data."""
    alpha3: dict[str, str] = {}
    names: dict[str, str] = {}
    table = data_dir / "curated" / "countries.csv"
    if table.exists():
        with table.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                alpha3[row["iso_a3"]] = row["iso_a2"]
                names[row["iso_a2"]] = row["name"]
    for f in countries:
        props = f["properties"]
        if props.get("iso_a3") and props.get("iso_a2"):
            alpha3[props["iso_a3"]] = props["iso_a2"]
            names[props["iso_a2"]] = props.get("name") or props["iso_a2"]
    return alpha3, names
