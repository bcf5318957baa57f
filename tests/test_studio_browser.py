"""The journalist's whole flow in Debian's Chromium (Playwright), against a real server:
open /studio, search "Дивин", add Divin and the BY-UA border, add a text label, set a
title with markup characters, see them (and the label) in the live preview, publish,
Copy, paste the snippet into an article page on another origin, see the map there at 375
and 1280 px; edit, republish, and check that the pinned embed did not change.
Screenshots go to screenshots/ (gitignored)."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO, _free_port
from tests.test_studio_durability import server

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SHOTS = REPO / "screenshots"
TITLE = 'Divin <b>near</b> the "border" & <script>alert(1)</script>'


def in_browser(flow) -> None:
    """Run flow(browser) with its own Playwright in a thread of its own.

    Another module's session-scoped Playwright keeps an event loop running in the main
    thread, and the sync API refuses to start inside a running loop; a fresh thread has none.
    """
    if not Path(CHROMIUM).exists():
        (pytest.fail if IN_CI else pytest.skip)(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    failure: list[BaseException] = []

    def run() -> None:
        try:
            with sync_playwright() as pw:
                b = pw.chromium.launch(executable_path=CHROMIUM, args=[
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync"])
                try:
                    flow(b)
                finally:
                    b.close()
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="studio-browser")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


class Article:
    """A newsroom's page on another origin: whatever HTML it is given, at /story."""

    def __init__(self) -> None:
        self.html = b""
        article = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(article.html)

            def log_message(self, *args) -> None:
                pass

        self.port = _free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/story"

    def publish(self, snippet: str) -> None:
        self.html = ("<!doctype html><html lang=en><head><meta charset=utf-8>"
                     "<meta name=viewport content='width=device-width,initial-scale=1'>"
                     "<title>Story</title><style>body{font:18px Georgia,serif;margin:0 auto;"
                     "max-width:44rem;padding:1rem}</style></head><body><h1>The border at Divin"
                     "</h1><p>Lede paragraph of the story.</p>" + snippet +
                     "<p>The story goes on after the map.</p></body></html>").encode()


def watch(page, hosts: set[str], errors: list[str], dialogs: list[str]) -> None:
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error"
            and errors.append(f"{m.text} {m.location.get('url')}"))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))


def embedded_title(page) -> str:
    frame = page.frame_locator("iframe[id^=frontier-atlas-]")
    frame.locator(".fa-map[data-ready=true]").wait_for(timeout=30_000)
    return frame.locator("#fa-title").inner_text()


def test_journalist_makes_publishes_embeds_and_republishes(tmp_path):
    in_browser(lambda browser: journalist_flow(browser, tmp_path))


def journalist_flow(browser, tmp_path) -> None:
    SHOTS.mkdir(exist_ok=True)
    env = {"FRONTIER_ATLAS_DATA_DIR": str(REPO / "geodata"),
           "FRONTIER_ATLAS_STATE_DIR": str(tmp_path / "state")}
    article = Article()
    with server(env, tmp_path / "server.log") as (base, _):
        own = urlsplit(base).netloc
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        hosts: set[str] = set()
        errors: list[str] = []
        dialogs: list[str] = []
        watch(page, hosts, errors, dialogs)
        page.goto(f"{base}/studio")

        # search as you type, in Cyrillic; pick Divin with the keyboard
        search = page.locator("#st-search")
        search.click()
        search.press_sequentially("Дивин", delay=40)
        page.locator("#st-results button[data-id=divin]").wait_for()
        search.press("ArrowDown")
        page.keyboard.press("Enter")
        page.locator("#st-items li", has_text="Divin").wait_for()
        # the BY-UA border
        search.fill("")
        search.press_sequentially("Ukraine", delay=20)
        page.locator("#st-results button[data-kind=borders][data-id=BY-UA]").click()
        page.locator("#st-items li", has_text="Ukraine").wait_for()
        # a text label of our own
        page.locator("#st-ann-type").select_option("label")
        page.locator("#st-ann-text").fill("Border zone checks")
        page.locator("#st-ann-lon").fill("24.58")
        page.locator("#st-ann-lat").fill("51.97")
        page.locator("#st-ann-add").click()
        page.locator("#st-ann-list li", has_text="Border zone checks").wait_for()
        page.locator("#st-title").fill(TITLE)
        page.locator("#st-source").fill("Frontier Atlas <i>reporting</i>")
        # the live preview is the renderer of published versions, fed the unsaved draft:
        # the title and source line as text (markup escaped), the label drawn on the map
        preview = page.frame_locator("#st-frame")
        preview.locator("#fa-title").filter(has_text=TITLE).wait_for(timeout=30_000)
        assert preview.locator("#fa-title").inner_text() == TITLE
        assert preview.locator("#fa-title b, #fa-title script").count() == 0
        preview.locator(".fa-map[data-ready=true]").wait_for(timeout=30_000)
        assert preview.locator(".fa-ann-label").inner_text() == "Border zone checks"
        assert "Source: Frontier Atlas <i>reporting</i>" in \
            preview.locator(".fa-byline").inner_text()
        assert page.frame("st-frame").url == f"{base}/api/maps/preview"
        page.locator(".st-widths button[data-width='375']").click()
        assert preview.locator("body").evaluate("b => b.clientWidth") <= 375
        assert preview.locator(".fa-ann-label").inner_text() == "Border zone checks"
        page.screenshot(path=str(SHOTS / "studio-compose-phone-preview.png"), full_page=True)
        page.locator(".st-widths button[data-width='']").click()

        page.locator("#st-publish").click()
        page.locator("#st-result:not([hidden])").wait_for()
        snippet = page.locator("#st-snippet").input_value()
        assert "/v/1?childId=" in snippet and "<script>alert" not in snippet
        assert page.locator("#st-data-as-of").inner_text().startswith("Data as of ")
        page.locator("#st-copy").click()
        page.locator("#st-status", has_text="Copied").wait_for()
        pasted = page.evaluate("navigator.clipboard.readText()")
        assert pasted == snippet
        edit_url = page.url
        assert "#token=fae_" in edit_url
        page.screenshot(path=str(SHOTS / "studio-published.png"), full_page=True)

        # paste into an article on another origin; see the map at phone and desktop width
        article.publish(pasted)
        reader = browser.new_context()
        story = reader.new_page()
        story_hosts: set[str] = set()
        story_errors: list[str] = []
        watch(story, story_hosts, story_errors, dialogs)
        for width in (375, 1280):
            story.set_viewport_size({"width": width, "height": 900})
            story.goto(article.url)
            assert embedded_title(story) == TITLE
            box = story.locator("iframe[id^=frontier-atlas-]").bounding_box()
            assert box and box["width"] <= width and box["height"] > 300
            story.screenshot(path=str(SHOTS / f"studio-embed-v1-{width}.png"), full_page=True)

        # edit and republish: the story's pinned embed does not change
        page.goto(edit_url)
        page.locator("#st-items li", has_text="Divin").wait_for()
        assert page.locator("#st-title").input_value() == TITLE
        page.locator("#st-title").fill("Second take on Divin")
        page.locator("#st-publish").click()
        page.locator("#st-status", has_text="Published version 2").wait_for()
        assert "/v/2?childId=" in page.locator("#st-snippet").input_value()
        story.set_viewport_size({"width": 375, "height": 900})
        story.goto(article.url)
        assert embedded_title(story) == TITLE
        assert "/v/1?childId=" in story.locator("iframe[id^=frontier-atlas-]").get_attribute("src")
        story.screenshot(path=str(SHOTS / "studio-embed-after-republish-375.png"), full_page=True)
        latest = reader.new_page()
        latest.goto(f"{base}/maps/saved/{snippet.split('/maps/saved/')[1].split('/')[0]}")
        assert latest.locator("#fa-title").inner_text() == "Second take on Divin"

        assert dialogs == []  # the markup in the title never ran
        assert errors == [] and story_errors == []
        assert hosts <= {own}  # the studio loads nothing from another host
        assert story_hosts <= {own, f"127.0.0.1:{article.port}"}
        context.close()
        reader.close()
    article.httpd.shutdown()


def test_studio_is_translated_and_keyboard_reachable(tmp_path):
    in_browser(lambda browser: translated_and_keyboard(browser, tmp_path))


def translated_and_keyboard(browser, tmp_path) -> None:
    env = {"FRONTIER_ATLAS_DATA_DIR": str(REPO / "geodata"),
           "FRONTIER_ATLAS_STATE_DIR": str(tmp_path / "state")}
    with server(env, tmp_path / "server.log") as (base, _):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for lang, heading in (("ru", "Картостудия"), ("be", "Картастудыя"), ("en", "Map studio")):
            page.goto(f"{base}/studio?lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            assert heading in page.locator("h1").inner_text()
        # Tab reaches the search, the start buttons, the publish button
        reached = set()
        for _ in range(60):
            page.keyboard.press("Tab")
            reached.add(page.evaluate("document.activeElement.id || "
                                      "document.activeElement.textContent"))
        assert {"st-search", "st-title", "st-publish", "st-save"} <= reached
        page.close()
