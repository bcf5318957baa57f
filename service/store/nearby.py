"""Places near a point, in time that hardly grows with the number of places.

``PlaceGrid`` holds every place's exact lon/lat and fid sorted along a Z-order (Morton)
curve over a 65,536 x 65,536 grid of the places' extent, so that each quadtree node of
that grid is one contiguous run of the arrays, found by binary search. Both backends
build it when they load the data, store it as one blob (``to_bytes``, no pickle) and
read it when first asked.

``count`` walks the quadtree from nodes about half the query box wide: a node wholly
inside the box and the circle counts whole (its size is a subtraction), a node wholly
outside the circle is dropped, and only the places of the nodes on the circle's edge (at
most ``LEAF`` each) are measured. Both node tests use the triangle inequality with the
distance to the node's centre and a bound on the centre's distance to any point of the
node (half its meridian arc plus half its widest parallel arc). A place on the edge is
first judged by its arc on the auxiliary sphere alone (a haversine on reduced latitudes,
kept per place): surely within or surely beyond the radius unless it lies within some
0.7 % of it (``_arc_limits``). Places in that band and node centres are measured with
Lambert's formula (``approx_km``), which stays within ``tolerance_km`` of the exact
WGS84 distance; the exact function (pyproj, the one every answer's distances come from)
is called only for the places whose approximate distance cannot decide: within the
tolerance of the radius, or of the k-th distance. ``nearest`` counts, then measures the
places within a radius grown from the density until it holds the k nearest. Counts,
order (distance, then fid) and distances are those of measuring every place in the box.
The walk and the approximate measurements are compiled with numba (``_gather``: a few
hundred nodes and places per query, which as numpy calls cost more in per-call overhead
than in arithmetic).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from service.domain.geometry import GEOD, BBox, degrees_around

#: Bits of grid per axis (a cell is 1/65,536 of the places' extent).
BITS = 16
#: A node holding at most this many places is measured point by point.
LEAF = 256
#: Up to this many places in all, every place is a candidate (no walk).
SMALL = 4_096
#: Nodes are widened by this many degrees, so that rounding in the cell of a point
#: never puts it outside its node's rectangle.
_EPS_DEG = 1e-7
#: Radii (km) and latitudes (degrees) beyond which the corner argument is not used.
MAX_RADIUS_KM = 2_000.0
MAX_ABS_LAT = 80.0
_MAGIC = b"FAGRID1\0"
_A_KM, _F = 6378.137, 1 / 298.257223563  # WGS84
_HEADER = struct.Struct("<8sq4d")


def _exact_km(lon: float, lat: float, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Geodesic (WGS84) distances in km from one point: ``geometry.geodesic_distances_km``,
    the function every answer's distances come from."""
    if len(lons) == 0:
        return np.zeros(0)
    _, _, dist = GEOD.inv(np.full(len(lons), lon), np.full(len(lons), lat), lons, lats)
    return np.asarray(dist) / 1000.0


@njit(cache=True)
def _half_chord(b1: float, cos_b1: float, b2: float, cos_b2: float, dlon: float) -> float:
    """sin^2(sigma / 2) of the arc sigma between two points of reduced latitudes b1, b2
    (with their cosines) *dlon* radians apart, on the auxiliary sphere (haversine)."""
    h = math.sin((b2 - b1) / 2) ** 2 + cos_b1 * cos_b2 * math.sin(dlon / 2) ** 2
    return min(max(h, 0.0), 1.0)


@njit(cache=True)
def _lambert_h(h: float, b1: float, b2: float) -> float:
    """Lambert's formula for the WGS84 geodesic distance in km between points of reduced
    latitudes b1, b2 whose arc has ``_half_chord`` *h*. Never more than A * sigma."""
    sigma = 2.0 * math.asin(math.sqrt(h))
    half_sin, half_cos = math.sin(sigma / 2), math.cos(sigma / 2)
    if half_sin <= 1e-12:  # the same point
        return _A_KM * sigma
    p, q = (b1 + b2) / 2, (b2 - b1) / 2
    sin_sigma = math.sin(sigma)
    x = (sigma - sin_sigma) * (math.sin(p) * math.cos(q) / half_cos) ** 2
    y = (sigma + sin_sigma) * (math.cos(p) * math.sin(q) / half_sin) ** 2
    return _A_KM * (sigma - _F / 2 * (x + y))


@njit(cache=True)
def _lambert_km(lon1: float, b1: float, cos_b1: float, lon2: float, lat2: float) -> float:
    """Lambert's formula for the WGS84 geodesic distance in km from lon1 (with *b1*, the
    reduced latitude of the first point, and its cosine) to lon2/lat2."""
    b2 = _reduced(lat2)
    h = _half_chord(b1, cos_b1, b2, math.cos(b2), math.radians(lon2 - lon1))
    return _lambert_h(h, b1, b2)


@njit(cache=True)
def _arc_limits(radius: float) -> tuple[float, float]:
    """(h_in, h_out): a place whose ``_half_chord`` is at most h_in lies surely within
    *radius* km, one whose half chord exceeds h_out surely beyond it, exactly and by
    Lambert's estimate alike, with its tolerance.

    Lambert's distance d is A * sigma less f/2 (X + Y), where X and Y are not negative,
    Y <= 2 sigma and X <= (sigma - sin sigma) / cos^2(sigma / 2), under 3 % of sigma for
    arcs under 2,500 km: so A * sigma (1 - 2 f) <= d <= A * sigma, and the exact
    distance is within ``tolerance_km`` of d."""
    sigma_in = (radius - 1e-6) / (_A_KM * (1.0 + 1e-5)) * (1.0 - 1e-9)
    sigma_out = (radius + 1e-6) / (_A_KM * (1.0 - 2.0 * _F - 1e-5)) * (1.0 + 1e-9)
    h_in = math.sin(sigma_in / 2) ** 2 if sigma_in > 0 else -1.0
    h_out = math.sin(min(sigma_out, math.pi) / 2) ** 2 if sigma_out < math.pi else 2.0
    return h_in, h_out


@njit(cache=True)
def _reduced(lat: float) -> float:
    return math.atan((1.0 - _F) * math.tan(math.radians(lat)))


@njit(cache=True)
def _approx_many(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
                 ) -> np.ndarray:  # fmt: skip
    out = np.empty(len(lon1))
    for i in range(len(lon1)):
        b1 = _reduced(lat1[i])
        out[i] = _lambert_km(lon1[i], b1, math.cos(b1), lon2[i], lat2[i])
    return out


def approx_km(lon1: np.ndarray | float, lat1: np.ndarray | float, lon2: np.ndarray,
              lat2: np.ndarray) -> np.ndarray:  # fmt: skip
    """Lambert's formula for the WGS84 geodesic distance in km (arrays broadcast): within
    ``tolerance_km`` of the exact distance, and some 50 times cheaper to compute."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (lon1, lat1,
                                                                            lon2, lat2)))
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    return _approx_many(*flat).reshape(shape)


@njit(cache=True)
def tolerance_km(d: np.ndarray | float) -> np.ndarray | float:
    """A bound on |``approx_km`` - exact| for distances up to ``MAX_RADIUS_KM`` (plus a
    node's size) at latitudes up to ``MAX_ABS_LAT``: the largest relative error measured
    over 400,000 random pairs there was 1.4e-6; this allows 1e-5, plus a millimetre."""
    return 1e-5 * d + 1e-6


@njit(cache=True)
def _spread_bits(v: int) -> int:
    """The bits of a 16-bit integer moved to the even bit positions of 32."""
    v &= 0xFFFF
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    return (v | (v << 1)) & 0x55555555


@njit(cache=True)
def _morton(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """The Z-order (Morton) keys of grid cells (x and y of 16 bits each)."""
    keys = np.empty(len(ix), dtype=np.int64)
    for i in range(len(ix)):
        keys[i] = _spread_bits(ix[i]) | (_spread_bits(iy[i]) << 1)
    return keys


@njit(cache=True)
def _gather(
    keys: np.ndarray, plon: np.ndarray, plat: np.ndarray, prb: np.ndarray, pcos: np.ndarray,
    west: float, south: float, dx: float, dy: float, lon: float, lat: float, radius: float,
    qw: float, qs: float, qe: float, qn: float, whole: bool, small: int, leaf: int,
) -> tuple[int, np.ndarray, np.ndarray]:  # fmt: skip
    """The quadtree walk (module docstring): (the count of the places surely within
    *radius*, then the indices and approximate distances of the other places that may be
    within it: in the box, approximate distance within the tolerance of it or closer).

    With *whole* False nothing is counted: every place that may be within is returned,
    with its distance (``nearest`` needs them). *prb* and *pcos* are the places' reduced
    latitudes and their cosines."""
    n = len(keys)
    none = np.zeros(0, dtype=np.int64)
    top = (1 << BITS) - 1
    cx0, cx1 = math.floor((qw - west) / dx), math.floor((qe - west) / dx)
    cy0, cy1 = math.floor((qs - south) / dy), math.floor((qn - south) / dy)
    if cx1 < 0 or cy1 < 0 or cx0 > top or cy0 > top or n == 0:
        return 0, none, np.zeros(0)
    cx0, cx1, cy0, cy1 = max(cx0, 0), min(cx1, top), max(cy0, 0), min(cy1, top)
    b1 = _reduced(lat)
    cos_b1 = math.cos(b1)
    counted = 0
    runs_lo, runs_hi = [], []  # runs of places to measure ([lo, hi) in key order)
    if n <= small:  # few places: measure the candidates of the box
        runs_lo.append(0)
        runs_hi.append(n)
    else:
        span = max(cx1 - cx0, cy1 - cy0) + 1
        start = max(0, BITS - max(0, math.ceil(math.log2(span)) - 1))  # ~2-3 nodes a side
        shift = BITS - start
        stack_x, stack_y, stack_level = [], [], []  # nodes still to look at
        for ny in range(cy0 >> shift, (cy1 >> shift) + 1):
            for nx in range(cx0 >> shift, (cx1 >> shift) + 1):
                stack_x.append(nx)
                stack_y.append(ny)
                stack_level.append(start)
        while len(stack_x):
            nx, ny, level = stack_x.pop(), stack_y.pop(), stack_level.pop()
            shift = BITS - level
            first = (_spread_bits(nx) | (_spread_bits(ny) << 1)) << (2 * shift)
            lo = np.searchsorted(keys, first)
            hi = np.searchsorted(keys, first + (1 << (2 * shift)))
            if hi <= lo:
                continue
            width, height = (1 << shift) * dx, (1 << shift) * dy
            x0, y0 = west + nx * width - _EPS_DEG, south + ny * height - _EPS_DEG
            x1, y1 = x0 + (width + 2 * _EPS_DEG), y0 + (height + 2 * _EPS_DEG)
            if x1 < qw or x0 > qe or y1 < qs or y0 > qn:
                continue
            # Distance to the node's centre, and a bound on the centre's distance to any
            # point of the node: half the meridian arc plus half the parallel arc at the
            # node's latitude nearest the equator (radii of curvature < 6,400 km).
            centre = _lambert_km(lon, b1, cos_b1, x0 + (width / 2 + _EPS_DEG),
                                 y0 + (height / 2 + _EPS_DEG))  # fmt: skip
            slack = tolerance_km(centre)
            equatorward = min(abs(y0), abs(y1)) if (y0 > 0 or y1 < 0) else 0.0
            half = 6_400.0 * math.radians(height / 2 + _EPS_DEG + (width / 2 + _EPS_DEG)
                                          * math.cos(math.radians(equatorward)))  # fmt: skip
            if centre - slack - half > radius:  # wholly outside the circle
                continue
            in_box = x0 >= qw and x1 <= qe and y0 >= qs and y1 <= qn
            if in_box and centre + slack + half <= radius:  # wholly inside
                if whole:
                    counted += hi - lo
                else:
                    runs_lo.append(lo)
                    runs_hi.append(hi)
            elif hi - lo <= leaf or level == BITS:
                runs_lo.append(lo)
                runs_hi.append(hi)
            else:
                for cx, cy in ((2 * nx, 2 * ny), (2 * nx + 1, 2 * ny), (2 * nx, 2 * ny + 1),
                               (2 * nx + 1, 2 * ny + 1)):  # fmt: skip
                    stack_x.append(cx)
                    stack_y.append(cy)
                    stack_level.append(level + 1)
    total = 0
    for r in range(len(runs_lo)):
        total += runs_hi[r] - runs_lo[r]
    idx = np.empty(total, dtype=np.int64)
    approx = np.empty(total)
    m = 0
    h_in, h_out = _arc_limits(radius)
    for r in range(len(runs_lo)):
        for i in range(runs_lo[r], runs_hi[r]):
            x, y = plon[i], plat[i]
            if x < qw or x > qe or y < qs or y > qn:
                continue
            h = _half_chord(b1, cos_b1, prb[i], pcos[i], math.radians(x - lon))
            if h > h_out:
                continue
            if whole and h <= h_in:
                counted += 1
                continue
            d = _lambert_h(h, b1, prb[i])
            if d - tolerance_km(d) <= radius:
                idx[m], approx[m] = i, d
                m += 1
    return counted, idx[:m], approx[:m]


@njit(cache=True)
def _to_measure(approx: np.ndarray, radius: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(the candidates surely within *radius* by their approximate distances, those whose
    exact distance is needed: near the radius and, for the first *k*, near the k-th)."""
    n = len(approx)
    sure = np.empty(n, dtype=np.bool_)
    measure = np.empty(n, dtype=np.bool_)
    n_sure = 0
    for i in range(n):
        sure[i] = approx[i] + tolerance_km(approx[i]) <= radius
        measure[i] = not sure[i]
        n_sure += sure[i]
    if k > 0:
        if n_sure >= k:  # k places surely within: the k-th of them bounds the answer
            kth = np.partition(approx[sure], k - 1)[k - 1]
            bound = kth + tolerance_km(kth)
            for i in range(n):
                if approx[i] - tolerance_km(approx[i]) <= bound:
                    measure[i] = True
        else:
            measure[:] = True
    return sure, measure


@njit(cache=True)
def _settled(idx: np.ndarray, sure: np.ndarray, dist: np.ndarray, radius: float,
             k: int) -> tuple[int, np.ndarray, np.ndarray]:  # fmt: skip
    """(how many candidates lie within *radius*: surely, or by their exact distance
    *dist* (inf where not measured), then, if *k* > 0, the indices and exact distances of
    the measured ones within)."""
    count = 0
    m = 0
    picked = np.empty(len(idx), dtype=np.int64)
    picked_km = np.empty(len(idx))
    for i in range(len(idx)):
        within = dist[i] <= radius
        if within or sure[i]:
            count += 1
        if within and k > 0:
            picked[m], picked_km[m] = idx[i], dist[i]
            m += 1
    return count, picked[:m], picked_km[:m]


@dataclass(frozen=True)
class PlaceGrid:
    """Every place's exact lon/lat and fid, in Z-order of a grid over their extent."""

    west: float
    south: float
    dx: float
    dy: float
    keys: np.ndarray  # Morton keys (32 bits, held as int64), sorted
    lon: np.ndarray
    lat: np.ndarray
    fid: np.ndarray  # int64
    #: Each place's reduced latitude (radians) and its cosine, computed on load (not stored).
    reduced_lat: np.ndarray = field(init=False, repr=False, compare=False)
    cos_reduced_lat: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        reduced = np.arctan((1.0 - _F) * np.tan(np.radians(self.lat)))
        object.__setattr__(self, "reduced_lat", reduced)
        object.__setattr__(self, "cos_reduced_lat", np.cos(reduced))

    @classmethod
    def build(cls, fids: np.ndarray, lons: np.ndarray, lats: np.ndarray) -> PlaceGrid:
        """The grid of the given places (fids with their exact lon/lat)."""
        fids = np.asarray(fids, dtype=np.int64)
        lons, lats = np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
        if len(fids):
            west, east = float(lons.min()), float(lons.max())
            south, north = float(lats.min()), float(lats.max())
        else:
            west = east = south = north = 0.0
        dx = max(east - west, 1e-6) / (1 << BITS)
        dy = max(north - south, 1e-6) / (1 << BITS)
        keys = cls._cells(west, south, dx, dy, lons, lats)
        order = np.lexsort((fids, keys))
        return cls(west, south, dx, dy, keys[order], lons[order], lats[order], fids[order])

    @staticmethod
    def _cells(west: float, south: float, dx: float, dy: float, lons: np.ndarray,
               lats: np.ndarray) -> np.ndarray:  # fmt: skip
        top = (1 << BITS) - 1
        ix = np.clip(np.floor((lons - west) / dx), 0, top).astype(np.int64)
        iy = np.clip(np.floor((lats - south) / dy), 0, top).astype(np.int64)
        return _morton(ix, iy)

    def to_bytes(self) -> bytes:
        """A pickle-free binary form: a header and the four arrays, little-endian."""
        head = _HEADER.pack(_MAGIC, len(self.fid), self.west, self.south, self.dx, self.dy)
        return b"".join([head, self.keys.astype("<u4").tobytes(), self.lon.astype("<f8").tobytes(),
                         self.lat.astype("<f8").tobytes(), self.fid.astype("<i8").tobytes()])

    @classmethod
    def from_bytes(cls, blob: bytes) -> PlaceGrid:
        """The grid ``to_bytes`` wrote."""
        magic, n, west, south, dx, dy = _HEADER.unpack_from(blob)
        if magic != _MAGIC:
            raise ValueError("not a place grid")
        at = _HEADER.size
        keys = np.frombuffer(blob, "<u4", n, at).astype(np.int64)
        at += 4 * n
        # Writable arrays, as ``build`` makes: the compiled walk takes one kind of array.
        blob = bytearray(blob)
        lon = np.frombuffer(blob, "<f8", n, at)
        lat = np.frombuffer(blob, "<f8", n, at + 8 * n)
        fid = np.frombuffer(blob, "<i8", n, at + 16 * n)
        return cls(west, south, dx, dy, keys, lon, lat, fid)

    def __len__(self) -> int:
        return len(self.fid)

    # ------------------------------------------------------------ queries
    @staticmethod
    def usable(lon: float, lat: float, radius_km: float, box: BBox) -> bool:
        """Whether the node tests hold for this question (else measure every candidate)."""
        return (box.west <= box.east and box.west > -180.0 and box.east < 180.0
                and radius_km <= MAX_RADIUS_KM and abs(box.south) <= MAX_ABS_LAT
                and abs(box.north) <= MAX_ABS_LAT and math.isfinite(lon) and math.isfinite(lat))

    def _gather(self, lon: float, lat: float, radius: float, box: BBox,
                whole: bool) -> tuple[int, np.ndarray, np.ndarray]:  # fmt: skip
        """(count of the places surely within, then the indices and approximate
        distances of the places that may be within *radius*; see ``_gather``)."""
        return _gather(self.keys, self.lon, self.lat, self.reduced_lat, self.cos_reduced_lat,
                       self.west, self.south, self.dx, self.dy, lon, lat, radius, box.west,
                       box.south, box.east, box.north, whole, SMALL, LEAF)  # fmt: skip

    def _exact(self, lon: float, lat: float, idx: np.ndarray) -> np.ndarray:
        return _exact_km(lon, lat, self.lon[idx], self.lat[idx])

    def _settle(self, lon: float, lat: float, radius: float, idx: np.ndarray,
                approx: np.ndarray, k: int) -> tuple[int, np.ndarray, np.ndarray]:  # fmt: skip
        """(how many of the candidates *idx* (approximate distances *approx*) lie within
        *radius*, then the indices and exact distances of the first *k* of those by
        distance, then fid, unordered).

        Exact distances are computed only where the approximation cannot decide: near the
        radius, and near the k-th distance."""
        sure, measure = _to_measure(approx, radius, k)
        dist = np.full(len(idx), np.inf)
        if measure.any():
            dist[measure] = _exact_km(lon, lat, self.lon[idx[measure]], self.lat[idx[measure]])
        return _settled(idx, sure, dist, radius, k)

    def count(self, lon: float, lat: float, radius_km: float, box: BBox) -> int:
        """How many places lie in *box* and within *radius_km* (geodesic) of lon/lat."""
        counted, idx, approx = self._gather(lon, lat, radius_km, box, whole=True)
        return counted + self._settle(lon, lat, radius_km, idx, approx, 0)[0]

    def all_within(self, lon: float, lat: float, radius_km: float,
                   box: BBox) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(fids, distances km) of every place in *box* and within *radius_km*, unordered."""
        _, idx, _ = self._gather(lon, lat, radius_km, box, whole=False)
        dist = self._exact(lon, lat, idx)
        near = dist <= radius_km
        return self.fid[idx[near]], dist[near]

    def nearest(self, lon: float, lat: float, radius_km: float, box: BBox,
                k: int) -> tuple[int, np.ndarray, np.ndarray]:  # fmt: skip
        """(how many places lie in *box* within *radius_km*, then the fids and distances of
        the first *k* of them by distance, then fid)."""
        counted, idx, approx = self._gather(lon, lat, radius_km, box, whole=True)
        matched, idx, dist = self._settle(lon, lat, radius_km, idx, approx,
                                          k if not counted else 0)  # fmt: skip
        matched += counted
        if counted and k > 0:  # some counted unmeasured: find the k nearest in a smaller circle
            k = min(k, matched)
            reach = radius_km * min(1.0, math.sqrt(2.0 * k / matched))
            while True:
                inner = degrees_around(lon, lat, reach) if reach < radius_km else box
                part = BBox(max(box.west, inner.west), max(box.south, inner.south),
                            min(box.east, inner.east), min(box.north, inner.north))
                _, idx, approx = self._gather(lon, lat, reach, part, whole=False)
                found, idx, dist = self._settle(lon, lat, reach, idx, approx, k)
                if found >= k or reach >= radius_km:
                    break
                reach = min(radius_km, reach * 2.0)
        fids = self.fid[idx]
        order = np.lexsort((fids, dist))[:max(k, 0)]
        return matched, fids[order], dist[order]


def compile_walk() -> None:
    """Compile the walk for the arrays a loaded grid has (or load it from numba's cache:
    some 0.15 s), so that no request waits for it: one small grid, each query once. The
    app does it in the background at start-up; without it the first query compiles."""
    grid = PlaceGrid.from_bytes(PlaceGrid.build(np.arange(3), np.array([24.0, 24.1, 24.2]),
                                                np.array([53.0, 53.1, 53.2])).to_bytes())
    box = degrees_around(24.05, 53.05, 20.0)
    grid.count(24.05, 53.05, 20.0, box)
    grid.all_within(24.05, 53.05, 20.0, box)
    grid.nearest(24.05, 53.05, 20.0, box, 2)
