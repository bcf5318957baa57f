"""Map views a newsroom can rely on (issue 10, the map view's own defects), in Debian's
Chromium: the fitted view after a frame is grown, the same settled view on every load,
every named point in view on a phone, towns' names never hidden by markers' texts,
leader lines that cross no label, and a saved map's data date written for readers.

Saved maps are made through the studio API of the live server; embeds are framed by an
article page served from another port (another origin). Screenshots go to
screenshots/mapview/ (gitignored).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "screenshots" / "mapview"
WIDTHS = (375, 768, 1280)

#: Saved maps: Divin, Brest and Minsk with a journalist's label beside Divin, a marker at
#: Brest and an arrow (crowded at phone width); Russian-border crossings with a marker
#: reading "3" and a label beside Gomel; a wide set (Brest to a marker in Moscow) and one
#: with a label in Tallinn, beyond the data's extent.
SAVED = {
    "divin": {"title": "Divin, Brest and Minsk", "caption": "Where the checks are.",
              "items": {"borders": ["BY-UA"], "places": ["divin", "brest", "minsk"],
                        "crossings": ["brest-terespol", "mokrany-domanove"]},
              "annotations": [
                  {"type": "label", "lon": 24.77, "lat": 52.0, "text": "Checks here"},
                  {"type": "marker", "lon": 23.7, "lat": 52.1, "text": "Queue of trucks",
                   "note": "seen 1 May"},
                  {"type": "line", "start": {"lon": 27.56, "lat": 53.9},
                   "end": {"lon": 24.8, "lat": 52.1}, "arrow": True, "text": "Route"}]},
    "russia": {"title": "Crossings on the Russian border", "lang": "ru",
               "items": {"borders": ["BY-RU"], "places": ["vitebsk", "gomel"],
                         "crossings": ["yukhovichi-dolostsy", "redki-krasnaya-gorka",
                                       "selishcha-novozybkov"]},
               "annotations": [
                   {"type": "marker", "lon": 30.2, "lat": 55.19, "text": "3", "note": "x"},
                   {"type": "label", "lon": 31.0, "lat": 52.45,
                    "text": "Journalists stopped"}]},
    "towns": {"title": "Towns", "items": {"places": ["minsk", "brest", "vitebsk", "gomel"],
                                          "crossings": ["brest-terespol"]},
              "annotations": [
                  {"type": "label", "lon": 27.5667, "lat": 53.9, "text": "Rally on Sunday"},
                  {"type": "marker", "lon": 23.6857, "lat": 52.0975, "text": "Queue"}]},
    "wide": {"title": "Brest to Moscow", "items": {"places": ["brest", "minsk"]},
             "annotations": [{"type": "marker", "lon": 37.62, "lat": 55.75, "text": "Moscow"}]},
    "north": {"title": "Up to Tallinn", "items": {"places": ["minsk", "vitebsk"]},
              "annotations": [{"type": "label", "lon": 24.75, "lat": 59.44, "text": "Tallinn"}]},
    # six texts on one point, on Divin (a pile: leaders must fan out between them)
    "pile": {"title": "A pile", "items": {"places": ["divin"], "borders": ["BY-UA"]},
             "annotations": [{"type": "label", "lon": 24.57528, "lat": 51.95778, "text": t}
                             for t in ("One label", "Second label", "Third", "Fourth",
                                       "Fifth text", "Sixth")]},
    "belarusian": {"title": "Crossings", "lang": "be",
                   "items": {"crossings": ["brest-terespol", "yukhovichi-dolostsy"]}},
}  # fmt: skip


@pytest.fixture(scope="module")
def saved(live_server) -> dict[str, str]:
    """The saved maps above, published: {name: page path}."""
    out = {}
    for name, doc in SAVED.items():
        created = httpx.post(f"{live_server}/api/maps", json=doc, timeout=30)
        assert created.status_code == 201, created.text
        body = created.json()
        version = httpx.post(f"{live_server}/api/maps/{body['id']}/publish", timeout=30,
                             headers={"authorization": f"Bearer {body['edit_token']}"})
        assert version.status_code == 201, version.text
        out[name] = version.json()["urls"]["page"].replace(live_server, "")
    return out


def _page(browser, width: int):
    context = browser.new_context(viewport={"width": width, "height": 800 if width > 600 else 740})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return context, page


def _open(page, url: str) -> None:
    page.goto(url, wait_until="load")
    page.wait_for_selector(".fa-map[data-settled='true']", timeout=15_000)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".fa-map").screenshot(path=str(SHOTS / f"{name}.png"))


def _article_html(inner: str) -> bytes:
    return (f"<!doctype html><html lang='en'><head><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>Story</title></head>"
            f"<body style='margin:0 12px;font:18px Georgia'><h1>Story</h1>"
            f"<p>Reporting from the frontier.</p>{inner}<p>More reporting.</p>"
            f"</body></html>").encode()  # fmt: skip


#: The map's view and whether it keeps its limits (run inside the map's page).
VIEW_JS = """() => { const m = FrontierAtlas.map, c = m.getCenter(), s = m.getSize();
  const lim = m.options.maxBounds ? L.latLngBounds(m.options.maxBounds) : null, b = m.getBounds();
  const px = 1.5 * 360 / (256 * Math.pow(2, m.getZoom()));
  return {lat: c.lat, lng: c.lng, zoom: m.getZoom(), x: s.x, y: s.y,
          aboveMin: m.getZoom() >= m.getMinZoom() - 1e-9,
          inside: !lim || (b.getWest() >= lim.getWest() - px && b.getEast() <= lim.getEast() + px
                           && b.getSouth() >= lim.getSouth() - px
                           && b.getNorth() <= lim.getNorth() + px)}; }"""


# ------------------------------------------------------------------ 1. a frame grown
@pytest.mark.parametrize("width", (375, 1280))
def test_a_frame_grown_from_no_height_is_fitted_to_its_subject(browser, live_server, article,
                                                                width):  # fmt: skip
    """A CMS (or pym.js) makes the iframe 0 px high, lets it load, then gives it a height:
    the Divin locator must then be centred on Divin, fitted to the box it now has."""
    base, handler = article
    handler.body = _article_html(
        f"<iframe id='f' style='width:100%;height:0;border:0'"
        f" src='{live_server}/maps/places/divin?dark=false'></iframe>")
    context, page = _page(browser, width)
    page.goto(f"{base}/story", wait_until="load")
    frame = page.frame_locator("#f")
    frame.locator(".fa-map[data-settled='true']").wait_for(state="attached", timeout=15_000)
    page.evaluate("document.getElementById('f').style.height = '500px'")
    page.wait_for_timeout(1_000)
    where = frame.locator("html").evaluate(
        "() => { const box = FrontierAtlas.map.getContainer().getBoundingClientRect();"
        " const dot = document.querySelector('.fa-place[data-id=divin] .fa-dot')"
        ".getBoundingClientRect();"
        " return {x: (dot.left + dot.width / 2 - box.left) / box.width,"
        " y: (dot.top + dot.height / 2 - box.top) / box.height, h: box.height}; }")
    assert where["h"] >= 250, where
    # Divin is the locator's subject: in the middle fifth of the map each way (the view
    # is fitted to Divin and its nearest border point, Divin a little off the centre)
    assert 0.3 < where["x"] < 0.7 and 0.3 < where["y"] < 0.7, where
    view = frame.locator("html").evaluate(VIEW_JS)
    assert view["aboveMin"] and view["inside"], view  # the zoom-out limit still holds
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#f").screenshot(path=str(SHOTS / f"grown-divin-{width}.png"))
    context.close()


# ------------------------------------------------------------------ 2. one settled view
def _settled_view(browser, article, src: str, start: str, grow_after_ms: int | None) -> dict:
    base, handler = article
    handler.body = _article_html(
        f"<iframe id='f' style='width:{start};height:900px;border:0' src='{src}'></iframe>")
    context, page = _page(browser, 1280)
    page.goto(f"{base}/story", wait_until="load")
    frame = page.frame_locator("#f")
    if grow_after_ms is not None:
        if grow_after_ms:  # after the page said it had settled
            frame.locator(".fa-map[data-settled='true']").wait_for(state="attached",
                                                                   timeout=15_000)
            page.wait_for_timeout(grow_after_ms)
        page.evaluate("document.getElementById('f').style.width = '100%'")
    frame.locator(".fa-map[data-settled='true']").wait_for(state="attached", timeout=15_000)
    page.wait_for_timeout(700)
    view = frame.locator("html").evaluate(VIEW_JS)
    context.close()
    return view


def test_the_settled_view_is_the_same_on_every_load(browser, live_server, article):
    """The embed at 1280 px: the same view on three plain loads, and when the frame gets
    its width late (before or after the page settled), as long as the reader has not
    moved the map."""
    src = f"{live_server}/maps/borders/BY-UA?dark=false"
    views = [_settled_view(browser, article, src, "100%", None) for _ in range(3)]
    views.append(_settled_view(browser, article, src, "640px", 0))
    views.append(_settled_view(browser, article, src, "640px", 300))
    first = views[0]
    assert first["x"] > 1000, first
    for view in views[1:]:
        assert (view["x"], view["y"]) == (first["x"], first["y"]), views
        assert view["zoom"] == first["zoom"], views
        assert abs(view["lat"] - first["lat"]) < 1e-6 and abs(view["lng"] - first["lng"]) < 1e-6, \
            views


def test_a_moved_map_keeps_the_readers_view_on_resize(browser, live_server):
    context, page = _page(browser, 1280)
    _open(page, f"{live_server}/maps/frontier")
    page.mouse.move(640, 400)
    page.locator("a.leaflet-control-zoom-in").click()
    page.wait_for_timeout(500)
    zoom = page.evaluate("FrontierAtlas.map.getZoom()")
    page.set_viewport_size({"width": 1100, "height": 800})
    page.wait_for_timeout(500)
    assert page.evaluate("FrontierAtlas.map.getZoom()") == zoom  # not fitted again
    page.get_by_role("button", name="Reset view").click()
    page.wait_for_timeout(500)
    home = page.evaluate("FrontierAtlas.homeView()")
    assert page.evaluate("FrontierAtlas.map.getZoom()") == home["zoom"]
    context.close()


# ------------------------------------------------------------------ 3. every point seen
def _points_outside(page) -> list:
    return page.evaluate(
        "() => { const box = FrontierAtlas.map.getContainer().getBoundingClientRect();"
        " const out = [];"
        " document.querySelectorAll('.fa-place .fa-dot, .fa-crossing .fa-num, .fa-ann-pin,"
        " .fa-ann-body, .fa-ann-marker .fa-ann-text').forEach(e => {"
        "  const r = e.getBoundingClientRect();"
        "  if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5"
        "      || r.bottom > box.bottom + 0.5) out.push([e.className, e.textContent,"
        "      Math.round(r.left - box.left), Math.round(r.top - box.top)]); });"
        " return out; }")


@pytest.mark.parametrize("name", ["places", "crossings", "wide", "north"])
def test_custom_and_saved_maps_show_every_point_they_name(browser, live_server, saved, name):
    """At 375 px the fit wanted a wider view than the data's extent allows: the requested
    places were cut off, held at the limit's zoom. Every point (and a journalist's text)
    is now inside the map, and the view still keeps to its (widened) limit."""
    path = {"places": "/maps/custom?places=divin,brest,minsk",
            "crossings": "/maps/custom?crossings=brest-terespol,yukhovichi-dolostsy,"
                         "selishcha-novozybkov,redki-krasnaya-gorka"}.get(name) or saved[name]
    context, page = _page(browser, 375)
    _open(page, live_server + path)
    assert _points_outside(page) == []
    view = page.evaluate(VIEW_JS)
    assert view["aboveMin"] and view["inside"], view
    _shot(page, f"points-{name}-375")
    assert page.errors == []
    context.close()


# ------------------------------------------------------------------ 4. names not hidden
#: Labels and what may not cover them: badges, dots, marks at true positions, a
#: journalist's texts and pins.
MARKS = (".fa-num, .fa-dot, .fa-true-pos, .fa-ann-pin, .fa-ann-body,"
         " .fa-ann-marker .fa-ann-text")


def _boxes(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(
        selector,
        "els => els.filter(e => { const s = getComputedStyle(e);"
        " return s.visibility !== 'hidden' && s.display !== 'none'; })"
        ".map(e => { const r = e.getBoundingClientRect();"
        " return {l: r.left, t: r.top, r: r.right, b: r.bottom, text: e.textContent,"
        " cls: e.className}; }).filter(b => b.r > b.l)")


def _overlap(a: dict, b: dict) -> bool:
    return (a["l"] < b["r"] - 0.5 and b["l"] < a["r"] - 0.5
            and a["t"] < b["b"] - 0.5 and b["t"] < a["b"] - 0.5)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["divin", "towns"])
def test_markers_texts_never_cover_or_hide_town_names(browser, live_server, saved, name, width):
    context, page = _page(browser, width)
    _open(page, live_server + saved[name])
    labels = _boxes(page, ".fa-label")
    marks = _boxes(page, MARKS)
    bad = [(a["text"], m["text"] or m["cls"]) for a in labels for m in marks if _overlap(a, m)]
    assert bad == [], bad
    shown = {a["text"] for a in labels}
    # Where there is room the towns keep their names beside the journalist's marks
    # (at 375 px Divin, Brest and two checkpoints lie within 40 px of each other).
    expected = {("divin", 1280): {"Divin", "Brest", "Minsk"},
                ("divin", 768): {"Brest", "Minsk"},
                ("towns", 768): {"Minsk", "Vitebsk"}}.get((name, width), {"Minsk"})
    assert expected <= shown, (expected, shown)
    _shot(page, f"names-{name}-{width}")
    context.close()


# ------------------------------------------------------------------ 5. leader lines
LEADERS_JS = """() => {
  const segs = [];
  document.querySelectorAll('.fa-moved').forEach(m => {
    const badge = m.querySelector('.fa-num').getBoundingClientRect();
    const icon = m.getBoundingClientRect();
    segs.push({a: [icon.left + icon.width / 2, icon.top + icon.height / 2],
               b: [badge.left + badge.width / 2, badge.top + badge.height / 2], own: m}); });
  document.querySelectorAll('.fa-ann-leader').forEach(l => {
    if (getComputedStyle(l).display === 'none') return;
    const at = l.parentNode.getBoundingClientRect();
    const x = at.left + parseFloat(l.style.left), y = at.top + parseFloat(l.style.top);
    const len = parseFloat(l.style.width);
    const ang = parseFloat(/rotate\\(([-0-9.e]+)rad\\)/.exec(l.style.transform)[1]);
    segs.push({a: [x, y], b: [x + len * Math.cos(ang), y + len * Math.sin(ang)],
               own: l.parentNode}); });
  // Liang-Barsky: does the segment p-q pass through box r?
  const crosses = (p, q, r) => { let t0 = 0, t1 = 1; const dx = q[0] - p[0], dy = q[1] - p[1];
    const P = [-dx, dx, -dy, dy];
    const Q = [p[0] - r.left, r.right - p[0], p[1] - r.top, r.bottom - p[1]];
    for (let i = 0; i < 4; i++) {
      if (P[i] === 0) { if (Q[i] <= 0) return false; continue; }
      const t = Q[i] / P[i];
      if (P[i] < 0) { if (t > t1) return false; if (t > t0) t0 = t; }
      else { if (t < t0) return false; if (t < t1) t1 = t; } }
    return t1 - t0 > 0.02; };
  const texts = [...document.querySelectorAll(
    '.fa-label, .fa-ann-body, .fa-ann-marker .fa-ann-text')]
    .filter(e => getComputedStyle(e).visibility !== 'hidden');
  const out = [];
  segs.forEach(s => texts.forEach(e => {
    if (s.own.contains(e)) return;
    const r = e.getBoundingClientRect();
    const inner = {left: r.left + 1, top: r.top + 1, right: r.right - 1, bottom: r.bottom - 1};
    if (crosses(s.a, s.b, inner)) out.push(e.textContent); }));
  return {n: segs.length, through: out}; }"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["/maps/frontier", "/maps/borders/BY-PL", "divin", "russia",
                                  "pile"])
def test_leader_lines_cross_no_label(browser, live_server, saved, name, width):
    context, page = _page(browser, width)
    _open(page, live_server + saved.get(name, name))
    result = page.evaluate(LEADERS_JS)
    assert result["through"] == [], result
    context.close()


# ------------------------------------------------------------------ 6. the data's date
@pytest.mark.parametrize(("path", "said"), [
    ("/maps/borders/BY-PL", r"Data as of \d{1,2} (January|February|March|April|May|June|July"
                            r"|August|September|October|November|December) \d{4}"),
    ("/maps/borders/BY-PL?lang=ru", r"Данные на \d{1,2} [а-я]+ \d{4} г\."),
    ("/maps/borders/BY-PL?lang=be", r"Даныя на \d{1,2} [а-яіў]+ \d{4} г\."),
])  # fmt: skip
def test_the_data_date_is_written_for_readers(browser, live_server, path, said):
    context, page = _page(browser, 768)
    _open(page, live_server + path)
    credit = page.locator(".fa-credit").inner_text().replace("\u00a0", " ")
    assert re.search(said, credit), credit
    assert not re.search(r"\d{4}-\d{2}-\d{2}", credit), credit  # no ISO date, no version id
    context.close()
