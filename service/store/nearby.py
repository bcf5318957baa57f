"""Places near a point, in time that hardly grows with the number of places.

``PlaceGrid`` holds every place's exact lon/lat and fid sorted along a Z-order (Morton)
curve over a 65,536 x 65,536 grid of the places' extent, so that each quadtree node of
that grid is one contiguous run of the arrays, found by binary search. Both backends
build it when they load the data, store it as one blob (``to_bytes``, no pickle) and
read it when first asked.

``count`` walks the quadtree from nodes about half the query box wide: a node wholly
inside the box and the circle counts whole (its size is a subtraction), a node wholly
outside the circle is dropped, and only the places of the nodes on the circle's edge
(at most ``LEAF`` each) are measured. Both node tests use the triangle inequality with
the distance to the node's centre and a bound on the centre's distance to any point of
the node (half its meridian arc plus half its widest parallel arc). Places and node
centres are measured with Lambert's formula (``approx_km``, vectorised numpy), which
stays within ``tolerance_km`` of the exact WGS84 distance; the exact function (pyproj,
the one every answer's distances come from) is called only for the places whose
approximate distance cannot decide: within the tolerance of the radius, or of the k-th
distance. ``nearest`` counts, then measures the places within a radius grown from the
density until it holds the k nearest. Counts, order (distance, then fid) and distances
are those of measuring every place in the box.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def _spread(v: np.ndarray) -> np.ndarray:
    """The bits of 16-bit integers moved to the even bit positions of 32."""
    v = v.astype(np.uint64) & 0xFFFF
    v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
    v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
    v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
    return (v | (v << np.uint64(1))) & np.uint64(0x55555555)


def _morton(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    return _spread(ix) | (_spread(iy) << np.uint64(1))


def _exact_km(lon: float, lat: float, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Geodesic (WGS84) distances in km from one point: ``geometry.geodesic_distances_km``,
    the function every answer's distances come from."""
    if len(lons) == 0:
        return np.zeros(0)
    _, _, dist = GEOD.inv(np.full(len(lons), lon), np.full(len(lons), lat), lons, lats)
    return np.asarray(dist) / 1000.0


def approx_km(lon1: np.ndarray | float, lat1: np.ndarray | float, lon2: np.ndarray,
              lat2: np.ndarray) -> np.ndarray:  # fmt: skip
    """Lambert's formula for the WGS84 geodesic distance in km, in numpy: within
    ``tolerance_km`` of the exact distance (and some 50 times cheaper to compute)."""
    if isinstance(lat1, float):  # one point to many: its terms once, as Python floats
        b1: Any = math.atan((1.0 - _F) * math.tan(math.radians(lat1)))
        cos_b1: Any = math.cos(b1)
    else:
        b1 = np.arctan((1.0 - _F) * np.tan(np.radians(lat1)))
        cos_b1 = np.cos(b1)
    b2 = np.arctan((1.0 - _F) * np.tan(np.radians(lat2)))
    dlon = np.radians(lon2 - lon1)
    h = np.sin((b2 - b1) / 2) ** 2 + cos_b1 * np.cos(b2) * np.sin(dlon / 2) ** 2
    sigma = 2.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    p, q = (b1 + b2) / 2, (b2 - b1) / 2
    half_sin, half_cos = np.sin(sigma / 2), np.cos(sigma / 2)
    apart = half_sin > 1e-12
    sin_sigma = np.sin(sigma)
    x = (sigma - sin_sigma) * (np.sin(p) * np.cos(q) / half_cos) ** 2
    y = (sigma + sin_sigma) * (np.cos(p) * np.sin(q) / np.where(apart, half_sin, 1.0)) ** 2
    return _A_KM * (sigma - _F / 2 * np.where(apart, x + y, 0.0))


def tolerance_km(d: np.ndarray | float) -> np.ndarray | float:
    """A bound on |``approx_km`` - exact| for distances up to ``MAX_RADIUS_KM`` (plus a
    node's size) at latitudes up to ``MAX_ABS_LAT``: the largest relative error measured
    over 400,000 random pairs there was 1.4e-6; this allows 1e-5, plus a millimetre."""
    return 1e-5 * d + 1e-6


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The indices of the runs [lo, hi), concatenated."""
    lengths = hi - lo
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(lo - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return starts + np.arange(total)


@dataclass(frozen=True)
class PlaceGrid:
    """Every place's exact lon/lat and fid, in Z-order of a grid over their extent."""

    west: float
    south: float
    dx: float
    dy: float
    keys: np.ndarray  # uint64 Morton keys, sorted
    lon: np.ndarray
    lat: np.ndarray
    fid: np.ndarray  # int64

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
        keys = np.frombuffer(blob, "<u4", n, at).astype(np.uint64)
        at += 4 * n
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

    def _walk(self, lon: float, lat: float, radius: float, box: BBox,
              whole: bool) -> tuple[int, np.ndarray]:  # fmt: skip
        """(count of the places in nodes wholly inside, indices to measure).

        With *whole* False the nodes wholly inside are measured too (their indices are
        returned, the count is 0): ``nearest`` needs their distances.
        """
        qw, qs, qe, qn = box.west, box.south, box.east, box.north
        top = (1 << BITS) - 1
        cx0, cx1 = math.floor((qw - self.west) / self.dx), math.floor((qe - self.west) / self.dx)
        cy0, cy1 = math.floor((qs - self.south) / self.dy), math.floor((qn - self.south) / self.dy)
        if cx1 < 0 or cy1 < 0 or cx0 > top or cy0 > top or not len(self.fid):
            return 0, np.zeros(0, dtype=np.int64)
        cx0, cx1, cy0, cy1 = max(cx0, 0), min(cx1, top), max(cy0, 0), min(cy1, top)
        span = max(cx1 - cx0, cy1 - cy0) + 1
        level = max(0, BITS - max(0, math.ceil(math.log2(span)) - 1))  # ~2-3 nodes a side
        shift = BITS - level
        nx, ny = np.meshgrid(np.arange(cx0 >> shift, (cx1 >> shift) + 1, dtype=np.int64),
                             np.arange(cy0 >> shift, (cy1 >> shift) + 1, dtype=np.int64))
        nx, ny = nx.ravel(), ny.ravel()
        code = _morton(nx, ny)
        counted = 0
        measure: list[np.ndarray] = []
        if len(self.fid) <= SMALL:  # few places: measure the candidates of the box
            level = BITS
            nx = np.zeros(0, dtype=np.int64)
            measure.append(np.arange(len(self.fid)))
        while len(nx):
            shift = BITS - level
            first = code << np.uint64(2 * shift)
            bounds = np.searchsorted(self.keys, np.concatenate(
                [first, first + np.uint64(1 << (2 * shift))]))
            lo, hi = bounds[: len(nx)], bounds[len(nx):]
            width, height = (1 << shift) * self.dx, (1 << shift) * self.dy
            x0 = self.west + nx * width - _EPS_DEG
            y0 = self.south + ny * height - _EPS_DEG
            x1, y1 = x0 + (width + 2 * _EPS_DEG), y0 + (height + 2 * _EPS_DEG)
            keep = (hi > lo) & (x1 >= qw) & (x0 <= qe) & (y1 >= qs) & (y0 <= qn)
            if not keep.all():
                nx, ny, code, lo, hi, x0, x1, y0, y1 = (
                    a[keep] for a in (nx, ny, code, lo, hi, x0, x1, y0, y1))
            if len(nx) == 0:
                break
            # Distance to the node's centre, and a bound on the centre's distance to any
            # point of the node: half the meridian arc plus half the parallel arc at the
            # node's latitude nearest the equator (radii of curvature < 6,400 km).
            centre = approx_km(lon, lat, x0 + (width / 2 + _EPS_DEG), y0 + (height / 2 + _EPS_DEG))
            slack = tolerance_km(centre)
            equatorward = np.minimum(np.abs(y0), np.abs(y1)) * ((y0 > 0) | (y1 < 0))
            half = 6_400.0 * np.radians(height / 2 + _EPS_DEG
                                        + (width / 2 + _EPS_DEG) * np.cos(np.radians(equatorward)))
            in_box = (x0 >= qw) & (x1 <= qe) & (y0 >= qs) & (y1 <= qn)
            inside = in_box & (centre + slack + half <= radius)
            outside = centre - slack - half > radius
            rest = ~inside & ~outside
            leaf = rest & ((hi - lo <= LEAF) | (level == BITS))
            if whole:
                counted += int((hi - lo)[inside].sum())
                measure.append(_ranges(lo[leaf], hi[leaf]))
            else:
                pick = leaf | inside
                measure.append(_ranges(lo[pick], hi[pick]))
            split = rest & ~leaf
            nx, ny, code = nx[split] * 2, ny[split] * 2, code[split] << np.uint64(2)
            nx = np.concatenate((nx, nx + 1, nx, nx + 1))
            ny = np.concatenate((ny, ny, ny + 1, ny + 1))
            code = np.concatenate((code, code + np.uint64(1), code + np.uint64(2),
                                   code + np.uint64(3)))
            level += 1
        return counted, np.concatenate(measure) if measure else np.zeros(0, dtype=np.int64)

    def _candidates(self, lon: float, lat: float, radius: float, box: BBox,
                    idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(indices, approximate distances) of the places among *idx* in *box* that may be
        within *radius* (approximate distance within the tolerance of it or closer)."""
        plon, plat = self.lon[idx], self.lat[idx]
        ok = (plon >= box.west) & (plon <= box.east) & (plat >= box.south) & (plat <= box.north)
        idx = idx[ok]
        approx = approx_km(lon, lat, plon[ok], plat[ok])
        maybe = approx - tolerance_km(approx) <= radius
        return idx[maybe], approx[maybe]

    def _exact(self, lon: float, lat: float, idx: np.ndarray) -> np.ndarray:
        return _exact_km(lon, lat, self.lon[idx], self.lat[idx])

    def _settle(self, lon: float, lat: float, radius: float, box: BBox, idx: np.ndarray,
                k: int) -> tuple[int, np.ndarray, np.ndarray]:  # fmt: skip
        """(how many of the places *idx* lie in *box* within *radius*, then the indices and
        exact distances of the first *k* of those by distance, then fid, unordered).

        Exact distances are computed only where the approximation cannot decide: near the
        radius, and near the k-th distance."""
        idx, approx = self._candidates(lon, lat, radius, box, idx)
        tol = tolerance_km(approx)
        sure = approx + tol <= radius
        measure = ~sure
        if k > 0:
            if sure.sum() >= k:  # k places surely within: the k-th of them bounds the answer
                kth = np.partition(approx[sure], k - 1)[k - 1]
                measure |= approx - tol <= kth + tolerance_km(kth)
            else:
                measure[:] = True
        dist = np.full(len(idx), np.inf)
        dist[measure] = _exact_km(lon, lat, self.lon[idx[measure]], self.lat[idx[measure]])
        within = dist <= radius
        count = int(sure.sum() + (within & ~sure).sum())
        if k <= 0:
            return count, idx[:0], dist[:0]
        pick = np.flatnonzero(within)
        return count, idx[pick], dist[pick]

    def count(self, lon: float, lat: float, radius_km: float, box: BBox) -> int:
        """How many places lie in *box* and within *radius_km* (geodesic) of lon/lat."""
        counted, idx = self._walk(lon, lat, radius_km, box, whole=True)
        return counted + self._settle(lon, lat, radius_km, box, idx, 0)[0]

    def all_within(self, lon: float, lat: float, radius_km: float,
                   box: BBox) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(fids, distances km) of every place in *box* and within *radius_km*, unordered."""
        _, idx = self._walk(lon, lat, radius_km, box, whole=False)
        idx, _ = self._candidates(lon, lat, radius_km, box, idx)
        dist = self._exact(lon, lat, idx)
        near = dist <= radius_km
        return self.fid[idx[near]], dist[near]

    def nearest(self, lon: float, lat: float, radius_km: float, box: BBox,
                k: int) -> tuple[int, np.ndarray, np.ndarray]:  # fmt: skip
        """(how many places lie in *box* within *radius_km*, then the fids and distances of
        the first *k* of them by distance, then fid)."""
        counted, idx = self._walk(lon, lat, radius_km, box, whole=True)
        matched, idx, dist = self._settle(lon, lat, radius_km, box, idx, k if not counted else 0)
        matched += counted
        if counted and k > 0:  # nodes counted whole: find the k nearest in a smaller circle
            k = min(k, matched)
            reach = radius_km * min(1.0, math.sqrt(2.0 * k / matched))
            while True:
                inner = degrees_around(lon, lat, reach) if reach < radius_km else box
                part = BBox(max(box.west, inner.west), max(box.south, inner.south),
                            min(box.east, inner.east), min(box.north, inner.north))
                _, idx = self._walk(lon, lat, reach, part, whole=False)
                found, idx, dist = self._settle(lon, lat, reach, part, idx, k)
                if found >= k or reach >= radius_km:
                    break
                reach = min(radius_km, reach * 2.0)
        fids = self.fid[idx]
        order = np.lexsort((fids, dist))[:max(k, 0)]
        return matched, fids[order], dist[order]
