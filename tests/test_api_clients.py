"""Real clients against a live server process: GDAL's OAPIF driver and OWSLib.

GDAL's tools come from Debian's gdal-bin (installed by .ci/run): these tests
fail when CI=true and they are missing, and skip with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from owslib.ogcapi.features import Features

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
COLLECTIONS = ["borders", "countries", "places", "crossings", "events"]


@pytest.fixture(scope="module")
def gdal() -> dict[str, str]:
    """Paths of ogrinfo and ogr2ogr."""
    tools = {name: shutil.which(name) for name in ("ogrinfo", "ogr2ogr")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        message = f"GDAL tools missing: {', '.join(missing)} (apt-get install gdal-bin)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return {name: path for name, path in tools.items() if path}


def _run(args: list[str], timeout: int = 120) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _matched(base: str, cid: str, **params: str) -> int:
    body = httpx.get(f"{base}/collections/{cid}/items", params={"limit": 1, **params}).json()
    return body["numberMatched"]


@pytest.mark.gdal
def test_ogrinfo_lists_all_collections(gdal, live_server):
    out = _run([gdal["ogrinfo"], "-ro", "-so", f"OAPIF:{live_server}"])
    layers = re.findall(r"^\d+: (\w+)", out, flags=re.M)
    assert layers == COLLECTIONS


@pytest.mark.gdal
@pytest.mark.parametrize("cid", COLLECTIONS)
def test_ogrinfo_feature_count_equals_number_matched(gdal, live_server, cid):
    out = _run([gdal["ogrinfo"], "-ro", "-so", "-al", f"OAPIF:{live_server}", cid])
    count = int(re.search(r"Feature Count: (\d+)", out).group(1))
    assert count == _matched(live_server, cid)


@pytest.mark.gdal
@pytest.mark.parametrize("cid", COLLECTIONS)
def test_ogr2ogr_downloads_every_feature(gdal, live_server, tmp_path, cid):
    target = tmp_path / f"{cid}.geojson"
    _run([gdal["ogr2ogr"], "-f", "GeoJSON", str(target), f"OAPIF:{live_server}", cid])
    features = json.loads(target.read_text(encoding="utf-8"))["features"]
    assert len(features) == _matched(live_server, cid)
    ids = {f["properties"]["id"] for f in features}
    assert len(ids) == len(features)  # no page fetched twice, none skipped
    if cid == "places":
        assert "divin" in ids
    if cid == "borders":
        assert "BY-RU" in ids


@pytest.mark.gdal
def test_ogrinfo_spatial_filter_uses_bbox(gdal, live_server):
    bbox = ["24", "51.5", "25", "52.5"]
    listing = _run([gdal["ogrinfo"], "-ro", "-al", "-spat", *bbox, f"OAPIF:{live_server}",
                    "places"])  # fmt: skip
    names = re.findall(r"^\s+id \(String\) = (\S+)", listing, flags=re.M)
    assert len(names) == _matched(live_server, "places", bbox=",".join(bbox))
    assert "divin" in names


def test_owslib_reads_conformance_collections_and_items(live_server):
    api = Features(live_server)
    conformance = api.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    assert [c["id"] for c in api.collections()["collections"]] == COLLECTIONS
    assert api.collection("borders")["extent"]["spatial"]["crs"].endswith("CRS84")
    bbox = [24.0, 51.5, 25.0, 52.5]
    items = api.collection_items("places", bbox=bbox, limit=1000)
    assert items["numberMatched"] == len(items["features"]) == _matched(
        live_server, "places", bbox="24,51.5,25,52.5"
    )
    assert "divin" in {f["id"] for f in items["features"]}
    for feature in items["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert 24 <= lon <= 25 and 51.5 <= lat <= 52.5
    page = api.collection_items("crossings", limit=5, offset=5)
    assert page["numberReturned"] == 5
    assert api.collection_item("places", "divin")["properties"]["name"] == "Divin"


def test_frontier_atlas_serve_honours_port_env(tmp_path):
    """`frontier-atlas serve` (what `make run` runs) serves /borders/RU-BY on $HOST:$PORT."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "1",
           "FRONTIER_ATLAS_LOG_LEVEL": "warning"}  # fmt: skip
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from service.cli import main; main(['serve'])"],
        cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/borders/RU-BY", timeout=5)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/geo+json"
        assert response.json()["id"] == "BY-RU"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


# ------------------------------------------------------------------ GDAL >= 3.7 (pyogrio's wheel)
def _pyogrio_read(base: str, cid: str, **kwargs) -> tuple[int, str]:
    """Read a layer with the GDAL inside pyogrio's wheel in a child process (so its HTTP
    debug log can be read); returns (feature count, GDAL's log)."""
    code = ("import sys, json, pyogrio\n"
            "kw = json.loads(sys.argv[3])\n"
            "if 'bbox' in kw: kw['bbox'] = tuple(kw['bbox'])\n"
            "df = pyogrio.read_dataframe('OAPIF:' + sys.argv[1], layer=sys.argv[2], **kw)\n"
            "print('COUNT', len(df))\n")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code, base, cid, json.dumps(kwargs)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "CPL_DEBUG": "ON"})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return int(re.search(r"COUNT (\d+)", result.stdout).group(1)), result.stderr


@pytest.mark.gdal
@pytest.mark.parametrize("cid", COLLECTIONS)
def test_pyogrio_gdal_reads_every_layer(live_server, cid):
    pytest.importorskip("pyogrio")
    count, log = _pyogrio_read(live_server, cid)
    assert count == _matched(live_server, cid)
    assert "crs=http" in log or cid == "events"  # GDAL >= 3.7 asks for the storage CRS


@pytest.mark.gdal
def test_pyogrio_sends_bbox_and_where_to_the_server(live_server):
    pytest.importorskip("pyogrio")
    count, log = _pyogrio_read(live_server, "places", bbox=[24, 51.5, 25, 52.5],
                               where="kind = 'town'")  # fmt: skip
    assert count == _matched(live_server, "places", bbox="24,51.5,25,52.5", kind="town") > 0
    fetched = [u for u in re.findall(r"Fetch\((\S+)\)", log) if "bbox=" in u]
    assert fetched and all("kind=town" in u and "bbox-crs=" in u for u in fetched)


@pytest.mark.gdal
def test_ogrinfo_sends_where_to_the_server(gdal, live_server):
    out = _run([gdal["ogrinfo"], "-ro", "-so", "-al", f"OAPIF:{live_server}", "places",
                "-where", "kind = 'town'"])  # fmt: skip
    count = int(re.search(r"Feature Count: (\d+)", out).group(1))
    assert count == _matched(live_server, "places", kind="town")


def test_owslib_reads_queryables_and_filters(live_server):
    api = Features(live_server)
    queryables = api.collection_queryables("places")
    assert {"name", "population", "kind", "geometry"} <= set(queryables["properties"])
    items = api.collection_items("places", filter="kind = 'town' AND population > 50000",
                                 limit=1000)  # fmt: skip
    assert items["features"]
    assert all(f["properties"]["kind"] == "town" and f["properties"]["population"] > 50000
               for f in items["features"])  # fmt: skip
