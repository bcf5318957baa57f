"""Shared fixtures: settings -> app -> client, and a live uvicorn server for real clients."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.domain import line_index
from service.settings import Settings
from service.store import nearby

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: Modules that start servers, kill processes or sweep a whole range (tens of seconds
#: each): marked ``slow`` so ``make test-fast`` (``-m "not slow and not browser and not
#: gdal"``) gives an answer in about a minute; ``make test`` runs them all.
SLOW_MODULES = frozenset({
    "test_abuse", "test_container", "test_ogc_schemathesis", "test_store_postgis",
    "test_studio_cli", "test_studio_durability", "test_zone_sweep",
})


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the numba searches (or load them from numba's cache) before any test: in a
    fresh checkout the first server would otherwise compile them for some seconds in its
    background thread, in the middle of a test that times its answers."""
    line_index.compile_search()
    nearby.compile_walk()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


#: Debian's Chromium, driven through Playwright by the browser tests.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")  # its event loop must end before other modules run theirs
def browser() -> Iterator[object]:
    """Debian's Chromium (a missing browser fails: the browser tests never skip)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


#: pym.js, served by the article page for embeds that use it.
PYM = REPO / "tests" / "vendor" / "pym.js@1.3.2" / "pym.v1.min.js"


class ArticlePage(http.server.BaseHTTPRequestHandler):
    """A plain article page (``body``) and pym.js, as a newsroom's own site serves them."""

    body = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self.path.startswith("/pym.js"):
            data, kind = PYM.read_bytes(), "text/javascript"
        else:
            data, kind = self.body, "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def article() -> Iterator[tuple[str, type[ArticlePage]]]:
    """An article page on another port (another origin); set ``handler.body``."""
    handler = type("Article", (ArticlePage,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the committed geodata; saved maps in a temporary state directory."""
    return Settings(data_dir=REPO / "geodata", state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="session")
def app(settings: Settings):
    """One app per session: the data is loaded once, in the lifespan."""
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:
    """A TestClient inside ``with`` so the lifespan (data loading) runs."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def store(client):
    """The store the session app opened (the embedded file built from geodata/)."""
    return client.app.state.store


@pytest.fixture(scope="session")
def geo():
    """The committed GeoJSON read independently of the service: {collection: (features,
    shapely geometries)}, for cross-checks."""
    import orjson
    import shapely

    out = {}
    for cid in ("borders", "countries", "places", "crossings", "events"):
        features = orjson.loads((REPO / "geodata" / f"{cid}.geojson").read_bytes())["features"]
        geoms = [shapely.from_geojson(orjson.dumps(f["geometry"])) if f.get("geometry") else None
                 for f in features]  # events have no geometry
        out[cid] = (features, geoms)
    return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m uvicorn service.asgi:app`` on a free 127.0.0.1 port; yields its base URL."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("live-server") / "uvicorn.log"
    env = {**os.environ, "FRONTIER_ATLAS_DATA_DIR": str(REPO / "geodata"),
           "FRONTIER_ATLAS_STATE_DIR": str(tmp_path_factory.mktemp("live-state"))}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.asgi:app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"uvicorn exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not become healthy:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
