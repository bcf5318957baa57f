"""PostgisStore against the machine's PostgreSQL, answer for answer against EmbeddedStore.

Both stores are built from the committed ``geodata/``; every query below must give
the same ids, bytes, order, numberMatched, distances and error classes and texts.
Skips without PostgreSQL/PostGIS, fails in CI (see ``postgis_fixture``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from service.domain.errors import (
    AtlasError,
    CollectionNotFoundError,
    FeatureNotFoundError,
    PlaceNotFoundError,
    StoreError,
)
from service.domain.geometry import BBox
from service.domain.records import FeaturePage, ItemsQuery, PlaceQuery
from service.store import embedded
from service.store.embedded import EmbeddedStore, build_file
from service.store.prepare import PreparedData
from tests.postgis_fixture import temporary_database, unavailable

try:
    from psycopg.conninfo import conninfo_to_dict

    from service.store.postgis import (
        PostgisStore,
        ensure_loaded,
        load,
        loaded_fingerprint,
        redact,
        rtree_boxes,
    )
except ImportError as exc:  # psycopg missing: skip here, fail in CI
    unavailable(f"the PostGIS store cannot be imported ({exc})")

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "geodata"


@dataclass
class Pair:
    embedded: EmbeddedStore
    postgis: PostgisStore
    data: PreparedData
    url: str
    run: Any  # asyncio.Runner.run


class LoopThread:
    """An event loop in its own thread, with ``run(coro)`` like ``asyncio.Runner``: the
    browser tests leave Playwright's loop running in the main thread, and the async pool
    must stay on the loop it was made on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=300)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def runner() -> Iterator[LoopThread]:
    r = LoopThread()
    yield r
    r.close()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with temporary_database() as url:
        yield url


@pytest.fixture(scope="module")
def stores(runner: LoopThread, database: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:  # fmt: skip
    path = tmp_path_factory.mktemp("embedded") / "atlas.sqlite"
    build_file(DATA, path)
    data = runner.run(load(database, DATA))
    pg = runner.run(PostgisStore.open(database, pool_size=2))
    em = EmbeddedStore(path)
    yield Pair(em, pg, data, database, runner.run)
    runner.run(pg.close())
    runner.run(em.close())


def same(pair: Pair, method: str, *args: Any) -> Any:
    """Call *method* on both stores; assert equal answers (or equal errors); return it."""
    answers = []
    for store in (pair.embedded, pair.postgis):
        try:
            answers.append(("ok", pair.run(getattr(store, method)(*args))))
        except AtlasError as exc:
            answers.append(("error", (type(exc), exc.detail)))
    (kind_e, want), (kind_p, got) = answers
    assert kind_p == kind_e, f"{method}{args}: embedded {want!r}, postgis {got!r}"
    if isinstance(want, FeaturePage):
        assert got.matched == want.matched, f"{method}{args}: numberMatched"
        assert [f.id for f in got.features] == [f.id for f in want.features], f"{method}{args}"
        assert got.distances_km == want.distances_km, f"{method}{args}: distances"
    assert got == want, f"{method}{args}: bytes or coordinates differ"
    return want


def _bboxes(data: PreparedData) -> list[BBox]:
    """Boxes across the region (seeded), degenerate boxes on places and on border vertices,
    and boxes over the antimeridian."""
    rng = np.random.default_rng(8)
    boxes = []
    for _ in range(60):
        lon, lat = rng.uniform(19, 40), rng.uniform(49, 58.5)
        half_w, half_h = rng.choice([0.05, 0.3, 0.8, 1.5, 4.0]) * np.array([1.0, 0.6])
        boxes.append(BBox(lon - half_w, lat - half_h, lon + half_w, lat + half_h))
    places = data.collections["places"].features
    for f in places[::500]:
        lon, lat = f.lonlat  # type: ignore[misc]
        boxes += [BBox(lon, lat, lon, lat), BBox(lon, lat - 1, lon + 1, lat),
                  BBox(lon - 1, lat, lon, lat + 1)]
    for f in data.collections["borders"].features[:6]:
        coords = np.asarray(f.geometry.coords if f.geometry.geom_type == "LineString"
                            else f.geometry.geoms[0].coords)  # fmt: skip
        x, y = coords[len(coords) // 2][:2]
        boxes += [BBox(x, y, x + 0.01, y + 0.01), BBox(x - 0.01, y - 0.01, x, y), BBox(x, y, x, y)]
    boxes += [
        BBox(30.0, 50.0, 25.0, 55.0),  # west > east: over the antimeridian, most of the region
        BBox(179.0, 50.0, -179.0, 56.0),  # over the antimeridian, nothing there
        BBox(-180.0, -90.0, 180.0, 90.0),
        BBox(19.0, 49.0, 40.0, 58.5),
        BBox(0.0, 0.0, 1.0, 1.0),
    ]
    return boxes


# ------------------------------------------------------------------ collections, features
def test_collections_and_info(stores: Pair) -> None:
    same(stores, "collections")
    for meta in stores.run(stores.embedded.collections()):
        same(stores, "collection", meta.id)
    same(stores, "collection", "nope")
    info = stores.postgis.info
    assert info.backend == "postgis"
    assert info.data_version == stores.embedded.info.data_version
    assert info.data_version == stores.data.data_version
    assert info.data_time == stores.data.data_time
    assert stores.run(loaded_fingerprint(stores.url)) == stores.data.fingerprint


def test_features_by_id(stores: Pair) -> None:
    for cid, col in stores.data.collections.items():
        for f in col.features[:: max(1, len(col.features) // 40)] + col.features[-1:]:
            same(stores, "feature", cid, f.id)
        same(stores, "feature", cid, "no-such-feature")
    with pytest.raises(FeatureNotFoundError):
        stores.run(stores.postgis.feature("places", "no-such-feature"))
    with pytest.raises(CollectionNotFoundError):
        stores.run(stores.postgis.feature("nope", "x"))


def test_unfiltered_pages(stores: Pair) -> None:
    for cid, col in stores.data.collections.items():
        n = len(col.features)
        for limit, offset in ((10, 0), (100, 0), (1, n - 1), (100, n - 5), (5, n), (7, n + 50),
                              (1000, 0), (50, n // 2)):  # fmt: skip
            page = same(stores, "items", cid, ItemsQuery(limit=limit, offset=offset))
            assert page.matched == n


def _degenerate(box: BBox) -> bool:
    return box.west == box.east or box.south == box.north


def test_bbox_pages(stores: Pair) -> None:
    places = np.asarray([f.lonlat for f in stores.data.collections["places"].features])
    hits = 0
    for i, box in enumerate(_bboxes(stores.data)):
        for cid in stores.data.collections:
            if cid in ("borders", "countries") and _degenerate(box):
                continue  # see test_degenerate_bbox_on_shapes
            limit, offset = ((100, 0), (10, 3), (1000, 0))[i % 3]
            page = same(stores, "items", cid, ItemsQuery(bbox=box, limit=limit, offset=offset))
            if cid == "places" and box.west <= box.east:  # cross-check: count the points
                inside = ((places[:, 0] >= box.west) & (places[:, 0] <= box.east)
                          & (places[:, 1] >= box.south) & (places[:, 1] <= box.north))
                assert page.matched == int(inside.sum()), box
                hits += page.matched
        same(stores, "places_within", box)
    assert hits > 1000  # the boxes do find places


def _window(box: BBox) -> shapely.Geometry:
    if box.west == box.east and box.south == box.north:
        return shapely.Point(box.west, box.south)
    if _degenerate(box):
        return shapely.LineString([(box.west, box.south), (box.east, box.north)])
    return shapely.box(*box)


def test_degenerate_bbox_on_shapes(stores: Pair) -> None:
    """A bbox of zero width or height selects the shapes its point or segment touches
    (checked against shapely on the source geometries)."""
    boxes = [b for b in _bboxes(stores.data) if _degenerate(b)]
    assert boxes
    for cid in ("borders", "countries"):
        geoms = {f.id: f.geometry for f in stores.data.collections[cid].features}
        for box in boxes:
            page = stores.run(stores.postgis.items(cid, ItemsQuery(bbox=box, limit=1000)))
            want = [fid for fid, g in geoms.items() if g.intersects(_window(box))]
            assert [f.id for f in page.features] == want, (cid, box)
            assert page.matched == len(want)


def test_degenerate_bbox_parity(stores: Pair) -> None:
    for box in (b for b in _bboxes(stores.data) if _degenerate(b)):
        for cid in ("borders", "countries"):
            same(stores, "items", cid, ItemsQuery(bbox=box, limit=1000))


def _filter_values(data: PreparedData) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for cid, col in data.collections.items():
        for f in col.features:
            for name, value in f.filters:
                out.setdefault(cid, {}).setdefault(name, set()).add(value)
    return out


def test_filters_bbox_and_datetime(stores: Pair) -> None:
    values = _filter_values(stores.data)
    box = BBox(23.0, 51.0, 30.0, 55.0)
    for cid, names in values.items():
        for name, vals in names.items():
            for value in sorted(vals)[:12] + ["no-such-value"]:
                arg: Any = {"true": True, "false": False}.get(value, value.upper())
                same(stores, "items", cid, ItemsQuery(filters={name: arg}))
                same(stores, "items", cid, ItemsQuery(filters={name: arg}, limit=3, offset=2))
                same(stores, "items", cid, ItemsQuery(bbox=box, filters={name: arg}))
    same(stores, "items", "places", ItemsQuery(filters={"country": "by", "kind": "town"}))
    same(stores, "items", "places", ItemsQuery(
        filters={"country": "BY", "near_belarus_frontier": True}, bbox=box, limit=20, offset=5))
    moments = [datetime(2000, 1, 1, tzinfo=UTC), datetime(2021, 11, 1, tzinfo=UTC),
               datetime(2022, 2, 24, 12, tzinfo=UTC), datetime(2023, 8, 1, tzinfo=UTC),
               datetime(2025, 11, 17, 23, 59, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)]
    intervals = [(None, m) for m in moments] + [(m, None) for m in moments] + [
        (a, b) for a in moments for b in moments if a <= b]
    for cid in stores.data.collections:
        for interval in intervals:
            same(stores, "items", cid, ItemsQuery(interval=interval))
        same(stores, "items", cid, ItemsQuery(interval=(moments[1], moments[3]), bbox=box,
                                              limit=2, offset=1))  # fmt: skip


# ------------------------------------------------------------------ places
SEARCHES = ["Divin", "Дивин", "dzivin", "Дзівін", "m", "Min", "k", "minsk", "Мінск", "Минск",
            "brest", "Брэст", "grodno", "Hrodna", "ko", "st", "s", "b", "Vitebsk", "Віцебск",
            "pinsk", "mo", "moskva", "moscow", "Mahilyow", "Gomel", "Гомель", "zzzz", "",
            "!!!", "  ", "Ё", "d", "dz", "ivan", "Ivanava", "novo", "Nowy", "a b"]  # fmt: skip
POINTS = [(27.5615, 53.9045), (23.69, 52.097), (30.0, 55.2), (26.0, 49.5), (0.0, 0.0)]


def test_search_by_name(stores: Pair) -> None:
    for q in SEARCHES:
        for limit, offset in ((10, 0), (100, 0), (5, 7), (1000, 0), (100, 600)):
            same(stores, "search_places", PlaceQuery(q=q, limit=limit, offset=offset))
        for filters in ({"country": "BY"}, {"kind": "town", "near_belarus_frontier": True},
                        {"country": "xx"}):  # fmt: skip
            same(stores, "search_places", PlaceQuery(q=q, filters=filters, limit=20))


def test_search_near(stores: Pair) -> None:
    for lon, lat in POINTS:
        for radius in (None, 1.0, 60.0, 300.0):
            for limit, offset in ((10, 0), (100, 5)):
                page = same(stores, "search_places", PlaceQuery(
                    near=(lon, lat), radius_km=radius, limit=limit, offset=offset))
                assert page.distances_km == sorted(page.distances_km)
            same(stores, "search_places", PlaceQuery(near=(lon, lat), radius_km=radius,
                                                     filters={"kind": "village"}))  # fmt: skip
            for q in ("m", "Min", "Дзівін", "zzzz"):
                same(stores, "search_places", PlaceQuery(q=q, near=(lon, lat), radius_km=radius))
                same(stores, "search_places", PlaceQuery(q=q, near=(lon, lat), radius_km=radius,
                                                         filters={"country": "BY"}, limit=3))
    same(stores, "search_places", PlaceQuery(limit=10, offset=20))
    same(stores, "search_places", PlaceQuery(filters={"country": "LT"}, limit=10, offset=3))


def test_search_near_second_statement(stores: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of nearest places whose bodies were not all sent with the first statement."""
    from service.store import postgis

    for spare in (-3, -1000):
        monkeypatch.setattr(postgis, "NEAR_SPARE", spare)
        for lon, lat in POINTS[:3]:
            for limit, offset in ((10, 0), (5, 4)):
                same(stores, "search_places", PlaceQuery(
                    near=(lon, lat), radius_km=60.0, limit=limit, offset=offset))


def test_place_and_hints(stores: Pair) -> None:
    for f in stores.data.collections["places"].features[::150]:
        same(stores, "place", f.id)
    for wrong in ("minsk-x", "mins", "Divin", "Дзівін", "zzzz", "", "!!", "brest2", "k"):
        same(stores, "place", wrong)
    with pytest.raises(PlaceNotFoundError, match="Did you mean"):
        stores.run(stores.postgis.place("mins"))


def test_frontier_in_memory(stores: Pair) -> None:
    for f in stores.data.collections["borders"].features:
        for simplify in (None, 100.0, 1000.0, 5000.0):
            same(stores, "border", f.id, simplify)
        same(stores, "crossings_on", f.id)
    for lon, lat in POINTS:
        same(stores, "country_at", lon, lat)
        same(stores, "distances_to_borders", lon, lat)


def test_broad_prefixes(runner: LoopThread, database: str, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """With a lower threshold both builds precompute prefixes ("k", "s", ...); the stored
    first pages equal the live ranking and the embedded store's answers."""
    monkeypatch.setattr(embedded, "BROAD_PREFIX_MATCHES", 300)
    path = tmp_path / "broad.sqlite"
    build_file(DATA, path)
    data = runner.run(load(database, DATA, schema="broad_test"))
    pg = runner.run(PostgisStore.open(database, pool_size=1, schema="broad_test"))
    pair = Pair(EmbeddedStore(path), pg, data, database, runner.run)
    try:
        assert {"k", "s", "m"} <= pg._broad_keys
        for q in ("k", "K", "s", "m", "ko", "b", "Дз"):
            for limit, offset in ((10, 0), (100, 0), (20, 80), (10, 95)):
                page = same(pair, "search_places", PlaceQuery(q=q, limit=limit, offset=offset))
                live = runner.run(pg.search_places(PlaceQuery(q=q, limit=offset + limit + 1)))
                assert page.matched == live.matched
                assert page.features == live.features[offset: offset + limit]
    finally:
        runner.run(pg.close())
        runner.run(pair.embedded.close())


def test_concurrent_queries_share_the_pool(stores: Pair) -> None:
    """Many queries at once over a pool of 2 connections: each gets its own answer."""
    queries = [("items", ("places", ItemsQuery(bbox=BBox(23 + i * 0.3, 52, 24 + i * 0.3, 53))))
               for i in range(15)] + [
        ("search_places", (PlaceQuery(q=q),)) for q in SEARCHES[:15]] + [
        ("search_places", (PlaceQuery(near=pt, radius_km=40.0),)) for pt in POINTS] + [
        ("feature", ("places", f.id)) for f in stores.data.collections["places"].features[:15]]

    async def together() -> list[Any]:
        return await asyncio.gather(*(getattr(stores.postgis, m)(*a) for m, a in queries))

    answers = stores.run(together())
    for (method, args), got in zip(queries, answers, strict=True):
        assert got == stores.run(getattr(stores.embedded, method)(*args)), (method, args)


def test_lost_connections_give_store_errors_then_recover(stores: Pair) -> None:
    """Connections killed by the server: the queries on them fail with StoreError (no
    driver exception escapes), and the pool replaces them."""
    import psycopg

    with psycopg.connect(stores.url, autocommit=True) as conn:
        killed = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                              ).fetchone()[0]  # fmt: skip
    assert killed >= 2  # the store's pool
    failures = 0
    for _ in range(20):
        try:
            page = stores.run(stores.postgis.items("places", ItemsQuery(limit=3)))
        except StoreError as exc:
            assert "\n" not in exc.detail and "PostgreSQL at" in exc.detail
            failures += 1
            stores.run(asyncio.sleep(0.05))
            continue
        assert [f.id for f in page.features] == [
            f.id for f in stores.data.collections["places"].features[:3]]
        break
    else:
        pytest.fail("the pool did not recover within 20 attempts")
    assert failures >= 1
    stores.run(stores.postgis.pool.check())  # replace any killed connection still idle


# ------------------------------------------------------------------ loading, opening
def test_reload_is_atomic_and_idempotent(stores: Pair) -> None:
    before = same(stores, "items", "places", ItemsQuery(bbox=BBox(27, 53, 28, 54)))
    again = stores.run(load(stores.url, DATA))
    assert again.fingerprint == stores.data.fingerprint
    # The open pool reads the new schema by name (the old one is gone).
    assert stores.run(stores.postgis.items("places", ItemsQuery(bbox=BBox(27, 53, 28, 54)))) \
        == before

    async def schemas() -> list[str]:
        import psycopg

        async with await psycopg.AsyncConnection.connect(stores.url) as conn:
            cur = await conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE "
                                     "'frontier_atlas%' ORDER BY 1")  # fmt: skip
            return [r[0] for r in await cur.fetchall()]

    assert stores.run(schemas()) == ["frontier_atlas"]
    assert stores.run(ensure_loaded(stores.url, DATA)) is False  # up to date: nothing to do


def test_open_errors(runner: LoopThread, database: str) -> None:
    with pytest.raises(StoreError, match="unreachable") as exc:
        runner.run(PostgisStore.open("postgresql://someone:secret@127.0.0.1:1/nothing"))
    assert "secret" not in str(exc.value) and "\n" not in exc.value.detail
    with pytest.raises(StoreError, match="no Frontier Atlas data in schema 'not_loaded'"):
        runner.run(PostgisStore.open(database, schema="not_loaded"))


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://postgres:pw@127.0.0.1:5432/db", "postgresql://postgres@127.0.0.1:5432/db"),
    ("postgresql://postgres@127.0.0.1/db", "postgresql://postgres@127.0.0.1/db"),
    ("host=127.0.0.1 user=postgres password=pw dbname=db",
     "host=127.0.0.1 user=postgres dbname=db"),
])  # fmt: skip
def test_redact(url: str, shown: str) -> None:
    if "://" in url:
        assert redact(url) == shown
    else:
        assert conninfo_to_dict(redact(url)) == conninfo_to_dict(shown)



def test_ensure_loaded_and_layout(runner: LoopThread, database: str) -> None:
    import psycopg

    assert runner.run(ensure_loaded(database, DATA, schema="ensure_test")) is True
    assert runner.run(ensure_loaded(database, DATA, schema="ensure_test")) is False
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE ensure_test.meta SET value = '0' WHERE key = 'layout'")
    with pytest.raises(StoreError, match="another version"):
        runner.run(PostgisStore.open(database, schema="ensure_test"))
    assert runner.run(loaded_fingerprint(database, "ensure_test")) is None  # so: reload
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DROP SCHEMA ensure_test CASCADE")


def test_rtree_boxes_match_sqlite() -> None:
    """The float32 envelopes stored for shapes are the ones SQLite's R*Tree stores."""
    import sqlite3

    rng = np.random.default_rng(3)
    lo = rng.uniform(-180, 180, (2000, 2)) * rng.choice([1.0, 1e-3, 1e-7], (2000, 1))
    bounds = np.column_stack([lo[:, 0], lo[:, 1], lo[:, 0] + rng.uniform(0, 5, 2000),
                              lo[:, 1] + rng.uniform(0, 5, 2000)])  # fmt: skip
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE r USING rtree(id, west, east, south, north)")
    db.executemany("INSERT INTO r VALUES (?,?,?,?,?)",
                   [(i, w, e, s, n) for i, (w, s, e, n) in enumerate(bounds.tolist())])
    stored = np.asarray([r[1:] for r in db.execute(
        "SELECT id, west, south, east, north FROM r ORDER BY id")], dtype=np.float64)
    ours = rtree_boxes(bounds).astype(np.float64)
    assert np.array_equal(ours, stored)
    assert (ours[:, :2] <= bounds[:, :2]).all() and (ours[:, 2:] >= bounds[:, 2:]).all()
