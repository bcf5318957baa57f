"""Every f=html page embeds a map that exists; embed snippets are light by default; SVG export."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest

HTML = "text/html; charset=utf-8"
PAGES_WITH_MAPS = [
    "/borders/BY-RU?f=html",
    "/borders/BY-RU/zone?width_km=5&f=html",
    "/borders/rus-blr/zone?width_km=5&side=RU&f=html",
    "/borders/BY-PL/crossings?f=html",
    "/borders/BY-PL/events?f=html",
    "/places/divin?f=html",
    "/places/divin/borders?f=html",
    "/places?q=Divin&f=html",
    "/collections/borders/items?f=html",
    "/collections/borders/items/BY-UA?f=html",
    "/collections/places/items?f=html",
    "/collections/places/items/divin?f=html",
    "/collections/crossings/items?f=html",
    "/collections/crossings/items/brest-terespol?f=html",
    "/collections/countries/items?f=html",
    "/collections/countries/items/LT?f=html",
    "/collections/events/items/by-ru-border-control-ends?f=html",
]


def _iframes(text: str) -> list[str]:
    return [unescape(src) for src in re.findall(r'<iframe[^>]+src="([^"]+)"', text)]


@pytest.mark.parametrize("path", PAGES_WITH_MAPS)
def test_every_html_page_embeds_a_map_that_exists(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.text[:300]
    sources = _iframes(response.text)
    assert sources, f"{path} embeds no map"
    for src in sources:
        parts = urlsplit(src)
        assert parts.path.startswith("/maps/"), src
        assert "dark=false" in parts.query  # a white page gets a light map
        followed = client.get(f"{parts.path}?{parts.query}")
        assert followed.status_code == 200, (path, src, followed.text[:200])
        assert followed.headers["content-type"] == HTML


def test_zone_page_embeds_the_border_map(client):
    src = _iframes(client.get("/borders/BY-RU/zone?width_km=5&f=html").text)[0]
    assert urlsplit(src).path == "/maps/borders/BY-RU"


@pytest.mark.parametrize("path", ["/maps/frontier/embed", "/maps/places/divin/embed",
                                  "/maps/custom/embed?crossings=brest-terespol"])
def test_embed_snippet_pins_light_mode_unless_asked(client, path):
    assert "dark=false" in client.get(path).text
    sep = "&" if "?" in path else "?"
    dark = client.get(f"{path}{sep}dark=true").text
    assert "dark=true" in dark and "dark=false" not in dark


@pytest.mark.parametrize("path", ["/maps/frontier.svg", "/maps/borders/BY-LT.svg?lang=ru",
                                  "/maps/places/divin.svg?width=600&height=400",
                                  "/maps/custom.svg?crossings=brest-terespol"])
def test_svg_export(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    text = response.text
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "<text" in text  # labels stay editable text
    assert "<script" not in text


def test_map_page_links_its_svg(client):
    text = client.get("/maps/frontier?lang=be").text
    assert 'href="http://testserver/maps/frontier.svg?lang=be"' in text


def test_small_images_have_a_readable_minimum(client):
    assert client.get("/maps/frontier.png?width=200&height=200").status_code == 400
    assert client.get("/maps/frontier.png?width=320&height=320").status_code == 200
