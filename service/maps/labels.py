"""Where labels go: the side of each place's label, and spots for a country's name
inside the view (the page and the images then keep the first free one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import shapely
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from service.domain.geometry import BBox
from service.maps.basemap import pad_bbox

if TYPE_CHECKING:
    from service.maps.content import MapPoint


def place_label_sides(places: list[MapPoint], crossings: list[MapPoint]) -> None:
    """Put each place label right or left of its dot, away from the nearest other point."""
    others = [(p.lon, p.lat) for p in places] + [(c.lon, c.lat) for c in crossings]
    for p in places:
        right = left = 0.0
        for lon, lat in others:
            if (lon, lat) == (p.lon, p.lat) or abs(lat - p.lat) > 0.35:
                continue
            dx = lon - p.lon
            if 0 < dx < 2.2:
                right += 1 / dx
            elif -2.2 < dx < 0:
                left += 1 / -dx
        p.label_side = "left" if right > left * 1.5 and right > 0.5 else "right"


def label_point(geom: BaseGeometry, bounds: BBox) -> list[float] | None:
    """Where to write a country's name: inside the part of it within the view."""
    view = box(*pad_bbox(bounds, 0.02))
    part = shapely.make_valid(geom).intersection(view)
    if part.is_empty or part.area < view.area * 0.04:
        return None
    polys = [g for g in getattr(part, "geoms", [part]) if isinstance(g, Polygon)]
    if not polys:
        return None
    point = polylabel(max(polys, key=lambda g: g.area), 0.02)
    return [round(point.y, 3), round(point.x, 3)]


def label_points(geom: BaseGeometry, view: BaseGeometry,
                 most: int = 12) -> list[tuple[float, float]]:
    """Candidate (lon, lat) spots for a country's name inside *view* (a lon/lat polygon),
    best first: the pole of inaccessibility of its largest part, then spots deepest inside."""
    part = shapely.make_valid(geom).intersection(view)
    if part.is_empty or part.area < view.area * 0.03:
        return []
    polys = sorted((g for g in getattr(part, "geoms", [part]) if isinstance(g, Polygon)),
                   key=lambda g: -g.area)  # fmt: skip
    if not polys:
        return []
    best = polylabel(polys[0], 0.02)
    out = [(best.x, best.y)]
    span = max(view.bounds[2] - view.bounds[0], view.bounds[3] - view.bounds[1]) / 10
    west, south, east, north = polys[0].bounds
    grid = [Point(west + (east - west) * (i + 0.5) / 7, south + (north - south) * (j + 0.5) / 7)
            for i in range(7) for j in range(7)]  # fmt: skip
    inside = [(polys[0].exterior.distance(p), p) for p in grid if polys[0].contains(p)]
    inside.sort(key=lambda t: -t[0])
    out += [(p.x, p.y) for d, p in inside if d > 0.15 * span][: most - 1]
    return out


#: A country's other part is named too when it covers this share of the view.
PART_LABEL_SHARE = 0.008


def part_label_points(geom: BaseGeometry, view: BaseGeometry,
                      min_area: float | None = None) -> list[tuple[float, float]]:
    """Spots (lon, lat) for naming a country again on its other parts inside *view*
    (a lon/lat polygon): an exclave such as Kaliningrad, when its visible part has at
    least *min_area* (square degrees; by default ``PART_LABEL_SHARE`` of the view). The
    largest part is named by ``label_points``."""
    least = view.area * PART_LABEL_SHARE if min_area is None else min_area
    part = shapely.make_valid(geom).intersection(view)
    polys = sorted((g for g in getattr(part, "geoms", [part]) if isinstance(g, Polygon)),
                   key=lambda g: -g.area)  # fmt: skip
    out = []
    for poly in polys[1:]:
        if poly.area < least:
            break
        point = polylabel(poly, 0.02)
        out.append((point.x, point.y))
    return out
