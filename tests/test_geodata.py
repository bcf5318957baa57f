"""Quality of the committed geodata: format, provenance, geometry and the build itself."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from geojson_pydantic import FeatureCollection
from shapely.geometry import LineString, Point, shape

from geodata import build

ROOT = Path(__file__).resolve().parents[1]
GEODATA = ROOT / "geodata"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "geodata_source"
LAYERS = ("borders", "countries", "places", "crossings")
GEOD = pyproj.Geod(ellps="WGS84")
BELARUS_FRONTIERS = ("BY-LT", "BY-LV", "BY-PL", "BY-RU", "BY-UA")
SIX_BY_RU_CHECKPOINTS = {
    "yukhovichi-dolostsy", "jezerishche-nevel", "lyozna-kruglovka", "redki-krasnaya-gorka",
    "zvenchatka-dubovichka", "selishcha-novozybkov",
}


def load(layer: str) -> dict:
    return json.loads((GEODATA / f"{layer}.geojson").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def layers() -> dict[str, dict]:
    return {layer: load(layer) for layer in LAYERS}


@pytest.fixture(scope="module")
def borders(layers) -> dict[str, dict]:
    return {f["id"]: f for f in layers["borders"]["features"]}


@pytest.fixture(scope="module")
def countries(layers) -> dict[str, dict]:
    return {f["id"]: f for f in layers["countries"]["features"]}


TO_LAEA = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)


def to_laea(geom):
    """Shapely geometry lon/lat → ETRS89-LAEA metres (EPSG:3035), for distances under 50 km.

    Long edges (the window's cut along a parallel) are densified first, so
    that they stay curves, not chords, once projected.
    """
    geom = shapely.segmentize(geom, 0.01)
    return shapely.transform(geom, lambda xy: np.column_stack(
        TO_LAEA.transform(xy[:, 0], xy[:, 1])))


def geodesic_distance_m(a: Point, b: Point) -> float:
    _, _, dist = GEOD.inv(a.x, a.y, b.x, b.y)
    return dist


# ---------------------------------------------------------------- format and provenance


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_is_valid_rfc7946_with_unique_ids(layer):
    data = load(layer)
    collection = FeatureCollection.model_validate(data)
    ids = [f.id for f in collection.features]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(ids) == len(set(ids)), "duplicate feature ids"
    assert len(ids) > 0


@pytest.mark.parametrize("layer", LAYERS)
def test_coordinates_are_crs84_rounded_to_six_decimals(layer):
    def walk(coords):
        if isinstance(coords[0], (int, float)):
            yield coords
        else:
            for c in coords:
                yield from walk(c)

    for feature in load(layer)["features"]:
        for lon, lat in walk(feature["geometry"]["coordinates"]):
            assert -180 <= lon <= 180 and -90 <= lat <= 90
            assert round(lon, 6) == lon and round(lat, 6) == lat


def test_polygons_are_valid_and_right_hand_wound(countries):
    for code, feature in countries.items():
        geom = shape(feature["geometry"])
        assert geom.is_valid, code
        for poly in shapely.get_parts(geom):
            assert poly.exterior.is_ccw, f"{code}: exterior ring must be counterclockwise"
            assert all(not ring.is_ccw for ring in poly.interiors), f"{code}: holes clockwise"


def test_manifest_matches_the_committed_files():
    manifest = json.loads((GEODATA / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["outputs"]) == {f"{layer}.geojson"
                                        for layer in (*LAYERS, "events", "context")}
    for name, entry in manifest["outputs"].items():
        data = (GEODATA / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert len(data) == entry["bytes"], name
        assert len(json.loads(data)["features"]) == entry["features"], name
    for key in ("maritime", "land", "geonames"):
        source = manifest["sources"][key]
        assert source["sha256"] == build.SOURCES[key].sha256
        assert source["version"] and source["licence"] and source["attribution"]
    for name, digest in manifest["sources"]["curated"]["files"].items():
        path = GEODATA / "curated" / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
    assert "command" in manifest["build"] and manifest["build"]["tools"]["geos"]


def test_committed_geodata_stays_under_15_mb():
    total = sum(p.stat().st_size for p in GEODATA.rglob("*") if p.is_file()
                and "__pycache__" not in p.parts
                and "build" not in p.parts)  # build/ holds the store file, not committed
    assert total < 15_000_000, f"{total / 1e6:.1f} MB"


def test_every_feature_names_its_source(layers):
    for layer in ("borders", "countries", "places"):
        for feature in layers[layer]["features"]:
            assert feature["properties"]["source"], (layer, feature["id"])
    for feature in layers["crossings"]["features"]:
        props = feature["properties"]
        assert props["reference"].startswith("http"), feature["id"]
        assert props["location_method"] and props["precision_m"] > 0
        located = [s for s in props["settlements"].values() if s]
        assert located, feature["id"]
        assert all(s["source"] for s in located)


# ---------------------------------------------------------------- borders


def independent_length_km(geometry: dict) -> float:
    """Sum of geodesic segment lengths straight from the coordinates (pyproj Geod.inv)."""
    lines = ([geometry["coordinates"]] if geometry["type"] == "LineString"
             else geometry["coordinates"])
    total = 0.0
    for line in lines:
        lons = [c[0] for c in line]
        lats = [c[1] for c in line]
        _, _, dists = GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
        total += sum(dists)
    return total / 1000.0


def test_border_ids_are_sorted_alpha2_pairs(borders):
    for bid, feature in borders.items():
        a, b = bid.split("-")
        assert a < b and feature["properties"]["countries"] == [a, b]
    assert set(BELARUS_FRONTIERS) <= set(borders)


def test_every_border_length_equals_an_independent_geodesic_recomputation(borders):
    for bid, feature in borders.items():
        assert feature["properties"]["length_km"] == pytest.approx(
            independent_length_km(feature["geometry"]), abs=0.002), bid


@pytest.mark.parametrize("bid", BELARUS_FRONTIERS)
def test_belarus_frontier_within_8_percent_of_its_cited_length(borders, bid):
    props = borders[bid]["properties"]
    assert props["cited_source"]
    deviation = abs(props["length_km"] - props["cited_length_km"]) / props["cited_length_km"]
    assert deviation <= 0.08, f"{bid}: {props['length_km']} km vs {props['cited_length_km']} km"
    assert props["clipped"] is False


def tripoint_from_polygons(countries: dict, codes: tuple[str, str, str], near: Point) -> Point:
    """Where three land polygons meet, looked for within 0.5 degrees of ``near``.

    The centre of the first non-empty overlap of the three polygons' buffers.
    """
    area = near.buffer(0.5)
    geoms = [shape(countries[c]["geometry"]).intersection(area) for c in codes]
    for tolerance in (0.001, 0.002, 0.004, 0.008, 0.016):
        common = geoms[0].buffer(tolerance)
        for geom in geoms[1:]:
            common = common.intersection(geom.buffer(tolerance))
        if not common.is_empty:
            return common.centroid
    raise AssertionError(f"no tripoint for {codes}")


def test_by_ru_is_one_line_between_its_tripoints_plus_enclave_rings(borders, countries):
    geometry = shape(borders["BY-RU"]["geometry"])
    parts = list(shapely.get_parts(geometry))
    open_lines = [p for p in parts if not p.is_closed]
    rings = [p for p in parts if p.is_closed]
    assert len(open_lines) == 1, "the frontier must be one continuous line"
    assert borders["BY-RU"]["properties"]["rings"] == len(rings)
    for ring in rings:  # an enclave lies inside Belarus's outline
        assert shape(countries["BY"]["geometry"]).buffer(0.01).contains(ring.centroid)
    line = open_lines[0]
    north = tripoint_from_polygons(countries, ("BY", "LV", "RU"), Point(line.coords[0]))
    south = tripoint_from_polygons(countries, ("BY", "RU", "UA"), Point(line.coords[-1]))
    assert geodesic_distance_m(Point(line.coords[0]), north) < 1000
    assert geodesic_distance_m(Point(line.coords[-1]), south) < 1000


@pytest.mark.parametrize("bid", BELARUS_FRONTIERS)
def test_belarus_frontiers_are_continuous(borders, bid):
    geometry = shape(borders[bid]["geometry"])
    open_lines = [p for p in shapely.get_parts(geometry) if not p.is_closed]
    assert len(open_lines) == 1


def test_border_separates_its_two_countries(borders, countries):
    """Sample points along each Belarus frontier lie within 1 km of both countries."""
    for bid in BELARUS_FRONTIERS:
        a, b = (to_laea(shape(countries[c]["geometry"])) for c in bid.split("-"))
        line = to_laea(shape(borders[bid]["geometry"]))
        for fraction in (0.1, 0.3, 0.5, 0.7, 0.9):
            point = line.interpolate(fraction, normalized=True)
            assert a.distance(point) < 1000 and b.distance(point) < 1000, (bid, fraction)


# ---------------------------------------------------------------- crossings and places


def test_crossings_lie_on_their_border(layers, borders):
    for feature in layers["crossings"]["features"]:
        point = Point(feature["geometry"]["coordinates"])
        line = shape(borders[feature["properties"]["border"]]["geometry"])
        nearest = shapely.ops.nearest_points(line, point)[0]
        assert geodesic_distance_m(point, nearest) <= 100, feature["id"]


def test_the_six_russia_belarus_checkpoints_are_there(layers):
    crossings = {f["id"]: f for f in layers["crossings"]["features"]}
    assert SIX_BY_RU_CHECKPOINTS <= set(crossings)
    for cid in SIX_BY_RU_CHECKPOINTS:
        props = crossings[cid]["properties"]
        assert props["border"] == "BY-RU"
        assert props["dates"]["by_checks_since"] == "2023-05-05"
        assert props["name_by_local"] and props["name_other_local"]


@pytest.mark.parametrize(
    ("pid", "name", "country"),
    [("minsk", "Minsk", "BY"), ("moscow", "Moscow", "RU"), ("kyiv", "Kyiv", "UA"),
     ("brest", "Brest", "BY"), ("vitebsk", "Vitebsk", "BY"), ("gomel", "Gomel", "BY"),
     ("mogilev", "Mogilev", "BY"), ("grodno", "Grodno", "BY"), ("smolensk", "Smolensk", "RU"),
     ("bryansk", "Bryansk", "RU"), ("pskov", "Pskov", "RU"), ("divin", "Divin", "BY")],
)
def test_story_places_are_there(layers, pid, name, country):
    places = {f["id"]: f for f in layers["places"]["features"]}
    assert places[pid]["properties"]["name"] == name
    assert places[pid]["properties"]["country"] == country


def test_divin_is_curated_with_its_names(layers):
    divin = next(f for f in layers["places"]["features"] if f["id"] == "divin")
    props = divin["properties"]
    assert props["name_local"] == "Дзівін"
    assert {"Дивин", "Dzivin", "Dyvin"} <= set(props["alternate_names"])
    assert props["source"].startswith("https://")
    assert props["near_belarus_frontier"] is True


def test_capitals_are_kind_capital(layers):
    kinds = {f["id"]: f["properties"]["kind"] for f in layers["places"]["features"]}
    assert kinds["minsk"] == kinds["moscow"] == kinds["kyiv"] == "capital"
    assert kinds["brest"] == "city"


def test_every_place_lies_in_its_stated_country(layers, countries):
    polygons = {code: to_laea(shape(f["geometry"])) for code, f in countries.items()}
    for geom in polygons.values():
        shapely.prepare(geom)
    features = layers["places"]["features"]
    points = to_laea(shapely.points([f["geometry"]["coordinates"] for f in features]))
    misplaced = []
    for feature, point in zip(features, points, strict=True):
        country = feature["properties"]["country"]
        if country not in polygons:
            misplaced.append((feature["id"], country, "no polygon"))
        elif polygons[country].distance(point) > 1000:
            misplaced.append((feature["id"], country))
    assert misplaced == []


def test_places_meet_the_selection_rule(layers):
    for feature in layers["places"]["features"]:
        props = feature["properties"]
        if props["geonames_id"] is None:
            continue
        assert (props["population"] or 0) >= build.MIN_POPULATION or \
            props["near_belarus_frontier"], feature["id"]


# ---------------------------------------------------------------- the build


@pytest.fixture(scope="module")
def fixture_sources():
    read = lambda name: json.loads((FIXTURE / name).read_text(encoding="utf-8"))  # noqa: E731
    return (read("land.geojson")["features"], read("maritime.geojson")["features"],
            read("geonames.json"))


def run_fixture_build(fixture_sources) -> tuple[dict[str, bytes], dict]:
    land, maritime, geonames = fixture_sources
    window = build.BBox(27.9, 55.8, 28.6, 56.3)
    layers, report = build.transform(land, maritime, geonames, window,
                                     build.Progress(quiet=True), margin=0.2)
    return build.serialize(layers), report


def test_build_is_deterministic(fixture_sources):
    first, _ = run_fixture_build(fixture_sources)
    second, _ = run_fixture_build(fixture_sources)
    assert first == second


def test_fixture_build_finds_the_tripoint_borders(fixture_sources):
    outputs, _ = run_fixture_build(fixture_sources)
    borders = {f["id"]: f for f in json.loads(outputs["borders.geojson"])["features"]}
    assert {"BY-LV", "BY-RU", "LV-RU"} <= set(borders)
    for feature in borders.values():
        assert feature["properties"]["clipped"] is True  # the small window cuts them all
        assert math.isclose(feature["properties"]["length_km"],
                            independent_length_km(feature["geometry"]), abs_tol=0.002)


def test_chain_bridges_gaps_and_keeps_rings_apart():
    pieces = [LineString([(0, 0), (0.01, 0)]), LineString([(0.0205, 0), (0.011, 0)]),
              LineString([(5, 5), (5.01, 5), (5.01, 5.01), (5, 5)])]
    line, rings, gaps = build.chain_pieces(pieces, Point(0, 0), 0.0001)
    assert line.coords[0] == (0, 0) and line.coords[-1] == (0.0205, 0)
    assert len(rings) == 1 and len(gaps) == 1 and gaps[0] > 0


@pytest.mark.parametrize(
    ("country", "name", "alternates", "expected"),
    [("BY", "Kobryn", ["Кобрин", "Кобрын", "Kobrin"], "Кобрын"),
     ("RU", "Smolensk", ["Смаленск", "Смоленск"], "Смоленск"),
     ("UA", "Kyiv", ["Киев", "Київ"], "Київ"),
     ("PL", "Terespol", ["Тэрэспаль"], "Terespol")],
)
def test_local_name_prefers_the_local_script_and_language(country, name, alternates, expected):
    assert build.local_name(country, name, alternates) == expected


# ---------------------------------------------------------------- issue 9: topology, names, sources


def area_km2(geom) -> float:
    return to_laea(geom).area / 1e6


def test_countries_partition_the_land(countries):
    """No two country polygons overlap by 0.01 km² or more (ETRS89-LAEA areas)."""
    codes = sorted(countries)
    geoms = {c: shape(countries[c]["geometry"]) for c in codes}
    overlaps = {}
    for i, a in enumerate(codes):
        for b in codes[i + 1:]:
            if geoms[a].intersects(geoms[b]):
                area = area_km2(geoms[a].intersection(geoms[b]))
                if area >= 0.01:
                    overlaps[f"{a}-{b}"] = round(area, 3)
    assert overlaps == {}


def test_the_exclave_is_russia_not_belarus(borders, countries):
    """The Sankovo-Medvezhye ring's interior lies in Russia's polygon, not Belarus's."""
    rings = [g for g in shapely.get_parts(shape(borders["BY-RU"]["geometry"])) if g.is_closed]
    assert rings, "the BY-RU border has lost its exclave ring"
    inside = shapely.Polygon(rings[0]).representative_point()
    assert shape(countries["RU"]["geometry"]).contains(inside)
    assert not shape(countries["BY"]["geometry"]).contains(inside)


def _open_ends(feature) -> list[tuple[float, float]]:
    ends = []
    for part in shapely.get_parts(shape(feature["geometry"])):
        if not part.is_closed:
            ends += [part.coords[0], part.coords[-1]]
    return ends


@pytest.mark.parametrize("trio", ["BY-LT-LV", "BY-LT-PL", "BY-LV-RU", "BY-PL-UA", "BY-RU-UA"])
def test_lines_meeting_at_a_tripoint_share_the_end_coordinate(borders, trio):
    a, b, c = trio.split("-")
    lines = [borders["-".join(sorted(pair))] for pair in ((a, b), (a, c), (b, c))]
    ends = [set(_open_ends(f)) for f in lines]
    common = ends[0] & ends[1] & ends[2]
    assert len(common) == 1, f"{trio}: the three lines do not end at one coordinate"


def test_by_ru_deviation_compares_the_line_without_the_exclave_ring(borders):
    props = borders["BY-RU"]["properties"]
    assert props["length_rings_km"] > 5
    assert props["length_line_km"] == pytest.approx(
        props["length_km"] - props["length_rings_km"], abs=0.002)
    assert props["deviation_pct"] == pytest.approx(
        100 * (props["length_line_km"] - props["cited_length_km"]) / props["cited_length_km"],
        abs=0.05)


def test_border_names_in_russian_and_belarusian(borders):
    assert borders["BY-RU"]["properties"]["name_ru"] == "Граница Беларуси и России"
    assert borders["BY-RU"]["properties"]["name_be"] == "Мяжа Беларусі і Расіі"
    assert borders["BY-UA"]["properties"]["name_ru"] == "Граница Беларуси и Украины"


def test_every_crossing_is_on_its_border_and_on_its_road_or_says_why_not(layers, borders):
    """Within 100 m of its border line; within 300 m of its road in the committed road
    data, or a reason why it could not be checked (no road data here)."""
    roads_path = GEODATA / "roads.geojson"
    roads = ({f["properties"]["crossing"]: shape(f["geometry"]) for f in
              json.loads(roads_path.read_text(encoding="utf-8"))["features"]}
             if roads_path.exists() else {})
    for feature in layers["crossings"]["features"]:
        props = feature["properties"]
        point = Point(feature["geometry"]["coordinates"])
        line = shape(borders[props["border"]]["geometry"])
        on_line = shapely.ops.nearest_points(line, point)[0]
        assert geodesic_distance_m(point, on_line) <= 100, feature["id"]
        road = roads.get(feature["id"])
        if road is not None and props["road_source"]:
            on_road = shapely.ops.nearest_points(road, point)[0]
            assert geodesic_distance_m(point, on_road) <= 300, feature["id"]
        else:
            assert props["road_unverified_reason"], feature["id"]
            assert props["precision_m"] >= 1000, feature["id"]


def test_crossing_status_is_sourced(layers):
    for feature in layers["crossings"]["features"]:
        props = feature["properties"]
        assert props["status"] in build.CROSSING_STATUSES, feature["id"]
        assert props["status_source"].startswith("http"), feature["id"]
        if props["status_since"] is not None:
            assert build.DATE.match(props["status_since"]), feature["id"]
        if props["status"] == "restricted":
            assert props["who_may_cross"], feature["id"]


def test_corrected_crossing_facts(layers):
    crossings = {f["id"]: f["properties"] for f in layers["crossings"]["features"]}
    assert crossings["berestovitsa-bobrowniki"]["dates"]["pl_closed"] == "2023-02-10"
    assert crossings["bruzgi-kuznica"]["dates"]["pl_closed"] == "2021-11-09"
    assert crossings["privalka-raigardas"]["road"].startswith("R42")
    assert crossings["privalka-raigardas"]["name_by_local"] == "Прывалка"
    assert "kozlovichi-kukuryki" in crossings


def test_no_two_places_of_one_name_within_5_km(layers):
    seen: dict[str, list[tuple[str, Point]]] = {}
    clashes = []
    for feature in layers["places"]["features"]:
        key = build.normalized_name(feature["properties"]["name"])
        point = Point(feature["geometry"]["coordinates"])
        for other_id, other in seen.get(key, []):
            if geodesic_distance_m(point, other) < 5000:
                clashes.append((feature["id"], other_id))
        seen.setdefault(key, []).append((feature["id"], point))
    assert clashes == []


def test_districts_are_not_shown_as_settlements(layers):
    ids = {f["properties"]["geonames_id"] for f in layers["places"]["features"]}
    for row in build.read_csv(GEODATA / "curated" / "not_settlements.csv"):
        assert int(row["geonames_id"]) not in ids, row["name"]


def test_names_by_language_use_only_their_letters(layers):
    bad = []
    for layer in ("places", "crossings"):
        for feature in layers[layer]["features"]:
            props = feature["properties"]
            assert "name_en" in props and "name_ru" in props and "name_be" in props
            if props["name_ru"] and set(props["name_ru"]) & set("іўІЎ"):
                bad.append((feature["id"], "ru", props["name_ru"]))
            if props["name_be"] and set(props["name_be"]) & set("ищъИЩЪ"):
                bad.append((feature["id"], "be", props["name_be"]))
            assert props["name"] == props["name_en"], feature["id"]
    assert bad == []


@pytest.mark.parametrize(("pid", "en", "ru", "be", "alias"), [
    ("grodno", "Grodno", "Гродно", "Гродна", "Hrodna"),
    ("gomel", "Gomel", "Гомель", "Гомель", "Homiel"),
    ("mogilev", "Mogilev", "Могилёв", "Магілёў", "Mahilioŭ"),
    ("vitebsk", "Vitebsk", "Витебск", "Віцебск", "Viciebsk"),
    ("smolensk", "Smolensk", "Смоленск", "Смаленск", None),
    ("brest", "Brest", "Брест", "Брэст", None),
])
def test_names_follow_the_romanisation_policy(layers, pid, en, ru, be, alias):
    places = {f["id"]: f["properties"] for f in layers["places"]["features"]}
    props = places[pid]
    assert (props["name_en"], props["name_ru"], props["name_be"]) == (en, ru, be)
    if alias:
        assert alias in props["alternate_names"]


def test_romanisations():
    assert build.romanize_russian("Могилёв") == "Mogilev"
    assert build.romanize_russian("Езерище") == "Yezerishche"
    assert build.romanize_belarusian("Магілёў") == "Mahilioŭ"
    assert build.romanize_belarusian("Гомель") == "Homieĺ"
    assert build.romanize_belarusian("Гродна") == "Hrodna"


MIRROR_DOMAINS = ("wikiwand", "perceptio", "russianwiki", "wiki7", "friendlywiki", "wiki.li",
                  "wiki-org", "kiwix", "kampuspedia", "blogen.wiki", "hmong", "wikisort",
                  "theinfolist", "cloudfrontnetl", "its4test", "nuuanu", "clateway",
                  "uncensored-wiki", "iiab.me", "enwikipedia.net", "pinocchiopedia",
                  "indexmundi", "breakinglatest", "PRODUCT.md", "product brief",
                  # republishers and aggregators found in issue 9c (wire copy, wiki copies)
                  "polanddaily24", "ria24", "warsawpoint", "wikimili", "popflock",
                  "wikipedia-on-ipfs", "gpedia", "wiki.x.io", "dob.jp", "mediated.wiki",
                  "frwiki.wiki", "hqproductreviews", "710302.xyz", "fastly.net", "ipfs.dweb",
                  # issue 9d: republished copies and aggregators (6tv.by of Radio Svaboda,
                  # netsmol.ru of BelTA, news.21.by, devdiscourse, a logistics firm's reposts)
                  "6tvby", "netsmol", "news.21.by", "devdiscourse", "td-sd.com",
                  "paperai.life", "wafarin", "wikihandbk", "dic.academic.ru", "profilbaru",
                  "ixistenz", "arc.ask3.ru", "wikizero")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_no_source_on_a_mirror_or_the_brief(layers):
    found = []
    for layer in (*LAYERS, "events"):
        for feature in load(layer)["features"]:
            for text in _strings(feature["properties"]):
                found += [(layer, feature["id"], d) for d in MIRROR_DOMAINS if d in text]
    assert found == []


def test_events_are_dated_and_sourced(layers, borders):
    events = load("events")["features"]
    crossings = {f["id"] for f in layers["crossings"]["features"]}
    assert len(events) >= 10
    dates = {f["properties"]["date"] for f in events}
    assert {"2011-04-01", "2023-05-05", "2025-01-11"} <= dates
    for feature in events:
        props = feature["properties"]
        assert feature["geometry"] is None
        for key in ("date", "end_date"):
            if props[key] is not None:
                assert build.DATE.match(props[key]), feature["id"]
                datetime.date.fromisoformat(props[key])
        assert props["source_url"].startswith("http") and props["source_title"]
        assert set(props["borders"]) <= set(borders) and props["borders"]
        assert set(props["crossings"]) <= crossings | {"peschatka-polowce",
                                                       "grigorovshchina-paternieki"}
        assert not set(props["description_ru"]) & set("іўІЎ")
        assert not set(props["description_be"]) & set("ищъИЩЪ")


def test_manifest_version_is_derived_from_the_outputs():
    manifest = json.loads((GEODATA / "manifest.json").read_text(encoding="utf-8"))
    outputs = {name: (GEODATA / name).read_bytes() for name in manifest["outputs"]}
    version = build.data_version(outputs, build.data_as_of(GEODATA / "curated"))
    assert manifest["version"] == version
    assert version["id"] == f"{version['built']}.{version['hash']}"
    changed = dict(outputs, **{"events.geojson": outputs["events.geojson"] + b" "})
    assert build.data_version(changed, version["built"])["hash"] != version["hash"]


# --------------------------------------------------------------------------- former ids

#: Ids of earlier data versions that redirect (a sample; the table has them all)
KNOWN_FORMER_IDS = {
    "mahilyow": "mogilev", "homyel": "gomel", "hrodna": "grodno", "lyozna": "liozno",
    "jezerishche": "yezerishche", "mozir": "mozyr", "babruysk": "bobruysk",
    "navapolatsk": "novopolotsk", "astraviec": "ostrovets", "saltivka": "kharkiv",
    "naujoji-vilnia": "vilnius", "nevel-ru": "nevel", "novozybkov-ru": "novozybkov",
}


def former_id_rows() -> list[dict[str, str]]:
    return build.read_csv(GEODATA / "curated" / "former_ids.csv")


def test_every_former_id_is_unique_not_current_and_maps_to_one_place(layers):
    places = layers["places"]["features"]
    current = [f["id"] for f in places]
    rows = former_id_rows()
    old = [r["old_id"] for r in rows]
    assert len(old) == len(set(old))
    assert not set(old) & set(current)
    assert not set(old) & {f["id"] for f in layers["crossings"]["features"]}
    for row in rows:
        assert current.count(row["new_id"]) == 1, row
        assert row["since"], row
    listed = {(f["id"], o) for f in places for o in f["properties"]["former_ids"]}
    assert listed == {(r["new_id"], r["old_id"]) for r in rows}
    owners = [o for f in places for o in f["properties"]["former_ids"]]
    assert len(owners) == len(set(owners))
    for old_id, new_id in KNOWN_FORMER_IDS.items():
        assert (new_id, old_id) in listed


def test_former_ids_point_to_the_same_geonames_record_where_they_had_one(layers):
    """A row's geonames_id is the old record's: the new place's, or, for a record
    dropped as a duplicate or a district, one within 10 km of it (Saltivka: Kharkiv)."""
    places = {f["id"]: f for f in layers["places"]["features"]}
    merged = {"bykovo-ru", "dzerzhinskiy", "horad-krychaw", "husiatyn-ua", "ozerniy",
              "naujoji-vilnia", "saltivka", "nevel-ru", "novozybkov-ru"}
    for row in former_id_rows():
        gid = places[row["new_id"]]["properties"]["geonames_id"]
        if row["old_id"] not in merged and row["geonames_id"]:
            assert str(gid) == row["geonames_id"], row


def test_crossing_ids_never_changed(layers):
    """No crossing id changed in any data version, so crossings have no former ids."""
    ids = {f["id"] for f in layers["crossings"]["features"]}
    assert SIX_BY_RU_CHECKPOINTS <= ids
    assert {"brest-terespol", "bruzgi-kuznica", "berestovitsa-bobrowniki",
            "kozlovichi-kukuryki", "privalka-raigardas"} <= ids


@pytest.mark.parametrize(("pid", "ru", "be", "former"), [
    # issue 9c: the rule took «Островцы» for Astravets; ru.wikipedia's title is «Островец»
    ("ostrovets", "Островец", "Астравец", "astraviec"),
    ("kobrin", "Кобрин", "Кобрын", "kobryn"),
    ("beloozersk", "Белоозёрск", "Белаазёрск", "byelaazyorsk"),
])
def test_cited_names_and_the_ids_they_replace(layers, pid, ru, be, former):
    places = {f["id"]: f["properties"] for f in layers["places"]["features"]}
    props = places[pid]
    assert (props["name_ru"], props["name_be"]) == (ru, be)
    assert former in props["former_ids"]
    assert props["names_source"].startswith("curated/local_names.csv")


def test_every_curated_name_row_cites_a_page():
    for row in build.read_csv(GEODATA / "curated" / "local_names.csv"):
        assert "wikipedia" in row["source"] or "https://" in row["source"], row


def _near_km(a, b) -> float:
    return GEOD.line_length([a[0], b[0]], [a[1], b[1]]) / 1000.0


def test_crossing_names_spell_places_as_the_places_do(layers):
    """A crossing named after a settlement that is also a place uses the place's English
    spelling (one romanisation policy: no Jezerishche beside Yezerishche), and its
    settlements and location_method show those same names."""
    rows = {r["id"]: r for r in build.read_csv(GEODATA / "curated" / "crossings.csv")}
    places = layers["places"]["features"]
    checked, bad = 0, []
    for feature in layers["crossings"]["features"]:
        props, row = feature["properties"], rows[feature["id"]]
        other = next(c for c in props["border"].split("-") if c != "BY")
        assert props["name_en"] == f"{props['name_by']}–{props['name_other']}"
        for side, country in (("by", "BY"), ("other", other)):
            forms = {row[f"name_{side}_ru"], row[f"name_{side}_local"],
                     row.get(f"name_{side}_be") or ""} - {""}
            english = props[f"name_{side}"]
            settlement = props["settlements"][side]
            if settlement is not None:
                assert settlement["name"] == english, (feature["id"], side)
                assert english in props["location_method"], feature["id"]
            for place in places:
                q = place["properties"]
                names = {q["name_ru"], q["name_be"], q["name_local"], *q["alternate_names"]}
                if q["country"] == country and forms & names and _near_km(
                        place["geometry"]["coordinates"], feature["geometry"]["coordinates"]) < 40:
                    checked += 1
                    if q["name_en"] != english:
                        bad.append((feature["id"], side, english, place["id"], q["name_en"]))
    assert bad == []
    assert checked >= 12  # Yezerishche, Liozno, Novaya Guta, Nevel, Terespol, …


def test_crossing_and_event_texts_in_three_languages(layers):
    """Text a map shows from crossings and events exists in en, ru and be (our own
    translations of the sourced English, see README), each in its own letters."""
    for feature in layers["crossings"]["features"]:
        props = feature["properties"]
        texts = [props["who_may_cross"], props["who_may_cross_ru"], props["who_may_cross_be"]]
        assert all(texts) or not any(texts), feature["id"]
        if props["who_may_cross_ru"]:
            assert not set(props["who_may_cross_ru"]) & set("іўІЎ"), feature["id"]
            assert not set(props["who_may_cross_be"]) & set("ищъИЩЪ"), feature["id"]
        assert props["status"] in build.CROSSING_STATUSES  # a code, translated by the maps
    for feature in load("events")["features"]:
        props = feature["properties"]
        for field in ("title", "description"):
            assert props[f"{field}_en"] and props[f"{field}_ru"] and props[f"{field}_be"]
            assert not set(props[f"{field}_ru"]) & set("іўІЎ"), feature["id"]
            assert not set(props[f"{field}_be"]) & set("ищъИЩЪ"), feature["id"]


@pytest.mark.parametrize(("pid", "en", "ru", "be"), [
    # issue 9d: cited names for Belarusian places that had none; their ids are kept
    ("lyasny", "Lesnoy", "Лесной", "Лясны"),
    ("chausy", "Chausy", "Чаусы", "Чавусы"),
    ("chachersk", "Chechersk", "Чечерск", "Чачэрск"),
    ("buda-kashalyova", "Buda-Koshelevo", "Буда-Кошелёво", "Буда-Кашалёва"),
    ("svislach", "Svisloch", "Свислочь", "Свіслач"),
    ("rossony", "Rossony", "Россоны", "Расоны"),
    ("sharkovshchina", "Sharkovshchina", "Шарковщина", "Шаркаўшчына"),
    ("novaya-huta", "Novaya Guta", "Новая Гута", None),
])
def test_cited_names_keep_published_ids(layers, pid, en, ru, be):
    places = {f["id"]: f["properties"] for f in layers["places"]["features"]}
    props = places[pid]
    assert (props["name_en"], props["name_ru"], props["name_be"]) == (en, ru, be)
    assert props["names_source"].startswith("curated/local_names.csv")
    assert "https://" in props["names_source"]
