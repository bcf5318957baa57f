"""Borders: ids, measured lengths (cross-checked with pyproj), simplification, crossings, zones."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from geojson_pydantic import Feature, FeatureCollection
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer
from shapely.geometry import Point, shape

from service.store.prepare import SIMPLIFY_LEVELS_M
from service.web.models import Borders

GEOJSON = "application/geo+json"


@pytest.fixture(scope="module")
def raw_borders(settings):
    """The committed borders file, read independently of the service."""
    with (settings.data_dir / "borders.geojson").open(encoding="utf-8") as fh:
        return {f["id"]: f for f in json.load(fh)["features"]}


def test_borders_list(client, raw_borders):
    response = client.get("/borders")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = Borders.model_validate(response.json())
    assert {b.id for b in body.borders} == set(raw_borders)
    by_ru = next(b for b in body.borders if b.id == "BY-RU")
    assert by_ru.countries_alpha3 == ["BLR", "RUS"]
    assert by_ru.cited_length_km == 1239.0 and "Wikipedia" in (by_ru.cited_source or "")
    assert by_ru.length_km > 1000


@pytest.mark.parametrize(
    "border_id", ["BY-RU", "RU-BY", "by-ru", "Ru-By", "BLR-RUS", "rus-blr", "BLR-RU", "BY_RU"]
)
def test_border_id_forms(client, border_id):
    response = client.get(f"/borders/{border_id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == GEOJSON
    feature = Feature.model_validate(response.json())
    assert feature.id == "BY-RU"
    assert feature.geometry.type == "MultiLineString"


def _pyproj_length_km(geometry: dict) -> float:
    """Independent recomputation: sum of geodesic segment lengths on WGS84."""
    geod = Geod(ellps="WGS84")
    lines = (
        geometry["coordinates"]
        if geometry["type"] == "MultiLineString"
        else [geometry["coordinates"]]
    )
    total = 0.0
    for line in lines:
        lons, lats = zip(*((c[0], c[1]) for c in line), strict=True)
        total += geod.line_length(lons, lats)
    return total / 1000


def test_by_ru_length_matches_independent_pyproj(client, raw_borders):
    served = client.get("/borders/BY-RU").json()["properties"]["length_km"]
    assert served == pytest.approx(_pyproj_length_km(raw_borders["BY-RU"]["geometry"]), abs=0.001)


def test_every_length_matches_independent_pyproj(client, raw_borders):
    for row in client.get("/borders").json()["borders"]:
        expected = _pyproj_length_km(raw_borders[row["id"]]["geometry"])
        assert row["length_km"] == pytest.approx(expected, abs=0.001), row["id"]


def test_simplify_reports_both_lengths(client):
    full = client.get("/borders/BY-RU").json()
    simple = client.get("/borders/BY-RU", params={"simplify": 1000}).json()
    props = simple["properties"]
    assert props["length_km"] == full["properties"]["length_km"]
    assert props["simplify_m"] == 1000
    assert props["simplified_length_km"] < props["length_km"]
    assert props["vertices"] < props["full_vertices"]
    assert shapely.get_num_coordinates(shape(simple["geometry"])) == props["vertices"]


_to_3035 = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)


def _metric(geometry: dict):
    return shapely.transform(shape(geometry), lambda xy: np.column_stack(_to_3035.transform(*xy.T)))


@settings(max_examples=15, deadline=None)
@given(
    border_id=st.sampled_from(["BY-RU", "BY-UA", "BY-LT", "BY-PL", "BY-LV", "SK-UA", "RU-UA"]),
    tolerance=st.floats(min_value=1, max_value=20_000, allow_nan=False),
)
def test_simplified_border_stays_within_tolerance(client, raw_borders, border_id, tolerance):
    body = client.get(f"/borders/{border_id}", params={"simplify": tolerance}).json()
    full = _metric(raw_borders[border_id]["geometry"])
    simple = _metric(body["geometry"])
    # Hausdorff distance in EPSG:3035, metres; the slack covers float round-trips.
    assert shapely.hausdorff_distance(full, simple, densify=0.5) <= tolerance + 0.01
    assert simple.is_valid


def test_prepared_levels_are_served(client, store):
    assert store.frontier.simplify_levels_m == SIMPLIFY_LEVELS_M
    for level in SIMPLIFY_LEVELS_M:
        assert ("BY-RU", level) in store.frontier.levels
        props = client.get("/borders/RU-BY", params={"simplify": level}).json()["properties"]
        assert props["simplify_m"] == level


def test_by_ru_crossings(client):
    response = client.get("/borders/rus-blr/crossings")
    assert response.status_code == 200
    assert response.headers["content-type"] == GEOJSON
    body = FeatureCollection.model_validate(response.json())
    names = {f.properties["name"] for f in body.features}
    assert "Redki–Krasnaya Gorka" in names
    assert len(names) >= 6
    assert all(f.properties["border"] == "BY-RU" for f in body.features)


def test_border_without_crossings_is_an_empty_collection(client):
    body = client.get("/borders/EE-LV/crossings").json()
    assert body["type"] == "FeatureCollection"
    assert body["features"] == [] and body["numberMatched"] == 0


@pytest.mark.parametrize(
    ("side", "inside", "outside"),
    [
        ("both", None, None),
        ("RU", "RU", "BY"),
        ("rus", "RU", "BY"),
        ("BY", "BY", "RU"),
    ],
)
def test_zone(client, geo, side, inside, outside):
    response = client.get("/borders/BY-RU/zone", params={"width_km": 10, "side": side})
    assert response.status_code == 200
    assert response.headers["content-type"] == GEOJSON
    feature = response.json()
    Feature.model_validate(feature)
    zone = shape(feature["geometry"])
    assert zone.geom_type in ("Polygon", "MultiPolygon") and zone.is_valid
    assert feature["properties"]["width_km"] == 10
    features, geoms = geo["borders"]
    border = geoms[[f["id"] for f in features].index("BY-RU")]
    if side == "both":
        assert zone.contains(border.interpolate(0.5, normalized=True))
    country_features, country_geoms = geo["countries"]
    ids = [f["id"] for f in country_features]
    if inside:
        # Most of the strip lies in the chosen country, none of it deep in the other.
        own = country_geoms[ids.index(inside)]
        other = country_geoms[ids.index(outside)]
        assert zone.intersection(own).area / zone.area > 0.99
        assert zone.intersection(other).area / zone.area < 0.01


def test_zone_width_is_in_kilometres(client):
    # A point 5 km into Russia, perpendicular to the border near the M1 crossing, is in a
    # 10 km zone and not in a 2 km one.
    geod = Geod(ellps="WGS84")
    lon, lat = 31.0, 54.5
    nearest = client.get("/locate", params={"lon": lon, "lat": lat}).json()["nearest_border"]
    (blon, blat) = nearest["nearest_point"]["coordinates"]
    azimuth, _, _ = geod.inv(blon, blat, lon, lat)
    for width, distance, expected in [(10, 5_000, True), (2, 5_000, False), (10, 9_800, True)]:
        plon, plat, _ = geod.fwd(blon, blat, azimuth, distance)
        zone = shape(
            client.get("/borders/BY-RU/zone", params={"width_km": width}).json()["geometry"]
        )
        assert zone.contains(Point(plon, plat)) is expected, (width, distance)
