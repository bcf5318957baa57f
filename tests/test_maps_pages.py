"""Map pages, PNGs, embed snippets and oEmbed through the app (no browser)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from service.maps import content as maps
from service.maps.cli import add_map_command  # noqa: F401 - the CLI module imports cleanly
from service.maps.flags import MapFlags, parse_flags

HTML = "text/html; charset=utf-8"
PROBLEM = "application/problem+json"
XSS = "<img src=x onerror=alert(1)>"
CHECKPOINTS = ["yukhovichi-dolostsy", "jezerishche-nevel", "lyozna-kruglovka",
               "redki-krasnaya-gorka", "zvenchatka-dubovichka", "selishcha-novozybkov"]  # fmt: skip


@pytest.mark.parametrize(
    "path",
    ["/maps/frontier", "/maps/borders/BY-UA", "/maps/borders/rus-blr", "/maps/places/divin",
     "/maps/custom?borders=BY-LT&places=divin,minsk&crossings=brest-terespol&countries=PL"],
)  # fmt: skip
def test_map_pages_are_html_with_their_links(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == HTML
    text = response.text
    assert text.startswith("<!doctype html>\n<html lang=\"en\"")
    assert 'type="application/json+oembed"' in text
    assert re.search(r'<meta property="og:image" content="http://testserver/maps/[^"]+\.png', text)
    assert 'name="twitter:card" content="summary_large_image"' in text
    assert "user-scalable=no" not in text and "maximum-scale" not in text
    assert "OpenStreetMap contributors" in text and "GeoNames" in text
    assert "<noscript>" in text and 'id="fa-alt"' in text


def _event_sources() -> tuple[str, ...]:
    import json
    from pathlib import Path

    events = Path(__file__).resolve().parent.parent / "geodata" / "events.geojson"
    return tuple(f["properties"]["source_url"] for f in json.loads(events.read_text())["features"])


def test_frontier_page_content_and_budget(client):
    response = client.get("/maps/frontier")
    assert len(response.content) <= 250_000
    text = response.text
    for cid in CHECKPOINTS:
        assert f'"id":"{cid}"' in text
    assert '"id":"divin"' in text
    assert "1,239 km long, according to Wikipedia" in text and "measures 1,316 km" in text
    # every asset from our own origin: no http(s) URL in a src or stylesheet href
    links_ok = ("http://testserver/", "https://www.openstreetmap.org/copyright",
                "https://www.geonames.org/", "https://creativecommons.org/", "https://en.wikipedia.org/",
                *_event_sources())  # the timeline links each event to its source
    for url in re.findall(r'(?:src|href)="([^"]+)"', text):
        assert not url.startswith("http") or url.startswith(links_ok), url
    assets = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', text)
    assert assets and all(a.startswith("http://testserver/static/") for a in assets)
    for a in assets:
        r = client.get(a.replace("http://testserver", ""))
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "etag" in r.headers


def test_text_from_flags_is_escaped_everywhere(client):
    text = client.get(f"/maps/frontier?title={quote(XSS)}&caption={quote(XSS)}").text
    assert XSS not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    snippet = client.get(f"/maps/frontier/embed?title={quote(XSS)}").text
    assert XSS not in snippet


def test_json_in_inline_script_cannot_close_it():
    data = {"name": "</script><script>alert(1)</script>", "x": "\u2028'&"}
    out = maps.safe_json(data)
    assert "<" not in out and ">" not in out and "&" not in out and "'" not in out


@pytest.mark.parametrize(
    ("query", "detail"),
    [("lang=de", "lang"), ("dark=maybe", "dark"), ("static=2", "static"), ("tiles=google", "tiles"),
     ("inset=x", "inset"), ("labels=", "labels"), ("title=" + "x" * 201, "title"),
     ("nope=1", "Unknown")],
)  # fmt: skip
def test_invalid_flags_are_400_problems(client, query, detail):
    response = client.get(f"/maps/frontier?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "InvalidParameterValue" and detail in body["detail"]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/maps/borders/BY-XX", 404), ("/maps/places/atlantis", 404), ("/maps/custom", 400),
     ("/maps/custom?crossings=nope", 404), ("/maps/custom?countries=ZZ", 400),
     ("/maps/frontier.png?width=100", 400), ("/maps/frontier.png?height=2401", 400),
     ("/maps/frontier.png?width=abc", 400)],
)  # fmt: skip
def test_bad_map_requests(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM


def test_pym_parameters_are_accepted(client):
    response = client.get("/maps/frontier?childId=x&initialWidth=300&parentUrl=http://a/")
    assert response.status_code == 200


def test_flags_normalise_to_one_cache_key():
    a = parse_flags({"dark": "TRUE", "static": "yes", "lang": "RU"})
    b = parse_flags({"dark": "true", "static": "1", "lang": "ru"})
    assert a == b and hash(a) == hash(b)
    assert a.query() == {"dark": "true", "lang": "ru", "static": "true"}
    assert MapFlags().query() == {}


@pytest.mark.parametrize(("lang", "title", "label"),
                         [("en", "The Belarus–Russia frontier", "Vitebsk"),
                          ("ru", "Граница Беларуси и России", "Витебск"),
                          ("be", "Мяжа Беларусі і Расіі", "Віцебск")])  # fmt: skip
def test_languages(client, lang, title, label):
    text = client.get(f"/maps/frontier?lang={lang}").text
    assert f'<html lang="{lang}"' in text and f"<h1 id=\"fa-title\">{title}</h1>" in text
    assert f'"name":"{label}"' in text


def test_dark_and_static_flags_change_the_page(client):
    assert 'class="fa-theme-dark"' in client.get("/maps/frontier?dark=true").text
    static = client.get("/maps/frontier?static=true").text
    assert '"dragging": false' in static and '"static":true' in static


def test_tiles_osm_sets_referrer_policy_and_attribution(client):
    text = client.get("/maps/frontier?tiles=osm").text
    assert "tile.openstreetmap.org" in text
    assert '"referrerPolicy": "strict-origin-when-cross-origin"' in text
    assert "openstreetmap.org/copyright" in text
    assert "tile.openstreetmap.org" not in client.get("/maps/frontier?tiles=none").text


def test_png_is_bounded_and_cached(client):
    first = client.get("/maps/frontier.png?width=400&height=320")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(first.content[16:20]), int.from_bytes(first.content[20:24])
    assert (width, height) == (400, 320)
    again = client.get("/maps/frontier.png?width=400&height=320")
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert client.get("/maps/places/divin.png?lang=be&dark=true").status_code == 200


def test_embed_snippet(client):
    snippet = client.get("/maps/places/divin/embed?lang=ru").text
    # a size container around the iframe: its no-script height follows its own width
    assert snippet.startswith('<div style="container-type:inline-size;width:100%"><iframe ')
    assert re.search(r'style="width:100%;height:calc\([^"]*cqw[^"]*\);', snippet)
    assert 'title="Дивин и ближайшая граница"' in snippet
    assert "allowfullscreen" in snippet and 'loading="lazy"' in snippet
    assert ("http://testserver/maps/places/divin?dark=false&amp;lang=ru&amp;"
            "childId=frontier-atlas-") in snippet
    assert "embed-size" in snippet and "xPYMx" in snippet


def test_oembed(client):
    url = "http://testserver/maps/frontier?lang=be"
    response = client.get(f"/oembed?url={quote(url, safe='')}&format=json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["version"] == "1.0" and doc["type"] == "rich"
    assert doc["title"] == "Мяжа Беларусі і Расіі" and "<iframe" in doc["html"]
    assert doc["thumbnail_url"].startswith("http://testserver/maps/frontier.png")
    assert client.get(f"/oembed?url={quote(url, safe='')}&format=xml").status_code == 501
    assert client.get("/oembed?url=http://testserver/collections").status_code == 404
    assert client.get("/oembed?url=notaurl").status_code == 400


def test_collection_pages_show_a_map(client):
    text = client.get("/collections/crossings/items?f=html").text
    assert 'src="http://testserver/maps/custom?crossings=' in text
    # the embed snippet: the iframe takes the height the map page posts
    assert "allowfullscreen" in text and "addEventListener('message'" in text
    feature = client.get("/collections/places/items/divin?f=html").text
    assert 'src="http://testserver/maps/places/divin' in feature


def test_cli_writes_a_self_contained_page_and_png(tmp_path):
    from service.cli import main

    out, png = tmp_path / "map.html", tmp_path / "map.png"
    assert main(["map", "RU-BY", "--place", "divin", "--out", str(out), "--png", str(png)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "<script src=" not in page and '<link rel="stylesheet"' not in page
    assert "L.map(" in page and '"id":"divin"' in page
    # the icon too: a page opened from disk asks no server for anything
    assert '<link rel="icon" href="data:image/svg+xml;base64,' in page
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("path", ["/maps/frontier", "/maps/places/divin?lang=be", "/studio",
                                  "/?f=html", "/collections/places/items?f=html&limit=2",
                                  "/no-such-page?f=html"])  # fmt: skip
def test_every_page_links_the_site_icon(client, path):
    page = client.get(path, headers={"accept": "text/html"}).text
    href = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page).group(1)
    assert re.fullmatch(r"http://testserver/static/favicon\.svg\?v=[0-9a-f]{10}", href)
    icon = client.get(href)
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg ") and "immutable" in icon.headers["cache-control"]


def test_favicon_ico_is_a_real_cacheable_icon(client):
    from io import BytesIO

    from PIL import Image

    got = client.get("/favicon.ico")
    assert got.status_code == 200 and got.headers["content-type"] == "image/x-icon"
    assert "max-age=" in got.headers["cache-control"] and got.headers.get("etag")
    icon = Image.open(BytesIO(got.content))
    assert icon.format == "ICO" and {(16, 16), (32, 32)} <= icon.info["sizes"]
    again = client.get("/favicon.ico", headers={"if-none-match": got.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/maps/frontier", "/maps/borders/BY-UA", "/maps/places/divin",
                                  "/maps/custom?places=divin"])  # fmt: skip
def test_every_map_page_footer_links_to_the_studio(client, path):
    text = client.get(path).text
    footer = re.search(r'<p class="fa-credit">.*?</p>', text, re.S).group(0)
    assert ('<a class="fa-studio-link" href="http://testserver/studio" target="_blank" '
            'rel="noopener">Make your own map</a>') in footer
    ru = client.get(path + ("&" if "?" in path else "?") + "lang=ru").text
    assert 'href="http://testserver/studio?lang=ru"' in ru and "Создать свою карту" in ru


def test_landing_page_links_to_the_studio(client):
    links = client.get("/").json()["links"]
    studio = [lk for lk in links if lk["href"] == "http://testserver/studio"]
    assert studio and studio[0]["rel"] == "related" and studio[0]["type"].startswith("text/html")
    assert client.get(studio[0]["href"]).status_code == 200
    assert 'href="http://testserver/studio"' in client.get("/?f=html").text


def test_an_exclave_is_named_again_on_its_own_part(client):
    """Kaliningrad is Russia too: the frontier page offers a second 'Russia' label inside
    it (the page shows it where it fits), beside the one on Russia's largest part."""
    import shapely
    from shapely.geometry import Point, box

    from service.maps.labels import part_label_points

    text = client.get("/maps/frontier").text
    russia = re.findall(r'\{"id":"RU(?:-\d+)?","name":"Russia","ll":\[([\d.]+),([\d.]+)\]', text)
    assert len(russia) == 2, russia
    kaliningrad = box(19.6, 54.3, 22.95, 55.35)
    assert sum(kaliningrad.contains(Point(float(lon), float(lat))) for lat, lon in russia) == 1
    # Parts too small for the view are not named twice; the largest part never is.
    ru = shapely.from_geojson(client.get("/collections/countries/items/RU").content)
    assert part_label_points(ru, box(19.0, 49.0, 40.0, 58.5), min_area=5.0) == []
    spots = part_label_points(ru, box(19.0, 49.0, 40.0, 58.5))
    assert spots and all(kaliningrad.contains(Point(lon, lat)) for lon, lat in spots)


def test_an_image_note_moves_off_a_dot_and_stays_inside():
    """A journalist's label in the PNG/SVG sits on its point when that is free, and beside
    it (never over the dot or outside the map) when a town's dot is there."""
    import matplotlib.transforms
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from service.maps.png import _place_note, _text_box

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    box = {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"}
    free = _place_note(ax, "Queue of lorries here", (50, 50), 11, "#1d4ed8", box, [])
    assert _text_box(free).contains(*ax.transData.transform((50, 50)))
    dx, dy = ax.transData.transform((30, 60))
    dot = matplotlib.transforms.Bbox([[dx - 6, dy - 6], [dx + 6, dy + 6]])
    moved = _place_note(ax, "Queue of lorries here", (30, 60), 11, "#1d4ed8", box, [dot])
    extent, frame = _text_box(moved), ax.get_window_extent()
    assert not extent.overlaps(dot)
    assert frame.x0 <= extent.x0 and extent.x1 <= frame.x1
    assert frame.y0 <= extent.y0 and extent.y1 <= frame.y1
    # crowded all round: further off, with a leader line back to the point
    near = [matplotlib.transforms.Bbox([[dx - 120, dy - 20], [dx + 120, dy + 20]])]
    far = _place_note(ax, "Queue", (30, 60), 11, "#1d4ed8", box, near)
    assert not _text_box(far).overlaps(near[0])
    assert far.arrow_patch is not None
