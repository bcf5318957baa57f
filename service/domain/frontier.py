"""The small layers every backend keeps in memory, and the analytics over them.

Borders (at every prepared level of detail), countries and crossings are a few
dozen features; a store loads them once when it opens and hands them over as a
``Frontier``. Border ids, lengths, distances to borders, the country at a point,
zones and the crossings of a border are answered here, without a database trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from service.domain import geometry
from service.domain.errors import (
    BorderNotFoundError,
    FeatureNotFoundError,
    InvalidParameterError,
)
from service.domain.line_index import LineIndex
from service.domain.records import BorderDistance, CountryRef, Feature


@dataclass(frozen=True)
class BorderLevel:
    """A border at one level of detail: geometry, length and its finished GeoJSON bytes."""

    geometry: BaseGeometry
    length_km: float
    vertices: int
    body: bytes


@dataclass(frozen=True)
class LayerFeature:
    """A feature of a small layer: the record plus its parsed geometry."""

    feature: Feature
    geometry: BaseGeometry

    @property
    def id(self) -> str:
        """The feature id."""
        return self.feature.id

    @property
    def properties(self) -> Mapping[str, Any]:
        """The feature's properties."""
        return self.feature.properties


def simplified_level(border: Feature, geom: BaseGeometry, tolerance_m: float,
                     metric: BaseGeometry | None = None) -> BorderLevel:  # fmt: skip
    """*border* simplified to *tolerance_m* metres (EPSG:3035), with its lengths in km."""
    simple = geometry.simplify(geom, tolerance_m, metric)
    length = round(geometry.geodesic_length_km(simple), 3)
    vertices = int(shapely.get_num_coordinates(simple))
    props = dict(border.properties)
    props.update(simplify_m=tolerance_m, simplified_length_km=length, vertices=vertices,
                 full_vertices=int(shapely.get_num_coordinates(geom)))  # fmt: skip
    body = orjson.dumps(
        {"type": "Feature", "id": border.id, "properties": props,
         "geometry": shapely.geometry.mapping(simple)},
        option=orjson.OPT_SERIALIZE_NUMPY,
    )  # fmt: skip
    return BorderLevel(simple, length, vertices, body)


@dataclass(eq=False)  # hashed by identity: map caches key on it
class Frontier:
    """Borders, countries and crossings in memory, with the questions asked of them."""

    borders: dict[str, LayerFeature]
    countries: dict[str, LayerFeature]
    crossings: dict[str, LayerFeature]
    alpha3: dict[str, str]  # alpha-3 -> alpha-2
    country_names: dict[str, str]  # alpha-2 -> English name
    levels: dict[tuple[str, float | None], BorderLevel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = list(self.borders)
        self._line_index = LineIndex([self.borders[b].geometry for b in ids])
        self._line_ids = ids
        self._country_ids = list(self.countries)
        shapes = [self.countries[c].geometry for c in self._country_ids]
        shapely.prepare(shapes)  # point-in-polygon tests against prepared shapes
        self._country_shapes = shapes
        self._country_tree = STRtree(shapes)
        for bid, border in self.borders.items():
            props = border.properties
            self.levels.setdefault(
                (bid, None),
                BorderLevel(border.geometry, float(props.get("length_km") or 0.0),
                            int(shapely.get_num_coordinates(border.geometry)),
                            border.feature.body),
            )  # fmt: skip

    @property
    def simplify_levels_m(self) -> tuple[float, ...]:
        """The prepared simplification tolerances (metres), finest first."""
        return tuple(sorted({lv for _, lv in self.levels if lv is not None}))

    # ------------------------------------------------------------- codes and ids
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

    def countries_of(self, border_id: str) -> list[str]:
        """The two alpha-2 codes of a border."""
        return list(self.borders[border_id].properties.get("countries") or border_id.split("-"))

    def borders_of(self, a2: str) -> list[str]:
        """Ids of the borders a country has."""
        return [bid for bid in self.borders if a2 in self.countries_of(bid)]

    def border_id(self, raw: str) -> str:
        """Canonical border id (``BY-RU``) for ``RU-BY``, ``by-ru``, ``BLR-RUS``, ..."""
        parts = [p for p in raw.replace("_", "-").replace("–", "-").split("-") if p]
        codes = [self.alpha2(p) for p in parts]
        if len(codes) != 2 or None in codes:
            raise BorderNotFoundError(
                f"Border ids are two country codes, alpha-2 or alpha-3, such as BY-RU or "
                f"BLR-RUS; {raw!r} is not one. Borders: {', '.join(self.borders)}."
            )
        candidate = "-".join(sorted(c for c in codes if c))
        if candidate in self.borders:
            return candidate
        known = [c for c in codes if c and self.borders_of(c)]
        hint = " ".join(
            f"{self.country_names.get(c, c)} has borders: {', '.join(self.borders_of(c))}."
            for c in known
        ) or f"Borders: {', '.join(self.borders)}."
        raise BorderNotFoundError(f"No border {candidate} in the data. {hint}")

    def crossing(self, crossing_id: str) -> LayerFeature:
        """A crossing by id, or FeatureNotFoundError."""
        try:
            return self.crossings[crossing_id]
        except KeyError:
            raise FeatureNotFoundError(
                f"No feature with id {crossing_id!r} in collection 'crossings'; "
                f"it has {len(self.crossings)} features, list them at /collections/crossings/items."
            ) from None

    # ------------------------------------------------------------- borders
    def border(self, raw_id: str, simplify_m: float | None = None) -> BorderLevel:
        """The border at full resolution or simplified to *simplify_m* metres."""
        bid = self.border_id(raw_id)
        level = self.levels.get((bid, simplify_m))
        if level is None:
            assert simplify_m is not None
            level = self._simplified(bid, simplify_m)
        return level

    @lru_cache(maxsize=256)  # noqa: B019 - the frontier lives as long as its store
    def _simplified(self, bid: str, simplify_m: float) -> BorderLevel:
        border = self.borders[bid]
        return simplified_level(border.feature, border.geometry, simplify_m)

    def borders_summary(self) -> list[dict[str, Any]]:
        """Every border with codes, names, measured and cited lengths."""
        keys = ("countries", "countries_alpha3", "country_names", "name", "length_km",
                "cited_length_km", "cited_source", "cited_breakdown_km",
                "other_cited_figures", "deviation_pct", "clipped", "rings", "source")  # fmt: skip
        return [{"id": bid, **{k: b.properties.get(k) for k in keys}}
                for bid, b in self.borders.items()]  # fmt: skip

    def crossings_on(self, border_id: str) -> list[LayerFeature]:
        """The crossings on a border (canonical id), in data order."""
        return [c for c in self.crossings.values() if c.properties.get("border") == border_id]

    # ------------------------------------------------------------- analytics
    def distances_to_borders(self, lon: float, lat: float) -> list[BorderDistance]:
        """Geodesic distance (km, WGS84) from lon/lat to every border, nearest first."""
        return self._distances(lon, lat, only_nearest=False)

    def nearest_border(self, lon: float, lat: float) -> BorderDistance:
        """The nearest border to lon/lat and the geodesic distance (km) to it."""
        return self._distances(lon, lat, only_nearest=True)[0]

    def _distances(self, lon: float, lat: float, only_nearest: bool) -> list[BorderDistance]:
        rows = []
        found = self._line_index.nearest(lon, lat, only_nearest)
        for bid, nearest in zip(self._line_ids, found, strict=True):
            if nearest is None:
                continue
            rows.append(BorderDistance(
                bid, self.borders[bid].properties.get("name"), round(nearest.distance_km, 3),
                round(nearest.lon, 6), round(nearest.lat, 6),
            ))  # fmt: skip
        rows.sort(key=lambda r: r.distance_km)
        return rows

    def country_at(self, lon: float, lat: float) -> CountryRef | None:
        """The country whose land polygon holds lon/lat (None for lakes, sea, elsewhere)."""
        boxes = self._country_tree.query(Point(lon, lat))  # bounding boxes only
        hits = sorted(int(i) for i in boxes
                      if shapely.intersects_xy(self._country_shapes[int(i)], lon, lat))
        if not hits:
            return None
        country = self.countries[self._country_ids[hits[0]]]
        props = country.properties
        return CountryRef(country.id, props.get("iso_a3"), props.get("name"),
                          props.get("name_local"))  # fmt: skip

    @lru_cache(maxsize=128)  # noqa: B019 - the frontier lives as long as its store
    def zone(self, border_id: str, width_km: float, side: str) -> dict[str, Any]:
        """The strip *width_km* wide along a border, on one side (alpha-2) or ``both``,
        as a GeoJSON Feature dict with its geodesic area (km²)."""
        codes = self.countries_of(border_id)
        within = None
        if side != "both":
            a2 = self.alpha2(side)
            if a2 not in codes:
                raise InvalidParameterError(
                    f"side must be 'both' or one of the border's countries: {', '.join(codes)}."
                )
            within = self.countries[a2].geometry if a2 in self.countries else None
            side = a2
        polygon = geometry.zone(self.borders[border_id].geometry, width_km * 1000.0, within)
        area_m2, _ = geometry.GEOD.geometry_area_perimeter(shapely.orient_polygons(polygon))
        return {
            "type": "Feature",
            "id": f"{border_id}-zone-{width_km:g}km-{side}",
            "properties": {
                "border": border_id, "width_km": width_km, "side": side,
                "area_km2": round(abs(area_m2) / 1e6, 1),
                "method": "buffer in an azimuthal equidistant projection centred on the "
                          "border, clipped to the country's land polygon for one side",
            },
            "geometry": shapely.geometry.mapping(polygon),
        }  # fmt: skip


def layer(features: Iterable[Feature],
          geometries: Iterable[BaseGeometry]) -> dict[str, LayerFeature]:  # fmt: skip
    """A small layer keyed by feature id, in data order."""
    return {f.id: LayerFeature(f, g) for f, g in zip(features, geometries, strict=True)}
