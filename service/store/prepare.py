"""Turn the committed GeoJSON (the source of truth) into the rows every backend loads.

One pass over ``geodata/*.geojson``: borders measured and named, every feature
serialized once, its bbox, point, time spans, filter values and search keys
computed. The embedded SQLite file and the PostGIS tables are written from the
same ``PreparedData``, so both backends answer with identical bytes.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from service.domain import geometry
from service.domain.collections import (
    COLLECTION_IDS,
    SMALL_COLLECTIONS,
    filter_values,
    iso,
    time_spans,
    title_of,
)
from service.domain.errors import StoreError
from service.domain.frontier import simplified_level
from service.domain.records import Feature
from service.domain.search import normalise, skeleton
from service.store.nearby import PlaceGrid

logger = logging.getLogger("service.store.prepare")

#: Bumped when the prepared rows change shape, so that older built files are rebuilt.
SCHEMA_VERSION = "5"
#: Border levels of detail (metres) prepared for every border.
SIMPLIFY_LEVELS_M = (100.0, 1_000.0, 5_000.0)


@dataclass
class PreparedFeature:
    """One feature with everything the indexes need."""

    idx: int
    id: str
    body: bytes
    geometry: BaseGeometry | None
    bbox: tuple[float, float, float, float] | None
    lonlat: tuple[float, float] | None
    population: int
    spans: list[tuple[str, str]]
    filters: list[tuple[str, str]]
    names: list[tuple[int, str, int]]  # (0 exact | 1 skeleton, key, weight)
    former_ids: list[str] = field(default_factory=list)  # ids it had in earlier data


@dataclass
class PreparedCollection:
    """A collection's features and metadata."""

    id: str
    title: str
    description: str
    features: list[PreparedFeature]
    extent: tuple[float, float, float, float]
    temporal: tuple[str, str] | None
    points: bool


@dataclass
class PreparedData:
    """All rows of a dataset, plus its version and fingerprint."""

    collections: dict[str, PreparedCollection]
    border_levels: list[tuple[str, float, bytes]]
    country_codes: list[tuple[str, str, str]]  # (alpha-3, alpha-2, English name)
    data_version: str
    data_time: str
    fingerprint: str
    extra: dict[str, Any] = field(default_factory=dict)
    #: Per border level (same order as ``border_levels``): WKB, length (km), vertices.
    border_level_shapes: list[tuple[bytes, float, int]] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(data_dir: Path) -> dict[str, Any]:
    """``manifest.json`` of the data directory ({} when there is none)."""
    path = data_dir / "manifest.json"
    if not path.exists():
        return {}
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"{path}: not valid JSON ({exc})") from None


def source_files(data_dir: Path) -> list[Path]:
    """The GeoJSON files of the collections present in *data_dir*, in API order."""
    files = [data_dir / f"{cid}.geojson" for cid in COLLECTION_IDS]
    present = [f for f in files if f.exists()]
    missing = [f.name for f in files[:4] if not f.exists()]
    if missing:
        raise StoreError(f"{data_dir}: missing {', '.join(missing)}")
    return present


def fingerprint(data_dir: Path) -> tuple[str, str]:
    """(fingerprint, data version) of the data in *data_dir*.

    The checksums come from ``manifest.json`` when it lists a file (the geodata
    tests check that they are right); other files are hashed here. The data
    version is the manifest's ``version.id`` when the build wrote one, else a
    short hash of the checksums, so every worker and replica agrees on it.
    """
    manifest = read_manifest(data_dir)
    outputs = manifest.get("outputs") or {}
    sums = []
    for path in source_files(data_dir) + [data_dir / "curated" / "countries.csv"]:
        if not path.exists():
            continue
        listed = (outputs.get(path.name) or {}).get("sha256")
        sums.append(f"{path.name}:{listed or _sha256(path)}")
    digest = hashlib.sha256("\n".join(sums).encode()).hexdigest()
    version = (manifest.get("version") or {}).get("id") or f"sha256-{digest[:12]}"
    return hashlib.sha256(f"{SCHEMA_VERSION}\n{digest}".encode()).hexdigest(), str(version)


def data_time(data_dir: Path) -> str:
    """When the data was built (RFC 3339, UTC): the manifest's ``version.built`` date, else
    the moment of this preparation."""
    built = (read_manifest(data_dir).get("version") or {}).get("built")
    if isinstance(built, str) and len(built) >= 10:
        return built[:10] + "T00:00:00Z" if len(built) == 10 else built
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _load(path: Path) -> list[dict[str, Any]]:
    try:
        document = orjson.loads(path.read_bytes())
        features = document["features"]
        if not isinstance(features, list):
            raise TypeError("features is not a list")
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise StoreError(f"{path}: not a GeoJSON FeatureCollection ({exc})") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot be read ({exc.strerror})") from None
    if path.stem in SMALL_COLLECTIONS and not features:
        raise StoreError(f"{path}: has no features; the service needs its {path.stem}")
    seen: set[str] = set()
    for n, feature in enumerate(features):
        if not isinstance(feature, dict) or "id" not in feature:
            raise StoreError(f"{path}: feature {n} has no id")
        fid = str(feature["id"])
        if fid in seen:
            raise StoreError(f"{path}: feature id {fid[:60]!r} appears twice")
        seen.add(fid)
    return features


def _country_codes(data_dir: Path, countries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(alpha-3, alpha-2, name) from the curated table and the country features."""
    rows: dict[str, tuple[str, str, str]] = {}
    table = data_dir / "curated" / "countries.csv"
    if table.exists():
        with table.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rows[row["iso_a3"]] = (row["iso_a3"], row["iso_a2"], row["name"])
    for f in countries:
        props = f.get("properties") or {}
        if props.get("iso_a3") and props.get("iso_a2"):
            rows[props["iso_a3"]] = (props["iso_a3"], props["iso_a2"],
                                     props.get("name") or props["iso_a2"])  # fmt: skip
    return list(rows.values())


def _measure_borders(features: list[dict[str, Any]], geoms: list[BaseGeometry],
                     codes: list[tuple[str, str, str]]) -> None:  # fmt: skip
    """Geodesic length (km) and country codes and names on every border (in place)."""
    alpha3 = {a2: a3 for a3, a2, _ in codes}
    names = {a2: name for _, a2, name in codes}
    for feature, geom in zip(features, geoms, strict=True):
        props = feature.setdefault("properties", {})
        props["length_km"] = round(geometry.geodesic_length_km(geom), 3)
        pair = props.get("countries") or str(feature["id"]).split("-")
        props["countries_alpha3"] = [alpha3.get(c, c) for c in pair]
        props["country_names"] = [names.get(c, c) for c in pair]


def _names(props: dict[str, Any], fid: str) -> list[tuple[int, str, int]]:
    """Search keys of a place: its primary name (weight 0), every other name (weight 1)."""
    others = [props.get("name_local"), props.get("name_en"), props.get("name_ru"),
              props.get("name_be"), fid, *(props.get("alternate_names") or [])]  # fmt: skip
    best: dict[tuple[int, str], int] = {}
    keys: dict[str, tuple[str, str]] = {}  # a place repeats names across its fields
    for weight, name in ((0, props.get("name")), *((1, n) for n in others)):
        if not isinstance(name, str):
            continue
        if name not in keys:
            exact = normalise(name)
            keys[name] = (exact, skeleton(name) if exact else "")
        exact, skel = keys[name]
        if not exact:
            continue
        for kind, key in ((0, exact), (1, skel)):
            if key and weight < best.get((kind, key), 2):
                best[(kind, key)] = weight
    return [(kind, key, weight) for (kind, key), weight in best.items()]


def _collection(cid: str, features: list[dict[str, Any]],
                geoms: list[BaseGeometry | None]) -> PreparedCollection:  # fmt: skip
    rows = []
    west = south = np.inf
    east = north = -np.inf
    starts, ends = [], []
    points = bool(features)
    # Bounds and types of all shapes at once (a point's bounds are its coordinates).
    shapes = np.empty(len(geoms), dtype=object)
    shapes[:] = list(geoms)
    present = ~(shapely.is_missing(shapes) | shapely.is_empty(shapes))
    all_bounds = shapely.bounds(shapes).tolist()
    is_point = (shapely.get_type_id(shapes) == shapely.GeometryType.POINT).tolist()
    for idx, (feature, geom) in enumerate(zip(features, geoms, strict=True)):
        fid = str(feature.get("id", idx))
        props = feature.get("properties") or {}
        bounds = None
        lonlat = None
        if present[idx]:
            w, s, e, n = all_bounds[idx]
            bounds = (w, s, e, n)
            west, south, east, north = min(west, w), min(south, s), max(east, e), max(north, n)
            if is_point[idx]:
                lonlat = (w, s)
        if lonlat is None:
            points = False
        spans = [(iso(a), iso(b)) for a, b in time_spans(props)]
        starts += [a for a, _ in spans]
        ends += [b for _, b in spans]
        body = bytes(memoryview(orjson.dumps(feature)))
        rows.append(PreparedFeature(
            idx, fid, body, geom, bounds, lonlat, int(props.get("population") or 0), spans,
            list(filter_values(cid, props)), _names(props, fid) if cid == "places" else [],
            [str(i) for i in props.get("former_ids") or [] if str(i) != fid],
        ))  # fmt: skip
    title, description = title_of(cid)
    extent = (float(west), float(south), float(east), float(north)) if rows and np.isfinite(west) \
        else (-180.0, -90.0, 180.0, 90.0)
    temporal = (min(starts), max(ends)) if starts else None
    return PreparedCollection(cid, title, description, rows, extent, temporal, points)


def prepare(data_dir: Path) -> PreparedData:
    """Read and prepare every collection in *data_dir*."""
    fp, version = fingerprint(data_dir)
    raw = {path.stem: _load(path) for path in source_files(data_dir)}
    geoms: dict[str, list[BaseGeometry | None]] = {}
    for cid, features in raw.items():
        try:
            texts = [orjson.dumps(f["geometry"]) if f.get("geometry") else None for f in features]
            empty = b'{"type":"Point","coordinates":[]}'
            parsed = shapely.from_geojson([t or empty for t in texts])
        except (shapely.errors.GEOSException, KeyError, TypeError) as exc:
            raise StoreError(f"{data_dir / (cid + '.geojson')}: bad geometry ({exc})") from None
        geoms[cid] = [g if t else None for g, t in zip(parsed, texts, strict=True)]
    codes = _country_codes(data_dir, raw["countries"])
    _measure_borders(raw["borders"], geoms["borders"], codes)  # type: ignore[arg-type]
    collections = {cid: _collection(cid, raw[cid], geoms[cid]) for cid in raw}
    levels, shapes = [], []
    for row in collections["borders"].features:
        assert row.geometry is not None
        metric = geometry.to_metric(row.geometry)  # projected once for every level
        border = Feature("borders", row.id, row.body)
        for tolerance in SIMPLIFY_LEVELS_M:
            level = simplified_level(border, row.geometry, tolerance, metric)
            levels.append((row.id, tolerance, level.body))
            shapes.append((shapely.to_wkb(level.geometry), level.length_km, level.vertices))
    return PreparedData(collections, levels, codes, version, data_time(data_dir), fp,
                        border_level_shapes=shapes)


def small_shapes(data: PreparedData) -> list[tuple[int, bytes]]:
    """(fid, WKB) of every feature of the small layers, so that opening a store reads
    their shapes without parsing GeoJSON (fid = the collection's base + idx)."""
    out, base = [], 0
    for cid, col in data.collections.items():
        if cid in SMALL_COLLECTIONS:
            wkb = shapely.to_wkb([f.geometry for f in col.features])
            out += [(base + f.idx, bytes(w)) for f, w in zip(col.features, wkb, strict=True)
                    if w is not None]  # fmt: skip
        base += len(col.features)
    return out


def iter_small(data: PreparedData) -> Iterator[str]:
    """The small collections present."""
    return (cid for cid in SMALL_COLLECTIONS if cid in data.collections)


def place_grid(data: PreparedData) -> PlaceGrid:
    """The places' exact points and fids (fid = the collection's base + idx, as both
    backends number features), ordered for ``near`` questions."""
    base = 0
    for cid, col in data.collections.items():
        if cid == "places":
            rows = [(base + f.idx, *f.lonlat) for f in col.features if f.lonlat is not None]
            arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
            return PlaceGrid.build(arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2])
        base += len(col.features)
    return PlaceGrid.build(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
