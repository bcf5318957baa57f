"""Requests solved by AtlasRoute's plan get the answers FastAPI's own solver gives.

A second app on the same store carries a dependency override, which sends every
request to FastAPI's generic handler; each URL below (usual values, odd spellings of
numbers, bad and missing values, unknown parameters) must get the same status,
headers and body from both (``timeStamp`` aside: it is the time of the response).
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.web.routing import AtlasRoute

LONG = "x" * 201
URLS = [
    "/locate?lon=24.5&lat=52.1", "/locate?lon=24&lat=52", "/locate?lon=-0&lat=52.10000",
    "/locate?lon=%2B24.5&lat=52.1", "/locate?lon=2.45e1&lat=52.1", "/locate?lon=24.5&lat=nan",
    "/locate?lon=inf&lat=52", "/locate?lon=abc&lat=52", "/locate?lon=24.5",
    "/locate?lon=181&lat=0", "/locate?lon=1_0&lat=52", "/locate?lon=%2024.5&lat=52.1",
    "/locate?lon=.5&lat=52.1", "/locate?lon=24.5&lat=52.1&f=html", "/locate?lon=1&lat=2&f=xml",
    "/locate?lon=1&lat=2&extra=1", "/locate?lon=24.5&lat=52.1&lat=53", "/locate?lon=&lat=52",
    "/locate?lon=0000024.5&lat=52.1", "/locate?lon=24.50000000000000000000001&lat=52.1",
    "/places?near=24.5,52.1", "/places?near=24.5,52.1&limit=0", "/places?near=24.5,52.1&limit=-1",
    "/places?near=24.5,52.1&limit=007", "/places?near=24.5,52.1&limit=99999999999999999999",
    "/places?near=24.5,52.1&limit=3&offset=-0", "/places?near=24.5,52.1&radius_km=0",
    "/places?near=24.5,52.1&radius_km=1e2", "/places?near=24.5,52.1&radius_km=50",
    "/places?q=", "/places?q=Divin", f"/places?q={LONG}", "/places?q=Divin&limit=1.0",
    "/places?near=24.5,52.1&country=BY&kind=town", "/places?near=24.5",
    "/places/divin/borders", "/places/no-such-place/borders", "/places/divin/borders?f=html",
    "/collections/places/items?bbox=23,51,24,52",
    "/collections/places/items?bbox=23,51,24,52&limit=5&offset=5",
    "/collections/places/items?filter-lang=cql2-json&filter=%7B%7D",
    "/collections/places/items?filter-lang=xx",
    "/collections/places/items?bbox-crs=nope&bbox=1,2,3,4",
    "/collections/places/items?datetime=2023-01-01/..",
    "/collections/places/items?skipGeometry=true&limit=2",
    "/collections/places/items?kind=town&limit=2", "/collections/places/items?unknown=1",
    "/collections/places/items?limit=2&f=csv", "/collections/places/items?limit=2&offset=abc",
    "/collections/borders/items?bbox=23,51,33,56.5", "/collections/nope/items",
    "/borders/BY-RU?simplify=100", "/borders/BY-RU?simplify=0", "/borders/BY-RU?simplify=1e3",
    "/borders/BY-RU?simplify=100001", "/borders/by-ru", "/borders/BY-RU/zone?width_km=5",
    "/borders/BY-RU/zone?width_km=-5", "/borders/BY-RU/zone?width_km=5&side=toolong",
    "/", "/conformance?f=html", "/collections", "/api",
]  # fmt: skip
COMPARED_HEADERS = ("content-type", "etag", "link", "vary", "x-data-version", "content-crs",
                    "location", "cache-control")  # fmt: skip


def _never_called() -> None:  # pragma: no cover - only its presence as an override counts
    raise AssertionError


@pytest.fixture(scope="module")
def generic(settings, store) -> Iterator[TestClient]:
    app = create_app(settings, store=store)
    app.dependency_overrides[_never_called] = _never_called  # FastAPI's solver throughout
    with TestClient(app) as client:
        yield client


def _comparable(response) -> tuple:
    body = response.content
    if response.headers.get("content-type", "").endswith("json"):
        doc = orjson.loads(body)
        if isinstance(doc, dict):
            doc.pop("timeStamp", None)
        body = orjson.dumps(doc)
    return (response.status_code, {h: response.headers.get(h) for h in COMPARED_HEADERS}, body)


@pytest.mark.parametrize("url", URLS)
def test_planned_and_generic_answers_are_the_same(client, generic, url):
    assert _comparable(client.get(url, follow_redirects=False)) == \
        _comparable(generic.get(url, follow_redirects=False))  # fmt: skip


def test_the_hot_routes_are_planned(app):
    planned = {getattr(r, "path", None) for r in _routes(app) if getattr(r, "planned", False)}
    for path in ("/locate", "/places", "/places/{placeId}/borders",
                 "/collections/{collectionId}/items", "/borders/{borderId}"):  # fmt: skip
        assert path in planned


def _routes(app) -> list:
    routes = []
    for route in app.routes:
        routes.append(route)
        for context in getattr(route, "effective_route_contexts", lambda: [])():
            routes.append(getattr(context, "original_route", None))
    return [r for r in routes if isinstance(r, AtlasRoute)]
