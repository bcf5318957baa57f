"""Place search, distances from places to borders, and /locate."""

from __future__ import annotations

import pytest
import shapely
from geojson_pydantic import FeatureCollection
from pyproj import Geod

from service.domain.search import normalise, skeleton
from service.web.models import Locate, PlaceBorders

GEOJSON = "application/geo+json"


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("Divin", "divin"),
        ("divin", "divin"),
        ("DIVIN", "divin"),
        ("Дивин", "divin"),
        ("Дзівін", "divin"),
        ("дзiвiн", "divin"),  # Latin i inside Cyrillic, as typed on a mixed keyboard
        ("dzivin", "divin"),
        ("Dyvin", "divin"),
        ("Minsk", "minsk"),
        ("Мінск", "minsk"),
        ("Минск", "minsk"),
        ("Gomel", "gomel"),
        ("Гомель", "gomel"),
        ("Homiel", "gomel"),
        ("Brest", "brest"),
        ("Brześć", "brest"),
        ("Vitebsk", "vitebsk"),
    ],
)
def test_search_ignores_case_diacritics_and_script(client, query, first):
    response = client.get("/places", params={"q": query})
    assert response.status_code == 200
    assert response.headers["content-type"] == GEOJSON
    body = response.json()
    FeatureCollection.model_validate(body)
    assert body["features"], query
    assert body["features"][0]["id"] == first


@pytest.mark.parametrize(
    ("a", "b"), [("Дзівін", "Divin"), ("Дивин", "dzivin"), ("Гомель", "Homyel"), ("Łódź", "Lodz")]
)
def test_variants_share_a_skeleton(a, b):
    assert skeleton(a) == skeleton(b)


def test_normalise_strips_diacritics_and_transliterates():
    assert normalise("Mińsk  Mazowiecki") == "minsk mazowiecki"
    assert normalise("Дзівін") == "dzivin"


def test_search_with_no_match_is_empty(client):
    body = client.get("/places", params={"q": "Xqzzyxq"}).json()
    assert body["numberMatched"] == 0 and body["features"] == []


def test_search_near_with_radius(client):
    geod = Geod(ellps="WGS84")
    lon, lat = 24.57528, 51.95778  # Divin
    body = client.get(
        "/places", params={"near": f"{lon},{lat}", "radius_km": 30, "limit": 1000}
    ).json()
    assert body["features"][0]["id"] == "divin"
    distances = [f["properties"]["distance_km"] for f in body["features"]]
    assert distances == sorted(distances) and distances[-1] <= 30
    for f in body["features"]:
        plon, plat = f["geometry"]["coordinates"]
        assert f["properties"]["distance_km"] == pytest.approx(
            geod.inv(lon, lat, plon, plat)[2] / 1000, abs=0.001
        )


def test_search_q_and_near_combine(client):
    near_minsk = client.get("/places", params={"q": "Minsk", "near": "27.56,53.9",
                                                "radius_km": 50}).json()  # fmt: skip
    assert [f["id"] for f in near_minsk["features"]] == ["minsk"]


def test_search_filters(client):
    body = client.get("/places", params={"q": "Brest", "country": "BLR"}).json()
    assert body["features"] and all(f["properties"]["country"] == "BY" for f in body["features"])


def test_place_by_id(client):
    response = client.get("/places/divin")
    assert response.status_code == 200
    assert response.json()["properties"]["name_local"] == "Дзівін"


def test_divin_distances_to_borders(client):
    response = client.get("/places/divin/borders")
    assert response.status_code == 200
    body = PlaceBorders.model_validate(response.json())
    distances = [b.distance_km for b in body.borders]
    assert distances == sorted(distances)
    nearest = body.borders[0]
    # A few kilometres north of the Belarus–Ukraine frontier (PRODUCT.md).
    assert nearest.border == "BY-UA" and 1 < nearest.distance_km < 15
    lon, lat = nearest.nearest_point["coordinates"]
    geod_km = Geod(ellps="WGS84").inv(24.57528, 51.95778, lon, lat)[2] / 1000
    assert nearest.distance_km == pytest.approx(geod_km, abs=0.001)


def test_nearest_point_is_no_farther_than_any_vertex(client, geo):
    body = client.get("/places/divin/borders").json()
    geod = Geod(ellps="WGS84")
    features, geoms = geo["borders"]
    ids = [f["id"] for f in features]
    for row in body["borders"]:
        coords = shapely.get_coordinates(geoms[ids.index(row["border"])])
        n = len(coords)
        _, _, dist = geod.inv([24.57528] * n, [51.95778] * n, coords[:, 0], coords[:, 1])
        assert row["distance_km"] <= min(dist) / 1000 + 0.001, row["border"]


@pytest.mark.parametrize(
    ("lon", "lat", "country", "border"),
    [
        (27.5667, 53.9, "BY", None),  # Minsk
        (31.5, 54.8, "RU", "BY-RU"),  # Smolensk region, near the frontier
        (30.5234, 50.45, "UA", None),  # Kyiv
        (24.57528, 51.95778, "BY", "BY-UA"),  # Divin
        (21.0, 52.2, "PL", None),  # Warsaw
    ],
)
def test_locate(client, lon, lat, country, border):
    response = client.get("/locate", params={"lon": lon, "lat": lat})
    assert response.status_code == 200
    body = Locate.model_validate(response.json())
    assert body.country is not None and body.country.id == country
    assert body.nearest_border.distance_km >= 0
    if border is not None:
        assert body.nearest_border.border == border


def test_locate_outside_the_data(client):
    body = client.get("/locate", params={"lon": 0, "lat": 0}).json()
    assert body["country"] is None
    assert body["nearest_border"]["distance_km"] > 2000


def test_a_renamed_place_id_redirects_to_its_current_one(client, store):
    """Links and saved maps made with an id from an earlier data release keep working."""
    row = store.db.execute(
        "SELECT a.old_id, f.id FROM alias a JOIN feature f ON f.fid = a.fid "
        "WHERE a.coll = 'places' LIMIT 1").fetchone()
    if row is None:
        pytest.skip("the committed data names no former ids yet")
    old, new = row
    for path in (f"/places/{old}", f"/places/{old}/borders", f"/collections/places/items/{old}"):
        response = client.get(path + "?f=json", follow_redirects=False)
        assert response.status_code == 301
        assert response.headers["location"].endswith(path.replace(old, new) + "?f=json")
    assert client.get(f"/maps/custom?places={old}").status_code == 200
