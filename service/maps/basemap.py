"""The basemap: country polygons generalised per view (precomputed tolerances), the
borders' level of detail, the view's window and limits, and Natural Earth's Europe (the
inset, and the land beyond our data in the static images)."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from service.domain.frontier import Frontier
from service.domain.geometry import BBox

#: The vendored static files (Natural Earth's countries among them).
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def pick_level(frontier: Frontier, span_km: float) -> float | None:
    """The coarsest prepared level finer than 1/400 of the view span (~1 px at 1000 px)."""
    wanted = span_km * 1000 / 400
    prepared = frontier.simplify_levels_m
    levels = [lv for lv in prepared if lv <= wanted]
    if levels:
        return max(levels)
    return min(prepared) if prepared else None


def span_km(bounds: BBox) -> float:
    """The larger of the view's width and height, in kilometres."""
    mid = math.cos(math.radians((bounds.south + bounds.north) / 2))
    return max((bounds.east - bounds.west) * 111.32 * mid, (bounds.north - bounds.south) * 111.32)


def pad_bbox(bounds: BBox, fraction: float, min_deg: float = 0.05) -> BBox:
    """*bounds* grown by *fraction* of its size on each side (at least *min_deg*)."""
    dx = max((bounds.east - bounds.west) * fraction, min_deg)
    dy = max((bounds.north - bounds.south) * fraction, min_deg)
    return BBox(bounds.west - dx, bounds.south - dy, bounds.east + dx, bounds.north + dy)


def _prune(geom: BaseGeometry, min_area: float) -> BaseGeometry:
    """Drop islands and lakes smaller than *min_area* square degrees."""
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        if not isinstance(poly, Polygon) or poly.area < min_area:
            continue
        holes = [ring for ring in poly.interiors if Polygon(ring).area >= min_area]
        parts.append(Polygon(poly.exterior, holes))
    return MultiPolygon(parts) if parts else geom


#: Basemap simplification tolerances (degrees); a view takes the finest one that
#: is at least its own, so that a handful of whole-country simplifications serve
#: every view and each is computed once.
BASEMAP_TOLERANCES_DEG = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.12)


@lru_cache(maxsize=len(BASEMAP_TOLERANCES_DEG))
def _simplified_countries(frontier: Frontier, tolerance_deg: float) -> tuple[BaseGeometry, ...]:
    """Every country pruned and simplified to *tolerance_deg* degrees (computed once)."""
    # A lake only a few tolerances wide would be drawn as a triangle: leave it out.
    min_area = (tolerance_deg * 12) ** 2
    geoms = [c.geometry for c in frontier.countries.values()]
    # Per-country simplification: the thin slivers it leaves between neighbours are
    # hidden under the country outline and the border lines drawn on top.
    simple = [shapely.simplify(_prune(g, min_area), tolerance_deg, preserve_topology=True)
              for g in geoms]
    return tuple(shapely.make_valid(g) if not g.is_valid else g for g in simple)


def basemap_tolerance(wanted_deg: float) -> float:
    """The pre-computed basemap tolerance for a view that wants *wanted_deg* degrees."""
    return max([t for t in BASEMAP_TOLERANCES_DEG if t <= wanted_deg] or
               [BASEMAP_TOLERANCES_DEG[0]])


@lru_cache(maxsize=64)
def basemap_countries(
    frontier: Frontier, window: BBox | None, tolerance_deg: float
) -> tuple[BaseGeometry, ...]:
    """Country polygons simplified to *tolerance_deg* degrees, clipped to *window*."""
    simple = _simplified_countries(frontier, basemap_tolerance(tolerance_deg))
    if window is not None:
        simple = tuple(shapely.clip_by_rect(g, *window) for g in simple)
    # Snap to a 0.001° grid (stays valid), then drop the float noise from the JSON.
    return tuple(round_coords(shapely.set_precision(g, 0.001), 3) for g in simple)


def warm_up(frontier: Frontier) -> None:
    """Compute what a first map page would wait for, so that no reader waits for it.

    The whole-country simplifications and the imports of folium and matplotlib.
    Run in a background thread at start-up.
    """
    for tolerance in BASEMAP_TOLERANCES_DEG:
        _simplified_countries(frontier, tolerance)
    europe_outline()  # the inset's Europe, decoded from TopoJSON once
    _land_beyond_data(frontier)
    for tolerance in BASEMAP_TOLERANCES_DEG:
        _edges_at(frontier, tolerance)
    import service.maps.html  # noqa: F401 - the imports themselves are the work
    import service.maps.png  # noqa: F401


def round_coords(geom: BaseGeometry, digits: int) -> BaseGeometry:
    """*geom* with its coordinates rounded to *digits* decimals."""
    return shapely.transform(geom, lambda a: np.round(a, digits))


@lru_cache(maxsize=4)
def data_extent(frontier: Frontier) -> BBox:
    """The area the country polygons cover (CRS84 degrees): land is known only inside it."""
    bounds = [c.geometry.bounds for c in frontier.countries.values()]
    return BBox(min(b[0] for b in bounds), min(b[1] for b in bounds),
                max(b[2] for b in bounds), max(b[3] for b in bounds))  # fmt: skip


def page_view_limit(frontier: Frontier, window: BBox) -> BBox:
    """The most a reader may see on the page: the basemap window inside the data's extent
    (the static images draw Natural Earth's land beyond it, ``MapContent.underlay``)."""
    e = data_extent(frontier)
    return BBox(max(window.west, e.west), max(window.south, e.south),
                min(window.east, e.east), min(window.north, e.north))  # fmt: skip


def clip_bbox(a: BBox, b: BBox) -> BBox:
    """The part of box *a* inside box *b*."""
    return BBox(max(a.west, b.west), max(a.south, b.south),
                min(a.east, b.east), min(a.north, b.north))  # fmt: skip


#: Natural Earth 1:110m countries (world-atlas, public domain), vendored by tools/vendor_assets.py.
WORLD_110M = STATIC_DIR / "vendor" / "world-atlas@2.0.2" / "countries-110m.json"
#: The overview inset's extent (CRS84 degrees): Europe west of the Urals.
EUROPE = BBox(-12.0, 34.0, 48.0, 71.0)
#: ISO 3166-1 numeric → alpha-2, for the countries the inset may highlight.
_NUMERIC_A2 = {"112": "BY", "643": "RU", "804": "UA", "616": "PL", "440": "LT", "428": "LV",
               "233": "EE"}  # fmt: skip


def _topojson_geometries(doc: dict[str, Any], name: str) -> list[tuple[str, BaseGeometry]]:
    """(id, shapely geometry) of a quantised TopoJSON object (arcs delta-encoded)."""
    (sx, sy), (tx, ty) = doc["transform"]["scale"], doc["transform"]["translate"]
    arcs = []
    for arc in doc["arcs"]:
        xy = np.cumsum(np.asarray(arc, dtype=float), axis=0)
        arcs.append(np.column_stack([xy[:, 0] * sx + tx, xy[:, 1] * sy + ty]))

    def ring(indexes: list[int]) -> np.ndarray:
        parts = [arcs[i] if i >= 0 else arcs[~i][::-1] for i in indexes]
        return np.concatenate([parts[0]] + [q[1:] for q in parts[1:]])

    out = []
    for g in doc["objects"][name]["geometries"]:
        if g["type"] == "Polygon":
            polys = [g["arcs"]]
        elif g["type"] == "MultiPolygon":
            polys = g["arcs"]
        else:
            continue
        geom = MultiPolygon([Polygon(ring(p[0]), [ring(h) for h in p[1:]]) for p in polys])
        out.append((str(g.get("id") or ""), shapely.make_valid(geom)))
    return out


@lru_cache(maxsize=1)
def europe_countries() -> tuple[tuple[str, BaseGeometry], ...]:
    """Europe's countries at Natural Earth's 1:110m: (alpha-2 or numeric id, geometry)."""
    doc = json.loads(WORLD_110M.read_text(encoding="utf-8"))
    out = []
    for code, geom in _topojson_geometries(doc, "countries"):
        part = shapely.clip_by_rect(geom, *EUROPE)
        if not part.is_empty:
            out.append((_NUMERIC_A2.get(code, code), part))
    return tuple(out)


@lru_cache(maxsize=1)
def europe_outline() -> tuple[tuple[str, BaseGeometry], ...]:
    """Europe's countries for the inset locator: (alpha-2 or numeric id, clipped geometry)."""
    return tuple((code, round_coords(shapely.simplify(geom, 0.15, preserve_topology=True), 1))
                 for code, geom in europe_countries())  # ~1 px at 120 px; fmt: skip


@lru_cache(maxsize=1)
def _land_beyond_data(frontier: Frontier) -> tuple[tuple[str, BaseGeometry], ...]:
    """Europe's countries (1:110m) outside the box our country polygons cover."""
    inner = box(*data_extent(frontier))
    out = []
    for code, geom in europe_countries():
        part = shapely.make_valid(geom).difference(inner)
        if not part.is_empty and part.area > 0.01:
            out.append((code, round_coords(part, 3)))
    return tuple(out)


@lru_cache(maxsize=64)
def land_beyond(frontier: Frontier, window: BBox) -> tuple[tuple[str, BaseGeometry], ...]:
    """The land beyond our data within *window*: a coarse underlay (no straight edge of
    our data ever shows as a coast)."""
    out = []
    for code, geom in _land_beyond_data(frontier):
        part = shapely.clip_by_rect(geom, *window)
        if not part.is_empty:
            out.append((code, part))
    return tuple(out)


@lru_cache(maxsize=len(BASEMAP_TOLERANCES_DEG))
def _edges_at(frontier: Frontier, tolerance_deg: float) -> BaseGeometry:
    """Every country's outline at *tolerance_deg*, minus the straight lines where the data
    (ours, then Natural Earth's beyond it) is cut off."""
    cut = box(*data_extent(frontier)).exterior.buffer(1e-6)
    lines = [shapely.boundary(g) for g in _simplified_countries(frontier, tolerance_deg)]
    lines += [shapely.boundary(g) for _, g in _land_beyond_data(frontier)]
    return shapely.union_all(lines).difference(cut)


@lru_cache(maxsize=64)
def country_edges(frontier: Frontier, window: BBox, tolerance_deg: float) -> BaseGeometry:
    """Country outlines (lines) within *window*."""
    part = shapely.clip_by_rect(_edges_at(frontier, tolerance_deg), *window)
    return round_coords(shapely.set_precision(part, 0.001), 3)
