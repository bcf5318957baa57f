"""The maps API and the saved map pages, in-process: every status code, problem+json
naming the field, versions pinned, drafts private, the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.maps.strings import format_date
from service.settings import Settings
from tests.conftest import REPO

PROBLEM = "application/problem+json"
XSS = "<script>alert(1)</script> & <b>bold</b>"
DOC = {"title": "Divin & the BY–UA border", "lang": "en",
       "items": {"borders": ["by-ua"], "places": ["divin"]},
       "annotations": [{"type": "label", "lon": 24.6, "lat": 51.96, "text": "Here"}]}


def make_client(tmp_path, **overrides) -> TestClient:
    settings = Settings(data_dir=REPO / "geodata", state_dir=tmp_path / "state", **overrides)
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    with make_client(tmp_path_factory.mktemp("studio-api"), studio_max_body_kb=8) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def problem(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and {"type", "title", "detail", "code"} <= set(body)
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


@pytest.fixture()
def created(client) -> dict:
    response = client.post("/api/maps", json=DOC)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_the_secret_once_and_canonical_ids(client, created):
    assert created["edit_token"].startswith("fae_") and len(created["edit_token"]) >= 47
    assert created["edit_url"].endswith(f"studio?map={created['id']}#token={created['edit_token']}")
    assert created["document"]["items"] == {"borders": ["BY-UA"], "places": ["divin"],
                                            "crossings": [], "countries": []}
    assert created["revision"] == 1 and created["latest_version"] == 0
    again = client.post("/api/maps", json=DOC)
    assert again.headers["location"] == again.json()["links"]["self"]
    assert again.headers["etag"] == again.json()["etag"]
    assert again.headers["cache-control"] == "no-store"


def test_draft_needs_the_edit_token(client, created):
    mid = created["id"]
    response = client.get(f"/api/maps/{mid}")
    problem(response, 401, "Authorization")
    assert response.headers["www-authenticate"].startswith("Bearer")
    problem(client.get(f"/api/maps/{mid}", headers=auth("fae_wrong")), 403)
    problem(client.get(f"/api/maps/{mid}", headers={"authorization": "Basic eDp5"}), 401)
    ok = client.get(f"/api/maps/{mid}", headers=auth(created["edit_token"]))
    assert ok.status_code == 200 and ok.json()["document"]["title"] == DOC["title"]
    assert ok.headers["cache-control"] == "no-store"  # never replayed by the response memo
    # the draft is not public anywhere
    problem(client.get(f"/maps/saved/{mid}"), 404, "no published version")
    problem(client.get(f"/maps/saved/{mid}/v/1"), 404)


@pytest.mark.parametrize("path", ["/api/maps/aaaaaaaaaaaa", "/api/maps/not-an-id",
                                  "/maps/saved/aaaaaaaaaaaa", "/maps/saved/aaaaaaaaaaaa/v/1",
                                  "/maps/saved/aaaaaaaaaaaa/v/x", "/maps/saved/aaaaaaaaaaaa.png",
                                  "/api/maps/aaaaaaaaaaaa/versions"])
def test_unknown_maps_are_404(client, path):
    problem(client.get(path), 404)


BAD = [
    ({"title": "x" * 201}, "title"),
    ({"caption": "x" * 281}, "caption"),
    ({"lang": "de"}, "lang"),
    ({"size": "huge"}, "size"),
    ({"colour": "red"}, "colour"),
    ({"items": {"places": ["nowhere-at-all"]}}, "items.places[0]"),
    ({"items": {"borders": ["BY-FR"]}}, "items.borders[0]"),
    ({"items": {"countries": ["ZZ"]}}, "items.countries[0]"),
    ({"items": {"places": ["divin"] * 51}}, "items.places"),
    ({"annotations": [{"type": "label", "lon": 24, "lat": 95, "text": "x"}]}, "lat"),
    ({"annotations": [{"type": "circle", "lon": 24, "lat": 52}]}, "annotations"),
    ({"annotations": [{"type": "marker", "lon": 24, "lat": 52, "text": "x" * 81}]}, "text"),
    ({"annotations": [{"type": "label", "lon": 24, "lat": 52, "text": "x"}] * 51}, "annotations"),
    ({"static": "maybe"}, "static"),
]


@pytest.mark.parametrize(("body", "field"), BAD, ids=[b[1] for b in BAD])
def test_bad_documents_are_400_naming_the_field(client, created, body, field):
    problem(client.post("/api/maps", json=body), 400, field)
    problem(client.put(f"/api/maps/{created['id']}", json=body, headers={
        **auth(created["edit_token"]), "if-match": created["etag"]}), 400, field)


def test_bad_json_is_400(client):
    problem(client.post("/api/maps", content=b"{not json",
                        headers={"content-type": "application/json"}), 400)
    problem(client.post("/api/maps", content=b"[]",
                        headers={"content-type": "application/json"}), 400)


def test_bodies_over_the_cap_are_413(client, created):
    big = {"notes": "x" * 2000, "annotations": [{"type": "marker", "lon": 24, "lat": 52,
                                                 "text": "x" * 80, "note": "y" * 280}] * 30}
    problem(client.post("/api/maps", json=big), 413, "8 KB")

    def chunks():  # no Content-Length: the cap holds while streaming
        for _ in range(20):
            yield b" " * 1024

    problem(client.post("/api/maps", content=chunks(),
                        headers={"content-type": "application/json"}), 413)
    problem(client.put(f"/api/maps/{created['id']}", json=big, headers={
        **auth(created["edit_token"]), "if-match": created["etag"]}), 413)


def test_put_needs_if_match_and_refuses_stale_etags(client, created):
    mid, headers = created["id"], auth(created["edit_token"])
    problem(client.put(f"/api/maps/{mid}", json=DOC, headers=headers), 428, "If-Match")
    first = client.put(f"/api/maps/{mid}", json={**DOC, "title": "Editor A"},
                       headers={**headers, "if-match": created["etag"]})
    assert first.status_code == 200 and first.json()["revision"] == 2
    assert first.headers["etag"] != created["etag"]
    stale = client.put(f"/api/maps/{mid}", json={**DOC, "title": "Editor B"},
                       headers={**headers, "if-match": created["etag"]})
    problem(stale, 412, "someone else")
    problem(client.put(f"/api/maps/{mid}", json=DOC, headers={**headers, "if-match": '"zz"'}),
            412)
    now = client.get(f"/api/maps/{mid}", headers=headers).json()
    assert now["document"]["title"] == "Editor A"
    problem(client.put(f"/api/maps/{mid}", json=DOC, headers={**auth("fae_x"),
                                                              "if-match": now["etag"]}), 403)
    problem(client.put(f"/api/maps/{mid}", json=DOC, headers={"if-match": now["etag"]}), 401)


def test_publish_pins_versions_and_records_the_data(client, created, store_info):
    mid, headers = created["id"], auth(created["edit_token"])
    problem(client.post(f"/api/maps/{mid}/publish"), 401)
    problem(client.post(f"/api/maps/{mid}/publish", headers=auth("fae_nope")), 403)
    problem(client.post(f"/api/maps/{mid}/publish", headers={**headers, "if-match": '"x.9"'}),
            412)
    v1 = client.post(f"/api/maps/{mid}/publish", headers=headers)
    assert v1.status_code == 201, v1.text
    v1 = v1.json()
    assert v1["n"] == 1 and v1["data_version"] == store_info.data_version
    assert v1["urls"]["page"].endswith(f"/maps/saved/{mid}/v/1")
    assert f"/maps/saved/{mid}/v/1?childId=" in v1["snippet"]  # the embed pins the version
    problem(client.post(f"/api/maps/{mid}/publish", headers=headers), 409, "already")

    page1 = client.get(f"/maps/saved/{mid}/v/1")
    assert page1.status_code == 200 and page1.headers["content-type"].startswith("text/html")
    assert "Divin &amp; the BY–UA border" in page1.text
    assert f"Data as of {format_date(store_info.data_time, 'en')}" in page1.text
    assert store_info.data_version not in page1.text  # no machine id for readers

    etag = client.get(f"/api/maps/{mid}", headers=headers).json()["etag"]
    client.put(f"/api/maps/{mid}", json={**DOC, "title": "Second take"},
               headers={**headers, "if-match": etag})
    # editing the draft changes nothing published
    assert client.get(f"/maps/saved/{mid}/v/1").text == page1.text
    assert "Second take" not in client.get(f"/maps/saved/{mid}").text
    v2 = client.post(f"/api/maps/{mid}/publish", headers=headers).json()
    assert v2["n"] == 2
    assert "Second take" in client.get(f"/maps/saved/{mid}").text
    assert "Second take" in client.get(f"/maps/saved/{mid}/v/2").text
    assert client.get(f"/maps/saved/{mid}/v/1").text == page1.text
    embed = client.get(f"/maps/saved/{mid}/embed")
    assert f"/maps/saved/{mid}/v/2?childId=" in embed.text  # latest's snippet pins v2
    assert embed.headers["cache-control"] == "no-store"
    listing = client.get(f"/api/maps/{mid}/versions").json()  # public
    assert [v["n"] for v in listing["versions"]] == [1, 2]
    assert [v["title"] for v in listing["versions"]] == [DOC["title"], "Second take"]


def test_version_png_embed_and_oembed(client, created):
    mid, headers = created["id"], auth(created["edit_token"])
    client.post(f"/api/maps/{mid}/publish", headers=headers)
    png = client.get(f"/maps/saved/{mid}/v/1.png?width=400&height=320")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"/maps/saved/{mid}.png?width=400&height=320").content == png.content
    problem(client.get(f"/maps/saved/{mid}/v/1.png?width=5"), 400, "width")
    snippet = client.get(f"/maps/saved/{mid}/v/1/embed")
    assert snippet.status_code == 200 and "<iframe" in snippet.text
    page = f"http://testserver/maps/saved/{mid}/v/1"
    doc = client.get("/maps/saved/oembed", params={"url": page}).json()
    assert doc["type"] == "rich" and page in doc["html"] and doc["title"] == DOC["title"]
    assert client.get("/maps/saved/oembed", params={"url": page.rsplit("/v/", 1)[0]}
                      ).json()["html"] == doc["html"]
    problem(client.get("/maps/saved/oembed", params={"url": "http://x/maps/frontier"}), 400)
    problem(client.get(f"/maps/saved/{mid}/v/1?lang=xx"), 400, "lang")
    problem(client.get(f"/maps/saved/{mid}/v/1?bogus=1"), 400, "bogus")


def test_markup_in_texts_is_escaped_everywhere(client):
    body = {**DOC, "title": XSS, "caption": XSS, "source": XSS, "byline": XSS}
    made = client.post("/api/maps", json=body).json()
    v = client.post(f"/api/maps/{made['id']}/publish", headers=auth(made["edit_token"])).json()
    page = client.get(f"/maps/saved/{made['id']}/v/1").text
    assert "<script>alert(1)" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in v["snippet"]
    snippet = client.get(f"/maps/saved/{made['id']}/v/1/embed").text
    assert "<script>alert" not in snippet and "&lt;script&gt;" in snippet


def test_empty_draft_cannot_be_published(client):
    made = client.post("/api/maps", json={"title": "nothing"}).json()
    problem(client.post(f"/api/maps/{made['id']}/publish", headers=auth(made["edit_token"])),
            409, "items")


def test_delete_keeps_published_versions_for_embeds_out_there(client, created):
    mid, headers = created["id"], auth(created["edit_token"])
    client.post(f"/api/maps/{mid}/publish", headers=headers)
    problem(client.delete(f"/api/maps/{mid}"), 401)
    problem(client.delete(f"/api/maps/{mid}", headers={**headers, "if-match": '"x.1"'}), 412)
    gone = client.delete(f"/api/maps/{mid}", headers=headers)
    assert gone.status_code == 204
    problem(client.get(f"/api/maps/{mid}", headers=headers), 404, "deleted")
    problem(client.get(f"/maps/saved/{mid}"), 404, "/v/1")
    assert client.get(f"/maps/saved/{mid}/v/1").status_code == 200
    assert client.get(f"/maps/saved/{mid}/v/1/embed").status_code == 200
    problem(client.delete(f"/api/maps/{mid}", headers=headers), 404)


def test_rotating_the_token(client, created):
    mid, old = created["id"], created["edit_token"]
    new = client.post(f"/api/maps/{mid}/token", headers=auth(old))
    assert new.status_code == 200
    token = new.json()["edit_token"]
    problem(client.get(f"/api/maps/{mid}", headers=auth(old)), 403)
    assert client.get(f"/api/maps/{mid}", headers=auth(token)).status_code == 200


def test_api_keys_own_the_maps_they_create(client):
    repo = client.app.state.map_repository
    key, secret = repo.create_key("bot")
    other, other_secret = repo.create_key("other bot")
    made = client.post("/api/maps", json=DOC, headers=auth(secret))
    assert made.status_code == 201
    mid = made.json()["id"]
    assert client.get(f"/api/maps/{mid}", headers=auth(secret)).status_code == 200
    problem(client.get(f"/api/maps/{mid}", headers=auth(other_secret)), 403)
    repo.revoke_key(key.id)
    problem(client.get(f"/api/maps/{mid}", headers=auth(secret)), 403)
    problem(client.post("/api/maps", json=DOC, headers=auth(secret)), 403, "API key")
    problem(client.post("/api/maps", json=DOC, headers=auth("fak_made_up")), 403)


def test_wrong_method_is_405(client):
    problem(client.patch("/api/maps/aaaaaaaaaaaa", json={}), 405)


def test_creation_is_rate_limited_per_address(tmp_path):
    with make_client(tmp_path, studio_creates_per_hour=2) as c:
        assert [c.post("/api/maps", json=DOC).status_code for _ in range(2)] == [201, 201]
        limited = c.post("/api/maps", json=DOC)
        problem(limited, 429, "per hour")
        assert int(limited.headers["retry-after"]) > 0
        key, secret = c.app.state.map_repository.create_key("newsroom")
        assert c.post("/api/maps", json=DOC, headers=auth(secret)).status_code == 201


def test_the_state_directory_is_made_on_first_use(tmp_path):
    with make_client(tmp_path) as c:
        assert not (tmp_path / "state").exists()
        c.post("/api/maps", json=DOC)
        assert (tmp_path / "state" / "maps.sqlite").exists()
        assert (tmp_path / "state" / ".gitignore").read_text() == "*\n"


def test_openapi_documents_the_maps_api(client):
    doc = client.get("/api").json()
    paths = doc["paths"]
    assert {"post", } <= set(paths["/api/maps"])
    assert {"get", "put", "delete"} <= set(paths["/api/maps/{mapId}"])
    assert "post" in paths["/api/maps/{mapId}/publish"]
    assert "get" in paths["/api/maps/{mapId}/versions"]
    for path in ("/maps/saved/{mapId}", "/maps/saved/{mapId}/v/{n}",
                 "/maps/saved/{mapId}/v/{n}.png", "/maps/saved/{mapId}/v/{n}/embed",
                 "/maps/saved/oembed", "/studio"):
        assert "get" in paths[path], path
    put = paths["/api/maps/{mapId}"]["put"]
    assert {"200", "400", "401", "403", "404", "412", "413", "428"} <= set(put["responses"])
    assert "MapDocument" in str(put["requestBody"])
    assert "bearer" in str(doc["components"]["securitySchemes"]).lower()
    preview = paths["/api/maps/preview"]["post"]
    assert set(preview["requestBody"]["content"]) == {"application/json",
                                                      "application/x-www-form-urlencoded"}
    assert "text/html" in str(preview["responses"]["200"]["content"])
    assert {"400", "409", "413", "429"} <= set(preview["responses"])
    # the summaries say which URLs are frozen and which are re-drawn
    for path in ("/maps/saved/{mapId}/v/{n}", "/maps/saved/{mapId}/v/{n}.png",
                 "/maps/saved/{mapId}/v/{n}.svg", "/maps/saved/{mapId}/v/{n}/embed"):
        assert "frozen" in paths[path]["get"]["summary"], path
    for path in ("/maps/saved/{mapId}", "/maps/saved/{mapId}.png", "/maps/saved/{mapId}.svg",
                 "/maps/saved/{mapId}/v/{n}", "/maps/saved/{mapId}/v/{n}.png"):
        assert "re-drawn with overrides" in paths[path]["get"]["summary"], path
    from openapi_spec_validator import validate

    validate(doc)


@pytest.fixture(scope="module")
def store_info(client):
    return client.app.state.store.info


def test_every_studio_string_exists_in_en_ru_be():
    import json
    import re

    strings = json.loads((REPO / "service/studio/strings.json").read_text())
    assert set(strings) == {"en", "ru", "be"}
    assert set(strings["en"]) == set(strings["ru"]) == set(strings["be"])
    template = (REPO / "service/templates/studio.html").read_text()
    script = (REPO / "service/static/studio.js").read_text()
    used = set(re.findall(r"\bt\.(\w+)", template)) | set(re.findall(r"t\[\"(\w+)\"\]", template))
    used |= set(re.findall(r"\b(?:T|words)\.(\w+)", script))
    used |= {name for name, _ in re.findall(r'\("(\w+)", (\d)\)', template)}  # the text fields
    assert used and used <= set(strings["en"]), used - set(strings["en"])


def test_studio_page_is_self_hosted_and_escapes_its_config(client):
    page = client.get("/studio?lang=be")
    assert page.status_code == 200 and 'lang="be"' in page.text
    assert "Картастудыя" in page.text
    for src in re.findall(r'(?:src|href)="([^"#]+)"', page.text):
        assert src.startswith("http://testserver/"), src
    problem(client.get("/studio?lang=de"), 400, "lang")
    problem(client.get("/studio?map=../../etc"), 400, "map")
    ru = client.get("/studio", headers={"accept-language": "ru-RU,ru;q=0.9"})
    assert 'lang="ru"' in ru.text


MARKUP = "<b>x</b> & \"q\" $a$ <script>alert(2)</script>"
ANNOTATED = {
    "title": "Annotated", "lang": "en", "items": {"borders": ["BY-UA"], "countries": ["UA"]},
    "annotations": [
        {"type": "label", "lon": 24.6, "lat": 51.96, "text": "Label " + MARKUP},
        {"type": "marker", "lon": 25.0, "lat": 51.7, "text": "Pin " + MARKUP,
         "note": "Note " + MARKUP},
        {"type": "line", "start": {"lon": 24.0, "lat": 51.5}, "end": {"lon": 25.5, "lat": 52.0},
         "arrow": True, "text": "Arrow " + MARKUP},
    ],
}


def _published(client, doc: dict) -> str:
    made = client.post("/api/maps", json=doc)
    assert made.status_code == 201, made.text
    made = made.json()
    v = client.post(f"/api/maps/{made['id']}/publish", headers=auth(made["edit_token"]))
    assert v.status_code == 201, v.text
    return made["id"]


def test_annotations_are_drawn_on_the_page_png_and_svg_escaped(client):
    mid = _published(client, ANNOTATED)
    plain = _published(client, {**ANNOTATED, "annotations": []})
    page = client.get(f"/maps/saved/{mid}/v/1").text
    data = re.search(r"FrontierAtlas\.draw\([^,]+, (\{.*\})\);", page).group(1)
    import json
    drawn = json.loads(data)["annotations"]
    assert [a["kind"] for a in drawn] == ["label", "marker", "line"]
    assert drawn[1]["note"] == "Note " + MARKUP and drawn[2]["arrow"] is True
    assert drawn[2]["ll"] == [[51.5, 24.0], [52.0, 25.5]]
    # user text is never markup: JSON with <, >, & escaped; HTML lists autoescaped
    assert "<b>x</b>" not in page and "<script>alert(2)" not in page
    assert "Pin &lt;b&gt;x&lt;/b&gt; &amp; &#34;q&#34; $a$" in page  # the screen-reader list
    assert "Note &lt;b&gt;" in page
    # the highlighted country is drawn as a focus country
    countries = {f["properties"]["id"]: f["properties"]["focus"]
                 for f in json.loads(data)["countries"]}
    assert countries["UA"] is True and countries["PL"] is False
    # the PNG draws them (it differs from the same map without them)
    size = "?width=600&height=400"
    png = client.get(f"/maps/saved/{mid}/v/1.png{size}")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert png.content != client.get(f"/maps/saved/{plain}/v/1.png{size}").content
    svg = client.get(f"/maps/saved/{mid}/v/1.svg{size}")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert "Label &lt;b&gt;x&lt;/b&gt; &amp;" in svg.text and "$a$" in svg.text
    assert "Pin &lt;b&gt;" in svg.text and "Arrow &lt;b&gt;" in svg.text
    assert "<b>" not in svg.text and "<script>alert" not in svg.text
    latest = client.get(f"/maps/saved/{mid}.svg{size}")
    assert latest.status_code == 200 and latest.headers["cache-control"] == "no-store"


def test_an_image_says_data_as_of_once_when_its_caption_is_cut(client):
    long = ("The checkpoint queue grew through the week, drivers said. " * 5)[:280]
    mid = _published(client, {**DOC, "caption": long})
    for size in ("?width=1200&height=630", "?width=400&height=320", "?width=320&height=320"):
        svg = client.get(f"/maps/saved/{mid}/v/1.svg{size}").text
        assert svg.count("Data as of") == 1, size


def test_the_studio_no_longer_says_annotations_are_not_drawn(client):
    page = client.get("/studio?lang=en").text
    assert "does not draw them" not in page and "annotations_note" not in page


def test_a_journalists_own_lead_in_is_not_doubled(client):
    doc = {**DOC, "source": "Sources: State Border Committee; <b>Reuters</b>",
           "byline": "Graphic: A. Reporter"}
    mid = _published(client, doc)
    page = client.get(f"/maps/saved/{mid}/v/1").text
    assert ('<span class="fa-source">Sources: State Border Committee; &lt;b&gt;Reuters&lt;/b&gt;'
            '</span> · <span class="fa-by">Graphic: A. Reporter</span>') in page
    assert "Source: Sources:" not in page and "By: Graphic:" not in page
    ru = client.get(f"/maps/saved/{mid}/v/1?lang=ru").text  # a re-drawn override
    assert "Источник: Sources:" not in ru and "Graphic: A. Reporter" in ru


def test_dek_source_byline_in_their_own_slots_alt_used_notes_private(client):
    doc = {**DOC, "dek": "Dek <i>one</i>", "caption": "Cap two", "source": "Src & three",
           "byline": "By <four>", "alt": "Alt text five", "notes": "SECRET-NOTE six"}
    mid = _published(client, doc)
    page = client.get(f"/maps/saved/{mid}/v/1").text
    assert '<p class="fa-dek">Dek &lt;i&gt;one&lt;/i&gt;</p>' in page
    caption = re.search(r'<p class="fa-caption">(.*?)</p>', page).group(1)
    assert caption.startswith("Cap two") and "Data as of" in caption
    assert "Dek" not in caption and "Src" not in caption and "four" not in caption
    assert ('<p class="fa-byline"><span class="fa-source">Source: Src &amp; three</span> · '
            '<span class="fa-by">By: By &lt;four&gt;</span></p>') in page
    assert '<p id="fa-alt" class="fa-sr">Alt text five</p>' in page
    assert 'aria-label="Alt text five"' in page  # the map region
    assert '<meta property="og:image:alt" content="Alt text five">' in page
    svg = client.get(f"/maps/saved/{mid}/v/1.svg?width=800&height=500").text
    assert "Dek &lt;i&gt;one&lt;/i&gt;" in svg
    assert "Source: Src &amp; three · By: By &lt;four&gt;" in svg
    # "Data as of" once, in the caption (it names the version's data), not again in the
    # credit line: on the page, in the stored SVG and in a re-drawn one
    credit = re.search(r'<p class="fa-credit">(.*?)</p>', page, re.S).group(1)
    assert "Data as of" not in credit
    assert svg.count("Data as of") == 1
    assert client.get(f"/maps/saved/{mid}/v/1.svg").text.count("Data as of") == 1
    # a reader's own caption does not say it: the credit line does
    own = client.get(f"/maps/saved/{mid}/v/1?caption=Reader%20caption").text
    assert "Data as of" in re.search(r'<p class="fa-credit">(.*?)</p>', own, re.S).group(1)
    assert "Data as of" not in re.search(r'<p class="fa-caption">(.*?)</p>', own).group(1)
    ru = client.get(f"/maps/saved/{_published(client, {**doc, 'lang': 'ru'})}/v/1").text
    assert "Источник: Src &amp; three" in ru and "Автор: By &lt;four&gt;" in ru
    for url in (f"/maps/saved/{mid}/v/1", f"/maps/saved/{mid}", f"/maps/saved/{mid}/v/1/embed",
                f"/maps/saved/{mid}/v/1.svg", f"/api/maps/{mid}/versions",
                f"/maps/saved/oembed?url=http://testserver/maps/saved/{mid}/v/1"):
        assert "SECRET-NOTE" not in client.get(url).text, url


def test_oembed_discovery_of_saved_maps(client, created):
    from urllib.parse import quote

    mid, headers = created["id"], auth(created["edit_token"])
    client.post(f"/api/maps/{mid}/publish", headers=headers)
    page = client.get(f"/maps/saved/{mid}/v/1").text
    href = re.search(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"',
                     page).group(1).replace("&amp;", "&")
    assert href.startswith("http://testserver/oembed?url=")
    doc = client.get(href)  # the page's own discovery link answers
    assert doc.status_code == 200, doc.text
    doc = doc.json()
    pinned = f"http://testserver/maps/saved/{mid}/v/1"
    assert doc["type"] == "rich" and doc["title"] == DOC["title"]
    assert pinned in doc["html"] and doc["thumbnail_url"].startswith(f"{pinned}.png")
    # the latest's URL pins the version it shows; a reader's flags are kept
    latest = client.get(f"/oembed?url={quote(pinned.rsplit('/v/', 1)[0], safe='')}").json()
    assert latest["html"] == doc["html"]
    ru = client.get(f"/oembed?url={quote(pinned + '?lang=ru', safe='')}").json()
    assert f"{pinned}?lang=ru" in ru["html"] and ru["title"] == DOC["title"]
    problem(client.get(f"/oembed?url={quote(pinned[:-1] + '9', safe='')}"), 404)
    problem(client.get("/oembed?url=http://testserver/maps/saved/aaaaaaaaaaaa"), 404)
    problem(client.get(f"/oembed?url={quote(pinned + '/x', safe='')}"), 404)


def test_saved_map_footer_links_to_the_studio(client, created):
    client.post(f"/api/maps/{created['id']}/publish", headers=auth(created["edit_token"]))
    page = client.get(f"/maps/saved/{created['id']}/v/1").text
    assert 'class="fa-studio-link" href="http://testserver/studio"' in page


def test_a_compressed_etag_still_names_the_revision(client):
    """Browsers get the JSON gzip- or brotli-encoded, with that coding's ETag; sending it
    back in If-Match must still save (a 1 kB+ document is compressed)."""
    body = {**DOC, "notes": "n " * 700}  # notes (private) make the document large
    made = client.post("/api/maps", json=body).json()
    headers = auth(made["edit_token"])
    got = client.get(f"/api/maps/{made['id']}", headers={**headers, "accept-encoding": "br"})
    etag = got.headers["etag"]
    assert etag.endswith('-br"')
    saved = client.put(f"/api/maps/{made['id']}", json={**body, "title": "Edited"},
                       headers={**headers, "if-match": etag})
    assert saved.status_code == 200, saved.text


def test_versions_published_without_a_stored_page_are_drawn_live(client, created):
    mid = created["id"]
    repo = client.app.state.map_repository
    repo.publish(mid, "old", "2024-01-01T00:00:00Z")  # as before renders were stored
    assert repo.version_page(mid, 1) is None and repo.version_image(mid, 1, "png") is None
    page = client.get(f"/maps/saved/{mid}/v/1")
    # re-drawn from the data loaded now, and its caption names that data, not "old"
    info = client.app.state.store.info
    assert page.status_code == 200
    assert f"Data as of {format_date(info.data_time, 'en')}" in page.text
    assert "(old)" not in page.text and info.data_version not in page.text
    assert "immutable" not in page.headers["cache-control"]
    image = client.get(f"/maps/saved/{mid}/v/1.png")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    # the headline is the document's own title (none was stored)
    assert client.get(f"/api/maps/{mid}/versions").json()["versions"][0]["title"] == \
        DOC["title"]
