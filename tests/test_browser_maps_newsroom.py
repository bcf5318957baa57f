"""Maps a newsroom would publish (issue 10), checked in Debian's Chromium (Playwright).

Each test names the defect it guards; they run against the live uvicorn server and,
for embeds, a cross-origin article page served from another port. Screenshots go to
screenshots/newsroom/ (gitignored).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "screenshots" / "newsroom"
AXE = REPO / "tests" / "vendor" / "axe-core@4.14.1" / "axe.min.js"
WIDTHS = (375, 768, 1280)
MAP_PAGES = [
    "/maps/frontier",
    "/maps/frontier?lang=ru",
    "/maps/frontier?lang=be&dark=true",
    "/maps/borders/BY-LT",
    "/maps/borders/BY-PL?lang=be",
    "/maps/places/divin",
    "/maps/custom?places=divin",
    "/maps/custom?crossings=brest-terespol",
    "/maps/custom?countries=RU",
]


def _page(browser, width: int, touch: bool = False, reduced: bool = False):
    context = browser.new_context(
        viewport={"width": width, "height": 800 if width > 600 else 740},
        has_touch=touch, is_mobile=touch,
        reduced_motion="reduce" if reduced else "no-preference",
    )  # fmt: skip
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return context, page


def _open(page, url: str) -> None:
    page.goto(url, wait_until="load")
    # the page marks its map settled after the inset's opening and the last label pass
    page.wait_for_selector(".fa-map[data-settled='true']", timeout=15_000)


def _rects(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(
        selector,
        "els => els.filter(e => getComputedStyle(e).visibility !== 'hidden')"
        ".map(e => { const r = e.getBoundingClientRect();"
        " return {l: r.left, t: r.top, r: r.right, b: r.bottom, text: e.textContent,"
        " label: e.classList.contains('fa-label')}; })",
    )


def _overlap(a: dict, b: dict) -> bool:
    return (a["l"] < b["r"] - 0.5 and b["l"] < a["r"] - 0.5
            and a["t"] < b["b"] - 0.5 and b["t"] < a["b"] - 0.5)


# ------------------------------------------------------------------ single points
@pytest.mark.parametrize("query", ["places=divin", "crossings=brest-terespol", "places=DIVIN"])
def test_single_point_custom_map_gets_a_locator_zoom(browser, live_server, query):
    context, page = _page(browser, 768)
    _open(page, f"{live_server}/maps/custom?{query}")
    zoom = page.evaluate("FrontierAtlas.map.getZoom()")
    assert zoom >= 8, zoom  # about 60 km across, not a postage stamp of land
    assert not [e for e in page.errors if "NaN" in e], page.errors
    assert page.errors == []
    context.close()


# ------------------------------------------------------------------ checkpoints
@pytest.mark.parametrize("width", WIDTHS)
def test_checkpoints_are_named_keyed_and_never_cover_each_other(browser, live_server, width):
    context, page = _page(browser, width)
    _open(page, f"{live_server}/maps/frontier")
    badges = _rects(page, ".fa-num")
    assert len(badges) == 6
    for i, a in enumerate(badges):
        for b in badges[i + 1:]:
            assert not _overlap(a, b), (a, b)  # #3 no longer hides under #4
    # a visible key (not collapsed), one number per entry
    key = page.locator(".fa-keylist li")
    assert key.count() == 6 and page.locator(".fa-keylist").is_visible()
    first = " ".join(key.first.inner_text().split())
    assert re.fullmatch(r"1 Yukhovichi–Dolostsy \(open\)", first), first
    assert page.locator(".fa-keylist").evaluate("e => e.closest('details')") is None
    # names on the map itself, and no two labels (or a label and a point or control) collide
    # One snapshot of labels and what they may not cover (measured in one go, so that
    # nothing can move between the two).
    boxes = _rects(page, ".fa-label, .fa-num, .fa-dot, .leaflet-control")
    labels = [r for r in boxes if r["label"]]
    obstacles = [r for r in boxes if not r["label"]]
    assert sum(1 for r in labels if "–" in r["text"]) >= (2 if width < 600 else 3)
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            assert not _overlap(a, b), (a, b)
        for o in obstacles:
            assert not _overlap(a, o), (a, o)
    assert page.errors == []
    # The screenshot last: a full-page shot resizes the viewport, and the map re-lays out.
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"frontier-{width}.png"), full_page=True)
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_regional_centres_keep_their_labels(browser, live_server, width):
    context, page = _page(browser, width)
    _open(page, f"{live_server}/maps/frontier")
    visible = {r["text"] for r in _rects(page, ".fa-label")}
    for city in ("Minsk", "Vitebsk", "Mogilev", "Gomel", "Brest", "Smolensk"):
        assert city in visible, (city, visible)
    context.close()


def test_crossing_numbers_are_the_same_on_every_map(browser, live_server):
    context, page = _page(browser, 1280)
    _open(page, f"{live_server}/maps/custom?crossings=selishcha-novozybkov,brest-terespol")
    numbers = dict(page.eval_on_selector_all(
        ".fa-crossing",
        "els => els.map(e => [e.dataset.id, e.querySelector('.fa-num').textContent])"))
    assert numbers == {"selishcha-novozybkov": "6", "brest-terespol": "7"}
    context.close()


def test_status_is_styled_and_in_the_legend(browser, live_server):
    context, page = _page(browser, 1280)
    _open(page, f"{live_server}/maps/borders/BY-LT")
    closed = page.locator(".fa-crossing-closed .fa-num").first
    restricted = page.locator(".fa-crossing-restricted .fa-num").first
    bg = [e.evaluate("e => getComputedStyle(e).backgroundColor") for e in (closed, restricted)]
    assert bg[0] != bg[1]
    legend = page.locator(".fa-legend").inner_text()
    assert "Checkpoint, closed" in legend and "Checkpoint, restricted" in legend
    assert "Checkpoint, open" not in legend  # no open crossing on BY-LT
    context.close()


def test_uncertain_positions_are_drawn_and_said(browser, live_server):
    context, page = _page(browser, 1280)
    _open(page, f"{live_server}/maps/frontier")
    assert page.locator("path.fa-halo").count() == 6
    page.locator(".fa-crossing[data-id='selishcha-novozybkov']").click()
    text = page.locator(".leaflet-popup-content").inner_text()
    assert "Approximate position: within about 17.9 km" in text
    assert "by checks since" not in text and "by_checks" not in text
    assert "Position uncertain" in page.locator(".fa-legend").inner_text()
    context.close()


# ------------------------------------------------------------------ land, inset, controls
@pytest.mark.parametrize("path", ["/maps/frontier", "/maps/custom?countries=RU",
                                  "/maps/places/divin"])
@pytest.mark.parametrize("width", (375, 1280))
def test_the_view_never_leaves_the_land_we_have(browser, live_server, path, width):
    context, page = _page(browser, width)
    _open(page, live_server + path)
    for _ in range(6):  # as functions returning nothing: Playwright would serialise the map
        page.evaluate("() => { const m = FrontierAtlas.map;"
                      " m.setZoom(m.getZoom() - 1, {animate: false}); }")
        page.evaluate("() => { FrontierAtlas.map.panBy([4000, -4000], {animate: false}); }")
    # Within the limit to a pixel and a half (Leaflet rounds positions to whole pixels at
    # fractional zooms; a pixel at zoom 6 is 0.02 degrees of longitude).
    inside = page.evaluate(
        "() => { const m = FrontierAtlas.map; const lim = L.latLngBounds(m.options.maxBounds);"
        " const px = 1.5 * 360 / (256 * Math.pow(2, m.getZoom())); const b = m.getBounds();"
        " return [b.getWest() >= lim.getWest() - px, b.getEast() <= lim.getEast() + px,"
        " b.getSouth() >= lim.getSouth() - px, b.getNorth() <= lim.getNorth() + px]; }")
    assert all(inside), inside
    context.close()


def test_inset_is_a_locator_of_europe(browser, live_server):
    context, page = _page(browser, 1280)
    _open(page, f"{live_server}/maps/frontier")
    assert page.locator(".leaflet-control-minimap path.fa-inset-country").count() > 30
    assert page.locator(".leaflet-control-minimap path.fa-inset-focus").count() == 1
    toggle = page.locator(".leaflet-control-minimap-toggle-display")
    assert toggle.get_attribute("aria-label") == "Hide the overview map"
    context.close()


def test_reset_view_returns_to_the_start(browser, live_server):
    context, page = _page(browser, 768)
    _open(page, f"{live_server}/maps/frontier")
    start = page.evaluate("FrontierAtlas.map.getCenter()")
    page.evaluate("() => { FrontierAtlas.map.setView([55.5, 31], 8, {animate: false}); }")
    page.get_by_role("button", name="Reset view").click()
    page.wait_for_timeout(400)
    end = page.evaluate("FrontierAtlas.map.getCenter()")
    assert abs(end["lat"] - start["lat"]) < 0.05 and abs(end["lng"] - start["lng"]) < 0.05
    context.close()


def test_controls_come_first_and_escape_closes_popups(browser, live_server):
    context, page = _page(browser, 1280)
    _open(page, f"{live_server}/maps/frontier")
    names = []
    for _ in range(6):
        page.keyboard.press("Tab")
        names.append(page.evaluate(
            "document.activeElement.title || document.activeElement.className"))
    assert "Zoom in" in names[:4] and "Reset view" in names[:6], names
    page.locator(".fa-place[data-id='minsk']").click()
    page.locator(".leaflet-popup").wait_for()
    page.keyboard.press("Escape")
    page.locator(".leaflet-popup").wait_for(state="detached", timeout=2_000)
    context.close()


def test_reduced_motion_turns_off_map_animation(browser, live_server):
    context, page = _page(browser, 1280, reduced=True)
    _open(page, f"{live_server}/maps/frontier")
    assert page.evaluate("FrontierAtlas.map.options.zoomAnimation") is False
    context.close()


def test_dark_full_screen_icon_is_drawn(browser, live_server):
    context, page = _page(browser, 768)
    _open(page, f"{live_server}/maps/frontier?dark=true")
    style = page.locator("a.fullscreen-icon").evaluate(
        "e => [getComputedStyle(e).backgroundImage, getComputedStyle(e).backgroundColor]")
    assert style[0] != "none" and "icon-fullscreen" in style[0]
    context.close()


# ------------------------------------------------------------------ languages
@pytest.mark.parametrize(("lang", "zoom_in", "reset", "unit", "data"), [
    ("ru", "Приблизить", "Исходный вид", "км", "Данные"),
    ("be", "Наблізіць", "Пачатковы выгляд", "км", "Даныя"),
])  # fmt: skip
def test_every_visible_string_is_translated(browser, live_server, lang, zoom_in, reset, unit, data):
    context, page = _page(browser, 768)
    _open(page, f"{live_server}/maps/frontier?lang={lang}")
    assert page.locator("a.leaflet-control-zoom-in").get_attribute("title") == zoom_in
    assert page.get_by_role("button", name=reset).count() == 1
    assert page.locator(".leaflet-control-scale-line").inner_text().endswith(unit)
    assert data in page.locator(".leaflet-control-attribution").inner_text()
    assert page.locator("a.fullscreen-icon").get_attribute("title") != "Full screen"
    page.locator(".fa-crossing[data-id='redki-krasnaya-gorka']").click()
    popup = page.locator(".leaflet-popup-content").inner_text()
    assert not re.search(r"[A-Za-z]{3,}", popup.replace("M1/E30", "").replace("BY", "")
                         .replace("RU", "")), popup  # no English words
    body = page.locator("main").inner_text()
    for english in ("Checkpoint", "Border", "Place", "How this map", "Data as of", "Embed"):
        assert english not in body, english
    context.close()


# ------------------------------------------------------------------ captions
def test_caption_leads_with_the_cited_figure_and_hides_method(browser, live_server):
    context, page = _page(browser, 1280)
    _open(page, f"{live_server}/maps/frontier")
    caption = page.locator(".fa-caption").inner_text()
    assert caption.startswith("The Belarus–Russia border is 1,239 km long, according to Wikipedia")
    assert "geodesic" not in caption and "simplified" not in caption
    method = page.locator("details.fa-method")
    assert not method.locator("p").first.is_visible()
    method.locator("summary").click()
    assert "1,316 km" in method.inner_text()
    page.goto(f"{live_server}/maps/frontier?caption=Our+own+words.")
    page.wait_for_selector(".fa-map[data-ready='true']")
    assert page.locator(".fa-caption").inner_text() == "Our own words."
    assert page.locator("details.fa-method").count() == 0
    context.close()


def test_border_map_shows_data_date_and_timeline(browser, live_server):
    context, page = _page(browser, 768)
    _open(page, f"{live_server}/maps/borders/BY-PL")
    # the day written for readers ("Data as of 20 November 2025"), not an ISO date
    assert re.search(r"Data as of \d{1,2}\s[A-Z][a-z]+\s\d{4}",
                     page.locator(".fa-credit").inner_text())
    items = page.locator(".fa-timeline li")
    assert items.count() >= 3
    assert "Poland closes the Kuźnica–Bruzgi crossing" in page.locator(".fa-timeline").inner_text()
    context.close()


# ------------------------------------------------------------------ accessibility
@pytest.mark.parametrize("path", MAP_PAGES)
def test_axe_finds_no_serious_or_critical_violation(browser, live_server, path):
    context, page = _page(browser, 768)
    _open(page, live_server + path)
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == []
    context.close()


# ------------------------------------------------------------------ embeds in an article
def _article_html(inner: str) -> bytes:
    filler = "<p>" + "Reporting from the frontier. " * 40 + "</p>"
    return (f"<!doctype html><html lang='en'><head><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>Story</title></head>"
            f"<body style='margin:0 12px;font:18px Georgia'><h1>Story</h1>{filler}{inner}"
            f"{filler * 4}</body></html>").encode()  # fmt: skip


def test_a_swipe_over_an_embedded_map_scrolls_the_article(browser, live_server, article):
    base, handler = article
    snippet = httpx.get(f"{live_server}/maps/frontier/embed").text
    assert "dark=false" in snippet  # embeds are light unless the journalist asks
    handler.body = _article_html(snippet)
    context, page = _page(browser, 375, touch=True)
    page.goto(f"{base}/story", wait_until="load")
    frame = page.frame_locator("iframe")
    frame.locator(".fa-map[data-ready='true']").wait_for(timeout=15_000)
    page.locator("iframe").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = page.locator("iframe").bounding_box()
    map_box = frame.locator(".fa-map").bounding_box()
    x, y = box["x"] + box["width"] / 2, map_box["y"] + map_box["height"] / 2
    before = page.evaluate("window.scrollY")
    centre = frame.locator("html").evaluate("() => FrontierAtlas.map.getCenter()")
    cdp = context.new_cdp_session(page)  # a real one-finger swipe, upwards, on the map
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for i in range(1, 16):
        cdp.send("Input.dispatchTouchEvent",
                 {"type": "touchMove", "touchPoints": [{"x": x, "y": y - i * 20}]})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_timeout(500)
    after = page.evaluate("window.scrollY")
    moved = frame.locator("html").evaluate("() => FrontierAtlas.map.getCenter()")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "article-phone-after-swipe.png"))
    assert after - before > 150, (before, after)  # one finger scrolled the article
    # and did not drag the map (a 300-px drag would move it by more than a degree)
    assert abs(moved["lat"] - centre["lat"]) < 0.05 and abs(moved["lng"] - centre["lng"]) < 0.05
    context.close()


def test_a_map_in_a_hidden_frame_draws_once_shown(browser, live_server, article):
    """A CMS's closed tab or accordion: the frame has no size when the map starts."""
    base, handler = article
    handler.body = _article_html(
        f"<div id='tab' style='display:none'><iframe id='hidden' style='width:100%;height:600px'"
        f" src='{live_server}/maps/borders/BY-UA?dark=false'></iframe></div>"
        f"<iframe id='narrow' style='width:0;height:600px;border:0'"
        f" src='{live_server}/maps/frontier?dark=false'></iframe>")
    context, page = _page(browser, 375)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/story", wait_until="load")
    for frame_id in ("hidden", "narrow"):
        page.frame_locator(f"#{frame_id}").locator(".fa-map[data-ready='true']").wait_for(
            state="attached", timeout=15_000)
    page.evaluate("document.getElementById('tab').style.display = 'block';"
                  "document.getElementById('narrow').style.width = '340px'")
    page.wait_for_timeout(800)
    assert errors == []  # before: "Invalid LatLng object: (NaN, NaN)" and no map
    for frame_id, (west, south, east, north) in (("hidden", (23.5, 51.2, 32.0, 52.4)),
                                                 ("narrow", (27.0, 52.0, 32.9, 56.2))):
        view = page.frame_locator(f"#{frame_id}").locator("html").evaluate(
            "() => { const m = FrontierAtlas.map, s = m.getSize(), c = m.getCenter();"
            " return {x: s.x, y: s.y, lat: c.lat, lng: c.lng}; }")
        assert view["x"] > 300 and view["y"] > 200, view
        # fitted to its subject once it had a size (the border's or the frontier's middle)
        assert west < view["lng"] < east and south < view["lat"] < north, view
    context.close()


def test_pym_parent_sizes_the_iframe(browser, live_server, article):
    base, handler = article
    handler.body = _article_html(
        "<div id='atlas'></div><script src='/pym.js'></script><script>"
        f"new pym.Parent('atlas', '{live_server}/maps/frontier?dark=false', {{}});</script>")
    context, page = _page(browser, 768)
    page.goto(f"{base}/story", wait_until="load")
    page.wait_for_function(
        "() => { const f = document.querySelector('#atlas iframe');"
        " return f && parseInt(f.getAttribute('height') || f.style.height, 10) > 600; }",
        timeout=15_000)  # fmt: skip
    context.close()


@pytest.mark.parametrize("path", ["/maps/frontier", "/maps/borders/BY-RU",
                                  "/maps/borders/BY-UA?lang=ru", "/maps/places/divin"])
def test_without_script_the_iframe_is_tall_enough_for_everything(browser, live_server, article,
                                                                   path):  # fmt: skip
    """A CMS that strips scripts keeps the snippet's own height: at every common width the
    caption, the key, the timeline and the credits are inside the iframe, nothing scrolls
    inside it, and little is left blank."""
    base, handler = article
    route, _, query = path.partition("?")
    snippet = httpx.get(f"{live_server}{route}/embed" + (f"?{query}" if query else ""),
                        timeout=60).text
    iframe_only = snippet.split("<script>")[0]  # a CMS that strips scripts
    assert "<script" not in iframe_only and "cqw" in iframe_only
    handler.body = _article_html(iframe_only)
    for width in WIDTHS:
        context, page = _page(browser, width)
        page.goto(f"{base}/story", wait_until="load")
        frame = page.frame_locator("iframe")
        frame.locator(".fa-map[data-ready='true']").wait_for(timeout=15_000)
        page.wait_for_timeout(300)
        outer = page.locator("iframe").bounding_box()["height"]
        inner = frame.locator("html").evaluate(
            "() => ({doc: document.documentElement.scrollHeight, view: window.innerHeight,"
            " bottoms: [...document.querySelectorAll('.fa-caption, .fa-keylist, .fa-timeline,"
            " .fa-credit, .fa-legend')].map(e => e.getBoundingClientRect().bottom)})")
        assert inner["bottoms"], (path, width)
        for bottom in inner["bottoms"]:
            assert bottom <= outer + 0.5, (path, width, bottom, outer)
        assert inner["doc"] <= inner["view"] + 1, (path, width, inner)  # no inner scrolling
        blank = outer - max(inner["bottoms"])
        assert blank < max(120, outer * 0.12), (path, width, blank, outer)
        SHOTS.mkdir(parents=True, exist_ok=True)
        name = route.strip("/").replace("/", "-")
        page.locator("iframe").screenshot(path=str(SHOTS / f"noscript-{name}-{width}.png"))
        context.close()
