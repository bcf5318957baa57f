"""Pure geometric functions. Input and output are CRS84 (lon, lat in degrees).

Metric work happens inside these functions only, in a CRS each docstring names:
EPSG:3035 (ETRS89 / LAEA Europe) for simplification, and an azimuthal
equidistant projection centred on the point or geometry for distances and
buffers (distances from its centre are exact; within 700 km of it the scale
error stays under 0.2 %). The nearest-border search lives in ``line_index``.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np
import shapely
import shapely.ops
from pyproj import Geod, Transformer
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

GEOD = Geod(ellps="WGS84")
SIMPLIFY_CRS = "EPSG:3035"
_local = threading.local()  # pyproj transformers are not shared between threads


class BBox(NamedTuple):
    """A lon/lat bounding box in degrees; ``west > east`` means it crosses the antimeridian."""

    west: float
    south: float
    east: float
    north: float


class NearestPoint(NamedTuple):
    """The point of a geometry nearest to a query point, and the geodesic distance to it."""

    lon: float
    lat: float
    distance_km: float


def _transformer(target: str) -> Transformer:
    """CRS84 -> *target*, cached per thread (use direction="INVERSE" for the way back)."""
    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    if target not in cache:
        if target.startswith("+proj=pipeline"):
            cache[target] = Transformer.from_pipeline(target)
        else:
            cache[target] = Transformer.from_crs("EPSG:4326", target, always_xy=True)
        if len(cache) > 256:  # local projections accumulate; keep the cache bounded
            cache.pop(next(iter(cache)))
    return cache[target]


def _project(geom: BaseGeometry, target: str, inverse: bool = False) -> BaseGeometry:
    transformer = _transformer(target)
    direction = "INVERSE" if inverse else "FORWARD"

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1], direction=direction)
        return np.column_stack([x, y])

    return shapely.transform(geom, apply)


def to_metric(geom: BaseGeometry, crs: str = SIMPLIFY_CRS) -> BaseGeometry:
    """Project a CRS84 geometry to *crs* (metres; EPSG:3035 unless told)."""
    return _project(geom, crs)


def from_metric(geom: BaseGeometry, crs: str = SIMPLIFY_CRS) -> BaseGeometry:
    """Project a geometry in *crs* (metres) back to CRS84."""
    return _project(geom, crs, inverse=True)


def local_aeqd(lon: float, lat: float) -> str:
    """PROJ pipeline: CRS84 degrees -> azimuthal equidistant metres centred on lon/lat.

    A pipeline, not a CRS: PROJ builds it in about 0.1 ms instead of about 13 ms,
    which matters because every distance query centres one on its own point.
    """
    return ("+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
            f"+step +proj=aeqd +lat_0={lat:.6f} +lon_0={lon:.6f} +ellps=WGS84")


def geodesic_length_km(geom: BaseGeometry) -> float:
    """Length of a (Multi)LineString on the WGS84 ellipsoid, in kilometres."""
    return float(GEOD.geometry_length(geom)) / 1000.0


def geodesic_distance_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic (WGS84) distance between two lon/lat points, in kilometres."""
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2]) / 1000.0


def geodesic_distances_km(lon: float, lat: float, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Geodesic (WGS84) distances in kilometres from one point to many."""
    n = len(lons)
    if n == 0:
        return np.zeros(0)
    _, _, dist = GEOD.inv(np.full(n, lon), np.full(n, lat), lons, lats)
    return np.asarray(dist) / 1000.0


def simplify(
    geom: BaseGeometry, tolerance_m: float, metric: BaseGeometry | None = None
) -> BaseGeometry:
    """Topology-preserving simplification with a tolerance in metres, done in EPSG:3035.

    Every point of the result lies within *tolerance_m* of the input and every
    point of the input within *tolerance_m* of the result (Hausdorff, EPSG:3035).
    *metric* may pass *geom* already projected to EPSG:3035.
    """
    if metric is None:
        metric = to_metric(geom)
    return from_metric(shapely.simplify(metric, tolerance_m, preserve_topology=True))


def bbox_of(geom: BaseGeometry) -> BBox:
    """The lon/lat bounds of *geom* in degrees (geometries here never cross the antimeridian)."""
    west, south, east, north = geom.bounds
    return BBox(west, south, east, north)


def _rectangle(west: float, south: float, east: float, north: float) -> BaseGeometry:
    """The lon/lat rectangle; a box of zero width or height is the segment or point it
    is, since GEOS finds nothing inside a degenerate polygon."""
    return shapely.envelope(shapely.multipoints([(west, south), (east, north)]))


def bbox_ranges(bbox: BBox) -> list[BBox]:
    """The bbox as one or two boxes with west <= east, split at the antimeridian."""
    if bbox.west <= bbox.east:
        return [bbox]
    return [BBox(bbox.west, bbox.south, 180.0, bbox.north),
            BBox(-180.0, bbox.south, bbox.east, bbox.north)]  # fmt: skip


def bbox_parts(bbox: BBox) -> list[BaseGeometry]:
    """The bbox as one or two lon/lat rectangles, split at the antimeridian when west > east."""
    return [_rectangle(*part) for part in bbox_ranges(bbox)]


def degrees_around(lon: float, lat: float, radius_km: float) -> BBox:
    """A lon/lat box surely containing every point within *radius_km* of lon/lat."""
    dlat = radius_km / 110.5 + 0.01
    coslat = math.cos(math.radians(min(abs(lat) + dlat, 89.9)))
    dlon = min(radius_km / (111.0 * max(coslat, 1e-6)) + 0.01, 180.0)
    south, north = max(lat - dlat, -90.0), min(lat + dlat, 90.0)
    if dlon >= 180.0 or south <= -90.0 or north >= 90.0:
        return BBox(-180.0, south, 180.0, north)
    west, east = lon - dlon, lon + dlon
    if west < -180.0:
        west += 360.0
    if east > 180.0:
        east -= 360.0
    return BBox(west, south, east, north)


def nearest_point(lon: float, lat: float, geom: BaseGeometry) -> NearestPoint:
    """The point of *geom* nearest to lon/lat and its geodesic distance in kilometres.

    Found in an azimuthal equidistant projection centred on the query point,
    where distance from the centre is true distance.
    """
    crs = local_aeqd(lon, lat)
    metric = to_metric(geom, crs)
    _, on_geom = shapely.ops.nearest_points(Point(0.0, 0.0), metric)
    nlon, nlat = _transformer(crs).transform(on_geom.x, on_geom.y, direction="INVERSE")
    return NearestPoint(float(nlon), float(nlat), geodesic_distance_km(lon, lat, nlon, nlat))


def _buffer_lines(lines: BaseGeometry, width_m: float, chunk: int = 200) -> BaseGeometry:
    """Buffer (Multi)LineStrings piecewise and union the pieces: same result as one
    buffer, but GEOS is many times faster on short pieces of a long, noisy line."""
    pieces = []
    for part in shapely.get_parts(lines):
        coords = shapely.get_coordinates(part)
        for start in range(0, max(len(coords) - 1, 1), chunk):
            pieces.append(shapely.linestrings(coords[start : start + chunk + 1]))
    return shapely.union_all(shapely.buffer(pieces, width_m, quad_segs=8))


def zone(line: BaseGeometry, width_m: float, within: BaseGeometry | None = None) -> BaseGeometry:
    """The strip within *width_m* metres of *line*, optionally clipped to *within*.

    Buffered in an azimuthal equidistant projection centred on the line's bounding
    box; passing a country polygon as *within* keeps that country's side only.
    """
    west, south, east, north = line.bounds
    crs = local_aeqd((west + east) / 2.0, (south + north) / 2.0)
    strip = _buffer_lines(to_metric(line, crs), width_m)
    if within is not None:
        # Only the part of the country near the line matters; clip before projecting.
        pad_south = degrees_around(west, south, width_m / 1000.0)
        pad_north = degrees_around(east, north, width_m / 1000.0)
        nearby = shapely.clip_by_rect(
            within,
            min(pad_south.west, pad_north.west), pad_south.south,
            max(pad_south.east, pad_north.east), pad_north.north,
        )  # fmt: skip
        # Long straight edges in degrees (the data's cut lines, the clip box) are curves
        # in metres: densify to 0.05 degrees so projecting them does not cut chords.
        clip = to_metric(shapely.segmentize(nearby, 0.05), crs)
        if not clip.is_valid:
            # Rings that nearly touch in degrees can cross once projected; GEOS then
            # fails with "side location conflict". Repair keeps the area (no buffer(0)).
            clip = shapely.make_valid(clip, method="structure", keep_collapsed=False)
        strip = strip.intersection(clip)
    result = from_metric(strip, crs)
    if not result.is_valid:
        result = shapely.make_valid(result, method="structure", keep_collapsed=False)
    if result.geom_type == "GeometryCollection":
        # Keep the areal parts only: the clip can add the odd line or point where it touches.
        parts = shapely.get_parts(result)
        result = shapely.union_all(parts[shapely.get_dimensions(parts) == 2])
    return result

