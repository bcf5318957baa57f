"""Map pages in a real browser: Debian's Chromium driven by Playwright, against a live server.

In CI (CI=true) a missing browser fails these tests; elsewhere they skip with a message.
Screenshots (desktop 1280×800 and phone 375×740) are written to screenshots/ (gitignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "screenshots"
CHECKPOINTS = {"yukhovichi-dolostsy", "jezerishche-nevel", "lyozna-kruglovka",
               "redki-krasnaya-gorka", "zvenchatka-dubovichka", "selishcha-novozybkov"}  # fmt: skip
XSS = "<img src=x onerror=alert(1)>"


class Watched:
    """A page plus the console errors, page errors, dialogs and request hosts it produced."""

    def __init__(self, page, base: str) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.hosts: set[str] = set()
        own = urlsplit(base).netloc
        self.own = own
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: self.hosts.add(urlsplit(r.url).netloc or r.url[:10]))

    def foreign_hosts(self) -> set[str]:
        return {h for h in self.hosts if h not in (self.own, "data:,", "data:")}


@pytest.fixture
def watched(browser, live_server) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield Watched(page, live_server)
    context.close()


def _open(w: Watched, url: str) -> None:
    w.page.goto(url, wait_until="load")
    w.page.wait_for_selector(".fa-map[data-ready='true']", timeout=15_000)


def test_frontier_page_draws_border_checkpoints_and_divin(watched, live_server):
    _open(watched, f"{live_server}/maps/frontier?tiles=none")
    page = watched.page
    assert page.locator("path.fa-border.fa-focus").count() >= 1
    box = page.locator("path.fa-border.fa-focus").first.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100
    ids = set(page.eval_on_selector_all(".fa-crossing", "els => els.map(e => e.dataset.id)"))
    assert ids == CHECKPOINTS
    assert page.locator(".fa-place[data-id='divin']").is_visible()
    assert page.locator("path.fa-country").count() >= 5  # the vector basemap
    attribution = page.locator(".leaflet-control-attribution").inner_text()
    assert "OpenStreetMap contributors" in attribution and "GeoNames" in attribution
    assert watched.errors == []
    assert watched.foreign_hosts() == set()


def test_clicking_divin_opens_its_popup(watched, live_server):
    _open(watched, f"{live_server}/maps/frontier")
    watched.page.locator(".fa-place[data-id='divin']").click()
    popup = watched.page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = popup.inner_text()
    assert "Divin" in text and "Дзівін" in text and "km to the" in text
    assert watched.errors == []


def test_xss_title_is_text_and_does_not_run(watched, live_server):
    _open(watched, f"{live_server}/maps/frontier?title={quote(XSS)}&caption={quote(XSS)}")
    page = watched.page
    assert page.locator("h1").inner_text() == XSS
    assert page.title().startswith(XSS)
    assert page.locator("img[src='x']").count() == 0
    assert watched.dialogs == []
    assert watched.errors == []


def test_embed_snippet_resizes_its_iframe(watched, live_server):
    snippet = httpx.get(f"{live_server}/maps/frontier/embed").text
    page = watched.page
    page.set_content(f"<!doctype html><html><body><h1>Host story</h1>{snippet}</body></html>")
    page.wait_for_function(
        "() => { const f = document.querySelector('iframe');"
        " return f && /^[0-9]+px$/.test(f.style.height); }",
        timeout=15_000,
    )
    iframe = page.locator("iframe")
    assert iframe.get_attribute("title") == "The Belarus–Russia frontier"
    assert iframe.get_attribute("allowfullscreen") is not None
    height = int(iframe.evaluate("f => parseInt(f.style.height, 10)"))
    inner = page.frame_locator("iframe").locator("html").evaluate(
        "e => Math.ceil(e.getBoundingClientRect().height)"
    )
    assert abs(height - inner) <= 2


def test_dark_true_changes_the_page(watched, live_server):
    page = watched.page
    colours = {}
    for dark in ("false", "true"):
        _open(watched, f"{live_server}/maps/frontier?dark={dark}")
        colours[dark] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        colours[dark + "-land"] = page.evaluate(
            "getComputedStyle(document.querySelector('path.fa-country-RU')).fill"
        )
    assert colours["false"] != colours["true"]
    assert colours["false-land"] != colours["true-land"]
    assert watched.errors == []


def test_static_map_has_no_zoom_controls(watched, live_server):
    _open(watched, f"{live_server}/maps/frontier?static=true&inset=false")
    assert watched.page.locator(".leaflet-control-zoom").count() == 0
    assert watched.page.locator(".leaflet-control-minimap").count() == 0


@pytest.mark.parametrize(
    ("name", "width", "height", "path"),
    [
        ("frontier-desktop", 1280, 800, "/maps/frontier"),
        ("frontier-phone", 375, 740, "/maps/frontier"),
        ("frontier-dark-phone", 375, 740, "/maps/frontier?dark=true&lang=be"),
        ("divin-desktop", 1280, 800, "/maps/places/divin"),
        ("divin-phone", 375, 740, "/maps/places/divin?lang=ru"),
        ("border-by-ua-desktop", 1280, 800, "/maps/borders/BY-UA"),
    ],
)
def test_screenshots_and_layout(browser, live_server, name, width, height, path):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(live_server + path, wait_until="load")
    page.wait_for_selector(".fa-map[data-ready='true']", timeout=15_000)
    page.wait_for_timeout(300)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    map_box = page.locator(".fa-map").bounding_box()
    legend_box = page.locator(".fa-legend").bounding_box()
    assert map_box and legend_box
    assert legend_box["y"] >= map_box["y"] + map_box["height"] - 1  # legend never on the map
    assert map_box["width"] <= width
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= width  # no horizontal scrolling on a phone
    assert errors == []
    context.close()


def test_saved_map_annotations_are_drawn_as_text(watched, live_server):
    markup = "<b>x</b> & <img src=x onerror=alert(3)>"
    doc = {"title": "Notes", "items": {"borders": ["BY-UA"]}, "annotations": [
        {"type": "label", "lon": 26.0, "lat": 52.0, "text": "L " + markup},
        {"type": "marker", "lon": 27.0, "lat": 51.8, "text": "M " + markup,
         "note": "N " + markup},
        {"type": "line", "start": {"lon": 24.5, "lat": 51.5}, "end": {"lon": 25.5, "lat": 52.0},
         "arrow": True, "text": "A " + markup}]}  # fmt: skip
    made = httpx.post(f"{live_server}/api/maps", json=doc, timeout=60).json()
    # Publishing draws the version's page, PNG and SVG (the first one in a process also
    # loads matplotlib's fonts): seconds on a loaded machine, so no 5-second default here.
    httpx.post(f"{live_server}/api/maps/{made['id']}/publish", timeout=120,
               headers={"authorization": f"Bearer {made['edit_token']}"}).raise_for_status()
    _open(watched, f"{live_server}/maps/saved/{made['id']}/v/1")
    page = watched.page
    assert page.locator(".fa-ann-label").inner_text() == "L " + markup
    assert page.locator(".fa-ann-line-text").inner_text() == "A " + markup
    assert page.locator("path.fa-ann-line").count() == 1
    assert page.locator(".fa-ann-arrow .fa-ann-head").count() == 1
    page.locator(".fa-ann").focus()  # the marker is keyboard-reachable: Enter opens its note
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    assert popup.locator(".fa-popup-title").inner_text() == "M " + markup
    assert popup.locator(".fa-popup-note").inner_text() == "N " + markup
    assert page.locator(".fa-map b, .fa-map img[src='x']").count() == 0
    assert watched.dialogs == [] and watched.errors == []


def _published(live_server: str, doc: dict) -> str:
    made = httpx.post(f"{live_server}/api/maps", json=doc, timeout=60).json()
    httpx.post(f"{live_server}/api/maps/{made['id']}/publish", timeout=120,
               headers={"authorization": f"Bearer {made['edit_token']}"}).raise_for_status()
    return made["id"]


def _divin(live_server: str) -> tuple[float, float]:
    """Divin's position, as the data has it (the label goes exactly on the town)."""
    lon, lat = httpx.get(f"{live_server}/places/divin?f=json").json()["geometry"]["coordinates"]
    return lon, lat


@pytest.fixture(scope="module")
def label_on_divin(live_server) -> str:
    lon, lat = _divin(live_server)
    return _published(live_server, {
        "title": "A label on Divin", "caption": "Queues at the crossing.",
        "items": {"places": ["divin", "brest", "pinsk"], "borders": ["BY-UA"]},
        "annotations": [{"type": "label", "lon": lon, "lat": lat,
                         "text": "Queue of lorries here"}]})  # fmt: skip


def _settled(page, url: str) -> None:
    page.goto(url, wait_until="load")
    page.wait_for_selector(".fa-map[data-settled='true']", timeout=15_000)


BOX = "e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }"


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("path", ["/maps/frontier", "/maps/places/divin?lang=ru", "/studio", "/",
                                  "saved"])  # fmt: skip
def test_pages_load_without_a_failed_request(browser, live_server, label_on_divin, path):
    url = f"{live_server}/maps/saved/{label_on_divin}" if path == "saved" else live_server + path
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    failed: list[str] = []
    page.on("console", lambda m: m.type == "error" and failed.append(m.text))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    page.goto(url, wait_until="load")
    if "/maps/" in url:
        page.wait_for_selector(".fa-map[data-settled='true']", timeout=15_000)
    # the page names its icon, so the browser never guesses /favicon.ico (which is there too)
    href = page.evaluate("document.querySelector('link[rel=icon]').href")
    icon = page.request.get(href)
    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
    ico = page.request.get(f"{live_server}/favicon.ico")
    assert ico.status == 200 and ico.headers["content-type"] == "image/x-icon"
    page.wait_for_timeout(300)  # a late request for an icon would come now
    assert failed == []
    context.close()


@pytest.mark.parametrize("path", ["/maps/frontier", "/maps/borders/BY-UA", "saved"])
def test_data_as_of_is_said_once(browser, live_server, label_on_divin, path):
    url = f"{live_server}/maps/saved/{label_on_divin}" if path == "saved" else live_server + path
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    _settled(page, url)
    assert page.locator("body").inner_text().count("Data as of") == 1
    context.close()


@pytest.mark.parametrize("width", [375, 768, 1280])
def test_a_label_on_a_town_keeps_the_towns_name(browser, live_server, label_on_divin, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _settled(page, f"{live_server}/maps/saved/{label_on_divin}")
    town = page.locator(".fa-place[data-id='divin']")
    name, dot = town.locator(".fa-label"), town.locator(".fa-dot")
    note = page.locator(".fa-ann-label .fa-ann-body")
    assert note.inner_text() == "Queue of lorries here"
    assert name.evaluate("e => getComputedStyle(e).visibility") == "visible"
    frame = page.locator(".fa-map").evaluate(BOX)
    boxes = {"name": name.evaluate(BOX), "dot": dot.evaluate(BOX), "note": note.evaluate(BOX)}
    assert not _overlap(boxes["note"], boxes["name"]), boxes
    assert not _overlap(boxes["note"], boxes["dot"]), boxes
    assert frame[0] <= boxes["note"][0] and boxes["note"][2] <= frame[2]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"saved-label-on-town-{width}.png"))
    context.close()


def test_crowded_labels_move_apart_on_leader_lines(browser, live_server):
    lon, lat = _divin(live_server)
    texts = ["One label", "Second label", "Third", "Fourth", "Fifth text", "Sixth"]
    mid = _published(live_server, {"items": {"places": ["divin"], "borders": ["BY-UA"]},
                                   "annotations": [{"type": "label", "lon": lon, "lat": lat,
                                                    "text": t} for t in texts]})  # fmt: skip
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _settled(page, f"{live_server}/maps/saved/{mid}")
    notes = page.locator(".fa-ann-label")
    assert notes.count() == len(texts)
    dot = page.locator(".fa-place[data-id='divin'] .fa-dot").evaluate(BOX)
    point = ((dot[0] + dot[2]) / 2, (dot[1] + dot[3]) / 2)
    boxes, leaders = [], 0
    for i in range(len(texts)):
        box = notes.nth(i).locator(".fa-ann-body").evaluate(BOX)
        assert not _overlap(box, dot)
        assert all(not _overlap(box, other) for other in boxes), (box, boxes)
        boxes.append(box)
        leader = notes.nth(i).locator(".fa-ann-leader")
        if leader.evaluate("e => getComputedStyle(e).display") == "block":
            leaders += 1
            # from just off the point to the text it leads to
            ends = leader.evaluate("e => { const r = e.getBoundingClientRect();"
                                   " return [r.left, r.top, r.right, r.bottom]; }")
            assert min(abs(ends[0] - point[0]), abs(ends[2] - point[0])) < 8
            assert min(abs(ends[1] - point[1]), abs(ends[3] - point[1])) < 8
            gap = max(box[0] - ends[2], ends[0] - box[2], box[1] - ends[3], ends[1] - box[3])
            assert gap < 4
    assert leaders >= 1
    context.close()
