"""OGC API – Features Part 1 behaviour against the committed data."""

from __future__ import annotations

import pytest
from geojson_pydantic import Feature, FeatureCollection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box, shape

from service.web.models import CollectionInfo, Collections, Conformance, LandingPage

COLLECTIONS = ["borders", "countries", "places", "crossings", "events"]
GEOJSON = "application/geo+json"
JSON = "application/json"


def test_landing_page_links(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    page = LandingPage.model_validate(response.json())
    rels = {link.rel: link for link in page.links}
    assert rels["service-desc"].href.endswith("/api")
    assert rels["service-desc"].type == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["service-doc"].href.endswith("/api.html")
    assert rels["conformance"].href.endswith("/conformance")
    assert rels["data"].href.endswith("/collections")
    assert rels["self"].type == JSON


def test_conformance(client):
    body = Conformance.model_validate(client.get("/conformance").json())
    for cls in ("core", "geojson", "html", "oas30"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{cls}" in body.conformsTo


def test_collections_lists_all_four(client):
    body = Collections.model_validate(client.get("/collections").json())
    assert [c.id for c in body.collections] == COLLECTIONS
    for c in body.collections:
        items = [link for link in c.links if link.rel == "items" and link.type == GEOJSON]
        assert items and items[0].href.endswith(f"/collections/{c.id}/items")


@pytest.mark.parametrize("cid", COLLECTIONS)
def test_collection_extent_is_crs84(client, cid):
    response = client.get(f"/collections/{cid}")
    assert response.status_code == 200
    info = CollectionInfo.model_validate(response.json())
    assert info.extent.spatial.crs == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    west, south, east, north = info.extent.spatial.bbox[0]
    assert -180 <= west < east <= 180 and -90 <= south < north <= 90
    assert info.crs[0] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"  # the default first
    assert "http://www.opengis.net/def/crs/EPSG/0/4326" in info.crs


def test_crossings_have_a_temporal_extent(client):
    extent = client.get("/collections/crossings").json()["extent"]
    start, end = extent["temporal"]["interval"][0]
    assert start <= "2023-05-05T00:00:00Z" <= end


@pytest.mark.parametrize("cid", COLLECTIONS)
def test_items_are_valid_geojson_with_counts(client, geo, cid):
    response = client.get(f"/collections/{cid}/items")
    assert response.status_code == 200
    assert response.headers["content-type"] == GEOJSON
    body = response.json()
    FeatureCollection.model_validate(body)
    total = len(geo[cid][0])
    assert body["numberMatched"] == total
    assert body["numberReturned"] == len(body["features"]) == min(total, 100)
    assert body["timeStamp"].endswith("Z")
    assert all(isinstance(f["id"], str) for f in body["features"])


def test_paging_with_next_and_prev(client, geo):
    total = len(geo["places"][0])
    first = client.get("/collections/places/items", params={"limit": 50}).json()
    rels = {link["rel"]: link["href"] for link in first["links"]}
    assert "prev" not in rels and "offset=50" in rels["next"]
    second = client.get(rels["next"]).json()
    assert second["numberReturned"] == 50
    assert {f["id"] for f in first["features"]}.isdisjoint(f["id"] for f in second["features"])
    prev = {link["rel"]: link["href"] for link in second["links"]}["prev"]
    assert client.get(prev).json()["features"] == first["features"]
    last = client.get("/collections/places/items", params={"offset": total - 3}).json()
    assert last["numberReturned"] == 3
    assert "next" not in {link["rel"] for link in last["links"]}


def test_limit_above_maximum_is_clamped(client, geo):
    body = client.get("/collections/places/items", params={"limit": 50_000}).json()
    assert body["numberReturned"] == min(10_000, len(geo["places"][0]))


@pytest.mark.parametrize(
    ("cid", "params", "check"),
    [
        ("places", {"country": "BY"}, lambda p: p["country"] == "BY"),
        ("places", {"country": "blr"}, lambda p: p["country"] == "BY"),
        ("places", {"kind": "village", "country": "UA"},
         lambda p: p["kind"] == "village" and p["country"] == "UA"),
        ("places", {"near_belarus_frontier": "true"}, lambda p: p["near_belarus_frontier"]),
        ("borders", {"country": "BY"}, lambda p: "BY" in p["countries"]),
        ("borders", {"clipped": "false"}, lambda p: p["clipped"] is False),
        ("countries", {"iso_a3": "BLR"}, lambda p: p["iso_a2"] == "BY"),
        ("crossings", {"border": "RUS-BLR"}, lambda p: p["border"] == "BY-RU"),
        ("crossings", {"kind": "road"}, lambda p: p["kind"] == "road"),
    ],
)  # fmt: skip
def test_property_filters(client, cid, params, check):
    body = client.get(f"/collections/{cid}/items", params={**params, "limit": 10_000}).json()
    assert body["numberMatched"] > 0
    assert all(check(f["properties"]) for f in body["features"])


def test_belarus_has_five_borders(client):
    body = client.get("/collections/borders/items", params={"country": "BY"}).json()
    assert sorted(f["id"] for f in body["features"]) == [
        "BY-LT",
        "BY-LV",
        "BY-PL",
        "BY-RU",
        "BY-UA",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-05-05", 6),  # Belarus resumed checks on the six BY-RU roads
        ("2023-05-05T12:00:00Z", 6),
        ("2023-05-01/2023-05-31", 6),
        ("../2020-01-01", 0),
        ("2025-11-01/..", None),  # at least the re-openings of November 2025
    ],
)
def test_datetime_filter(client, value, expected):
    body = client.get("/collections/crossings/items", params={"datetime": value}).json()
    if expected is None:
        assert body["numberMatched"] >= 1
    else:
        assert body["numberMatched"] == expected
    if expected == 6:
        assert {f["properties"]["border"] for f in body["features"]} == {"BY-RU"}


def test_feature_by_id(client):
    response = client.get("/collections/places/items/divin")
    assert response.status_code == 200
    assert response.headers["content-type"] == GEOJSON
    feature = Feature.model_validate(response.json())
    assert feature.id == "divin"
    rels = {link["rel"] for link in response.json()["links"]}
    assert {"self", "alternate", "collection"} <= rels


def test_antimeridian_bbox_is_accepted(client):
    # 170°E..-170°E holds none of our features; the split box must not match Europe.
    body = client.get("/collections/places/items", params={"bbox": "170,40,-170,60"}).json()
    assert body["numberMatched"] == 0
    wide = client.get("/collections/places/items", params={"bbox": "20,40,-170,60"}).json()
    assert wide["numberMatched"] > 1000


def test_six_number_bbox(client):
    four = client.get("/collections/places/items", params={"bbox": "23,51,25,53"}).json()
    six = client.get("/collections/places/items", params={"bbox": "23,51,0,25,53,100"}).json()
    assert four["numberMatched"] == six["numberMatched"] > 0


lons = st.floats(min_value=18, max_value=41, allow_nan=False)
lats = st.floats(min_value=48, max_value=59, allow_nan=False)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cid=st.sampled_from(COLLECTIONS),
    a=st.tuples(lons, lats),
    b=st.tuples(lons, lats),
)
def test_every_bbox_item_intersects_the_bbox(client, geo, cid, a, b):
    west, east = sorted((a[0], b[0]))
    south, north = sorted((a[1], b[1]))
    bbox = f"{west},{south},{east},{north}"
    body = client.get(f"/collections/{cid}/items", params={"bbox": bbox, "limit": 10_000}).json()
    query = box(west, south, east, north)
    for feature in body["features"]:
        assert shape(feature["geometry"]).intersects(query), feature["id"]
    # ... and none is missing (a scan without the spatial index).
    expected = sum(g is not None and g.intersects(query) for g in geo[cid][1])
    assert body["numberMatched"] == expected


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/collections/places/items?f=html", {}),
        ("/collections/places/items", {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}),
        ("/", {"accept": "text/html"}),
        ("/collections?f=html", {}),
        ("/collections/places?f=html", {}),
        ("/collections/places/items/divin?f=html", {}),
        ("/conformance?f=html", {}),
    ],
)
def test_html_representation(client, path, headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text.startswith("<!doctype html>")
    assert '<html lang="en">' in response.text
    assert "OpenStreetMap" in response.text


@pytest.mark.parametrize(
    "accept",
    [
        "application/geo+json",
        "application/json",
        "*/*",
        "",
        "application/geo+json, text/html;q=0.5",
    ],
)
def test_json_is_the_default(client, accept):
    response = client.get("/collections/crossings/items", headers={"accept": accept})
    assert response.headers["content-type"] == GEOJSON


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/collections",
        "/collections/crossings/items?limit=3&offset=3",
        "/collections/places/items/divin",
        "/borders",
        "/borders/BY-LV",
        "/places?q=Divin",
        "/places/divin/borders",
        "/locate?lon=30&lat=54",
    ],
)
def test_every_link_resolves(client, path):
    links = client.get(path).json()["links"]
    assert links
    for link in links:
        assert link["href"].startswith("http://testserver/")
        response = client.get(link["href"])
        assert response.status_code == 200, link
        if link.get("type"):
            assert response.headers["content-type"].split(";")[0] == link["type"].split(";")[0]
