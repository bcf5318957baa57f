"""The PostGIS backend: the same rows as the embedded file, in PostgreSQL, for replicas.

``load`` imports what ``prepare`` produces (the finished GeoJSON bytes of every
feature, its geometry in EPSG:4326, filter values, time spans and name keys) into
a fresh schema and swaps it in atomically. ``PostgisStore`` answers every query
with one statement where it can, over an ``AsyncConnectionPool``, and answers
exactly as ``EmbeddedStore`` does: the same bytes, order, counts and distances.

Where the two must agree to the last bit, this module does what the embedded
store does rather than what PostGIS would do by itself: points are re-checked
against their exact lon/lat, distances for ``near`` are computed in Python with
the same geodesic function, and shapes outside the small layers are matched by
the same float32 envelope the SQLite R*Tree holds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import shapely
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from service.domain import geometry
from service.domain.collections import QUERYABLES, SMALL_COLLECTIONS, filter_key, iso
from service.domain.errors import (
    FeatureNotFoundError,
    PlaceNotFoundError,
    StoreError,
)
from service.domain.frontier import Frontier
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
from service.store import embedded
from service.store.base import CollectionLookup, FrontierQueries, build_frontier
from service.store.nearby import PlaceGrid
from service.store.prepare import PreparedData, fingerprint, place_grid, prepare, small_shapes
from service.store.sql_filters import PostgisDialect, where_sql

logger = logging.getLogger("service.store.postgis")

#: Name keys hold only [0-9a-z ]; this sorts after all of them (prefix range end).
_KEY_END = "\x7f"
#: Degrees added around a bbox for the GiST look-up: wider than any float32 rounding
#: of either index, so the exact checks that follow see every candidate.
_SLACK_DEG = 1e-4
#: Seconds to wait for the server when opening a store.
CONNECT_TIMEOUT_S = 5
#: Features sent beyond the requested page with a nearest-places answer, in case the
#: server's approximate pre-ranking and the exact geodesic ranking disagree.
NEAR_SPARE = 16
#: The table layout this module reads; a schema loaded with another one must be reloaded.
LAYOUT = "3"

_SCHEMA = """
CREATE TABLE {s}.meta(key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE {s}.collection(id text PRIMARY KEY, ord int NOT NULL, title text NOT NULL,
  description text NOT NULL, count int NOT NULL, west float8, south float8, east float8,
  north float8, t_start text, t_end text, points boolean NOT NULL, base bigint NOT NULL,
  exact_shapes boolean NOT NULL);
CREATE TABLE {s}.feature(fid bigint NOT NULL, coll text NOT NULL, idx int NOT NULL,
  id text NOT NULL, lon float8, lat float8, population bigint NOT NULL, body bytea NOT NULL,
  geom geometry(Geometry, 4326), exact_shape boolean NOT NULL,
  box_west real, box_south real, box_east real, box_north real);
CREATE TABLE {s}.filter(coll text NOT NULL, name text NOT NULL, value text COLLATE "C" NOT NULL,
  fid bigint NOT NULL);
CREATE TABLE {s}.span(fid bigint NOT NULL, start text COLLATE "C" NOT NULL,
  "end" text COLLATE "C" NOT NULL);
CREATE TABLE {s}.name(kind smallint NOT NULL, key text COLLATE "C" NOT NULL, fid bigint NOT NULL,
  weight smallint NOT NULL);
CREATE TABLE {s}.broad_prefix(kind smallint NOT NULL, key text COLLATE "C" NOT NULL,
  matched int NOT NULL, fids bigint[] NOT NULL, PRIMARY KEY(kind, key));
CREATE TABLE {s}.alias(coll text NOT NULL, old_id text NOT NULL, fid bigint NOT NULL,
  PRIMARY KEY(coll, old_id));
CREATE TABLE {s}.border_level(border text NOT NULL, simplify_m float8 NOT NULL,
  body bytea NOT NULL, wkb bytea NOT NULL, length_km float8 NOT NULL, vertices int NOT NULL,
  PRIMARY KEY(border, simplify_m));
CREATE TABLE {s}.shape(fid bigint PRIMARY KEY, wkb bytea NOT NULL);
CREATE TABLE {s}.country_code(iso_a3 text COLLATE "C" PRIMARY KEY, iso_a2 text NOT NULL,
  name text NOT NULL);
CREATE TABLE {s}.place_grid(data bytea NOT NULL);
"""
# Indexes after COPY: one sort each instead of row-by-row inserts.
_INDEXES = """
ALTER TABLE {s}.feature ADD PRIMARY KEY (fid);
CREATE UNIQUE INDEX ON {s}.feature(coll, idx);
CREATE UNIQUE INDEX ON {s}.feature(coll, id);
CREATE INDEX ON {s}.feature USING gist(geom);
ALTER TABLE {s}.filter ADD PRIMARY KEY (coll, name, value, fid);
CREATE INDEX ON {s}.span(fid);
ALTER TABLE {s}.name ADD PRIMARY KEY (kind, key, fid) INCLUDE (weight);
"""


#: A feature by its id, or by an id it had in earlier data (one statement).
_BY_ID = ("(SELECT id, body, lon, lat FROM {s}.feature WHERE coll = %s AND id = %s) UNION ALL "
          "(SELECT f.id, f.body, f.lon, f.lat FROM {s}.alias a JOIN {s}.feature f "
          "ON f.fid = a.fid WHERE a.coll = %s AND a.old_id = %s) LIMIT 1")


def _hits_sql(n: str, n_end: str, k: str, k_end: str) -> str:
    """SQL of (fid, rank) for every place whose keys match, given the SQL expressions of
    the normalised key range [n, n_end) and the skeleton key range [k, k_end).

    Ranks as EmbeddedStore does: exact < skeleton < prefix < skeleton prefix, plus 1 for
    a name that is not the place's primary name.
    """
    return (
        f"SELECT fid, min(rank) AS rank FROM ("
        f"SELECT fid, weight + CASE WHEN key = {n} THEN 0 ELSE 4 END AS rank "
        f"FROM {{s}}.name WHERE kind = 0 AND key >= {n} AND key < {n_end} "
        f"UNION ALL "
        f"SELECT fid, weight + CASE WHEN key = {k} THEN 2 ELSE 6 END AS rank "
        f"FROM {{s}}.name WHERE kind = 1 AND key >= {k} AND key < {k_end}"
        f") AS k GROUP BY fid"
    )


#: The hits of one search, with the parameters ``_search_params`` makes.
_HITS = _hits_sql("%(n)s", "%(n_end)s", "%(s)s", "%(s_end)s")


# ------------------------------------------------------------------ helpers
def redact(database_url: str) -> str:
    """*database_url* without its password (URL or key=value form)."""
    if "://" in database_url:
        parts = urlsplit(database_url)
        if parts.password is None:
            return database_url
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    params = conninfo_to_dict(database_url)
    params.pop("password", None)
    return make_conninfo(**params)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def rtree_boxes(bounds: np.ndarray) -> np.ndarray:
    """(west, south, east, north) rows as SQLite's R*Tree stores them: float32, rounded
    outward the way its ``rtreeValueDown``/``rtreeValueUp`` do (which may be one float
    wider than the nearest float32)."""
    bounds = np.asarray(bounds, dtype=np.float64).reshape(-1, 4)
    out = bounds.astype(np.float32)
    towards, away = 1.0 - 1.0 / 8388608.0, 1.0 + 1.0 / 8388608.0
    for col, down in ((0, True), (1, True), (2, False), (3, False)):
        d = bounds[:, col]
        f = out[:, col]
        bad = f.astype(np.float64) > d if down else f.astype(np.float64) < d
        if down:
            scale = np.where(d < 0, away, towards)
        else:
            scale = np.where(d < 0, towards, away)
        f[bad] = (d[bad] * scale[bad]).astype(np.float32)
    return out


def _ewkb(geoms: Sequence[Any]) -> list[str | None]:
    """Hex EWKB (SRID 4326) of each geometry (None stays None), converted in one call."""
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    return shapely.to_wkb(shapely.set_srid(arr, 4326), hex=True, include_srid=True).tolist()


# ------------------------------------------------------------------ loading
async def _connect(database_url: str, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
    try:
        return await psycopg.AsyncConnection.connect(
            database_url, connect_timeout=CONNECT_TIMEOUT_S, **kwargs)
    except psycopg.OperationalError as exc:
        raise StoreError(f"PostgreSQL at {redact(database_url)} is unreachable: "
                         f"{_first_line(exc)}") from None  # fmt: skip


def _broad_rows(data: PreparedData) -> list[tuple[str, int, np.ndarray]]:
    keys, rows, population = embedded.prepared_name_rows(data)
    return embedded.broad_prefix_rows(keys, rows, population)


async def _copy(cur: psycopg.AsyncCursor[Any], statement: sql.Composed,
                rows: Iterable[Sequence[Any]]) -> None:  # fmt: skip
    async with cur.copy(statement) as copy:
        for row in rows:
            await copy.write_row(row)


async def _write(conn: psycopg.AsyncConnection[Any], data: PreparedData, s: sql.Identifier) -> None:
    """Create the tables in schema *s* and fill them from *data*."""
    async with conn.cursor() as cur:
        await cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {s} CASCADE").format(s=s))
        await cur.execute(sql.SQL("CREATE SCHEMA {s}").format(s=s))
        await cur.execute(sql.SQL(_SCHEMA).format(s=s))
        base = 0
        collections, spans, filters, names, features, aliases = [], [], [], [], [], []
        for ord_, col in enumerate(data.collections.values()):
            t_start, t_end = col.temporal or (None, None)
            exact = col.id in SMALL_COLLECTIONS and not col.points
            collections.append((col.id, ord_, col.title, col.description, len(col.features),
                                *col.extent, t_start, t_end, col.points, base, exact))
            boxes = rtree_boxes([f.bbox or (0.0, 0.0, 0.0, 0.0) for f in col.features])
            shapes = _ewkb([f.geometry for f in col.features])
            for f, box, shape in zip(col.features, boxes.tolist(), shapes, strict=True):
                fid = base + f.idx
                lon, lat = f.lonlat or (None, None)
                box = box if f.bbox is not None else (None,) * 4
                features.append((fid, col.id, f.idx, f.id, lon, lat, f.population, f.body,
                                 shape, exact, *box))
                spans += [(fid, a, b) for a, b in f.spans]
                filters += [(col.id, n, v, fid) for n, v in set(f.filters)]
                names += [(kind, key, fid, weight) for kind, key, weight in f.names]
                aliases += [(col.id, old, fid) for old in f.former_ids]
            base += len(col.features)
        # The first pages of broad prefixes, ranked as the embedded build ranks them (the
        # same function), and the places' points for `near`: computed here, copied in.
        broad = [(0, prefix, matched, fids.tolist()) for prefix, matched, fids in
                 await asyncio.to_thread(_broad_rows, data)]  # fmt: skip
        grid = await asyncio.to_thread(lambda: place_grid(data).to_bytes())
        for table, rows in (("collection", collections), ("feature", features),
                            ("broad_prefix", broad), ("place_grid", [(grid,)]),
                            ("span", spans), ("filter", filters), ("name", names),
                            ("alias", list(dict((r[:2], r) for r in aliases).values())),
                            ("border_level", [(*level, *shape) for level, shape in zip(
                                data.border_levels, data.border_level_shapes, strict=True)]),
                            ("shape", small_shapes(data)),
                            ("country_code", data.country_codes)):  # fmt: skip
            await _copy(cur, sql.SQL("COPY {s}.{t} FROM STDIN").format(
                s=s, t=sql.Identifier(table)), rows)
        await cur.execute(sql.SQL(_INDEXES).format(s=s))
        await _copy(cur, sql.SQL("COPY {s}.meta FROM STDIN").format(s=s), [
            ("fingerprint", data.fingerprint), ("data_version", data.data_version),
            ("data_time", data.data_time), ("layout", LAYOUT)])
        await cur.execute(sql.SQL("ANALYZE {s}.name").format(s=s))
        await cur.execute(sql.SQL("ANALYZE {s}.feature").format(s=s))


async def load(database_url: str, data_dir: Path, schema: str = "frontier_atlas") -> PreparedData:
    """Prepare *data_dir* and import it into schema *schema* of the database, replacing
    what was there in one transaction (readers see the old data or the new, never a mix).

    The rows are built in ``<schema>_new`` and renamed; concurrent loads of the same
    schema wait for each other (an advisory lock). Returns what it imported.
    """
    started = time.perf_counter()
    data = await asyncio.to_thread(prepare, data_dir)  # seconds of CPU: keep the loop free
    building = f"{schema}_new"
    conn = await _connect(database_url, autocommit=True)
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext(%s))",
                           (f"frontier_atlas load {schema}",))
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.Error as exc:
            raise StoreError(f"PostGIS is not available in {redact(database_url)}: "
                             f"{_first_line(exc)}") from None  # fmt: skip
        async with conn.transaction():
            await _write(conn, data, sql.Identifier(building))
        await conn.execute(sql.SQL("VACUUM ANALYZE {s}.name, {s}.feature, {s}.filter").format(
            s=sql.Identifier(building)))  # index-only scans need the visibility map
        async with conn.transaction():
            await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {s} CASCADE").format(
                s=sql.Identifier(schema)))
            await conn.execute(sql.SQL("ALTER SCHEMA {b} RENAME TO {s}").format(
                b=sql.Identifier(building), s=sql.Identifier(schema)))
    except psycopg.Error as exc:
        raise StoreError(f"loading into {redact(database_url)} failed: {_first_line(exc)}") \
            from None
    finally:
        await conn.close()  # also releases the advisory lock
    logger.info("loaded %s into %s (schema %s) in %.1f s", data_dir, redact(database_url),
                schema, time.perf_counter() - started)  # fmt: skip
    return data


async def loaded_fingerprint(database_url: str, schema: str = "frontier_atlas") -> str | None:
    """The fingerprint of the data loaded in *schema*, or None when nothing (or a schema of
    another layout) is loaded."""
    conn = await _connect(database_url, autocommit=True)
    try:
        cur = await conn.execute(
            "SELECT to_regclass(format('%%I.meta', %s::text)) IS NOT NULL", (schema,))
        if not (await cur.fetchone() or (False,))[0]:
            return None
        cur = await conn.execute(sql.SQL("SELECT key, value FROM {s}.meta")
                                 .format(s=sql.Identifier(schema)))  # fmt: skip
        rows = dict(await cur.fetchall())
        return rows.get("fingerprint") if rows.get("layout") == LAYOUT else None
    finally:
        await conn.close()


async def ensure_loaded(database_url: str, data_dir: Path,
                        schema: str = "frontier_atlas") -> bool:  # fmt: skip
    """Load *data_dir* unless *schema* already holds exactly that data; True if it loaded.

    Several workers starting at once load it once: ``load`` holds an advisory lock, and
    the ones that waited find the fingerprint up to date.
    """
    wanted, _ = fingerprint(data_dir)
    if await loaded_fingerprint(database_url, schema) == wanted:
        return False
    conn = await _connect(database_url, autocommit=True)
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext(%s))",
                           (f"frontier_atlas ensure {schema}",))
        if await loaded_fingerprint(database_url, schema) == wanted:
            return False
        await load(database_url, data_dir, schema)
        return True
    finally:
        await conn.close()


# ------------------------------------------------------------------ reading
class _Params(dict[str, Any]):
    """Named statement parameters, added as the SQL is composed."""

    def __call__(self, value: Any) -> str:
        """The placeholder of a new parameter holding *value*."""
        name = f"p{len(self)}"
        self[name] = value
        return f"%({name})s"


def _window(bounds: tuple[float, float, float, float], p: _Params) -> str:
    """The query window as a geometry: a rectangle, or the point or segment it degenerates
    to (a zero-width polygon is invalid, and PostGIS then finds no intersections)."""
    w, s, e, n = bounds
    if w != e and s != n:
        return f"ST_MakeEnvelope({p(w)}, {p(s)}, {p(e)}, {p(n)}, 4326)"
    if w == e and s == n:
        return f"ST_SetSRID(ST_MakePoint({p(w)}, {p(s)}), 4326)"
    return (f"ST_SetSRID(ST_MakeLine(ST_MakePoint({p(w)}, {p(s)}), "
            f"ST_MakePoint({p(e)}, {p(n)})), 4326)")


def _bbox_clause(bbox: BBox, p: _Params) -> str:
    """SQL (on alias f) selecting what EmbeddedStore's R*Tree query selects: the GiST
    finds candidates (in a window a little wider than the box); points are then checked
    against their exact lon/lat; other shapes against the R*Tree's float32 envelope, and
    the small layers' shapes also with ST_Intersects."""
    clauses = []
    for part in geometry.bbox_ranges(bbox):
        bounds = tuple(float(v) for v in part)
        w, s, e, n = (p(v) for v in bounds)
        wide = ", ".join(p(v + d) for v, d in zip(bounds, (-_SLACK_DEG, -_SLACK_DEG,
                                                           _SLACK_DEG, _SLACK_DEG), strict=True))
        clauses.append(
            f"(f.geom && ST_MakeEnvelope({wide}, 4326) AND CASE "
            f"WHEN f.lon IS NOT NULL THEN f.lon BETWEEN {w} AND {e} AND f.lat BETWEEN {s} AND {n} "
            f"ELSE f.box_west <= {e} AND f.box_east >= {w} AND f.box_south <= {n} "
            f"AND f.box_north >= {s} AND (NOT f.exact_shape "
            f"OR ST_Intersects(f.geom, {_window(bounds, p)})) END)"
        )
    return "(" + " OR ".join(clauses) + ")"


def _filter_clause(collection_id: str, filters: Mapping[str, Any], p: _Params) -> str:
    """SQL (on alias f): every filter matches (values compared as ``filter_key`` makes them)."""
    return " AND ".join(
        f"f.fid IN (SELECT fid FROM {{s}}.filter WHERE coll = {p(collection_id)} "
        f"AND name = {p(name)} AND value = {p(filter_key(value))})"
        for name, value in filters.items()
    )


def _search_params(q: str) -> dict[str, str] | None:
    """The key ranges of a name search for *q* (None when it has no letters or digits)."""
    n, k = normalise(q), skeleton(q)
    if not n:
        return None
    k = k or _KEY_END
    return {"n": n, "n_end": n + _KEY_END, "s": k, "s_end": k + _KEY_END}


class PostgisStore(CollectionLookup, FrontierQueries):
    """The FeatureStore over a PostgreSQL/PostGIS database loaded by ``load``."""

    def __init__(self, pool: AsyncConnectionPool, schema: str, info: StoreInfo,
                 collections: dict[str, tuple[CollectionMeta, bool, int]],
                 broad_keys: set[str], frontier: Frontier) -> None:  # fmt: skip
        self.pool = pool
        self.schema = schema
        self.info = info
        self.frontier = frontier
        self._collections = collections
        self._broad_keys = broad_keys
        self._grid: PlaceGrid | None = None
        self._s = '"' + schema.replace('"', '""') + '"'

    @classmethod
    async def open(cls, database_url: str, pool_size: int = 4,
                   schema: str = "frontier_atlas") -> PostgisStore:  # fmt: skip
        """Connect, read the small layers and metadata, and open a pool of *pool_size*."""
        started = time.perf_counter()
        where = redact(database_url)
        conn = await _connect(database_url, autocommit=True)
        s = sql.Identifier(schema)
        try:
            cur = await conn.execute("SELECT to_regclass(format('%%I.meta', %s::text))", (schema,))
            if (await cur.fetchone() or (None,))[0] is None:
                raise StoreError(f"{where} has no Frontier Atlas data in schema {schema!r}; "
                                 "import it with `frontier-atlas load`")  # fmt: skip
            meta = dict(await (await conn.execute(
                sql.SQL("SELECT key, value FROM {s}.meta").format(s=s))).fetchall())
            if meta.get("layout") != LAYOUT:
                raise StoreError(f"{where}: schema {schema!r} was loaded by another version of "
                                 "Frontier Atlas; re-import it with `frontier-atlas load`")
            collections = {}
            for row in await (await conn.execute(sql.SQL(
                "SELECT id, title, description, count, west, south, east, north, t_start, "
                "t_end, points, base FROM {s}.collection ORDER BY ord").format(s=s))).fetchall():
                cid, title, description, count, w, so, e, n, t0, t1, points, base = row
                cm = CollectionMeta(cid, title, description, count, BBox(w, so, e, n),
                                    (t0, t1) if t0 else None, QUERYABLES.get(cid, ()))
                collections[cid] = (cm, bool(points), int(base))
            small = {}
            for cid in SMALL_COLLECTIONS:
                cur = await conn.execute(sql.SQL(
                    "SELECT f.id, f.body, sh.wkb FROM {s}.feature f LEFT JOIN {s}.shape sh "
                    "ON sh.fid = f.fid WHERE f.coll = %s ORDER BY f.idx").format(s=s),
                    (cid,), binary=True)  # fmt: skip
                small[cid] = await cur.fetchall()
            levels = await (await conn.execute(sql.SQL(
                "SELECT border, simplify_m, body, wkb, length_km, vertices FROM {s}.border_level "
                "ORDER BY border COLLATE \"C\", simplify_m").format(s=s), binary=True)).fetchall()
            codes = await (await conn.execute(sql.SQL(
                "SELECT iso_a3, iso_a2, name FROM {s}.country_code ORDER BY iso_a3")
                .format(s=s))).fetchall()  # fmt: skip
            broad = {k for (k,) in await (await conn.execute(sql.SQL(
                "SELECT key FROM {s}.broad_prefix WHERE kind = 0").format(s=s))).fetchall()}
        except psycopg.Error as exc:
            raise StoreError(f"{where}: cannot read schema {schema!r} ({_first_line(exc)}); "
                             "re-import it with `frontier-atlas load`") from None  # fmt: skip
        finally:
            await conn.close()
        frontier = build_frontier(small, levels, codes)
        pool = AsyncConnectionPool(database_url, min_size=pool_size, max_size=pool_size,
                                   kwargs={"autocommit": True}, open=False,
                                   name=f"frontier-atlas-{schema}")  # fmt: skip
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
        except PoolTimeout as exc:  # the server went away between the two steps
            await pool.close()
            raise StoreError(f"PostgreSQL at {where}: the connection pool did not open "
                             f"({_first_line(exc)})") from None  # fmt: skip
        info = StoreInfo("postgis", meta.get("data_version", "unknown"), meta.get("data_time", ""),
                         where, time.perf_counter() - started)  # fmt: skip
        return cls(pool, schema, info, collections, broad, frontier)

    async def close(self) -> None:
        """Close the pool."""
        await self.pool.close()

    async def _rows(self, query: str, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
        """Run one statement on a pooled connection; rows in binary (bytea as bytes)."""
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(query.replace("{s}", self._s), params,  # type: ignore[arg-type]
                                         binary=True)  # fmt: skip
                return await cur.fetchall()
        except psycopg.OperationalError as exc:
            raise StoreError(f"PostgreSQL at {self.info.location}: {_first_line(exc)}") from None

    async def feature(self, collection_id: str, feature_id: str) -> Feature:
        """One feature by id, or FeatureNotFoundError."""
        meta, _, _ = self._meta(collection_id)
        rows = await self._rows(_BY_ID, (collection_id, feature_id, collection_id, feature_id))
        if not rows:
            raise FeatureNotFoundError(
                f"No feature with id {feature_id!r} in collection {collection_id!r}; it has "
                f"{meta.count} features, list them at /collections/{collection_id}/items."
            )
        return self._features(collection_id, rows)[0]

    async def _page(self, matches: str, order: str, p: _Params, limit: int, offset: int,
                    collection_id: str) -> FeaturePage:  # fmt: skip
        """One statement: numberMatched of the *matches* subquery and one page of it.

        *matches* selects ``fid`` plus the columns *order* sorts by; the outer join
        returns one row (with no feature) when the page is empty, to carry the count.
        """
        rows = await self._rows(
            f"WITH m AS MATERIALIZED ({matches}) "
            "SELECT (SELECT count(*) FROM m), f.id, f.body, f.lon, f.lat FROM (SELECT 1) AS one "
            f"LEFT JOIN LATERAL (SELECT * FROM m ORDER BY {order} LIMIT {p(limit)} "
            f"OFFSET {p(offset)}) AS p ON true LEFT JOIN {{s}}.feature f ON f.fid = p.fid "
            "ORDER BY " + ", ".join(f"p.{o}" for o in order.split(", ")), p)  # fmt: skip
        return FeaturePage(int(rows[0][0]), self._features(
            collection_id, (r[1:] for r in rows if r[1] is not None)))

    async def items(self, collection_id: str, query: ItemsQuery) -> FeaturePage:
        """A page of the features matching bbox, filters, datetime, expression and ids, in
        data order or sorted by ``query.sortby``."""
        meta, _, base = self._meta(collection_id)
        if query.everything:
            rows = await self._rows(
                "SELECT id, body, lon, lat FROM {s}.feature WHERE fid >= %s AND fid < %s "
                "ORDER BY fid", (base + query.offset,
                                 base + min(query.offset + query.limit, meta.count)),
            )  # an index range: no OFFSET walk
            return FeaturePage(meta.count, self._features(collection_id, rows))
        p = _Params()
        where = [f"f.coll = {p(collection_id)}"]
        if query.bbox is not None:
            where.append(_bbox_clause(query.bbox, p))
        if query.filters:
            where.append(_filter_clause(collection_id, query.filters, p))
        if query.interval is not None:
            # ISO strings compared bytewise, as the embedded store compares them.
            start, end = (iso(t) if t else None for t in query.interval)
            # Features without dates are not ruled out by a datetime (they have no time).
            where.append(f'(NOT EXISTS (SELECT 1 FROM {{s}}.span sp WHERE sp.fid = f.fid) OR '
                         f'EXISTS (SELECT 1 FROM {{s}}.span sp WHERE sp.fid = f.fid '
                         f'AND ({p(end)}::text IS NULL OR sp.start <= {p(end)}::text) '
                         f'AND ({p(start)}::text IS NULL OR sp."end" > {p(start)}::text)))')
        if query.ids is not None:
            where.append(f"f.id = ANY({p(list(query.ids))}::text[])")
        dialect = PostgisDialect(p)
        if query.where is not None:
            where.append(where_sql(query.where, dialect))
        keys = [f"{dialect.prop(k.prop)} AS s{i}" for i, k in enumerate(query.sortby)]
        order = ", ".join([*(f"s{i} {'DESC NULLS LAST' if k.descending else 'ASC NULLS FIRST'}"
                             for i, k in enumerate(query.sortby)), "fid"])  # fmt: skip
        return await self._page(
            f"SELECT {', '.join(['f.fid', *keys])} FROM {{s}}.feature f "
            f"WHERE {' AND '.join(where)}", order, p, query.limit, query.offset, collection_id)

    # ------------------------------------------------------------ places
    async def _place_grid(self) -> PlaceGrid:
        """The places' points for ``near`` (read from the database when first asked)."""
        if self._grid is None:
            rows = await self._rows("SELECT data FROM {s}.place_grid", ())
            self._grid = PlaceGrid.from_bytes(bytes(rows[0][0]))
        return self._grid

    async def _by_fids(self, fids: Sequence[int]) -> list[Feature]:
        if not fids:
            return []
        rows = await self._rows(
            "SELECT f.id, f.body, f.lon, f.lat FROM unnest(%s::bigint[]) WITH ORDINALITY "
            "AS u(fid, ord) JOIN {s}.feature f ON f.fid = u.fid ORDER BY u.ord", [list(fids)])
        return self._features("places", rows)

    async def _broad(self, n: str, limit: int, offset: int) -> FeaturePage | None:
        """The precomputed first page of a very broad prefix (one statement)."""
        rows = await self._rows(
            "SELECT b.matched, f.id, f.body, f.lon, f.lat FROM {s}.broad_prefix b "
            "LEFT JOIN LATERAL unnest(b.fids[%s:%s]) WITH ORDINALITY AS u(fid, ord) ON true "
            "LEFT JOIN {s}.feature f ON f.fid = u.fid WHERE b.kind = 0 AND b.key = %s "
            "ORDER BY u.ord", (offset + 1, offset + limit, n))  # fmt: skip
        if not rows:
            return None
        return FeaturePage(int(rows[0][0]), self._features(
            "places", (r[1:] for r in rows if r[1] is not None)))

    async def _near(self, lon: float, lat: float, radius: float, filters: Mapping[str, Any],
                    bodies: int = 0) -> tuple[dict[int, float], dict[int, Feature]]:  # fmt: skip
        """fid -> geodesic distance (km, WGS84) of every allowed place within *radius* km,
        and the features of about the *bodies* nearest (so that a page of the nearest
        usually needs no second statement).

        The distances are computed here, with the embedded store's function, so that both
        backends agree to the last digit on the distances and the radius edge; the server
        only pre-ranks by an equirectangular approximation to choose which bodies to send.
        """
        p = _Params()
        where = ["f.coll = 'places'", _bbox_clause(geometry.degrees_around(lon, lat, radius), p)]
        if filters:
            where.append(_filter_clause("places", filters, p))
        if bodies > 0:
            k = p(math.cos(math.radians(lat)))
            near = (f"row_number() OVER (ORDER BY ((f.lon - {p(lon)}) * {k}) ^ 2 "
                    f"+ (f.lat - {p(lat)}) ^ 2, f.fid) <= {p(bodies)}")
            columns = f"CASE WHEN {near} THEN f.id END, CASE WHEN {near} THEN f.body END"
        else:
            columns = "NULL::text, NULL::bytea"
        rows = await self._rows(f"SELECT f.fid, f.lon, f.lat, {columns} FROM {{s}}.feature f "
                                f"WHERE {' AND '.join(where)}", p)  # fmt: skip
        if not rows:
            return {}, {}
        arr = np.asarray([r[:3] for r in rows], dtype=float)
        dist = geometry.geodesic_distances_km(lon, lat, arr[:, 1], arr[:, 2])
        distances = {int(f): float(d) for f, d in zip(arr[:, 0], dist, strict=True)
                     if d <= radius}  # fmt: skip
        sent = {fid: Feature("places", fid_, body, (flon, flat))
                for fid, flon, flat, fid_, body in rows if body is not None}  # fmt: skip
        return distances, sent

    async def search_places(self, query: PlaceQuery) -> FeaturePage:
        """Places by name (best match, then population) and/or distance (nearest first)."""
        self._meta("places")
        distances: dict[int, float] | None = None
        sent: dict[int, Feature] = {}
        if query.near is not None and not query.q and not query.filters:
            lon, lat = query.near
            radius = query.radius_km if query.radius_km is not None else 25.0
            box = geometry.degrees_around(lon, lat, radius)
            if PlaceGrid.usable(lon, lat, radius, box):  # the k nearest and how many in all
                grid = await self._place_grid()
                matched, fids, dist = grid.nearest(lon, lat, radius, box,
                                                   query.offset + query.limit)  # fmt: skip
                return FeaturePage(matched, await self._by_fids(fids[query.offset:].tolist()),
                                   [round(float(d), 3) for d in dist[query.offset:]])
        if query.near is not None:
            radius = query.radius_km if query.radius_km is not None else 25.0
            wanted = query.offset + query.limit
            distances, sent = await self._near(
                *query.near, radius, query.filters,
                bodies=wanted + NEAR_SPARE if not query.q and wanted <= 500 else 0)
        if query.q:
            keys = _search_params(query.q)
            if (distances is None and not query.filters and keys is not None
                    and keys["n"] in self._broad_keys
                    and query.offset + query.limit <= embedded.BROAD_PREFIX_TOP):
                broad = await self._broad(keys["n"], query.limit, query.offset)
                if broad is not None:
                    return broad
            if keys is None or distances == {}:
                return FeaturePage(0, [], [])
            p = _Params(keys)
            where = []
            if distances is not None:
                where.append(f"h.fid = ANY({p(list(distances))}::bigint[])")
            if query.filters:
                where.append(_filter_clause("places", query.filters, p))
            matches = (f"SELECT h.fid, h.rank, f.population, f.idx FROM ({_HITS}) AS h "
                       "JOIN {s}.feature f ON f.fid = h.fid"
                       + "".join(f" AND {w}" for w in where))  # fmt: skip
            rows = await self._rows(
                f"WITH m AS MATERIALIZED ({matches}) "
                "SELECT (SELECT count(*) FROM m), f.fid, f.id, f.body, f.lon, f.lat "
                "FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT * FROM m "
                f"ORDER BY rank, population DESC, idx LIMIT {p(query.limit)} "
                f"OFFSET {p(query.offset)}) AS p ON true LEFT JOIN {{s}}.feature f "
                "ON f.fid = p.fid ORDER BY p.rank, p.population DESC, p.idx", p)  # fmt: skip
            found = [r for r in rows if r[1] is not None]
            dists: list[float | None] = [] if distances is None else [
                round(distances[int(r[1])], 3) for r in found]
            return FeaturePage(int(rows[0][0]),
                               self._features("places", (r[2:] for r in found)), dists)
        if distances is not None:
            order = sorted(distances, key=lambda f: (distances[f], f))
            page = order[query.offset: query.offset + query.limit]
            missing = [f for f in page if f not in sent]  # pre-ranking missed: fetch them
            if missing:
                sent.update(zip(missing, await self._by_fids(missing), strict=True))
            return FeaturePage(len(order), [sent[f] for f in page],
                               [round(distances[f], 3) for f in page])
        if not query.filters:
            return await self.items("places", ItemsQuery(limit=query.limit, offset=query.offset))
        p = _Params()
        return await self._page(
            "SELECT f.fid FROM {s}.feature f WHERE f.coll = 'places' AND "
            + _filter_clause("places", query.filters, p), "fid", p, query.limit, query.offset,
            "places")

    async def place(self, place_id: str) -> Feature:
        """A place by id, or PlaceNotFoundError with a hint."""
        rows = await self._rows(_BY_ID, ("places", place_id, "places", place_id))
        if rows:
            return self._features("places", rows)[0]
        keys = _search_params(place_id)
        hints: list[str] = []
        if keys is not None:
            hints = [r[0] for r in await self._rows(
                f"SELECT f.id FROM ({_HITS}) AS h JOIN {{s}}.feature f ON f.fid = h.fid "
                "ORDER BY h.rank, f.population DESC, f.idx LIMIT 3", keys)]
        hint = (" Did you mean " + ", ".join(hints) + "?") if hints \
            else " Search by name with /places?q="
        raise PlaceNotFoundError(f"No place with id {place_id!r}.{hint}")

    async def places_within(self, bbox: BBox) -> list[PlacePoint]:
        """Every place inside *bbox*, largest population first."""
        p = _Params()
        rows = await self._rows(
            "SELECT f.id, f.lon, f.lat, f.population FROM {s}.feature f "
            f"WHERE f.coll = 'places' AND {_bbox_clause(bbox, p)} "
            "ORDER BY f.population DESC, f.idx", p)
        return [PlacePoint(i, lon, lat, int(pop)) for i, lon, lat, pop in rows]


__all__ = ["PostgisStore", "ensure_loaded", "load", "loaded_fingerprint", "redact", "rtree_boxes"]
