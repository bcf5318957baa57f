"""Coordinate reference systems the API can answer in (OGC API – Features Part 2).

Data is stored and computed in CRS84 (lon, lat in degrees). A response in another
CRS is the same features with their coordinates transformed at the end, in the
axis order that CRS defines: EPSG:4326 is latitude, longitude; EPSG:3857 easting,
northing (metres); EPSG:3035 (ETRS89 / LAEA Europe) northing, easting (metres).
A ``bbox`` given in one of them (``bbox-crs``) is turned into the CRS84 box that
contains it before any store sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from pyproj import CRS, Transformer

from service.domain.errors import InvalidParameterError
from service.domain.geometry import BBox

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
EPSG3035 = "http://www.opengis.net/def/crs/EPSG/0/3035"

#: Every CRS a response may use, by URI (the first is the default and storage CRS),
#: with the pyproj name of each.
SUPPORTED: dict[str, str] = {
    CRS84: "OGC:CRS84",
    EPSG4326: "EPSG:4326",
    EPSG3857: "EPSG:3857",
    EPSG3035: "EPSG:3035",
}
_ALIASES = {
    "urn:ogc:def:crs:ogc:1.3:crs84": CRS84,
    "urn:ogc:def:crs:epsg::4326": EPSG4326,
    "urn:ogc:def:crs:epsg::3857": EPSG3857,
    "urn:ogc:def:crs:epsg::3035": EPSG3035,
    "epsg:4326": EPSG4326,
    "epsg:3857": EPSG3857,
    "epsg:3035": EPSG3035,
    "ogc:crs84": CRS84,
    "crs84": CRS84,
}
_local = threading.local()  # pyproj transformers are not shared between threads


def parse_crs(text: str, name: str = "crs") -> str:
    """The URI of a supported CRS given as a URI, ``[EPSG:4326]``-style CURIE, URN or
    ``EPSG:n``; InvalidParameterError for any other."""
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    uri = value.replace("https://", "http://", 1)
    if uri in SUPPORTED:
        return uri
    if uri.lower() in _ALIASES:
        return _ALIASES[uri.lower()]
    raise InvalidParameterError(
        f"{name} {text[:80]!r} is not supported; use one of: {', '.join(SUPPORTED)}."
    )


def _transformer(uri: str, inverse: bool) -> Transformer:
    """CRS84 -> *uri* (or back when *inverse*), in the authority axis order of *uri*."""
    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    key = (uri, inverse)
    if key not in cache:
        source, target = CRS.from_user_input("OGC:CRS84"), CRS.from_user_input(SUPPORTED[uri])
        cache[key] = Transformer.from_crs(*((target, source) if inverse else (source, target)))
    return cache[key]


def coordinate_mapper(uri: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """A function from an (n, 2+) array of CRS84 lon/lat to coordinates in *uri* in its
    axis order (heights passed through); None for CRS84 itself."""
    if uri == CRS84:
        return None
    if uri == EPSG4326:  # the same datum: only the axes swap
        return lambda xy: np.column_stack([xy[:, 1], xy[:, 0], xy[:, 2:]])
    transformer = _transformer(uri, inverse=False)

    def project(xy: np.ndarray) -> np.ndarray:
        a, b = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([np.round(a, 3), np.round(b, 3), xy[:, 2:]])  # millimetres

    return project


def _coords(node: Any, out: list[list[float]]) -> None:
    if node and isinstance(node[0], int | float):
        out.append(node)
    else:
        for child in node:
            _coords(child, out)


def _rebuild(node: Any, values: list[list[float]], at: list[int]) -> Any:
    if node and isinstance(node[0], int | float):
        at[0] += 1
        return values[at[0] - 1]
    return [_rebuild(child, values, at) for child in node]


Mapper = Callable[[np.ndarray], np.ndarray]


def transform_geometry(geometry: dict[str, Any] | None, mapper: Mapper) -> dict[str, Any] | None:
    """A GeoJSON geometry (CRS84) with every coordinate passed through *mapper*."""
    if geometry is None:
        return None
    if geometry.get("type") == "GeometryCollection":
        return {**geometry, "geometries": [transform_geometry(g, mapper)
                                           for g in geometry.get("geometries", [])]}  # fmt: skip
    flat: list[list[float]] = []
    _coords(geometry.get("coordinates") or [], flat)
    if not flat:
        return geometry
    width = max(len(c) for c in flat)
    arr = np.array([list(c) + [0.0] * (width - len(c)) for c in flat], dtype=float)
    mapped = mapper(arr)[:, :width].tolist()
    mapped = [m[: len(c)] for m, c in zip(mapped, flat, strict=True)]
    return {**geometry, "coordinates": _rebuild(geometry["coordinates"], mapped, [0])}


def bbox_to_crs84(values: list[float], uri: str) -> BBox:
    """A bbox given in *uri* (lower corner, upper corner, in its axis order) as the
    CRS84 box that contains it (edges densified, so curved edges are covered)."""
    if uri == CRS84:
        return BBox(*values)
    if uri == EPSG4326:
        south, west, north, east = values
        return BBox(west, south, east, north)
    a0, b0, a1, b1 = values
    if a0 > a1 or b0 > b1:
        raise InvalidParameterError("bbox lower corner must not exceed its upper corner.")
    west, south, east, north = _transformer(uri, inverse=True).transform_bounds(
        a0, b0, a1, b1, densify_pts=21)
    if not all(np.isfinite([west, south, east, north])):
        raise InvalidParameterError("bbox lies outside the area of use of bbox-crs.")
    return BBox(max(-180.0, west), max(-90.0, south), min(180.0, east), min(90.0, north))
