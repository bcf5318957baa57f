"""The assertions of the OGC executable test suite (ets-ogcapi-features10, Part 1 and the
Part 2 CRS classes), encoded as pytest tests named ``test_<EtsClass>_<method>`` after
the class and method of the suite that makes the assertion (read from its source; the
Java suite cannot run here), plus the HTTP behaviours the issue asks of the same suite
(406, 405 Allow, 304, Link headers).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain import crs

EXACT_TYPES = {"text/html", "application/geo+json", "application/json",
               "application/vnd.oai.openapi+json;version=3.0", "application/schema+json"}
COLLECTIONS = ["borders", "countries", "places", "crossings", "events"]


def _links(doc):
    return doc.get("links", [])


# ------------------------------------------------------------------ Part 1: core
@pytest.mark.parametrize("path", ["/", "/conformance", "/collections", "/collections/places",
                                  "/collections/places/items?limit=2",
                                  "/collections/places/items/divin"])
def test_LandingPage_validateLandingPage_link_types_are_exact(client, path):
    """Link ``type`` values compared as parameter sets: no ``charset`` on text/html."""
    doc = client.get(path).json()
    for link in _links(doc) + [x for c in doc.get("collections", []) for x in c["links"]]:
        assert link.get("type") in EXACT_TYPES, link


def test_LandingPage_validateLandingPage_has_required_links(client):
    rels = {x["rel"] for x in client.get("/").json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels


def test_Conformance_validateConformanceOperationAndResponse(client):
    classes = client.get("/conformance").json()["conformsTo"]
    for part in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
                 "ogcapi-features-1/1.0/conf/oas30", "ogcapi-features-2/1.0/conf/crs"):
        assert f"http://www.opengis.net/spec/{part}" in classes


def _items_param(client, name):
    api = client.get("/api").json()
    params = api["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
    return next(p for p in params if p.get("name") == name)


@pytest.mark.parametrize("name", ["limit", "bbox", "datetime"])
def test_ApiDefinition_parameter_components_are_form_not_exploded(client, name):
    """FeaturesLimit/FeaturesBBox/FeaturesTime: style form, explode false, in query."""
    param = _items_param(client, name)
    assert param["in"] == "query" and param["style"] == "form" and param["explode"] is False
    assert param["required"] is False


def test_FeaturesBBox_boundingBoxParameterDefinition(client):
    schema = _items_param(client, "bbox")["schema"]
    assert schema["type"] == "array" and schema["minItems"] == 4 and schema["maxItems"] == 6
    assert schema["items"]["type"] == "number"


def test_FeaturesLimit_limitParameterDefinition(client):
    schema = _items_param(client, "limit")["schema"]
    assert schema["type"] == "integer" and schema["minimum"] == 1
    assert schema["maximum"] >= 1000 >= schema["default"]  # clients such as QGIS page at 1,000


def test_FeaturesTime_timeStampParameterDefinition(client):
    assert _items_param(client, "datetime")["schema"]["type"] == "string"


@pytest.mark.parametrize("cid", COLLECTIONS)
def test_FeaturesTime_validateFeaturesWithDateTime_keeps_undated_collections(client, cid):
    """A datetime does not empty a collection by failing its undated features: the
    filter applies to dated features; a collection without dates answers all."""
    everything = client.get(f"/collections/{cid}/items?limit=1").json()["numberMatched"]
    matched = client.get(f"/collections/{cid}/items?limit=1&datetime=2023-05-05").json()
    if client.get(f"/collections/{cid}").json()["extent"].get("temporal"):
        assert matched["numberMatched"] >= 1
    else:
        assert matched["numberMatched"] == everything


def test_Features_validateFeaturesOperation_timeStamp_is_the_response_time(client):
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    first = client.get("/collections/places/items?limit=1")
    after = datetime.now(UTC) + timedelta(seconds=1)
    stamp = datetime.fromisoformat(first.json()["timeStamp"].replace("Z", "+00:00"))
    assert before <= stamp <= after
    again = client.get("/collections/places/items?limit=1")
    assert again.headers["etag"] == first.headers["etag"]  # stable through the data version


def test_FeaturesLimit_validateFeaturesWithLimitOperation_next_on_every_page_but_last(client):
    matched = client.get("/collections/crossings/items?limit=1").json()["numberMatched"]
    url, pages = "/collections/crossings/items?limit=5", 0
    while url:
        doc = client.get(url).json()
        pages += 1
        nxt = [x["href"] for x in doc["links"] if x["rel"] == "next"]
        last = pages * 5 >= matched
        assert bool(nxt) is not last
        url = nxt[0] if nxt else None
    assert pages == -(-matched // 5)


def test_FeatureCollection_validateFeatureCollection_Link_headers(client):
    response = client.get("/collections/places/items?limit=2")
    header = response.headers["link"]
    assert 'rel="self"' in header and 'rel="next"' in header
    assert 'type="application/geo+json"' in header


def test_FeaturesErrorConditions_unknown_parameter_is_400(client):
    response = client.get("/collections/places/items?no_such=1")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_GeneralHttp_406_when_nothing_acceptable(client):
    response = client.get("/collections", headers={"accept": "image/png"})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"


def test_GeneralHttp_405_allow_lists_head(client):
    response = client.post("/collections")
    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "HEAD"} <= allowed


@pytest.mark.parametrize("encoding", ["identity", "gzip", "br"])
def test_GeneralHttp_304_compares_the_representation_the_client_gets(client, encoding):
    path = "/collections/countries"
    first = client.get(path, headers={"accept-encoding": encoding})
    same = client.get(path, headers={"accept-encoding": encoding,
                                     "if-none-match": first.headers["etag"]})
    assert same.status_code == 304
    html = client.get(path, headers={"accept-encoding": encoding, "accept": "text/html",
                                     "if-none-match": first.headers["etag"]})
    assert html.status_code == 200  # another representation, another ETag


# ------------------------------------------------------------------ Part 2: CRS
@pytest.mark.parametrize("cid", COLLECTIONS)
def test_DiscoveryCollectionsCrsUri_verifyCollectionsCrsIdentifierOfCrs(client, cid):
    info = client.get(f"/collections/{cid}").json()
    assert set(crs.SUPPORTED) <= set(info["crs"])
    assert info["storageCrs"] in info["crs"]


@pytest.mark.parametrize("uri", list(crs.SUPPORTED))
def test_FeaturesCrsParameterTransform_content_crs_header_names_the_crs(client, uri):
    response = client.get("/collections/places/items", params={"crs": uri, "ids": "divin"})
    assert response.status_code == 200
    assert response.headers["content-crs"] == f"<{uri}>"
    lon, lat = 24.57528, 51.95778  # Divin in CRS84
    x, y = response.json()["features"][0]["geometry"]["coordinates"]
    if uri == crs.CRS84:
        assert (x, y) == pytest.approx((lon, lat))
    elif uri == crs.EPSG4326:
        assert (x, y) == pytest.approx((lat, lon))  # latitude first
    else:  # checked against pyproj in the authority axis order (EPSG:3035: northing first)
        from pyproj import Transformer

        expected = Transformer.from_crs("OGC:CRS84", crs.SUPPORTED[uri]).transform(lon, lat)
        assert (x, y) == pytest.approx(expected, abs=0.01)
        if uri == crs.EPSG3035:
            assert x < y  # northing (about 3.3e6 m) before easting (about 5.3e6 m)


def test_FeatureCrsParameterTransform_one_feature(client):
    response = client.get("/collections/places/items/divin", params={"crs": crs.EPSG4326})
    assert response.headers["content-crs"] == f"<{crs.EPSG4326}>"
    assert response.json()["geometry"]["coordinates"][0] == pytest.approx(51.95778)


@pytest.mark.parametrize("path", ["/collections/places/items", "/collections/places/items/divin"])
def test_FeaturesCrsParameterInvalid_verifyFeaturesCrsParameterInvalid(client, path):
    response = client.get(path, params={"crs": "http://www.opengis.net/def/crs/EPSG/0/9999"})
    assert response.status_code == 400


def test_BBoxCrsParameterInvalid_verifyBboxCrsParameterInvalid(client):
    response = client.get("/collections/places/items",
                          params={"bbox": "24,51,25,52", "bbox-crs": "EPSG:99999"})
    assert response.status_code == 400


@pytest.mark.parametrize(("uri", "bbox"), [
    (crs.CRS84, "24.5,51.9,24.6,52.0"),
    (crs.EPSG4326, "51.9,24.5,52.0,24.6"),
])
def test_BBoxCrsParameter_verifyBboxCrsParameter(client, uri, bbox):
    response = client.get("/collections/places/items", params={"bbox": bbox, "bbox-crs": uri})
    assert "divin" in [f["id"] for f in response.json()["features"]]


def test_BBoxCrsParameter_projected_bbox_contains_the_same_features(client):
    plain = client.get("/collections/places/items?bbox=24,51.5,25,52.5&limit=1000").json()
    box = "2671700,6710000,2782900,6890000"  # EPSG:3857 around 24..25 E, 51.5..52.5 N
    projected = client.get("/collections/places/items", params={
        "bbox": box, "bbox-crs": crs.EPSG3857, "limit": 1000}).json()
    assert {f["id"] for f in plain["features"]} <= {f["id"] for f in projected["features"]}
