"""HTTP behaviour: ETag/304, Cache-Control, gzip/brotli, CORS, OpenAPI, docs, health."""

from __future__ import annotations

import gzip
import json

import brotli
import pytest
from openapi_spec_validator import validate

from tests.conftest import REPO

GET_PATHS = [
    "/",
    "/conformance",
    "/collections",
    "/collections/places/items?limit=5",
    "/collections/places/items/divin",
    "/borders",
    "/borders/RU-BY",
    "/borders/BY-RU?simplify=500",
    "/places?q=Divin",
    "/places/divin/borders",
    "/locate?lon=30&lat=54",
    "/api",
    "/api.html",
]


@pytest.mark.parametrize("path", GET_PATHS)
def test_strong_etag_and_304(client, path):
    first = client.get(path, headers={"accept-encoding": "identity"})
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"].startswith("public, max-age=")
    again = client.get(path, headers={"if-none-match": etag, "accept-encoding": "identity"})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = client.get(path, headers={"if-none-match": '"nope"', "accept-encoding": "identity"})
    assert other.status_code == 200


def test_etag_is_stable_and_content_based(client):
    a = client.get("/borders/BY-RU", headers={"accept-encoding": "identity"}).headers["etag"]
    b = client.get("/borders/ru-by", headers={"accept-encoding": "identity"}).headers["etag"]
    c = client.get("/borders/BY-UA", headers={"accept-encoding": "identity"}).headers["etag"]
    assert a == b != c


@pytest.mark.parametrize(
    ("accept_encoding", "encoding", "decode"),
    [
        ("gzip", "gzip", gzip.decompress),
        ("br", "br", brotli.decompress),
        ("gzip, deflate, br", "br", brotli.decompress),
        ("br;q=0, gzip", "gzip", gzip.decompress),
    ],
)
def test_compression(client, accept_encoding, encoding, decode):
    plain = client.get("/borders/BY-RU", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    # httpx decodes transparently; read the raw stream to see the encoded bytes.
    with client.stream("GET", "/borders/BY-RU", headers={"accept-encoding": accept_encoding}) as r:
        raw = b"".join(r.iter_raw())
        assert r.headers["content-encoding"] == encoding
        assert "Accept-Encoding" in r.headers["vary"]
        assert int(r.headers["content-length"]) == len(raw) < len(plain.content)
        assert r.headers["etag"] != plain.headers["etag"]
        etag = r.headers["etag"]
    assert decode(raw) == plain.content
    revalidate = client.get(
        "/borders/BY-RU", headers={"accept-encoding": accept_encoding, "if-none-match": etag}
    )
    assert revalidate.status_code == 304


def test_small_bodies_are_not_compressed(client):
    response = client.get("/healthz", headers={"accept-encoding": "gzip, br"})
    assert len(response.content) < 1024
    assert "content-encoding" not in response.headers


def test_cors_open_for_get(client):
    response = client.get("/borders", headers={"origin": "https://news.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = client.options(
        "/borders/BY-RU",
        headers={"origin": "https://news.example", "access-control-request-method": "GET"},
    )
    assert preflight.status_code == 200
    assert "GET" in preflight.headers["access-control-allow-methods"]


def test_openapi_30(client):
    response = client.get("/api")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    doc = response.json()
    assert doc["openapi"].startswith("3.0")
    collection = "/collections/{collectionId}"
    paths = ["/", "/conformance", "/collections", collection, f"{collection}/items",
             f"{collection}/items/{{featureId}}", "/borders", "/borders/{borderId}",
             "/borders/{borderId}/crossings", "/borders/{borderId}/zone", "/places",
             "/places/{placeId}", "/places/{placeId}/borders", "/locate", "/healthz"]  # fmt: skip
    for path in paths:
        assert path in doc["paths"], path
    limit = next(
        p for p in doc["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
        if p["name"] == "limit"
    )  # fmt: skip
    assert limit["schema"]["maximum"] == 10_000 and limit["schema"]["default"] == 100

    def no_31_constructs(node):
        if isinstance(node, dict):
            assert node.get("type") != "null"
            assert not isinstance(node.get("examples"), list) or "in" in node
            for value in node.values():
                no_31_constructs(value)
        elif isinstance(node, list):
            for value in node:
                no_31_constructs(value)

    no_31_constructs(doc)
    validate(doc)  # openapi-spec-validator picks the 3.0 schema from doc["openapi"]


def test_api_html_documents_every_path_and_problem(client):
    response = client.get("/api.html")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "/borders/{borderId}/zone" in response.text
    assert 'id="problem-not-found"' in response.text
    assert "<script" not in response.text  # no CDN, nothing to load


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["cache-control"] == "no-store"


def test_head_is_get_without_a_body(client):
    get = client.get("/borders/BY-RU", headers={"accept-encoding": "identity"})
    head = client.head("/borders/BY-RU", headers={"accept-encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["content-type"] == "application/geo+json"


@pytest.mark.parametrize("encoding", ["identity", "gzip", "br"])
def test_a_repeated_request_is_answered_from_the_memo_exactly_as_the_first(client, encoding):
    first = client.get("/borders/BY-RU?simplify=1000", headers={"accept-encoding": encoding})
    again = client.get("/borders/BY-RU?simplify=1000", headers={"accept-encoding": encoding})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert first.headers == again.headers
    base_etag = client.get("/borders/BY-RU?simplify=1000",
                           headers={"accept-encoding": "identity"}).headers["etag"]
    for etag in (base_etag, again.headers["etag"]):
        revalidate = client.get("/borders/BY-RU?simplify=1000",
                                headers={"accept-encoding": encoding, "if-none-match": etag})
        # 304 only for the ETag of the representation this client would get (its coding).
        assert revalidate.status_code == (304 if etag == again.headers["etag"] else 200)
    head = client.head("/borders/BY-RU?simplify=1000", headers={"accept-encoding": encoding})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == again.headers["etag"]


def test_the_memo_keeps_representations_and_hosts_apart(client):
    as_json = client.get("/collections/places/items/divin", headers={"accept": "application/json"})
    as_html = client.get("/collections/places/items/divin", headers={"accept": "text/html"})
    assert as_json.headers["content-type"].startswith("application/geo+json")
    assert as_html.headers["content-type"].startswith("text/html")
    other_host = client.get("/collections/places/items/divin",
                            headers={"accept": "application/json", "host": "atlas.example"})
    assert "http://atlas.example/" in other_host.text
    assert "http://atlas.example/" not in as_json.text


def test_no_store_responses_are_never_memoised():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from service.web.middleware import HttpCachingMiddleware, ResponseMemo

    calls = []

    def count(request):
        calls.append(1)
        no_store = request.url.path == "/live"
        return PlainTextResponse(str(len(calls)),
                                 headers={"cache-control": "no-store"} if no_store else {})

    app = HttpCachingMiddleware(Starlette(routes=[Route("/live", count), Route("/data", count)]),
                                memo=ResponseMemo(1 << 20))
    with TestClient(app) as client:
        assert [client.get("/live").text for _ in range(3)] == ["1", "2", "3"]
        assert [client.get("/data").text for _ in range(3)] == ["4", "4", "4"]


def test_healthz_reports_store_and_background_work(client, store, geo):
    body = client.get("/healthz").json()
    assert body["store"] == "embedded"
    assert body["data_version"] == store.info.data_version
    assert body["features"] == {**{cid: len(f) for cid, (f, _) in geo.items()},
                                **{k: v for k, v in body["features"].items() if k not in geo}}
    assert body["features"]["places"] > 4000
    assert body["maps"] in ("ready", "warming")


def test_the_memo_can_be_turned_off():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from service.web.middleware import HttpCachingMiddleware, ResponseMemo

    calls = []

    def count(request):
        calls.append(1)
        return PlainTextResponse(str(len(calls)))

    app = HttpCachingMiddleware(Starlette(routes=[Route("/data", count)]), memo=ResponseMemo(0))
    with TestClient(app) as client:
        assert [client.get("/data").text for _ in range(3)] == ["1", "2", "3"]


def test_every_response_names_the_data_version(client, store):
    for path in ("/borders/BY-RU", "/collections/places/items?limit=1", "/nope", "/maps/frontier"):
        response = client.get(path)
        assert response.headers["x-data-version"] == store.info.data_version, path
    manifest = json.loads((REPO / "geodata" / "manifest.json").read_text())
    assert store.info.data_version == manifest["version"]["id"]


def test_border_events_are_the_sourced_timeline(client):
    body = client.get("/borders/RU-BY/events").json()
    assert body["border"] == "BY-RU" and body["numberMatched"] >= 4
    dates = [f["properties"]["date"] for f in body["features"]]
    assert dates == sorted(dates)
    for feature in body["features"]:
        assert "BY-RU" in feature["properties"]["borders"]
        assert feature["properties"]["source_url"].startswith("https://")
    assert client.get("/borders/BY-XX/events").status_code == 404


def test_memo_counts_what_an_entry_really_costs_and_skips_huge_keys():
    from service.web.middleware import ENTRY_OVERHEAD, Memoised, ResponseMemo

    memo = ResponseMemo(1 << 20)
    small = Memoised([(b"content-type", b"text/plain")], b"x", '"e"')
    memo.put(("http", "host", "", "/a", b"q=1"), small)
    assert memo.stats()["bytes"] >= ENTRY_OVERHEAD + len("host/aq=1x")
    memo.put(("http", "h" * 60_000, "", "/a", b""), small)  # a 60 kB Host header
    memo.put(("http", "host", "", "/a", b"z" * 60_000), small)  # a 60 kB query string
    assert memo.stats()["entries"] == 1 and memo.stats()["not_kept"] == 2


@pytest.mark.parametrize(("headers", "path", "status"), [
    ({}, "/borders?" + "x" * 9000, 414),
    ({"host": "h" * 40_000}, "/borders", 431),
    ({"x-junk": "j" * 40_000}, "/borders", 431),
    ({f"x-junk-{i}": "j" * 20_000 for i in range(4)}, "/borders", 431),
])  # fmt: skip
def test_oversized_requests_are_refused_early(client, headers, path, status):
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert "xxxx" not in response.text and "hhhh" not in response.text


def test_health_reports_the_response_cache(client):
    client.get("/borders/BY-LT")
    client.get("/borders/BY-LT")
    health = client.get("/healthz").json()
    assert set(health["renders"]) == {"running", "waiting", "concurrency", "queue", "refused"}
    cache = health["response_cache"]
    assert cache["hits"] >= 1 and cache["entries"] >= 1
    assert 0 < cache["bytes"] <= cache["budget_bytes"]


def test_liveness_does_not_touch_the_data(client):
    response = client.get("/livez")
    assert response.status_code == 200 and response.json() == {"status": "alive"}
    assert response.headers["cache-control"] == "no-store"


def test_readiness_fails_truthfully_when_search_breaks(settings, store):
    """The audit saw /healthz say ok while search answered 500: now it says which part fails."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    class BrokenSearch:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            return getattr(self._inner, name)

        async def search_places(self, query):
            raise RuntimeError("bad alternate name")

        async def close(self):
            return None

    with TestClient(create_app(settings, store=BrokenSearch(store))) as broken:
        response = broken.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "failing"
        assert body["subsystems"]["store"]["checks"]["search"]["status"] == "failing"
        assert body["subsystems"]["store"]["checks"]["items"]["status"] == "ok"
        assert broken.get("/livez").status_code == 200


def test_public_base_url_wins_over_the_host_header(settings, store):
    """Behind a TLS proxy every absolute URL must be the public https one, whatever Host says."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    public = settings.model_copy(update={"public_base_url": "https://atlas.example.org/fa/"})
    with TestClient(create_app(public, store=store)) as proxied:
        links = proxied.get("/", headers={"host": "evil.example"}).json()["links"]
        assert links and all(link["href"].startswith("https://atlas.example.org/fa/")
                             for link in links)
        page = proxied.get("/maps/frontier", headers={"host": "evil.example"}).text
        assert "evil.example" not in page and "http://" not in page.split("<body")[0]
        assert 'src="https://atlas.example.org/fa/static/' in page


def test_allowed_hosts_refuse_others(settings, store):
    from fastapi.testclient import TestClient

    from service.app import create_app

    strict = settings.model_copy(update={"allowed_hosts": ["atlas.example.org"]})
    with TestClient(create_app(strict, store=store)) as guarded:
        assert guarded.get("/livez", headers={"host": "atlas.example.org"}).status_code == 200
        refused = guarded.get("/livez", headers={"host": "evil.example"})
        assert refused.status_code == 400 and "evil" not in refused.text


@pytest.mark.parametrize(("path", "framable"), [
    ("/maps/frontier", True), ("/collections?f=html", False), ("/api.html", False),
    ("/nope?f=html", False),
])  # fmt: skip
def test_security_headers(client, path, framable):
    response = client.get(path, headers={"accept": "text/html"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert ("frame-ancestors 'none'" in csp) is not framable
    assert ("x-frame-options" in response.headers) is not framable
    json_answer = client.get("/borders/BY-RU")
    assert json_answer.headers["x-content-type-options"] == "nosniff"


def test_range_is_not_offered(client):
    """Every answer is one whole body (hashed, compressed as such): Range is ignored."""
    whole = client.get("/static/atlas.css")
    part = client.get("/static/atlas.css", headers={"range": "bytes=0-9"})
    assert part.status_code == 200 and part.content == whole.content
    assert "accept-ranges" not in part.headers and "content-range" not in part.headers


def test_authorised_answers_are_never_memoised(client):
    client.get("/borders/BY-PL", headers={"authorization": "Bearer a"})
    before = client.app.state.response_memo.stats()
    client.get("/borders/BY-PL", headers={"authorization": "Bearer b"})
    after = client.app.state.response_memo.stats()
    assert after["hits"] == before["hits"] and after["entries"] == before["entries"]


def test_forwarded_headers_are_believed_only_from_trusted_proxies(settings, store):
    from fastapi.testclient import TestClient
    from starlette.responses import JSONResponse

    from service.app import create_app

    async def whoami(request):
        return JSONResponse({"client": request.client.host, "scheme": request.url.scheme})

    def seen(settings_):
        app = create_app(settings_, store=store)
        app.add_route("/whoami", whoami)

        with TestClient(app) as c:
            return c.get("/whoami", headers={"x-forwarded-for": "203.0.113.9, 10.0.0.2",
                                             "x-forwarded-proto": "https"}).json()

    assert seen(settings) == {"client": "testclient", "scheme": "http"}
    trusted = settings.model_copy(update={"trusted_proxies": ["testclient", "10.0.0.2"]})
    assert seen(trusted) == {"client": "203.0.113.9", "scheme": "https"}
