"""Pure geometric functions. Input and output are CRS84 (lon, lat in degrees).

Metric work happens inside these functions only, in a CRS each docstring names:
EPSG:3035 (ETRS89 / LAEA Europe) for simplification, and an azimuthal
equidistant projection centred on the point or geometry for distances and
buffers (distances from its centre are exact; within 700 km of it the scale
error stays under 0.2 %). ``LineIndex`` works on the unit sphere (geodetic
latitudes) and measures its answers on the WGS84 ellipsoid.
"""

from __future__ import annotations

import math
import threading
from typing import Any, NamedTuple

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


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points on the unit sphere (n x 3) for lon/lat in degrees (geodetic latitude)."""
    lam, phi = np.radians(lon), np.radians(lat)
    cos_phi = np.cos(phi)
    return np.column_stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)])


def lonlat_of(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat in degrees of (not necessarily unit) vectors, the inverse of ``unit_vectors``."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    return np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y)))


_WGS84_A, _WGS84_E2 = 6_378_137.0, 0.0066943799901413165


def curvature_radii_m(sin_lat: np.ndarray | float) -> tuple[Any, Any]:
    """The WGS84 meridian and prime-vertical radii of curvature (metres) at latitudes given
    by their sines; both grow from the equator to the poles."""
    w = 1.0 - _WGS84_E2 * sin_lat * sin_lat
    return _WGS84_A * (1.0 - _WGS84_E2) / (w * np.sqrt(w)), _WGS84_A / np.sqrt(w)


def _east_north(at: np.ndarray, heading: np.ndarray) -> tuple[Any, Any, Any]:
    """The east and north parts of *heading* at the points *at* (any length), and the
    sine of their latitude."""
    x, y, z = at[:, 0], at[:, 1], at[:, 2]
    horizontal = np.hypot(x, y)
    length = np.hypot(horizontal, z)
    east = (x * heading[:, 1] - y * heading[:, 0]) / horizontal
    north = (heading[:, 2] * horizontal
             - z * (x * heading[:, 0] + y * heading[:, 1]) / horizontal) / length  # fmt: skip
    return east, north, z / length


def heading_radius_m(at: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """The ellipsoid's radius of curvature (metres) at the points *at* (vectors from the
    centre, any length), in the directions *heading* (any vectors: only their part along
    the surface counts): Euler's formula with the meridian and prime-vertical radii. An
    angle between two unit vectors times this radius, taken at their midpoint towards
    either, is their geodesic distance on WGS84 to within 6 parts per million up to
    1,000 km (measured against pyproj over this region)."""
    east, north, sin_lat = _east_north(at, heading)
    meridian, prime_vertical = curvature_radii_m(sin_lat)
    east2, north2 = east * east, north * north
    return (east2 + north2) / np.maximum(north2 / meridian + east2 / prime_vertical, 1e-300)


def _angle(cosines: np.ndarray) -> np.ndarray:
    return np.arccos(np.minimum(np.maximum(cosines, -1.0), 1.0))


def _group_ids(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a sorted array: where each run of equal keys starts, and each item's run number."""
    first = np.empty(len(sorted_keys), dtype=bool)
    first[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    return np.flatnonzero(first), np.cumsum(first) - 1


class LineIndex:
    """Nearest point of each of several (Multi)LineStrings to a query point, fast.

    Built once: every segment as an arc of a great circle on the unit sphere (its end
    points, the circle's pole and the tangents at both ends), grouped in chunks of
    consecutive segments of one line with a bounding cap each. A query turns the point
    into one vector. The caps bound each chunk's distance from below and above (angles
    times the ellipsoid's radii of curvature), so only the chunks that may hold a line's
    nearest point are opened; in those, the angle to every arc comes from five dot
    products (numpy, no projection) and becomes metres with the radius of curvature
    towards its chunk (``heading_radius_m``), within a margin for the spread of
    directions the chunk covers. Per line, the arcs that may hold the minimum are
    estimated at their foot points, and the best few are measured on the WGS84
    ellipsoid (pyproj): at the spherical foot point, then after one Newton step along
    the arc to where the geodesic from the query point meets it at a right angle. The
    result agrees with ``nearest_point`` (an azimuthal equidistant projection at the
    query point) to millimetres; the tests compare the two across the region.
    """

    CHUNK = 32  # segments per chunk of the coarse pass
    SPREAD = 0.0068  # the radius of curvature varies by at most this share with direction
    ESTIMATE = 3e-5  # relative margin of the estimates (their error is under 6e-6 below
    #                  1,000 km, and as much again for the foot point found on the sphere)
    BOUNDS = 1e-4  # relative margin of the caps' bounds (arcs bulge past their ends' latitudes)
    MARGIN_M = 1.0
    FINALISTS = 3  # arcs per line measured on the ellipsoid
    SCALAR_GEODESICS = 8  # up to this many points, pyproj is called once per point

    def __init__(self, lines: list[BaseGeometry]) -> None:
        self.count = len(lines)
        starts, ends, owners = [], [], []
        for owner, geom in enumerate(lines):
            for part in shapely.get_parts(geom):
                coords = shapely.get_coordinates(part)
                v = unit_vectors(coords[:, 0], coords[:, 1])
                if len(v) == 1:
                    v = np.vstack([v, v])
                starts.append(v[:-1])
                ends.append(v[1:])
                owners.append(np.full(len(v) - 1, owner))
        a, b = np.vstack(starts), np.vstack(ends)
        owner = np.concatenate(owners)
        if not np.array_equal(np.unique(owner), np.arange(self.count)):
            raise ValueError("every line needs at least one point")
        pole = np.cross(a, b)
        norm = np.linalg.norm(pole, axis=1)
        proper = norm > 1e-15  # zero-length segments are points: their ends decide
        pole[proper] /= norm[proper, None]
        pole[~proper] = 0.0
        tangent_a = np.cross(pole, a)  # at a, along the arc towards b (unit)
        tangent_b = np.cross(b, pole)  # at b, along the arc back towards a
        # With the pole and tangents of a zero-length segment at 0, its foot is never inside.
        tangent_b[~proper] = -a[~proper]
        #: Per segment, one row: a, b, its pole, the tangents at a and at b (5 x 3).
        self.frame = np.stack([a, b, pole, tangent_a, tangent_b], axis=1)
        self.owners = owner
        self.arc = 2.0 * np.arcsin(np.clip(np.linalg.norm(b - a, axis=1) / 2.0, 0.0, 1.0))
        # Coarse pass: chunks of consecutive segments of one line, each in a spherical cap.
        bounds = np.flatnonzero(np.diff(owner)) + 1
        cuts = sorted(set(range(0, len(owner), self.CHUNK)) | set(bounds.tolist()))
        self.chunk_start = np.asarray(cuts)
        self.chunk_len = np.diff(np.append(self.chunk_start, len(owner)))
        self.chunk_owner = owner[self.chunk_start]
        self.owner_first_chunk = np.flatnonzero(np.diff(self.chunk_owner, prepend=-1))
        centres, radii, low, high = [], [], [], []
        for i, n in zip(self.chunk_start, self.chunk_len, strict=True):
            points = np.vstack([a[i:i + n], b[i:i + n]])
            centre = points.sum(axis=0)
            centre /= np.linalg.norm(centre)
            radii.append(np.arccos(np.clip(points @ centre, -1.0, 1.0)).max())
            centres.append(centre)
            low.append(np.abs(points[:, 2]).min())
            high.append(np.abs(points[:, 2]).max())
        self.chunk_centre = np.asarray(centres)
        self.chunk_radius = np.asarray(radii) + 1e-12
        self.chunk_first = a[self.chunk_start]  # a point on the line, for upper bounds
        self.chunk_low_radius = curvature_radii_m(np.asarray(low))[0]
        self.chunk_high_radius = curvature_radii_m(np.asarray(high))[1]

    def _chunks(self, p: np.ndarray, only_nearest: bool) -> np.ndarray:
        """The chunks that may hold a line's nearest point (or, with *only_nearest*, the
        nearest line's), ascending."""
        centre = _angle(self.chunk_centre @ p)
        lower = np.maximum(centre - self.chunk_radius, 0.0)
        # Between p and a chunk, the radius of curvature lies between the meridian radius
        # at the lower latitude and the prime-vertical radius at the higher one.
        meridian, prime_vertical = curvature_radii_m(abs(float(p[2])))
        lower *= np.minimum(self.chunk_low_radius, meridian) * (1.0 - self.BOUNDS)
        upper = _angle(self.chunk_first @ p)
        upper *= np.maximum(self.chunk_high_radius, prime_vertical) * (1.0 + self.BOUNDS)
        best = np.minimum.reduceat(upper, self.owner_first_chunk)
        if only_nearest:
            return np.flatnonzero(lower <= best.min() + self.MARGIN_M)
        return np.flatnonzero(lower <= best[self.chunk_owner] + self.MARGIN_M)

    def nearest(self, lon: float, lat: float, only_nearest: bool = False
                ) -> list[NearestPoint | None]:  # fmt: skip
        """For each line (in input order), its nearest point to lon/lat and the distance.

        With *only_nearest*, lines that cannot be the nearest one get None instead.
        """
        lam, phi = math.radians(lon), math.radians(lat)
        p = np.array([math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam),
                      math.sin(phi)])  # fmt: skip
        chunks = self._chunks(p, only_nearest)
        lengths = self.chunk_len[chunks]
        ends = np.cumsum(lengths)
        seg = np.arange(int(ends[-1])) + np.repeat(self.chunk_start[chunks] - ends + lengths,
                                                   lengths)  # fmt: skip
        # Angles to every arc: to its great circle where the foot falls inside it, else to
        # the nearer end; then metres, with the radius of curvature towards the chunk.
        cos_a, cos_b, off, along_a, along_b = (self.frame[seg] @ p).T
        inside = (along_a >= 0.0) & (along_b >= 0.0)
        angle = np.where(inside, np.arcsin(np.minimum(np.abs(off), 1.0)),
                         _angle(np.maximum(cos_a, cos_b)))  # fmt: skip
        centre = self.chunk_centre[chunks]
        mid = centre + p
        scale = heading_radius_m(mid, centre - p)
        away = np.maximum(_angle(centre @ p) - self.chunk_radius[chunks], 1e-12)
        spread = self.SPREAD * np.minimum(self.chunk_radius[chunks] / away, 1.0) + self.BOUNDS
        scale, spread = np.repeat(scale, lengths), np.repeat(spread, lengths)
        metres = angle * scale
        keep = self._near_minimum(metres * (1.0 - spread), metres * (1.0 + spread),
                                  self.owners[seg], only_nearest)  # fmt: skip
        seg, inside, angle = seg[keep], inside[keep], angle[keep]
        along_a, cos_a, cos_b = along_a[keep], cos_a[keep], cos_b[keep]
        # Those left: estimates at their foot points.
        arc = self.arc[seg]
        foot = np.where(inside, np.arctan2(along_a, cos_a), np.where(cos_a >= cos_b, 0.0, arc))
        on_arc = self._on_arc(seg, foot)
        estimate = angle * heading_radius_m(on_arc + p, on_arc - p)
        owners = self.owners[seg]
        keep = self._near_minimum(estimate * (1.0 - self.ESTIMATE),
                                  estimate * (1.0 + self.ESTIMATE), owners, only_nearest)
        seg, foot, owners, estimate = seg[keep], foot[keep], owners[keep], estimate[keep]
        # Per line, its best few by estimate go to the ellipsoid.
        order = np.lexsort((estimate, owners))
        firsts, group = _group_ids(owners[order])
        best = order[np.arange(len(order)) - firsts[group] < self.FINALISTS]
        seg, foot, owners = seg[best], foot[best], owners[best]
        # On the ellipsoid: the distance at the foot found on the sphere, then one Newton step
        # along the arc to where the geodesic from p meets it at a right angle.
        back, dist = self._geodesic(lon, lat, seg, foot)
        unit = self._on_arc(seg, foot)
        ahead = self._along_arc(seg, foot)  # unit tangent towards the arc's end
        east, north, sin_lat = _east_north(unit, ahead)
        meridian, prime_vertical = curvature_radii_m(sin_lat)
        heading = np.arctan2(prime_vertical * east, meridian * north)  # the arc's azimuth
        radius = 1.0 / (np.cos(heading) ** 2 / meridian + np.sin(heading) ** 2 / prime_vertical)
        step = dist * 1000.0 * np.cos(np.radians(back) - heading) / radius
        moved = np.minimum(np.maximum(foot + step, 0.0), self.arc[seg])
        _, moved_dist = self._geodesic(lon, lat, seg, moved)
        better = moved_dist < dist
        theta, dist = np.where(better, moved, foot), np.where(better, moved_dist, dist)
        plon, plat = lonlat_of(self._on_arc(seg, theta))
        result: list[NearestPoint | None] = [None] * self.count
        order = np.lexsort((dist, owners))
        for i in order[_group_ids(owners[order])[0]]:
            result[int(owners[i])] = NearestPoint(float(plon[i]), float(plat[i]), float(dist[i]))
        return result

    @staticmethod
    def _near_minimum(lower: np.ndarray, upper: np.ndarray, owners: np.ndarray,
                      only_nearest: bool) -> np.ndarray:  # fmt: skip
        """Which candidates (bounded by *lower* and *upper*, metres) may be their line's
        nearest (or, with *only_nearest*, the nearest of all): those whose lower bound is
        at most the smallest upper bound of their line; *owners* is sorted."""
        firsts, group = _group_ids(owners)
        best = np.minimum.reduceat(upper, firsts)
        if only_nearest:
            return lower <= best.min() + LineIndex.MARGIN_M
        return lower <= best[group] + LineIndex.MARGIN_M

    def _on_arc(self, seg: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Points *theta* radians along the arcs of *seg* from their start (unit vectors)."""
        frame = self.frame[seg]
        return np.cos(theta)[:, None] * frame[:, 0] + np.sin(theta)[:, None] * frame[:, 3]

    def _along_arc(self, seg: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Unit tangents at *theta* radians along the arcs of *seg*, towards their end."""
        frame = self.frame[seg]
        return np.cos(theta)[:, None] * frame[:, 3] - np.sin(theta)[:, None] * frame[:, 0]

    def _geodesic(self, lon: float, lat: float, seg: np.ndarray, theta: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """From lon/lat to the points *theta* along the arcs of *seg*, on WGS84: the
        azimuth (degrees) at each point back towards lon/lat, and the distance (km)."""
        plon, plat = lonlat_of(self._on_arc(seg, theta))
        n = len(seg)
        if n <= self.SCALAR_GEODESICS:  # pyproj's per-call cost outweighs a few points
            rows = [GEOD.inv(lon, lat, x, y) for x, y in zip(plon.tolist(), plat.tolist(),
                                                             strict=True)]  # fmt: skip
            return np.array([r[1] for r in rows]), np.array([r[2] for r in rows]) / 1000.0
        _, back, metres = GEOD.inv(np.full(n, lon), np.full(n, lat), plon, plat)
        return np.asarray(back), np.asarray(metres) / 1000.0
