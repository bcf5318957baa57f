"""Bad input gets a clear 4xx problem+json (or an escaped HTML page), never a 500."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from service.app import create_app
from service.domain.errors import AtlasError
from service.web.models import Problem
from service.web.problems import all_error_classes, problem_for

PROBLEM = "application/problem+json"

ERROR_CASES = [
    # (path, status, code, words expected in the detail)
    ("/collections/nope", 404, "NotFound", "borders, countries, places, crossings"),
    ("/collections/nope/items", 404, "NotFound", "Collections:"),
    ("/collections/places/items/nope", 404, "NotFound", "/collections/places/items"),
    ("/no/such/path", 404, "NotFound", "/no/such/path"),
    ("/borders/BY-SE", 404, "NotFound", "BY-LT, BY-LV, BY-PL, BY-RU, BY-UA"),
    ("/borders/XX-YY", 404, "NotFound", "Borders:"),
    ("/borders/belarus", 404, "NotFound", "two country codes"),
    ("/borders/BY-RU-UA", 404, "NotFound", "two country codes"),
    ("/borders/BY-SE/crossings", 404, "NotFound", "Belarus has borders"),
    ("/borders/BY-SE/zone?width_km=5", 404, "NotFound", "Belarus has borders"),
    ("/places/nowhere-at-all", 404, "NotFound", "No place"),
    ("/places/dzivin", 404, "NotFound", "divin"),
    ("/places/nowhere/borders", 404, "NotFound", "No place"),
    ("/collections/places/items?bbox=1,2,3", 400, "InvalidParameterValue", "4 numbers"),
    ("/collections/places/items?bbox=1,2,3,4,5", 400, "InvalidParameterValue", "4 numbers"),
    ("/collections/places/items?bbox=a,b,c,d", 400, "InvalidParameterValue", "number"),
    ("/collections/places/items?bbox=-200,40,20,50", 400, "InvalidParameterValue", "-180..180"),
    ("/collections/places/items?bbox=20,-95,30,50", 400, "InvalidParameterValue", "-90..90"),
    ("/collections/places/items?bbox=20,55,30,50", 400, "InvalidParameterValue", "south"),
    ("/collections/places/items?bbox=nan,1,2,3", 400, "InvalidParameterValue", "finite"),
    ("/collections/places/items?limit=-1", 400, "InvalidParameterValue", "limit"),
    ("/collections/places/items?limit=0", 400, "InvalidParameterValue", "limit"),
    ("/collections/places/items?limit=ten", 400, "InvalidParameterValue", "limit"),
    ("/collections/places/items?offset=-5", 400, "InvalidParameterValue", "offset"),
    ("/collections/places/items?offset=x", 400, "InvalidParameterValue", "offset"),
    ("/collections/places/items?datetime=yesterday", 400, "InvalidParameterValue", "RFC 3339"),
    ("/collections/places/items?datetime=../..", 400, "InvalidParameterValue", "bound"),
    ("/collections/crossings/items?datetime=2024-01-01/2023-01-01", 400,
     "InvalidParameterValue", "starts after"),
    ("/collections/places/items?foo=1", 400, "InvalidParameterValue", "foo"),
    ("/collections/places/items?border=BY-RU", 400, "InvalidParameterValue", "border"),
    ("/collections/places/items?country=Belarus", 400, "InvalidParameterValue", "alpha-2"),
    ("/collections/places/items?near_belarus_frontier=maybe", 400, "InvalidParameterValue",
     "true or false"),
    ("/collections/crossings/items?border=BY-SE", 400, "InvalidParameterValue", "border"),
    ("/collections?f=xml", 400, "InvalidParameterValue", "json or html"),
    ("/conformance?verbose=1", 400, "InvalidParameterValue", "verbose"),
    ("/borders/BY-RU?simplify=0", 400, "InvalidParameterValue", "simplify"),
    ("/borders/BY-RU?simplify=-10", 400, "InvalidParameterValue", "simplify"),
    ("/borders/BY-RU?simplify=abc", 400, "InvalidParameterValue", "simplify"),
    ("/borders/BY-RU?tolerance=10", 400, "InvalidParameterValue", "tolerance"),
    ("/borders/BY-RU/zone", 400, "InvalidParameterValue", "width_km"),
    ("/borders/BY-RU/zone?width_km=0", 400, "InvalidParameterValue", "width_km"),
    ("/borders/BY-RU/zone?width_km=1000", 400, "InvalidParameterValue", "at most"),
    ("/borders/BY-RU/zone?width_km=5&side=UA", 400, "InvalidParameterValue", "BY, RU"),
    ("/places?q=" + "x" * 201, 400, "InvalidParameterValue", "200"),
    ("/places?q=", 400, "InvalidParameterValue", "q"),
    ("/places?near=24.5", 400, "InvalidParameterValue", "lon,lat"),
    ("/places?near=200,50", 400, "InvalidParameterValue", "-180..180"),
    ("/places?near=24,95", 400, "InvalidParameterValue", "-90..90"),
    ("/places?near=24,51&radius_km=1001", 400, "InvalidParameterValue", "1000"),
    ("/places?near=24,51&radius_km=0", 400, "InvalidParameterValue", "radius_km"),
    ("/places?radius_km=5", 400, "InvalidParameterValue", "near"),
    ("/places?country=XYZW", 400, "InvalidParameterValue", "alpha-2"),
    ("/locate", 400, "InvalidParameterValue", "lon"),
    ("/locate?lon=30", 400, "InvalidParameterValue", "lat"),
    ("/locate?lon=300&lat=50", 400, "InvalidParameterValue", "-180..180"),
    ("/locate?lon=30&lat=-91", 400, "InvalidParameterValue", "-90..90"),
    ("/locate?lon=x&lat=1", 400, "InvalidParameterValue", "lon"),
    ("/locate?lon=inf&lat=1", 400, "InvalidParameterValue", "-180..180"),
    ("/healthz?x=1", 400, "InvalidParameterValue", "x"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "status", "code", "words"), ERROR_CASES)
def test_bad_input_gets_problem_json(client, path, status, code, words):
    response = client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = Problem.model_validate(response.json())
    assert problem.status == status and problem.code == code
    assert words in problem.detail
    assert "Traceback" not in response.text


def test_wrong_method_is_405_problem(client):
    response = client.post("/borders")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 405


@pytest.fixture(scope="module")
def raising_client(settings):
    """An app with routes that raise each error class, and one unexpected exception."""
    app = create_app(settings)
    classes = {cls.__name__: cls for cls in all_error_classes()}

    @app.get("/boom/{name}")
    def boom(name: str) -> None:
        cls = classes[name]
        raise cls("secret internal detail" if problem_for(cls).status >= 500 else "a detail")

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("database password is hunter2")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_has_the_problem_shape(raising_client, cls):
    """Walk every error class in the table: each renders as a complete problem document."""
    assert issubclass(cls, AtlasError)
    problem = problem_for(cls)
    assert cls.__name__.endswith("Error")
    assert 400 <= problem.status < 600
    codes = {"NotFound", "InvalidParameterValue", "NoApplicableCode", "InvalidRequest"}
    assert problem.code in codes
    response = raising_client.get(f"/boom/{cls.__name__}")
    assert response.status_code == problem.status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "instance"}
    Problem.model_validate(body)
    assert body["status"] == problem.status and body["code"] == problem.code
    slug = problem.slug if problem.status != 500 else "internal-error"
    assert body["type"].endswith(f"/api.html#problem-{slug}")
    if problem.status == 500:
        assert "secret" not in body["detail"]
    html = raising_client.get(f"/boom/{cls.__name__}", headers={"accept": "text/html"})
    assert html.status_code == problem.status
    assert html.headers["content-type"] == "text/html; charset=utf-8"


def test_unexpected_exception_is_a_generic_500(raising_client, caplog):
    with caplog.at_level(logging.ERROR):
        response = raising_client.get("/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "NoApplicableCode"
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert "hunter2" in caplog.text  # logged with its traceback for the operator
    # Still a proper answer: cross-origin readable, never cached, connection closed.
    cors = raising_client.get("/crash", headers={"origin": "https://news.example"})
    assert cors.headers["access-control-allow-origin"] == "*"
    assert cors.headers["cache-control"] == "no-store"
    assert cors.headers["connection"] == "close"
    assert cors.headers["x-content-type-options"] == "nosniff"


XSS = "<script>alert(1)</script>"


@pytest.mark.parametrize(
    "path",
    [
        f"/collections/{XSS}?f=html",
        f"/collections/places/items/{XSS}?f=html",
        f"/borders/{XSS}?f=html",
        f"/places/{XSS}?f=html",
        f"/collections/places/items?bbox={XSS}&f=html",
        f"/collections/places/items?{XSS}=1&f=html",
        f"/places?q={XSS}&radius_km=1&f=html",
    ],
)
def test_html_error_pages_escape_user_text(client, path):
    response = client.get(path, headers={"accept": "text/html"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<script>" not in response.text
    assert "alert(1)" not in response.text or "&lt;script&gt;" in response.text


def test_html_error_page_for_browsers(client):
    response = client.get("/borders/BY-SE", headers={"accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Belarus has borders" in response.text


def test_html_search_results_escape_data_and_query(client):
    response = client.get("/places", params={"q": "<b>Divin</b>", "f": "html"})
    assert response.status_code == 200
    assert "<b>" not in response.text


FUZZ_PATHS = [
    "/collections/places/items",
    "/collections/crossings/items",
    "/collections/borders/items",
    "/borders/BY-RU",
    "/borders/BY-RU/zone",
    "/borders/BY-RU/crossings",
    "/places",
    "/places/divin/borders",
    "/locate",
    "/",
]
FUZZ_PARAMS = ["bbox", "limit", "offset", "datetime", "q", "near", "radius_km", "simplify",
               "width_km", "side", "lon", "lat", "f", "country", "kind", "border",
               "clipped"]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(FUZZ_PATHS),
    params=st.dictionaries(st.sampled_from(FUZZ_PARAMS), st.text(max_size=25), max_size=4),
    segment=st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s and s not in ".."),
)
def test_no_input_gives_a_500(client, path, params, segment):
    segment = quote(segment, safe="")
    for url in (path, f"/borders/{segment}", f"/places/{segment}/borders",
                f"/collections/places/items/{segment}"):  # fmt: skip
        response = client.get(url, params=params)
        assert response.status_code in (200, 400, 404), (url, params, response.text[:300])
        assert response.headers["content-type"] in (
            "application/json", "application/geo+json", PROBLEM, "text/html; charset=utf-8",
        )  # fmt: skip
