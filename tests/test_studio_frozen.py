"""A published version never changes under a story: its page, PNG, SVG, embed snippet,
versions entry and oEmbed answers are rendered at publish time and served byte for byte
after a data release (a modified copy of the committed data, opened by a second app on
the same saved maps), while overrides and other image sizes are re-drawn from the new
data and say so. Also: the live preview endpoint (the renderer of published versions,
nothing stored), and the creation rate limit counted in the shared maps store."""

from __future__ import annotations

import hashlib
import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.maps.strings import format_date
from service.settings import Settings
from tests.conftest import REPO
from tests.postgis_fixture import temporary_database

PROBLEM = "application/problem+json"
#: No title of its own: the headline is the renderer's, stored at publish; the label and
#: dek carry markup characters.
DOC = {"lang": "en", "dek": "Dek <b>x</b>", "size": "square",
       "items": {"borders": ["BY-UA"], "places": ["divin"]},
       "annotations": [{"type": "label", "lon": 24.58, "lat": 51.97, "text": "Checks <i>&</i>"}]}
RENAMED = "Divin-Nova"
NEXT_VERSION = "2026-12-01.abc1234"
NEXT_DAY = format_date("2026-12-01", "en")


def _text(response) -> str:  # noqa: ANN001 - an httpx response
    """A page's or an SVG's text with character references written out."""
    return html.unescape(response.text)


def data_release(root: Path) -> Path:
    """A copy of the committed data in which Divin has a new name and the manifest a new
    data version (checksum updated), as the next `make data` would publish it."""
    data = root / "geodata-next"
    shutil.copytree(REPO / "geodata", data, ignore=shutil.ignore_patterns("build", "*.py"))
    places = orjson.loads((data / "places.geojson").read_bytes())
    for feature in places["features"]:
        if feature["id"] == "divin":
            feature["properties"].update(name=RENAMED, name_en=RENAMED, name_ru="Дивин-Нова",
                                         name_be="Дзівін-Нова")
    body = orjson.dumps(places)
    (data / "places.geojson").write_bytes(body)
    manifest = orjson.loads((data / "manifest.json").read_bytes())
    manifest["outputs"]["places.geojson"].update(bytes=len(body),
                                                 sha256=hashlib.sha256(body).hexdigest())
    manifest["version"].update(id=NEXT_VERSION, built="2026-12-01", hash="abc1234")
    (data / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return data


def app_client(data_dir: Path, state: Path, **overrides) -> TestClient:
    return TestClient(create_app(Settings(data_dir=data_dir, state_dir=state, **overrides)))


@pytest.fixture(scope="module")
def next_data(tmp_path_factory) -> Path:
    return data_release(tmp_path_factory.mktemp("release"))


def frozen_urls(mid: str, w: int, h: int) -> list[str]:
    page = f"http://testserver/maps/saved/{mid}/v/1"
    return [f"/maps/saved/{mid}/v/1", f"/maps/saved/{mid}/v/1?childId=x&initialWidth=375",
            f"/maps/saved/{mid}/v/1.png", f"/maps/saved/{mid}/v/1.png?width={w}&height={h}",
            f"/maps/saved/{mid}/v/1.svg", f"/maps/saved/{mid}/v/1/embed",
            f"/maps/saved/{mid}", f"/maps/saved/{mid}.png", f"/maps/saved/{mid}.svg",
            f"/maps/saved/{mid}/embed", f"/api/maps/{mid}/versions",
            f"/maps/saved/oembed?url={quote(page, safe='')}",
            f"/oembed?url={quote(page, safe='')}",
            f"/oembed?url={quote(page.rsplit('/v/', 1)[0], safe='')}"]


def redrawn_urls(mid: str) -> list[str]:
    return [f"/maps/saved/{mid}/v/1?dark=true", f"/maps/saved/{mid}/v/1?lang=ru",
            f"/maps/saved/{mid}/v/1.png?width=800&height=500",
            f"/maps/saved/{mid}/v/1.svg?width=800&height=500", f"/maps/saved/{mid}.svg?lang=be"]


def test_a_published_version_is_frozen_across_a_data_release(tmp_path, next_data):
    state = tmp_path / "state"
    with app_client(REPO / "geodata", state) as before:
        made = before.post("/api/maps", json=DOC).json()
        published = before.post(f"/api/maps/{made['id']}/publish",
                                headers={"authorization": f"Bearer {made['edit_token']}"})
        assert published.status_code == 201, published.text
        mid, title = made["id"], published.json()["title"]
        assert title and before.app.state.map_repository.version(mid, 1).title == title
        w, h = 1080, 1080  # the square preset
        old = {url: before.get(url) for url in frozen_urls(mid, w, h) + redrawn_urls(mid)}
        old_version = before.app.state.store.info.data_version
        # a caption names its data by the day, as readers write it (not by its id)
        old_day = format_date(before.app.state.store.info.data_time, "en")
    for url, response in old.items():
        assert response.status_code == 200, (url, response.text)
    png = old[f"/maps/saved/{mid}/v/1.png"]
    assert png.content.startswith(b"\x89PNG") and png.content == \
        old[f"/maps/saved/{mid}/v/1.png?width={w}&height={h}"].content
    for url in (f"/maps/saved/{mid}/v/1", f"/maps/saved/{mid}/v/1.png",
                f"/maps/saved/{mid}/v/1.svg"):
        etag = old[url].headers["etag"]
        assert etag.startswith('"v-') and not etag.startswith("W/"), (url, etag)
        assert "immutable" in old[url].headers["cache-control"], url
    assert old[f"/maps/saved/{mid}.png"].headers["cache-control"] == "no-store"  # it moves on
    pinned = quote(f"http://testserver/maps/saved/{mid}/v/1", safe="")
    oembed = old[f"/maps/saved/oembed?url={pinned}"]
    assert oembed.json()["title"] == title
    assert oembed.json()["thumbnail_url"] == f"http://testserver/maps/saved/{mid}/v/1.png" \
        f"?width={w}&height={h}"

    # the data release: a second app on the new data and the same saved maps
    with app_client(next_data, state) as after:
        assert after.app.state.store.info.data_version == NEXT_VERSION != old_version
        for url in frozen_urls(mid, w, h):
            now = after.get(url)
            assert now.status_code == 200, (url, now.text)
            assert now.content == old[url].content, url  # byte for byte
            assert now.headers.get("etag") == old[url].headers.get("etag"), url
        for url in (f"/maps/saved/{mid}/v/1", f"/maps/saved/{mid}/v/1.svg"):
            assert RENAMED not in after.get(url).text and old_day in _text(after.get(url))
        # overrides and other sizes are re-drawn from the new data, and say so
        for url in redrawn_urls(mid):
            now = after.get(url)
            assert now.status_code == 200, (url, now.text)
            assert now.content != old[url].content, url
        page = _text(after.get(f"/maps/saved/{mid}/v/1?dark=true"))
        assert RENAMED in page and NEXT_DAY in page and old_day not in page
        svg = _text(after.get(f"/maps/saved/{mid}/v/1.svg?width=800&height=500"))
        assert NEXT_DAY in svg and old_day not in svg
        # a new version is the explicit way to re-draw with the new data
        again = after.post(f"/api/maps/{mid}/publish",
                           headers={"authorization": f"Bearer {made['edit_token']}"})
        assert again.status_code == 201 and again.json()["data_version"] == NEXT_VERSION
        assert NEXT_DAY in _text(after.get(f"/maps/saved/{mid}/v/2.svg"))
        assert after.get(f"/maps/saved/{mid}/v/1.svg").content == \
            old[f"/maps/saved/{mid}/v/1.svg"].content


def test_frozen_images_answer_304_and_round_trip_export(tmp_path):
    from service.studio.store import export_json, import_json, open_repository

    with app_client(REPO / "geodata", tmp_path / "a") as c:
        made = c.post("/api/maps", json=DOC).json()
        c.post(f"/api/maps/{made['id']}/publish",
               headers={"authorization": f"Bearer {made['edit_token']}"})
        url = f"/maps/saved/{made['id']}/v/1.png"
        first = c.get(url)
        assert c.get(url, headers={"if-none-match": first.headers["etag"]}).status_code == 304
        repo = c.app.state.map_repository
        dump = export_json(repo)
        entry = orjson.loads(dump)["maps"][0]["versions"][0]
        assert set(entry["renders"]) == {"title", "png", "svg"}
        other = open_repository(tmp_path / "b", None)
        try:
            import_json(other, dump)
            assert other.version_image(made["id"], 1, "png") == first.content
            assert other.version_image(made["id"], 1, "svg") == \
                repo.version_image(made["id"], 1, "svg")
            assert other.version(made["id"], 1).title == repo.version(made["id"], 1).title
            assert export_json(other) == dump
        finally:
            other.close()


# ---------------------------------------------------------------- the live preview
@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    with app_client(REPO / "geodata", tmp_path_factory.mktemp("preview"),
                    studio_max_body_kb=8, studio_previews_per_hour=1000) as c:
        yield c


XSS_DOC = {**DOC, "title": 'T <script>alert(1)</script> & "q"', "source": "S <b>", "byline": "B &",
           "notes": "SECRET-NOTE"}


def test_preview_is_the_published_renderer_and_stores_nothing(client):
    repo = client.app.state.map_repository
    before = repo.export()
    response = client.post("/api/maps/preview", json=XSS_DOC)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert '<h1 id="fa-title">T &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;q&#34;</h1>' \
        in page or '<h1 id="fa-title">T &lt;script&gt;alert(1)&lt;/script&gt; &amp; ' \
        '&quot;q&quot;</h1>' in page
    assert "<script>alert" not in page and "<b>" not in page.split("<body", 1)[1] \
        .replace("<b>x</b>", "")
    assert '<p class="fa-dek">Dek &lt;b&gt;x&lt;/b&gt;</p>' in page
    assert "Source: S &lt;b&gt;" in page and "By: B &amp;" in page
    assert "Checks &lt;i&gt;&amp;&lt;/i&gt;" in page or "Checks \\u003ci\\u003e" in page
    assert "Data as of" in page and "SECRET-NOTE" not in page
    assert repo.export() == before  # nothing stored
    # the same draft, once published, is the same page (same renderer, same texts)
    made = client.post("/api/maps", json=XSS_DOC).json()
    client.post(f"/api/maps/{made['id']}/publish",
                headers={"authorization": f"Bearer {made['edit_token']}"})
    published = client.get(f"/maps/saved/{made['id']}/v/1").text
    title = re.search(r'<h1 id="fa-title">.*?</h1>', published).group(0)
    assert title in page


def test_preview_takes_the_studio_form_post(client):
    body = "document=" + quote(orjson.dumps(XSS_DOC).decode(), safe="")
    response = client.post("/api/maps/preview", content=body,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    assert "T &lt;script&gt;" in response.text


@pytest.mark.parametrize(("body", "status", "word"), [
    ({**DOC, "title": "x" * 201}, 400, "title"),
    ({**DOC, "items": {"places": ["nowhere-at-all"]}}, 400, "items.places[0]"),
    ({**DOC, "annotations": [{"type": "label", "lon": 24, "lat": 95, "text": "x"}]}, 400, "lat"),
    ({"title": "empty"}, 409, "nothing"),
    ({**DOC, "notes": "n" * 1900, "caption": "c" * 280, "alt": "a" * 500,
      "annotations": [{"type": "marker", "lon": 24, "lat": 52, "text": "t" * 80,
                       "note": "n" * 280}] * 20}, 413, "KB"),
])  # fmt: skip
def test_bad_previews_are_problems(client, body, status, word):
    response = client.post("/api/maps/preview", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM and word in response.json()["detail"]


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b"document=%7Bnot",
                                 b"&".join([b"a=1"] * 20), b"document=%FF%FE"])
def test_unreadable_previews_are_400(client, raw):
    kind = "application/x-www-form-urlencoded" if b"=" in raw \
        else "application/json"
    response = client.post("/api/maps/preview", content=raw, headers={"content-type": kind})
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM


def test_previews_are_rate_limited(tmp_path):
    with app_client(REPO / "geodata", tmp_path, studio_previews_per_hour=2) as c:
        assert [c.post("/api/maps/preview", json=DOC).status_code for _ in range(3)] == \
            [200, 200, 429]
        limited = c.post("/api/maps/preview", json=DOC)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert c.post("/api/maps", json=DOC).status_code == 201  # a budget of its own


# ---------------------------------------------------------------- shared rate limit
@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database per test (the real server, never mocked)."""
    with temporary_database("frontier_atlas_studio_rate") as url:
        yield url


def _two_apps(tmp_path: Path, url: str | None) -> tuple[TestClient, TestClient]:
    settings = {"studio_creates_per_hour": 3, "maps_database_url": url}
    return (app_client(REPO / "geodata", tmp_path / "state", **settings),
            app_client(REPO / "geodata", tmp_path / "state", **settings))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_instances_share_one_creation_budget(tmp_path, backend, request):
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    a, b = _two_apps(tmp_path, url)
    with a, b:
        assert a.app.state.map_repository is not b.app.state.map_repository
        codes = [c.post("/api/maps", json=DOC).status_code for c in (a, b, a, b)]
        assert codes == [201, 201, 201, 429], codes  # per process it would be 4 x 201
        over = b.post("/api/maps", json=DOC)
        assert over.status_code == 429 and 0 < int(over.headers["retry-after"]) <= 3600
        assert "3 new maps per hour" in over.json()["detail"]
        # another address has its own budget (the client address comes from the socket)
        other = TestClient(b.app, client=("203.0.113.9", 5000))
        assert other.post("/api/maps", json=DOC).status_code == 201


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_rate_windows_are_counted_transactionally_and_pruned(tmp_path, backend, request):
    from service.studio.store import open_repository

    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    repo = open_repository(tmp_path, url)
    try:
        hour = 1_800_000_000 // 3600 * 3600  # the start of an hour window
        assert [repo.rate_hit("create", "198.51.100.1", 2, hour + 10) for _ in range(2)] == [0, 0]
        assert repo.rate_hit("create", "198.51.100.1", 2, hour + 10) == 3600 - 10 + 1
        # refused hits are not counted (the increment is rolled back)
        with repo._tx() as run:
            rows = run("SELECT kind, client, hour, hits FROM studio_rate").fetchall()
        assert [tuple(r) for r in rows] == [("create", "198.51.100.1", hour // 3600, 2)]
        assert repo.rate_hit("preview", "198.51.100.1", 2, hour + 20) == 0  # another kind
        # the next window starts afresh and prunes the past ones
        assert repo.rate_hit("create", "198.51.100.1", 2, hour + 3600) == 0
        with repo._tx() as run:
            rows = run("SELECT hour, hits FROM studio_rate").fetchall()
        assert [tuple(r) for r in rows] == [(hour // 3600 + 1, 1)]
    finally:
        repo.close()
