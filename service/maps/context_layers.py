"""Context layers under a map's borders and labels: first-level regions, lakes and rivers
(``geodata/context.geojson``: Natural Earth regions, OpenStreetMap lakes, GSHHG/WDBII
rivers, each feature with its ``source``), read once when the map service starts and
generalised per view: what a view shows depends on its zoom (each feature's
``min_zoom``) and is simplified to the view's tolerance. Their credit, wherever they are
drawn, is the ``context_credit`` string (service.maps.strings).
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

import numpy as np
import shapely
from shapely.geometry import MultiLineString, MultiPolygon, shape
from shapely.geometry.base import BaseGeometry

from service.domain.geometry import BBox

#: Countries whose regions are not drawn: Natural Earth's Latvia has 119 pre-2021
#: municipalities, noise at any scale these maps use.
SKIP_REGIONS = frozenset({"LV"})
#: River widths by GSHHG/WDBII level (1 major … 4 minor), in CSS pixels.
RIVER_WEIGHTS = {1: 1.6, 2: 1.2, 3: 0.9, 4: 0.7}


@dataclass(frozen=True)
class ContextView:
    """The context of one view: region lines, lake polygons and rivers by level."""

    regions: BaseGeometry | None  # lines between first-level regions (not along borders)
    lakes: BaseGeometry | None
    rivers: tuple[tuple[int, BaseGeometry], ...]  # (level, lines)

    @property
    def empty(self) -> bool:
        """True when the view shows none of the layers."""
        return self.regions is None and self.lakes is None and not self.rivers


def zoom_of(bounds: BBox, span_km: float, map_px: float = 700) -> float:
    """The web-map zoom at which *span_km* fills about *map_px* pixels at *bounds*' latitude."""
    lat = math.radians((bounds.south + bounds.north) / 2)
    metres_per_px = max(span_km, 1) * 1000 / map_px
    return math.log2(156_543.03 * math.cos(lat) / metres_per_px)


class ContextLayers:
    """The context features, indexed; ``view`` answers (and remembers) one view's layers."""

    def __init__(self, features: list[dict]) -> None:
        regions_by_country: dict[str, list[BaseGeometry]] = {}
        self.lakes: list[tuple[float, BaseGeometry]] = []
        self.rivers: list[tuple[float, int, BaseGeometry]] = []
        self.sources: dict[str, str] = {}
        for f in features:
            props = f["properties"]
            geom = shape(f["geometry"])
            self.sources.setdefault(str(props["kind"]), str(props.get("source") or ""))
            if props["kind"] == "region":
                regions_by_country.setdefault(str(props.get("country")), []).append(geom)
            elif props["kind"] == "lake":
                self.lakes.append((float(props.get("min_zoom") or 5), geom))
            elif props["kind"] == "river":
                self.rivers.append((float(props.get("min_zoom") or 5),
                                    int(props.get("level") or 4), geom))  # fmt: skip
        # Region lines only inside their country: its coast and frontiers are drawn already.
        inner = []
        for country, parts in regions_by_country.items():
            if country in SKIP_REGIONS:
                continue
            country = shapely.union_all(parts)
            lines = shapely.union_all([shapely.boundary(p) for p in parts])
            inner.append(lines.intersection(country.buffer(-0.02)))
        # merged into long lines (the union leaves two-point pieces nothing can simplify)
        self.region_lines = shapely.line_merge(shapely.union_all(inner)) if inner else None
        self._views: OrderedDict[tuple, ContextView] = OrderedDict()
        self._lock = Lock()

    @classmethod
    def load(cls, path: Path) -> ContextLayers | None:
        """The layers of *path* (a GeoJSON FeatureCollection), or None when it is missing."""
        if not path.is_file():
            return None
        return cls(json.loads(path.read_text(encoding="utf-8"))["features"])

    def view(self, window: BBox, zoom: float, tolerance_deg: float) -> ContextView:
        """The layers within *window* meant for *zoom*, simplified to *tolerance_deg*."""
        key = (window, round(zoom * 4) / 4, tolerance_deg)
        with self._lock:
            if key in self._views:
                self._views.move_to_end(key)
                return self._views[key]
        made = self._make(window, key[1], tolerance_deg)
        with self._lock:
            self._views[key] = made
            while len(self._views) > 64:
                self._views.popitem(last=False)
        return made

    def _make(self, window: BBox, zoom: float, tolerance: float) -> ContextView:
        frame = shapely.box(*window)

        def fit(geom: BaseGeometry | None) -> BaseGeometry | None:
            if geom is None:
                return None
            part = shapely.clip_by_rect(geom, *window)
            if part.is_empty:
                return None
            part = shapely.simplify(part, tolerance, preserve_topology=False)
            part = shapely.transform(shapely.set_precision(part, 0.001),
                                     lambda a: np.round(a, 3))
            return None if part.is_empty else part

        # A lake narrower than a few tolerances would be a shard: leave it out. Lakes never
        # overlap and rivers need no noding: collections, not unions (those cost seconds).
        min_area = (tolerance * 6) ** 2
        lakes = [g for z, g in self.lakes
                 if z <= zoom + 0.5 and g.area >= min_area and g.intersects(frame)]  # fmt: skip
        lake_parts = [p for g in lakes for p in getattr(g, "geoms", [g])]
        rivers = []
        for level in sorted(RIVER_WEIGHTS):
            lines = [p for z, lv, g in self.rivers
                     if lv == level and z <= zoom + 0.5 and g.intersects(frame)
                     for p in getattr(g, "geoms", [g])]  # fmt: skip
            part = fit(MultiLineString(lines)) if lines else None
            if part is not None:
                rivers.append((level, part))
        return ContextView(
            regions=fit(self.region_lines),
            lakes=fit(MultiPolygon(lake_parts)) if lake_parts else None,
            rivers=tuple(rivers),
        )
