"""``LineIndex``: the point of each of several lines (the borders) nearest to a query
point, and the geodesic distance to it on WGS84, with no projection per query.

Built once: every segment as an arc of a great circle on the unit sphere (its end
points, the circle's pole and the tangents at both ends: one 5 x 3 frame), grouped in
chunks of consecutive segments of one line with a bounding cap each. A query is one
unit vector p:

1. The caps bound each chunk's distance from below (an angle times the ellipsoid's
   smallest radius of curvature there). Per line, the most promising chunk is opened
   first; then only the chunks whose bound is within the best distance found so far
   (branch and bound), so most chunks stay closed.
2. In those, five dot products per arc give the angle to it (to its great circle where
   the foot falls inside the arc, else to the nearer end), which becomes metres with
   the radius of curvature towards the chunk (Euler's formula, ``_heading_radius``),
   within a margin for the spread of directions the chunk covers.
3. Per line, the arcs that may hold the minimum are estimated at their foot points and
   the best few (``FINALISTS``) are measured on the WGS84 ellipsoid (pyproj): at the
   spherical foot point, then after one Newton step along the arc to where the
   geodesic from the query point meets it at a right angle.

Steps 1-3 loop over a few hundred arcs per query; as numpy calls they cost ~200 calls
of 1-3 µs each whatever the number of arcs, so they are compiled with numba
(nopython, cached on disk beside this module or in the user's cache directory): the
whole search then takes tens of microseconds plus pyproj's calls. The result agrees
with ``geometry.nearest_point`` (an azimuthal equidistant projection at the query
point) to millimetres; ``tests/test_domain_nearest.py`` compares the two across the
region, from both sides of every border.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numba import njit
from shapely.geometry.base import BaseGeometry

from service.domain.geometry import GEOD, NearestPoint

_WGS84_A, _WGS84_E2 = 6_378_137.0, 0.0066943799901413165
#: Segments per chunk of the coarse pass.
CHUNK = 32
#: The radius of curvature varies by at most this share with direction.
SPREAD = 0.0068
#: Relative margin of the foot-point estimates (their error is under 6e-6 below
#: 1,000 km, and as much again for the foot point found on the sphere).
ESTIMATE = 3e-5
#: Relative margin of the caps' bounds (arcs bulge past their ends' latitudes).
BOUNDS = 1e-4
MARGIN_M = 1.0
#: Arcs per line measured on the ellipsoid.
FINALISTS = 3
#: Up to this many points, pyproj is called once per point (its per-call set-up
#: outweighs a few points).
SCALAR_GEODESICS = 8


# --------------------------------------------------------------------------- compiled parts
@njit(cache=True)
def _radii(sin_lat: float) -> tuple[float, float]:
    """The WGS84 meridian and prime-vertical radii of curvature (m) at a latitude given by
    its sine; both grow from the equator to the poles."""
    w = 1.0 - _WGS84_E2 * sin_lat * sin_lat
    return _WGS84_A * (1.0 - _WGS84_E2) / (w * math.sqrt(w)), _WGS84_A / math.sqrt(w)


@njit(cache=True)
def _east_north(x: float, y: float, z: float, hx: float, hy: float, hz: float
                ) -> tuple[float, float, float]:  # fmt: skip
    """The east and north parts of the heading (hx, hy, hz) at the point (x, y, z) (any
    length), and the sine of the point's latitude."""
    horizontal = math.hypot(x, y)
    length = math.hypot(horizontal, z)
    east = (x * hy - y * hx) / horizontal
    north = (hz * horizontal - z * (x * hx + y * hy) / horizontal) / length
    return east, north, z / length


@njit(cache=True)
def _heading_radius(x: float, y: float, z: float, hx: float, hy: float, hz: float) -> float:
    """The ellipsoid's radius of curvature (m) at the point (x, y, z) (a vector from the
    centre, any length) in the direction of (hx, hy, hz) (only its part along the surface
    counts): Euler's formula with the meridian and prime-vertical radii. An angle between
    two unit vectors times this radius, taken at their midpoint towards either, is their
    geodesic distance on WGS84 to within 6 parts per million up to 1,000 km (measured
    against pyproj over this region)."""
    east, north, sin_lat = _east_north(x, y, z, hx, hy, hz)
    meridian, prime_vertical = _radii(sin_lat)
    east2, north2 = east * east, north * north
    return (east2 + north2) / max(north2 / meridian + east2 / prime_vertical, 1e-300)


@njit(cache=True)
def _angle(cosine: float) -> float:
    return math.acos(min(max(cosine, -1.0), 1.0))


@njit(cache=True)
def _on_arc(frame: np.ndarray, seg: int, theta: float) -> tuple[float, float, float]:
    """The point *theta* radians along arc *seg* from its start (a unit vector)."""
    c, s = math.cos(theta), math.sin(theta)
    return (c * frame[seg, 0, 0] + s * frame[seg, 3, 0],
            c * frame[seg, 0, 1] + s * frame[seg, 3, 1],
            c * frame[seg, 0, 2] + s * frame[seg, 3, 2])  # fmt: skip


@njit(cache=True)
def _open_chunk(c: int, p: np.ndarray, frame: np.ndarray, arc: np.ndarray,
                chunk_start: np.ndarray, chunk_len: np.ndarray, chunk_centre: np.ndarray,
                chunk_radius: np.ndarray, centre_angle: float, out_seg: np.ndarray,
                out_angle: np.ndarray, out_low: np.ndarray, out_foot: np.ndarray,
                n: int) -> tuple[int, float]:  # fmt: skip
    """Step 2 for chunk *c*: every arc's angle from p and foot point, and its lower bound in
    metres, appended at *n*; the new count and the chunk's smallest upper bound."""
    p0, p1, p2 = p[0], p[1], p[2]
    x, y, z = chunk_centre[c, 0], chunk_centre[c, 1], chunk_centre[c, 2]
    scale = _heading_radius(x + p0, y + p1, z + p2, x - p0, y - p1, z - p2)
    away = max(centre_angle - chunk_radius[c], 1e-12)
    spread = SPREAD * min(chunk_radius[c] / away, 1.0) + BOUNDS
    best = np.inf
    for s in range(chunk_start[c], chunk_start[c] + chunk_len[c]):
        cos_a = frame[s, 0, 0] * p0 + frame[s, 0, 1] * p1 + frame[s, 0, 2] * p2
        cos_b = frame[s, 1, 0] * p0 + frame[s, 1, 1] * p1 + frame[s, 1, 2] * p2
        off = frame[s, 2, 0] * p0 + frame[s, 2, 1] * p1 + frame[s, 2, 2] * p2
        along_a = frame[s, 3, 0] * p0 + frame[s, 3, 1] * p1 + frame[s, 3, 2] * p2
        along_b = frame[s, 4, 0] * p0 + frame[s, 4, 1] * p1 + frame[s, 4, 2] * p2
        if along_a >= 0.0 and along_b >= 0.0:  # the foot falls inside the arc
            angle = math.asin(min(abs(off), 1.0))
            foot = math.atan2(along_a, cos_a)
        else:
            angle = _angle(max(cos_a, cos_b))
            foot = 0.0 if cos_a >= cos_b else arc[s]
        metres = angle * scale
        out_seg[n], out_angle[n], out_foot[n] = s, angle, foot
        out_low[n] = metres * (1.0 - spread)
        best = min(best, metres * (1.0 + spread))
        n += 1
    return n, best


@njit(cache=True)
def _finalists(
    p: np.ndarray, only_nearest: bool, count: int, frame: np.ndarray, owners: np.ndarray,
    arc: np.ndarray, chunk_start: np.ndarray, chunk_len: np.ndarray, chunk_owner: np.ndarray,
    chunk_centre: np.ndarray, chunk_radius: np.ndarray, chunk_low_radius: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Steps 1-3 of the search (module docstring) up to the ellipsoid: per line, the few
    arcs that may hold its nearest point (or, with *only_nearest*, the nearest line's),
    as (arc, angle along it of the spherical foot point, line), in order of estimate."""
    p0, p1, p2 = p[0], p[1], p[2]
    # 1. Caps: a lower bound per chunk. Between p and a chunk, the radius of curvature is
    # at least the meridian radius at the lower of their latitudes.
    meridian, _ = _radii(abs(p2))
    chunks = len(chunk_start)
    centre_angle = np.empty(chunks)
    lower = np.empty(chunks)
    first = np.full(count, -1)  # per line, its chunk with the smallest lower bound
    for c in range(chunks):
        angle = _angle(chunk_centre[c, 0] * p0 + chunk_centre[c, 1] * p1
                       + chunk_centre[c, 2] * p2)  # fmt: skip
        centre_angle[c] = angle
        lower[c] = (max(angle - chunk_radius[c], 0.0) * min(chunk_low_radius[c], meridian)
                    * (1.0 - BOUNDS))  # fmt: skip
        owner = chunk_owner[c]
        if first[owner] < 0 or lower[c] < lower[first[owner]]:
            first[owner] = c
    # 2. Open the chunks that may hold a line's nearest point (branch and bound): first
    # each line's most promising chunk (or only the most promising of all), then every
    # chunk whose lower bound is within the best upper bound found so far for its line
    # (for all lines with *only_nearest*).
    total = len(owners)
    seg_of = np.empty(total, dtype=np.int64)
    angle_of = np.empty(total)
    low_of = np.empty(total)
    foot_of = np.empty(total)
    best = np.full(count, np.inf)  # per line, the smallest upper bound of its open arcs
    overall = np.inf
    opened = np.zeros(chunks, dtype=np.bool_)
    n = 0
    if only_nearest:
        k = np.argmin(lower[first])
        seeds = first[k:k + 1]
    else:
        seeds = first
    for c in seeds:
        n, upper = _open_chunk(c, p, frame, arc, chunk_start, chunk_len, chunk_centre,
                               chunk_radius, centre_angle[c], seg_of, angle_of, low_of,
                               foot_of, n)  # fmt: skip
        opened[c] = True
        best[chunk_owner[c]] = min(best[chunk_owner[c]], upper)
        overall = min(overall, upper)
    for c in range(chunks):
        owner = chunk_owner[c]
        if opened[c] or lower[c] > (overall if only_nearest else best[owner]) + MARGIN_M:
            continue
        n, upper = _open_chunk(c, p, frame, arc, chunk_start, chunk_len, chunk_centre,
                               chunk_radius, centre_angle[c], seg_of, angle_of, low_of,
                               foot_of, n)  # fmt: skip
        best[owner] = min(best[owner], upper)
        overall = min(overall, upper)
    if only_nearest:
        best[:] = overall
    # 3. Those that may be their line's nearest: estimates at their foot points.
    estimate_of = np.full(n, np.inf)
    best_estimate = np.full(count, np.inf)
    for i in range(n):
        s = seg_of[i]
        owner = owners[s]
        if low_of[i] > best[owner] + MARGIN_M:
            continue
        x, y, z = _on_arc(frame, s, foot_of[i])
        estimate = angle_of[i] * _heading_radius(x + p0, y + p1, z + p2, x - p0, y - p1, z - p2)
        estimate_of[i] = estimate
        best_estimate[owner] = min(best_estimate[owner], estimate * (1.0 + ESTIMATE))
    if only_nearest:
        best_estimate[:] = best_estimate.min()
    # Per line, its best few by estimate (ties in arc order) go to the ellipsoid.
    order = np.argsort(estimate_of, kind="mergesort")
    taken = np.zeros(count, dtype=np.int64)
    picked = np.empty(n, dtype=np.int64)
    m = 0
    for i in order:
        estimate = estimate_of[i]
        if estimate == np.inf:
            break
        owner = owners[seg_of[i]]
        if taken[owner] >= FINALISTS:
            continue
        if estimate * (1.0 - ESTIMATE) > best_estimate[owner] + MARGIN_M:
            continue
        taken[owner] += 1
        picked[m] = i
        m += 1
    picked = picked[:m]
    return seg_of[picked], foot_of[picked], owners[seg_of[picked]]


@njit(cache=True)
def _lonlat(frame: np.ndarray, seg: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat (degrees) of the points *theta* radians along the arcs *seg*."""
    lon, lat = np.empty(len(seg)), np.empty(len(seg))
    for i in range(len(seg)):
        x, y, z = _on_arc(frame, seg[i], theta[i])
        lon[i] = math.degrees(math.atan2(y, x))
        lat[i] = math.degrees(math.atan2(z, math.hypot(x, y)))
    return lon, lat


@njit(cache=True)
def _newton(frame: np.ndarray, arc: np.ndarray, seg: np.ndarray, foot: np.ndarray,
            back_deg: np.ndarray, dist_km: np.ndarray) -> np.ndarray:  # fmt: skip
    """One Newton step along each arc from its foot point towards where the geodesic from
    the query point meets the arc at a right angle: *back_deg* is the geodesic's azimuth
    at the foot point (towards the query point), compared with the arc's own azimuth."""
    moved = np.empty(len(seg))
    for i in range(len(seg)):
        s, theta = seg[i], foot[i]
        c, si = math.cos(theta), math.sin(theta)
        x, y, z = _on_arc(frame, s, theta)
        hx = c * frame[s, 3, 0] - si * frame[s, 0, 0]  # unit tangent towards the arc's end
        hy = c * frame[s, 3, 1] - si * frame[s, 0, 1]
        hz = c * frame[s, 3, 2] - si * frame[s, 0, 2]
        east, north, sin_lat = _east_north(x, y, z, hx, hy, hz)
        meridian, prime_vertical = _radii(sin_lat)
        heading = math.atan2(prime_vertical * east, meridian * north)  # the arc's azimuth
        radius = 1.0 / (math.cos(heading) ** 2 / meridian
                        + math.sin(heading) ** 2 / prime_vertical)  # fmt: skip
        step = dist_km[i] * 1000.0 * math.cos(math.radians(back_deg[i]) - heading) / radius
        moved[i] = min(max(theta + step, 0.0), arc[s])
    return moved


# --------------------------------------------------------------------------- the index
def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points on the unit sphere (n x 3) for lon/lat in degrees (geodetic latitude)."""
    lam, phi = np.radians(lon), np.radians(lat)
    cos_phi = np.cos(phi)
    return np.column_stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)])


class LineIndex:
    """Nearest point of each of several (Multi)LineStrings to a query point, fast (see
    the module docstring for the method and its accuracy)."""

    def __init__(self, lines: list[BaseGeometry]) -> None:
        self.count = len(lines)
        starts, ends, owners = [], [], []
        for owner, geom in enumerate(lines):
            for part in shapely.get_parts(geom):
                coords = shapely.get_coordinates(part)
                v = _unit_vectors(coords[:, 0], coords[:, 1])
                if len(v) == 1:
                    v = np.vstack([v, v])
                starts.append(v[:-1])
                ends.append(v[1:])
                owners.append(np.full(len(v) - 1, owner, dtype=np.int64))
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
        self.frame = np.ascontiguousarray(np.stack([a, b, pole, tangent_a, tangent_b], axis=1))
        self.owners = owner
        self.arc = 2.0 * np.arcsin(np.clip(np.linalg.norm(b - a, axis=1) / 2.0, 0.0, 1.0))
        # Coarse pass: chunks of consecutive segments of one line, each in a spherical cap.
        bounds = np.flatnonzero(np.diff(owner)) + 1
        cuts = sorted(set(range(0, len(owner), CHUNK)) | set(bounds.tolist()))
        self.chunk_start = np.asarray(cuts, dtype=np.int64)
        self.chunk_len = np.diff(np.append(self.chunk_start, len(owner)))
        self.chunk_owner = owner[self.chunk_start]
        centres, radii, low = [], [], []
        for i, n in zip(self.chunk_start, self.chunk_len, strict=True):
            points = np.vstack([a[i:i + n], b[i:i + n]])
            centre = points.sum(axis=0)
            centre /= np.linalg.norm(centre)
            radii.append(np.arccos(np.clip(points @ centre, -1.0, 1.0)).max())
            centres.append(centre)
            low.append(np.abs(points[:, 2]).min())
        self.chunk_centre = np.asarray(centres)
        self.chunk_radius = np.asarray(radii) + 1e-12
        self.chunk_low_radius = np.array([_radii(s)[0] for s in low])

    def nearest(self, lon: float, lat: float, only_nearest: bool = False
                ) -> list[NearestPoint | None]:  # fmt: skip
        """For each line (in input order), its nearest point to lon/lat and the distance.

        With *only_nearest*, lines that cannot be the nearest one get None instead.
        """
        lam, phi = math.radians(lon), math.radians(lat)
        p = np.array([math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam),
                      math.sin(phi)])  # fmt: skip
        seg, foot, owners = _finalists(
            p, only_nearest, self.count, self.frame, self.owners, self.arc, self.chunk_start,
            self.chunk_len, self.chunk_owner, self.chunk_centre, self.chunk_radius,
            self.chunk_low_radius)  # fmt: skip
        # On the ellipsoid: the distance at the foot found on the sphere, then one Newton
        # step along the arc to where the geodesic from p meets it at a right angle.
        back, dist = self._geodesic(lon, lat, seg, foot)
        moved = _newton(self.frame, self.arc, seg, foot, back, dist)
        # Most feet are an arc's end that the step cannot leave (it is clamped to the arc):
        # only the points that moved are measured again.
        moved_dist = dist.copy()
        changed = np.flatnonzero(moved != foot)
        if len(changed):
            moved_dist[changed] = self._geodesic(lon, lat, seg[changed], moved[changed])[1]
        # Per line, its best finalist (the first of equals), then its point.
        better = moved_dist < dist
        theta = np.where(better, moved, foot)
        dist = np.where(better, moved_dist, dist).tolist()
        best: dict[int, int] = {}
        for i, owner in enumerate(owners.tolist()):
            if owner not in best or dist[i] < dist[best[owner]]:
                best[owner] = i
        picked = np.array(list(best.values()), dtype=np.int64)
        plon, plat = _lonlat(self.frame, seg[picked], theta[picked])
        result: list[NearestPoint | None] = [None] * self.count
        for j, (owner, i) in enumerate(best.items()):
            result[owner] = NearestPoint(float(plon[j]), float(plat[j]), dist[i])
        return result

    def _geodesic(self, lon: float, lat: float, seg: np.ndarray, theta: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """From lon/lat to the points *theta* along the arcs of *seg*, on WGS84: the
        azimuth (degrees) at each point back towards lon/lat, and the distance (km)."""
        plon, plat = _lonlat(self.frame, seg, theta)
        n = len(seg)
        if n <= SCALAR_GEODESICS:
            rows = [GEOD.inv(lon, lat, x, y) for x, y in zip(plon.tolist(), plat.tolist(),
                                                             strict=True)]  # fmt: skip
            return np.array([r[1] for r in rows]), np.array([r[2] / 1000.0 for r in rows])
        _, back, metres = GEOD.inv(np.full(n, lon), np.full(n, lat), plon, plat)
        return np.asarray(back), np.asarray(metres) / 1000.0


def compile_search() -> None:
    """Compile the search (or load it from numba's cache: some 0.15 s), so that no request
    waits for it; the app does it in the background at start-up. Without it the first
    query compiles."""
    index = LineIndex([shapely.LineString([(24.0, 53.0), (24.5, 53.2), (25.0, 53.1)]),
                       shapely.LineString([(24.0, 52.0), (25.0, 52.0)])])  # fmt: skip
    index.nearest(24.2, 52.5)
    index.nearest(24.2, 52.5, only_nearest=True)
