"""The embedded backend: one read-only SQLite file, memory-mapped, shared by every worker.

Built from the committed GeoJSON by ``build_file`` (``make data``, or the first
start when the file is missing or older than the data). Each feature's finished
GeoJSON is a column, so an answer is index look-ups plus a join of byte strings.
An R*Tree answers bboxes (it stores float32, rounded outward: points are checked
again against their exact coordinates, other shapes against their geometry); a
B-tree of normalised name keys answers search, with the answers of the broadest
prefixes precomputed.
"""

from __future__ import annotations

import bisect
import fcntl
import functools
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

from service.domain import geometry
from service.domain.collections import QUERYABLES, SMALL_COLLECTIONS, filter_key, iso
from service.domain.errors import (
    FeatureNotFoundError,
    PlaceNotFoundError,
    StoreError,
)
from service.domain.geometry import BBox
from service.domain.records import (
    CollectionMeta,
    Feature,
    FeaturePage,
    ItemsQuery,
    PlacePoint,
    PlaceQuery,
    StoreInfo,
)
from service.domain.search import normalise, skeleton
from service.store.base import CollectionLookup, FrontierQueries, build_frontier
from service.store.nearby import PlaceGrid
from service.store.prepare import PreparedData, fingerprint, place_grid, prepare, small_shapes
from service.store.sql_filters import SQLiteDialect, where_sql

logger = logging.getLogger("service.store.embedded")

#: A search whose normalised text matches at least this many places has its first
#: page precomputed (broad prefixes such as "m" would otherwise rank every match).
BROAD_PREFIX_MATCHES = 1_000
BROAD_PREFIX_TOP = 100
#: Name keys hold only [0-9a-z ]; this sorts after all of them (prefix range end).
_KEY_END = "\x7f"

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE collection(id TEXT PRIMARY KEY, ord INTEGER NOT NULL, title TEXT NOT NULL,
  description TEXT NOT NULL, count INTEGER NOT NULL, west REAL, south REAL, east REAL,
  north REAL, t_start TEXT, t_end TEXT, points INTEGER NOT NULL, base INTEGER NOT NULL);
CREATE TABLE feature(fid INTEGER PRIMARY KEY, coll TEXT NOT NULL, idx INTEGER NOT NULL,
  id TEXT NOT NULL, lon REAL, lat REAL, population INTEGER NOT NULL, body BLOB NOT NULL);
CREATE VIRTUAL TABLE feature_rtree USING rtree(fid, west, east, south, north);
CREATE TABLE filter(coll TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
  fid INTEGER NOT NULL, PRIMARY KEY(coll, name, value, fid)) WITHOUT ROWID;
CREATE TABLE span(fid INTEGER NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL);
CREATE TABLE name(kind INTEGER NOT NULL, key TEXT NOT NULL, fid INTEGER NOT NULL,
  weight INTEGER NOT NULL, PRIMARY KEY(kind, key, fid)) WITHOUT ROWID;
CREATE TABLE broad_prefix(kind INTEGER NOT NULL, key TEXT NOT NULL, matched INTEGER NOT NULL,
  fids BLOB NOT NULL, PRIMARY KEY(kind, key)) WITHOUT ROWID;
CREATE TABLE alias(coll TEXT NOT NULL, old_id TEXT NOT NULL, fid INTEGER NOT NULL,
  PRIMARY KEY(coll, old_id)) WITHOUT ROWID;
CREATE TABLE border_level(border TEXT NOT NULL, simplify_m REAL NOT NULL, body BLOB NOT NULL,
  wkb BLOB NOT NULL, length_km REAL NOT NULL, vertices INTEGER NOT NULL,
  PRIMARY KEY(border, simplify_m)) WITHOUT ROWID;
CREATE TABLE shape(fid INTEGER PRIMARY KEY, wkb BLOB NOT NULL);
CREATE TABLE country_code(iso_a3 TEXT PRIMARY KEY, iso_a2 TEXT NOT NULL, name TEXT NOT NULL)
  WITHOUT ROWID;
CREATE TABLE place_grid(id INTEGER PRIMARY KEY, data BLOB NOT NULL);
"""
_INDEXES = """
CREATE UNIQUE INDEX feature_coll_idx ON feature(coll, idx);
CREATE UNIQUE INDEX feature_coll_id ON feature(coll, id);
CREATE INDEX span_fid ON span(fid);
"""

_SEARCH_SQL = """
SELECT fid, MIN(rank) AS rank FROM (
  SELECT fid, weight + CASE WHEN key = :n THEN 0 ELSE 4 END AS rank
    FROM name WHERE kind = 0 AND key >= :n AND key < :n_end
  UNION ALL
  SELECT fid, weight + CASE WHEN key = :s THEN 2 ELSE 6 END AS rank
    FROM name WHERE kind = 1 AND key >= :s AND key < :s_end
) GROUP BY fid
"""


# ------------------------------------------------------------------ building
def write_file(data: PreparedData, path: Path) -> None:
    """Write *data* as a new SQLite file at *path* (replaced atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.executescript("PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        db.executescript(_SCHEMA)
        base = 0
        for ord_, col in enumerate(data.collections.values()):
            t_start, t_end = col.temporal or (None, None)
            db.execute("INSERT INTO collection VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (col.id, ord_, col.title, col.description, len(col.features), *col.extent,
                        t_start, t_end, int(col.points), base))  # fmt: skip
            db.executemany(
                "INSERT INTO feature VALUES (?,?,?,?,?,?,?,?)",
                ((base + f.idx, col.id, f.idx, f.id, *(f.lonlat or (None, None)), f.population,
                  f.body) for f in col.features),
            )  # fmt: skip
            db.executemany(
                "INSERT INTO feature_rtree VALUES (?,?,?,?,?)",
                ((base + f.idx, f.bbox[0], f.bbox[2], f.bbox[1], f.bbox[3])
                 for f in col.features if f.bbox is not None),
            )  # fmt: skip
            db.executemany("INSERT OR IGNORE INTO filter VALUES (?,?,?,?)",
                           ((col.id, name, value, base + f.idx)
                            for f in col.features for name, value in f.filters))  # fmt: skip
            db.executemany("INSERT INTO span VALUES (?,?,?)",
                           ((base + f.idx, a, b) for f in col.features for a, b in f.spans))
            db.executemany("INSERT OR IGNORE INTO alias VALUES (?,?,?)",
                           ((col.id, old, base + f.idx)
                            for f in col.features for old in f.former_ids))  # fmt: skip
            db.executemany("INSERT INTO name VALUES (?,?,?,?)",
                           ((kind, key, base + f.idx, weight)
                            for f in col.features for kind, key, weight in f.names))  # fmt: skip
            base += len(col.features)
        db.executemany("INSERT INTO border_level VALUES (?,?,?,?,?,?)",
                       [(*level, *shape) for level, shape in zip(
                           data.border_levels, data.border_level_shapes, strict=True)])
        db.executemany("INSERT INTO shape VALUES (?,?)", small_shapes(data))
        db.executemany("INSERT INTO country_code VALUES (?,?,?)", data.country_codes)
        db.execute("INSERT INTO place_grid VALUES (0, ?)", (place_grid(data).to_bytes(),))
        db.executescript(_INDEXES)
        _write_broad_prefixes(db)
        db.executemany("INSERT INTO meta VALUES (?,?)", [
            ("fingerprint", data.fingerprint), ("data_version", data.data_version),
            ("data_time", data.data_time)])
        db.execute("ANALYZE")
        db.commit()
    finally:
        db.close()
    os.replace(tmp, path)


def _write_broad_prefixes(db: sqlite3.Connection) -> None:
    """Precompute the first page of every search key prefix that matches many places.

    The answer stored for a prefix is the one a live search for that text gives
    (exact and skeleton keys together), so a look-up can replace the ranking. The
    ranking is ``_SEARCH_SQL`` + ``_ranked`` done with numpy over the sorted key rows
    (the live SQL, run once per candidate, took minutes at a million places): the same
    ranks (weight + 0 exact, 2 skeleton, 4 prefix, 6 skeleton prefix; the best per
    place), the same order (rank, population descending, data order) and count.

    Stored: every candidate matching at least a fifth of ``BROAD_PREFIX_MATCHES`` places
    (a live ranking costs about a millisecond per thousand matches, so what is left to
    rank live stays well under a millisecond at any size). Candidates: key prefixes of up
    to 8 characters shared by many keys, plus every key prefix of up to 5 characters,
    whose skeleton may be broad although few keys start with it ("vve" -> "ve").
    """
    keys = [k for (k,) in db.execute("SELECT DISTINCT key FROM name WHERE kind = 0 ORDER BY key")]
    rows: list[NameRows] = []
    for kind in (0, 1):  # every name row of each kind, in key order (the primary key's)
        got = db.execute("SELECT key, fid, weight FROM name WHERE kind = ? ORDER BY key, fid",
                         (kind,)).fetchall()  # fmt: skip
        rows.append(([r[0] for r in got], np.fromiter((r[1] for r in got), np.int64, len(got)),
                     np.fromiter((r[2] for r in got), np.int64, len(got))))  # fmt: skip
        del got
    top = db.execute("SELECT MAX(fid) FROM feature").fetchone()[0]
    population = np.zeros(int(top or 0) + 1, dtype=np.int64)
    for fid, pop in db.execute("SELECT fid, population FROM feature"):
        population[fid] = pop
    out = broad_prefix_rows(keys, rows, population)
    db.executemany("INSERT INTO broad_prefix VALUES (0,?,?,?)",
                   [(p, m, fids.astype("<i8").tobytes()) for p, m, fids in out])


#: Name rows of one kind in (key, fid) order: keys, fids, weights.
NameRows = tuple[list[str], np.ndarray, np.ndarray]


def prepared_name_rows(data: PreparedData) -> tuple[list[str], list[NameRows], np.ndarray]:
    """What ``broad_prefix_rows`` needs, from prepared data: the distinct exact keys
    (sorted), the name rows of each kind in (key, fid) order, population by fid."""
    base = 0
    by_kind: list[list[tuple[str, int, int]]] = [[], []]
    population = np.zeros(sum(len(c.features) for c in data.collections.values()), np.int64)
    for col in data.collections.values():
        for f in col.features:
            population[base + f.idx] = f.population
            for kind, key, weight in f.names:
                by_kind[kind].append((key, base + f.idx, weight))
        base += len(col.features)
    rows: list[NameRows] = []
    for got in by_kind:
        got.sort()  # keys are ASCII [0-9a-z ]: str order is SQLite's BINARY order
        rows.append(([r[0] for r in got], np.fromiter((r[1] for r in got), np.int64, len(got)),
                     np.fromiter((r[2] for r in got), np.int64, len(got))))  # fmt: skip
    keys = rows[0][0]
    distinct = [k for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]]
    return distinct, rows, population


def broad_prefix_rows(keys: list[str], rows: list[NameRows],
                      population: np.ndarray) -> list[tuple[str, int, np.ndarray]]:  # fmt: skip
    """(prefix, numberMatched, first ``BROAD_PREFIX_TOP`` fids) of every broad prefix.

    *keys*: the distinct exact (kind 0) keys, sorted; *rows*: the name rows of kinds 0
    and 1 in (key, fid) order; *population*: by fid. See ``_write_broad_prefixes``.
    """
    least = max(1, BROAD_PREFIX_MATCHES // 5)
    # Keys hold only [0-9a-z ] (ASCII): their first 8 bytes, sorted as the keys are.
    heads = np.array([k[:8].encode() for k in keys], dtype="S8")
    lengths = np.fromiter((len(k) for k in keys), np.int64, len(keys))
    candidates: set[str] = set()
    for length in range(1, 9):  # only prefixes shared by many keys can match many places
        cut = heads[lengths >= length].astype(f"S{length}")  # still sorted
        if not len(cut):
            break
        starts = np.flatnonzero(np.r_[True, cut[1:] != cut[:-1]])
        counts = np.diff(np.r_[starts, len(cut)])  # distinct keys per prefix
        wide = {p.decode() for p in cut[starts[counts >= max(1, least // 4)]]}
        if length <= 5:
            candidates |= {p.decode() for p in cut[starts]}
        elif not wide:
            break
        candidates |= wide
    if not candidates:
        return []
    out = []
    for prefix in sorted(candidates):
        params = _search_keys(prefix)
        if params is None:
            continue
        spans = []
        for (keys_, fids, weights), lo_key, exact_rank, prefix_rank in (
            (rows[0], params["n"], 0, 4), (rows[1], params["s"], 2, 6)):
            lo = bisect.bisect_left(keys_, lo_key)
            hi = bisect.bisect_left(keys_, lo_key + _KEY_END, lo)
            eq = bisect.bisect_right(keys_, lo_key, lo, hi)
            spans.append((fids, weights, lo, hi, eq, exact_rank, prefix_rank))
        if sum(hi - lo for _, _, lo, hi, _, _, _ in spans) < least:
            continue  # fewer rows than the threshold: fewer places too
        fid = np.concatenate([f[lo:hi] for f, _, lo, hi, _, _, _ in spans])
        rank = np.concatenate([
            w[lo:hi] + np.where(np.arange(lo, hi) < eq, exact, pre)
            for _, w, lo, hi, eq, exact, pre in spans])  # fmt: skip
        order = np.lexsort((rank, fid))  # by fid, best rank first
        fid, rank = fid[order], rank[order]
        first = np.ones(len(fid), dtype=bool)
        first[1:] = fid[1:] != fid[:-1]
        fid, rank = fid[first], rank[first]  # MIN(rank) GROUP BY fid
        if len(fid) < least:
            continue
        best = np.lexsort((fid, -population[fid], rank))[:BROAD_PREFIX_TOP]
        out.append((prefix, len(fid), fid[best]))
    return out


def _search_keys(q: str) -> dict[str, str] | None:
    """The SQL parameters of a name search for *q* (None when it has no letters or digits)."""
    n, s = normalise(q), skeleton(q)
    if not n:
        return None
    s = s or _KEY_END
    return {"n": n, "n_end": n + _KEY_END, "s": s, "s_end": s + _KEY_END}


def _ranked(db: sqlite3.Connection, keys: dict[str, str]) -> list[tuple[int, int]]:
    """(fid, rank) of every match, best first: rank, then population, then data order."""
    sql = (f"SELECT h.fid, h.rank FROM ({_SEARCH_SQL}) h JOIN feature f ON f.fid = h.fid "
           "ORDER BY h.rank, f.population DESC, f.idx")  # fmt: skip
    return [(int(fid), int(rank)) for fid, rank in db.execute(sql, keys)]


def build_file(data_dir: Path, path: Path) -> PreparedData:
    """Prepare *data_dir* and write the SQLite file at *path*; returns what it wrote."""
    started = time.perf_counter()
    data = prepare(data_dir)
    write_file(data, path)
    logger.info("built %s from %s in %.1f s", path, data_dir, time.perf_counter() - started)
    return data


def _file_fingerprint(path: Path) -> str | None:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def ensure_file(data_dir: Path, path: Path) -> bool:
    """Build the file at *path* unless it exists and matches *data_dir*; True if built.

    Several workers starting at once build it once: the others wait on a lock.
    """
    wanted, _ = fingerprint(data_dir)
    if path.exists() and _file_fingerprint(path) == wanted:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists() and _file_fingerprint(path) == wanted:
            return False
        logger.info("building the embedded store %s (missing or older than the data)", path)
        build_file(data_dir, path)
        return True


# ------------------------------------------------------------------ reading
@functools.lru_cache(maxsize=64)
def _prepared(wkb: bytes) -> Any:
    """A filter shape from its WKB, prepared for repeated intersection tests."""
    shape = shapely.from_wkb(wkb)
    shapely.prepare(shape)
    return shape


def _bbox_sql(bbox: BBox) -> tuple[str, list[float]]:
    """SQL (on alias f) and parameters: R*Tree candidates, points checked exactly."""
    clauses, params = [], []
    for w, s, e, n in geometry.bbox_ranges(bbox):
        clauses.append(
            "(f.fid IN (SELECT fid FROM feature_rtree WHERE west <= ? AND east >= ? "
            "AND south <= ? AND north >= ?) AND (f.lon IS NULL OR "
            "(f.lon BETWEEN ? AND ? AND f.lat BETWEEN ? AND ?)))"
        )
        params += [e, w, n, s, w, e, s, n]
    return "(" + " OR ".join(clauses) + ")", params


class EmbeddedStore(CollectionLookup, FrontierQueries):
    """The FeatureStore over a read-only SQLite file."""

    def __init__(self, path: Path, mmap_bytes: int = 1 << 30) -> None:
        started = time.perf_counter()
        if not path.exists():
            raise StoreError(f"{path}: the embedded store file does not exist")
        try:
            self.db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True,
                                      check_same_thread=False)  # fmt: skip
            self.db.execute(f"PRAGMA mmap_size={int(mmap_bytes)}")
            self.db.create_function("atlas_intersects", 6, self._intersects,
                                    deterministic=True)  # fmt: skip
            meta = dict(self.db.execute("SELECT key, value FROM meta"))
            self._collections = self._read_collections()
            small = {cid: list(self.db.execute(
                "SELECT f.id, f.body, s.wkb FROM feature f LEFT JOIN shape s ON s.fid = f.fid "
                "WHERE f.coll = ? ORDER BY f.idx", (cid,)))
                for cid in ("borders", "countries", "crossings")}  # fmt: skip
            levels = self.db.execute(
                "SELECT border, simplify_m, body, wkb, length_km, vertices FROM border_level")
            codes = self.db.execute("SELECT iso_a3, iso_a2, name FROM country_code")
            self.frontier = build_frontier(small, levels, codes)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a readable store file ({exc})") from None
        self.path = path
        self._grid: PlaceGrid | None = None
        self.info = StoreInfo("embedded", meta.get("data_version", "unknown"),
                              meta.get("data_time", ""), str(path),
                              time.perf_counter() - started)  # fmt: skip

    @classmethod
    def open(cls, data_dir: Path, path: Path, mmap_bytes: int = 1 << 30) -> EmbeddedStore:
        """Open the file at *path*, building it first if it is missing or stale."""
        ensure_file(data_dir, path)
        return cls(path, mmap_bytes)

    def _read_collections(self) -> dict[str, tuple[CollectionMeta, bool, int]]:
        out = {}
        for row in self.db.execute(
            "SELECT id, title, description, count, west, south, east, north, t_start, t_end, "
            "points, base FROM collection ORDER BY ord"
        ):
            cid, title, description, count, w, s, e, n, t0, t1, points, base = row
            meta = CollectionMeta(cid, title, description, count, BBox(w, s, e, n),
                                  (t0, t1) if t0 else None, QUERYABLES.get(cid, ()))  # fmt: skip
            out[cid] = (meta, bool(points), int(base))
        return out

    async def close(self) -> None:
        """Close the file."""
        self.db.close()

    def _by_id(self, collection_id: str, feature_id: str) -> Sequence[Any] | None:
        """The row of a feature by its id, or by an id it had in earlier data."""
        row = self.db.execute("SELECT id, body, lon, lat FROM feature WHERE coll = ? AND id = ?",
                              (collection_id, feature_id)).fetchone()  # fmt: skip
        if row is None:
            row = self.db.execute(
                "SELECT f.id, f.body, f.lon, f.lat FROM alias a JOIN feature f ON f.fid = a.fid "
                "WHERE a.coll = ? AND a.old_id = ?", (collection_id, feature_id)).fetchone()
        return row

    async def feature(self, collection_id: str, feature_id: str) -> Feature:
        """One feature by id (or an id it had before), or FeatureNotFoundError."""
        meta, _, _ = self._meta(collection_id)
        row = self._by_id(collection_id, feature_id)
        if row is None:
            raise FeatureNotFoundError(
                f"No feature with id {feature_id!r} in collection {collection_id!r}; it has "
                f"{meta.count} features, list them at /collections/{collection_id}/items."
            )
        return self._features(collection_id, [row])[0]

    async def items(self, collection_id: str, query: ItemsQuery) -> FeaturePage:
        """A page of the features matching bbox, filters, datetime, expression and ids, in
        data order or sorted by ``query.sortby``."""
        meta, points, base = self._meta(collection_id)
        if query.everything:
            rows = self.db.execute(
                "SELECT id, body, lon, lat FROM feature WHERE fid >= ? AND fid < ? ORDER BY fid",
                (base + query.offset, base + min(query.offset + query.limit, meta.count)),
            )  # index range: no OFFSET walk
            return FeaturePage(meta.count, self._features(collection_id, rows))
        where, params = ["f.coll = ?"], [collection_id]
        if query.bbox is not None:
            sql, values = _bbox_sql(query.bbox)
            where.append(sql)
            params += values
        for name, value in query.filters.items():
            where.append("f.fid IN (SELECT fid FROM filter WHERE coll = ? AND name = ? "
                         "AND value = ?)")  # fmt: skip
            params += [collection_id, name, filter_key(value)]
        if query.interval is not None:
            start, end = (iso(t) if t else None for t in query.interval)
            # Features without dates are not ruled out by a datetime (they have no time).
            where.append("(NOT EXISTS (SELECT 1 FROM span s WHERE s.fid = f.fid) OR "
                         "EXISTS (SELECT 1 FROM span s WHERE s.fid = f.fid "
                         "AND (? IS NULL OR s.start <= ?) AND (? IS NULL OR s.end > ?)))")
            params += [end, end, start, start]
        if query.ids is not None:
            where.append(f"f.id IN ({','.join('?' * len(query.ids))})")
            params += list(query.ids)
        extra: list[Any] = []
        dialect = SQLiteDialect(lambda value: extra.append(value) or "?")
        if query.where is not None:
            where.append(where_sql(query.where, dialect))
        order = ", ".join([*(dialect.order(k) for k in query.sortby), "f.fid"])
        params += extra
        sql = f"SELECT f.id, f.body, f.lon, f.lat FROM feature f WHERE {' AND '.join(where)}"
        if query.bbox is not None and not points and collection_id in (
            "borders", "countries", "crossings"):
            # Lines and polygons: the R*Tree finds candidates, their shapes decide.
            rows = self.db.execute(sql + " ORDER BY " + order, params).fetchall()
            parts = geometry.bbox_parts(query.bbox)
            layer = getattr(self.frontier, collection_id)
            rows = [r for r in rows if any(layer[r[0]].geometry.intersects(p) for p in parts)]
            page = rows[query.offset: query.offset + query.limit]
            return FeaturePage(len(rows), self._features(collection_id, page))
        matched = self.db.execute(f"SELECT COUNT(*) FROM ({sql})", params).fetchone()[0]
        rows = self.db.execute(sql + f" ORDER BY {order} LIMIT ? OFFSET ?",
                               [*params, query.limit, query.offset])  # fmt: skip
        return FeaturePage(matched, self._features(collection_id, rows))

    def _intersects(self, wkb: bytes, coll: str, fid: str, lon: float | None,
                    lat: float | None, body: bytes) -> int:  # fmt: skip
        """``atlas_intersects``: the feature's exact geometry intersects the WKB shape."""
        shape = _prepared(wkb)
        if lon is not None:
            return int(shapely.intersects_xy(shape, lon, lat))
        layer = getattr(self.frontier, coll, None) if coll in SMALL_COLLECTIONS else None
        if layer is not None and fid in layer:
            return int(shape.intersects(layer[fid].geometry))
        geom = orjson.loads(body).get("geometry")
        return int(bool(geom) and shape.intersects(shapely.from_geojson(orjson.dumps(geom))))

    # ------------------------------------------------------------ places
    def _name_hits(self, q: str) -> list[tuple[int, int]] | None:
        """(fid, rank) of every place whose names match *q*, best first; None if no key."""
        keys = _search_keys(q)
        return None if keys is None else _ranked(self.db, keys)

    def _broad(self, q: str, limit: int, offset: int) -> FeaturePage | None:
        """The precomputed first page of a very broad prefix, when it covers the request."""
        n = normalise(q)
        if offset + limit > BROAD_PREFIX_TOP or not n:
            return None
        row = self.db.execute("SELECT matched, fids FROM broad_prefix WHERE kind = 0 AND key = ?",
                              (n,)).fetchone()  # fmt: skip
        if row is None:
            return None
        matched, blob = row
        fids = np.frombuffer(blob, dtype="<i8")[offset: offset + limit].tolist()
        return FeaturePage(int(matched), self._by_fids(fids))

    def _by_fids(self, fids: Sequence[int]) -> list[Feature]:
        if not fids:
            return []
        marks = ",".join("?" * len(fids))
        rows = {r[0]: r[1:] for r in self.db.execute(
            f"SELECT fid, id, body, lon, lat FROM feature WHERE fid IN ({marks})", list(fids))}
        return self._features("places", (rows[f] for f in fids))

    def _place_grid(self) -> PlaceGrid:
        """The places' points for ``near`` (read from the file when first asked)."""
        if self._grid is None:
            (blob,) = self.db.execute("SELECT data FROM place_grid WHERE id = 0").fetchone()
            self._grid = PlaceGrid.from_bytes(blob)
        return self._grid

    def _measure_near(self, lon: float, lat: float, radius: float, box: BBox) -> dict[int, float]:
        """fid -> distance (km) of every place in *box* within *radius*, each one measured
        (for boxes across the antimeridian or near a pole, where the grid is not used)."""
        sql, params = _bbox_sql(box)
        rows = self.db.execute(
            f"SELECT f.fid, f.lon, f.lat FROM feature f WHERE f.coll = 'places' AND {sql}",
            params).fetchall()  # fmt: skip
        if not rows:
            return {}
        arr = np.asarray(rows, dtype=float)
        dist = geometry.geodesic_distances_km(lon, lat, arr[:, 1], arr[:, 2])
        return {int(f): float(d) for f, d in zip(arr[:, 0], dist, strict=True) if d <= radius}

    async def search_places(self, query: PlaceQuery) -> FeaturePage:
        """Places by name (best match, then population) and/or distance (nearest first)."""
        meta, _, base = self._meta("places")
        allowed: set[int] | None = None
        for name, value in query.filters.items():
            fids = {r[0] for r in self.db.execute(
                "SELECT fid FROM filter WHERE coll = 'places' AND name = ? AND value = ?",
                (name, filter_key(value)))}  # fmt: skip
            allowed = fids if allowed is None else allowed & fids
        distances: dict[int, float] = {}
        if query.near is not None:
            lon, lat = query.near
            radius = query.radius_km if query.radius_km is not None else 25.0
            box = geometry.degrees_around(lon, lat, radius)
            if PlaceGrid.usable(lon, lat, radius, box):
                grid = self._place_grid()
                if not query.q and allowed is None:  # the k nearest and how many in all
                    matched, fids, dist = grid.nearest(lon, lat, radius, box,
                                                       query.offset + query.limit)  # fmt: skip
                    page = fids[query.offset:].tolist()
                    return FeaturePage(matched, self._by_fids(page),
                                       [round(float(d), 3) for d in dist[query.offset:]])
                fids, dist = grid.all_within(lon, lat, radius, box)
                distances = dict(zip(fids.tolist(), dist.tolist(), strict=True))
            else:
                distances = self._measure_near(lon, lat, radius, box)
        if query.q:
            if query.near is None and allowed is None:
                broad = self._broad(query.q, query.limit, query.offset)
                if broad is not None:
                    return broad
            hits = self._name_hits(query.q) or []
            order = [fid for fid, _ in hits]
            if query.near is not None:
                order = [f for f in order if f in distances]
        elif query.near is not None:
            order = sorted(distances, key=lambda f: (distances[f], f))
        else:
            if allowed is None:
                page = await self.items("places", ItemsQuery(limit=query.limit,
                                                             offset=query.offset))  # fmt: skip
                return page
            order = sorted(allowed)
        if allowed is not None:
            order = [f for f in order if f in allowed]
        page = order[query.offset: query.offset + query.limit]
        features = self._by_fids(page)
        dists = [round(distances[f], 3) if f in distances else None for f in page]
        return FeaturePage(len(order), features, dists if query.near is not None else [])

    async def place(self, place_id: str) -> Feature:
        """A place by id (or an id it had before), or PlaceNotFoundError with a hint."""
        row = self._by_id("places", place_id)
        if row is not None:
            return self._features("places", [row])[0]
        hits = (self._name_hits(place_id) or [])[:3]
        hint = (" Did you mean " + ", ".join(f.id for f in self._by_fids([h for h, _ in hits]))
                + "?") if hits else " Search by name with /places?q="  # fmt: skip
        raise PlaceNotFoundError(f"No place with id {place_id!r}.{hint}")

    async def places_within(self, bbox: BBox) -> list[PlacePoint]:
        """Every place inside *bbox*, largest population first."""
        sql, params = _bbox_sql(bbox)
        rows = self.db.execute(
            f"SELECT f.id, f.lon, f.lat, f.population FROM feature f WHERE f.coll = 'places' "
            f"AND {sql} ORDER BY f.population DESC, f.idx", params)  # fmt: skip
        return [PlacePoint(i, lon, lat, pop) for i, lon, lat, pop in rows]


def describe(path: Path) -> dict[str, Any]:
    """Size and version of a built file (for the CLI)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        counts = dict(db.execute("SELECT id, count FROM collection"))
    finally:
        db.close()
    return {"path": str(path), "bytes": path.stat().st_size, **meta, "counts": counts}


__all__ = ["EmbeddedStore", "build_file", "ensure_file", "describe", "orjson"]
