"""The store contract: every backend answers the same questions the same way.

Runs on a small committed dataset (``tests/fixtures/store_data``, cut by
``make_store_fixture.py``) and checks each answer against an independent
computation on the raw GeoJSON (shapely, pyproj), not against the store itself.
The backends: the embedded SQLite file, and PostGIS when its backend is present
(the machine's PostgreSQL; in CI a missing PostGIS fails the run).
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point, box

from service.domain import geometry
from service.domain.errors import (
    BorderNotFoundError,
    CollectionNotFoundError,
    FeatureNotFoundError,
    PlaceNotFoundError,
)
from service.domain.geometry import BBox
from service.domain.records import ItemsQuery, PlaceQuery
from service.store.base import FeatureStore
from service.store.embedded import EmbeddedStore, build_file

DATA = Path(__file__).resolve().parent / "fixtures" / "store_data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
GEOD = Geod(ellps="WGS84")
#: PostGIS joins once its backend module exists; from then on CI must be able to run it.
BACKENDS = ["embedded"] + (
    ["postgis"] if (Path(__file__).resolve().parents[1] / "service/store/postgis.py").exists()
    else []
)


#: One event loop for every store call of this module, in its own thread: an async
#: pool (PostGIS) stays on the loop it was made on, and the browser tests' loop in the
#: main thread does not interfere.
_LOOP = asyncio.new_event_loop()
threading.Thread(target=_LOOP.run_forever, daemon=True, name="store-contract").start()


def run(coro):
    """Run one store call to completion on the module's loop (the stores are async)."""
    return asyncio.run_coroutine_threadsafe(coro, _LOOP).result(timeout=120)


def _raw(name: str) -> list[dict]:
    return orjson.loads((DATA / f"{name}.geojson").read_bytes())["features"]


@pytest.fixture(scope="module", params=BACKENDS)
def store(request, tmp_path_factory) -> Iterator[FeatureStore]:
    """Each backend, loaded with the fixture dataset."""
    if request.param == "embedded":
        path = tmp_path_factory.mktemp("embedded") / "atlas.sqlite"
        build_file(DATA, path)
        opened = EmbeddedStore(path)
        yield opened
        run(opened.close())
        return
    try:
        import psycopg

        from service.store import postgis
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"the PostGIS backend cannot be imported in CI: {exc}")
        pytest.skip(f"PostGIS backend not available: {exc}")
    admin = os.environ.get("FRONTIER_ATLAS_TEST_ADMIN_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"frontier_atlas_contract_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        run(postgis.load(url, DATA, "frontier_atlas"))
        opened = run(postgis.PostgisStore.open(url, schema="frontier_atlas"))
        yield opened
        run(opened.close())
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------ collections
def test_collections_and_counts(store):
    metas = run(store.collections())
    assert [m.id for m in metas] == ["borders", "countries", "places", "crossings", "events"]
    for meta in metas:
        assert meta.count == len(_raw(meta.id)), meta.id
        assert run(store.collection(meta.id)) == meta
    places = run(store.collection("places"))
    coords = np.array([f["geometry"]["coordinates"] for f in _raw("places")])
    assert places.extent == pytest.approx(
        (coords[:, 0].min(), coords[:, 1].min(), coords[:, 0].max(), coords[:, 1].max()))
    assert run(store.collection("crossings")).temporal is not None
    with pytest.raises(CollectionNotFoundError):
        run(store.collection("rivers"))


@pytest.mark.parametrize("cid", ["places", "crossings", "events", "countries"])
def test_every_feature_by_id_is_its_source_feature(store, cid):
    for raw in _raw(cid):
        feature = run(store.feature(cid, raw["id"]))
        assert feature.to_dict() == raw
    with pytest.raises(FeatureNotFoundError):
        run(store.feature(cid, "no-such-id"))


def test_pages_walk_every_feature_in_order(store):
    ids = [f["id"] for f in _raw("places")]
    seen = []
    for offset in range(0, len(ids) + 40, 40):
        page = run(store.items("places", ItemsQuery(limit=40, offset=offset)))
        assert page.matched == len(ids)
        seen += [f.id for f in page.features]
    assert seen == ids


BOXES = [BBox(27.0, 53.0, 28.5, 54.5), BBox(23.0, 51.0, 26.0, 52.5), BBox(30.0, 51.0, 33.0, 53.0),
         BBox(0.0, 0.0, 1.0, 1.0), BBox(179.0, 50.0, -179.0, 55.0)]


@pytest.mark.parametrize("bbox", BOXES, ids=str)
@pytest.mark.parametrize("cid", ["places", "crossings", "borders", "countries"])
def test_bbox_matches_an_independent_intersection(store, cid, bbox):
    query = shapely.union_all(geometry.bbox_parts(bbox))
    expected = [f["id"] for f in _raw(cid)
                if shapely.from_geojson(orjson.dumps(f["geometry"])).intersects(query)]
    page = run(store.items(cid, ItemsQuery(bbox=bbox, limit=10_000)))
    assert [f.id for f in page.features] == expected
    assert page.matched == len(expected)


def test_bbox_edge_points_are_exact(store):
    """The R*Tree keeps float32 boxes: a box ending just short of a point must miss it."""
    raw = _raw("places")[0]
    lon, lat = raw["geometry"]["coordinates"]
    hit = run(store.items("places", ItemsQuery(bbox=BBox(lon, lat, lon + 1, lat + 1))))
    assert raw["id"] in [f.id for f in hit.features]
    miss = run(store.items("places", ItemsQuery(bbox=BBox(lon + 1e-7, lat, lon + 1, lat + 1))))
    assert raw["id"] not in [f.id for f in miss.features]


@pytest.mark.parametrize(("cid", "filters", "test"), [
    ("places", {"country": "BY"}, lambda p: p.get("country") == "BY"),
    ("places", {"kind": "CITY"}, lambda p: str(p.get("kind")).lower() == "city"),
    ("crossings", {"border": "BY-RU"}, lambda p: p.get("border") == "BY-RU"),
    ("borders", {"country": "UA"}, lambda p: "UA" in p.get("countries", [])),
    ("events", {"border": "BY-PL"}, lambda p: "BY-PL" in p.get("borders", [])),
])  # fmt: skip
def test_filters_match_the_properties(store, cid, filters, test):
    expected = [f["id"] for f in _raw(cid) if test(f["properties"])]
    assert expected, "the fixture must exercise the filter"
    page = run(store.items(cid, ItemsQuery(filters=filters, limit=10_000)))
    assert [f.id for f in page.features] == expected and page.matched == len(expected)
    two = run(store.items(cid, ItemsQuery(filters=filters, limit=2, offset=1)))
    assert [f.id for f in two.features] == expected[1:3] and two.matched == len(expected)


def test_datetime_selects_features_dated_in_the_interval(store):
    start = datetime(2023, 5, 1, tzinfo=UTC)
    end = datetime(2023, 5, 31, 23, 59, 59, tzinfo=UTC)
    expected = []
    for f in _raw("events"):
        first = f["properties"]["date"]
        last = f["properties"].get("end_date") or first
        if first <= "2023-05-31" and last >= "2023-05-01":
            expected.append(f["id"])
    assert expected, "the fixture must have an event in May 2023"
    page = run(store.items("events", ItemsQuery(interval=(start, end), limit=100)))
    assert [f.id for f in page.features] == expected


# ------------------------------------------------------------------ places
@pytest.mark.parametrize("q", ["Divin", "Дивин", "Дзівін", "dzivin", "DIVIN"])
def test_search_any_script_finds_divin_first(store, q):
    page = run(store.search_places(PlaceQuery(q=q, limit=5)))
    assert page.features[0].id == "divin"


def test_broad_search_counts_every_match_and_ranks_by_population(store):
    page = run(store.search_places(PlaceQuery(q="m", limit=500)))
    names = [f.properties["name"] for f in page.features]
    assert page.matched == len(page.features) > 3
    exact_prefix = [n for n in names if n.lower().startswith("m")]
    pops = [f.properties.get("population") or 0 for f in page.features
            if f.properties["name"] in exact_prefix]
    assert pops == sorted(pops, reverse=True)
    assert run(store.search_places(PlaceQuery(q="zzzzqqq"))).matched == 0


def test_near_is_nearest_first_within_the_radius(store):
    lon, lat = 24.575, 51.958
    page = run(store.search_places(PlaceQuery(near=(lon, lat), radius_km=60, limit=1000)))
    expected = {}
    for f in _raw("places"):
        plon, plat = f["geometry"]["coordinates"]
        km = GEOD.inv(lon, lat, plon, plat)[2] / 1000
        if km <= 60:
            expected[f["id"]] = km
    assert {f.id for f in page.features} == set(expected)
    assert page.distances_km == sorted(page.distances_km)
    for f, km in zip(page.features, page.distances_km, strict=True):
        assert km == pytest.approx(expected[f.id], abs=0.001)


@pytest.mark.parametrize("small", [False, True])
def test_near_pages_count_and_order_as_measuring_every_place(store, monkeypatch, small):
    """Pages of the nearest places (any offset) and numberMatched equal measuring every
    place: nearest first, ties in data order; with the grid walked node by node too
    (``small``: leaves of one place, no shortcut for small datasets)."""
    from service.store import nearby

    if small:
        monkeypatch.setattr(nearby, "SMALL", 0)
        monkeypatch.setattr(nearby, "LEAF", 1)
    places = _raw("places")
    rng = random.Random(8)
    for _ in range(12):
        lon, lat = rng.uniform(23.0, 33.0), rng.uniform(51.0, 56.5)
        radius = rng.choice([0.5, 5.0, 25.0, 80.0, 400.0])
        measured = []
        for idx, f in enumerate(places):
            plon, plat = f["geometry"]["coordinates"]
            km = GEOD.inv(lon, lat, plon, plat)[2] / 1000
            if km <= radius:
                measured.append((km, idx, f["id"]))
        measured.sort()
        for limit, offset in ((10, 0), (3, 2), (50, 5)):
            page = run(store.search_places(PlaceQuery(near=(lon, lat), radius_km=radius,
                                                      limit=limit, offset=offset)))
            want = measured[offset: offset + limit]
            assert page.matched == len(measured), (lon, lat, radius)
            assert [f.id for f in page.features] == [i for _, _, i in want]
            assert page.distances_km == [round(km, 3) for km, _, _ in want]


def test_place_hints_and_places_within(store):
    assert run(store.place("divin")).lonlat == pytest.approx((24.57528, 51.95778), abs=0.01)
    with pytest.raises(PlaceNotFoundError, match="Did you mean"):
        run(store.place("divinn"))
    inside = run(store.places_within(BBox(23.5, 51.3, 32.5, 54.5)))
    pops = [p.population for p in inside]
    assert pops == sorted(pops, reverse=True) and len(inside) == len(_raw("places"))


# ------------------------------------------------------------------ the small layers
def test_distances_to_borders_match_the_exact_projection(store):
    raw = {f["id"]: shapely.from_geojson(orjson.dumps(f["geometry"])) for f in _raw("borders")}
    for lon, lat in [(24.575, 51.958), (31.0, 52.5), (27.56, 53.9), (33.5, 55.0)]:
        rows = run(store.distances_to_borders(lon, lat))
        assert [r.distance_km for r in rows] == sorted(r.distance_km for r in rows)
        for row in rows:
            exact = geometry.nearest_point(lon, lat, raw[row.border])
            assert row.distance_km == pytest.approx(exact.distance_km, abs=0.002), row.border
        assert run(store.nearest_border(lon, lat)) == rows[0]


def test_country_at_and_crossings_on(store):
    assert run(store.country_at(27.56, 53.9)).id == "BY"
    assert run(store.country_at(0.0, 0.0)) is None
    crossings = run(store.crossings_on("rus-blr"))
    assert [c.id for c in crossings] == [f["id"] for f in _raw("crossings")
                                         if f["properties"]["border"] == "BY-RU"]
    with pytest.raises(BorderNotFoundError):
        run(store.crossings_on("BY-XX"))


def test_border_levels_stay_within_their_tolerance(store):
    full = run(store.border("BY-UA"))
    for tolerance in (100.0, 1000.0, 5000.0):
        level = run(store.border("UA-BY", tolerance))
        assert level.vertices <= full.vertices
        metric_full = geometry.to_metric(full.geometry)
        metric_simple = geometry.to_metric(level.geometry)
        assert metric_full.hausdorff_distance(metric_simple) <= tolerance * 1.01
    assert Point(full.geometry.coords[0]).within(box(*full.geometry.buffer(0.001).bounds))


def test_a_bbox_of_zero_size_still_meets_the_lines_through_it(store):
    raw = _raw("borders")[0]
    lon, lat = shapely.get_coordinates(shapely.from_geojson(orjson.dumps(raw["geometry"])))[5]
    page = run(store.items("borders", ItemsQuery(bbox=BBox(lon, lat, lon, lat))))
    assert raw["id"] in [f.id for f in page.features]
    line = run(store.items("borders", ItemsQuery(bbox=BBox(lon, lat - 0.01, lon, lat + 0.01))))
    assert raw["id"] in [f.id for f in line.features]


def test_datetime_bounds_with_fractions_of_a_second(store):
    """Bounds are compared as times: 00:00:00.5 is after 00:00:00, not before it."""
    first = min(f["properties"]["date"] for f in _raw("events"))
    day = datetime.fromisoformat(first).replace(tzinfo=UTC)
    just_after_start = day.replace(microsecond=500_000)
    page = run(store.items("events", ItemsQuery(interval=(None, just_after_start), limit=100)))
    assert first in [f.properties["date"] for f in page.features]
    naive = run(store.items("events", ItemsQuery(interval=(None, day.replace(tzinfo=None)))))
    assert naive.matched == page.matched


# ------------------------------------------------------------------ CQL2 filters, sortby, ids
def _cql(text: str, cid: str = "places"):
    from service.domain.collections import properties_of
    from service.domain.expressions import parse_filter

    return parse_filter(text, "cql2-text", properties_of(cid))


def _like(value, pattern: str) -> bool:
    import re

    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return isinstance(value, str) and re.fullmatch(regex, value, flags=re.S) is not None


@pytest.mark.parametrize(("text", "test"), [
    ("kind = 'town'", lambda p: p.get("kind") == "town"),
    ("kind <> 'town'", lambda p: p.get("kind") is not None and p.get("kind") != "town"),
    ("population > 20000", lambda p: (p.get("population") or -1) > 20000),
    ("population <= 1000 AND country = 'BY'",
     lambda p: p.get("population") is not None and p["population"] <= 1000
     and p.get("country") == "BY"),
    ("kind = 'city' OR kind = 'capital'", lambda p: p.get("kind") in ("city", "capital")),
    ("NOT (country = 'BY')", lambda p: p.get("country") is not None and p["country"] != "BY"),
    ("name LIKE 'D%'", lambda p: _like(p.get("name"), "D%")),
    ("name LIKE '%in'", lambda p: _like(p.get("name"), "%in")),
    ("name LIKE 'd%'", lambda p: _like(p.get("name"), "d%")),  # case-sensitive
    ("name LIKE '_ivin'", lambda p: _like(p.get("name"), "_ivin")),
    ("country IN ('UA', 'PL')", lambda p: p.get("country") in ("UA", "PL")),
    ("name_be IS NULL", lambda p: p.get("name_be") is None),
    ("name_be IS NOT NULL", lambda p: p.get("name_be") is not None),
    ("population BETWEEN 1000 AND 5000",
     lambda p: p.get("population") is not None and 1000 <= p["population"] <= 5000),
    ("near_belarus_frontier = true", lambda p: p.get("near_belarus_frontier") is True),
])  # fmt: skip
def test_cql2_filters_match_an_independent_evaluation(store, text, test):
    expected = [f["id"] for f in _raw("places") if test(f["properties"])]
    page = run(store.items("places", ItemsQuery(where=_cql(text), limit=10_000)))
    assert [f.id for f in page.features] == expected and page.matched == len(expected)


@pytest.mark.parametrize(("cid", "bounds"), [
    ("places", (24.0, 51.5, 25.0, 52.5)),
    ("countries", (24.0, 51.5, 25.0, 52.5)),
    ("borders", (30.0, 52.0, 32.0, 54.0)),
])
def test_s_intersects_matches_shapely(store, cid, bounds):
    shape = box(*bounds)
    expected = [f["id"] for f in _raw(cid)
                if f.get("geometry") and shapely.from_geojson(orjson.dumps(f["geometry"]))
                .intersects(shape)]  # fmt: skip
    text = "S_INTERSECTS(geometry, BBOX({}, {}, {}, {}))".format(*bounds)
    page = run(store.items(cid, ItemsQuery(where=_cql(text, cid), limit=10_000)))
    assert [f.id for f in page.features] == expected


def test_sortby_orders_with_nulls_first_and_ties_in_data_order(store):
    from service.domain.collections import properties_of
    from service.domain.records import SortKey

    props = {p.name: p for p in properties_of("places")}
    raw = _raw("places")
    order = list(range(len(raw)))
    pop = [f["properties"].get("population") for f in raw]
    ascending = sorted(order, key=lambda i: (pop[i] is not None, pop[i] or 0, i))
    descending = sorted(order, key=lambda i: (pop[i] is None, -(pop[i] or 0), i))
    for keys, expected in (((SortKey(props["population"]),), ascending),
                           ((SortKey(props["population"], True),), descending)):
        page = run(store.items("places", ItemsQuery(sortby=keys, limit=10_000)))
        assert [f.id for f in page.features] == [raw[i]["id"] for i in expected]
        part = run(store.items("places", ItemsQuery(sortby=keys, limit=3, offset=2)))
        assert [f.id for f in part.features] == [raw[i]["id"] for i in expected[2:5]]
    names = sorted(order, key=lambda i: (raw[i]["properties"]["name"].encode(), i))
    page = run(store.items("places", ItemsQuery(sortby=(SortKey(props["name"]),), limit=10_000)))
    assert [f.id for f in page.features] == [raw[i]["id"] for i in names]


def test_ids_select_those_features_in_data_order(store):
    raw = [f["id"] for f in _raw("places")]
    wanted = (raw[5], raw[1], "no-such-place")
    page = run(store.items("places", ItemsQuery(ids=wanted)))
    assert [f.id for f in page.features] == [raw[1], raw[5]] and page.matched == 2


def test_ids_from_earlier_data_still_find_the_feature(store):
    raw = next(f for f in _raw("places") if f["properties"].get("former_ids"))
    old = raw["properties"]["former_ids"][0]
    assert run(store.place(old)).id == raw["id"]
    assert run(store.feature("places", old)).id == raw["id"]
    with pytest.raises(FeatureNotFoundError):
        run(store.feature("crossings", old))
