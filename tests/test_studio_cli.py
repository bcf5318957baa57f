"""``frontier-atlas keys`` and ``frontier-atlas maps export|import``, run as processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import REPO
from tests.postgis_fixture import temporary_database

DOC = {"title": "Backup me", "items": {"borders": ["BY-UA"], "places": ["divin"]}}


def cli(env: dict[str, str], *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=REPO, input=stdin,
                          env={**os.environ, "FRONTIER_ATLAS_DATA_DIR": str(REPO / "geodata"),
                               **env}, capture_output=True, timeout=120)  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, tmp_path):
    if request.param == "sqlite":
        yield {"FRONTIER_ATLAS_STATE_DIR": str(tmp_path / "a")}
    else:
        with temporary_database("frontier_atlas_studio_cli") as url:
            yield {"FRONTIER_ATLAS_MAPS_DATABASE_URL": url}


def test_keys_create_list_revoke_and_use(env, tmp_path):
    made = cli(env, "keys", "create", "newsroom bot")
    assert made.returncode == 0, made.stderr
    key_id = made.stdout.decode().split("\t")[0]
    secret = made.stdout.decode().split("secret (shown once, stored only as a hash): ")[1].strip()
    listed = cli(env, "keys", "list").stdout.decode()
    assert key_id in listed and "active" in listed and secret not in listed
    settings = Settings(data_dir=REPO / "geodata", state_dir=tmp_path / "a",
                        maps_database_url=env.get("FRONTIER_ATLAS_MAPS_DATABASE_URL"))
    with TestClient(create_app(settings)) as client:
        headers = {"authorization": f"Bearer {secret}"}
        created = client.post("/api/maps", json=DOC, headers=headers)
        assert created.status_code == 201
        assert cli(env, "keys", "revoke", key_id).returncode == 0
        assert client.get(f"/api/maps/{created.json()['id']}", headers=headers).status_code == 403
    assert "revoked" in cli(env, "keys", "list").stdout.decode()
    assert cli(env, "keys", "revoke", "key_nothere").returncode == 1


def test_export_import_round_trip(env, tmp_path):
    settings = Settings(data_dir=REPO / "geodata", state_dir=tmp_path / "a",
                        maps_database_url=env.get("FRONTIER_ATLAS_MAPS_DATABASE_URL"))
    with TestClient(create_app(settings)) as client:
        made = client.post("/api/maps", json=DOC).json()
        headers = {"authorization": f"Bearer {made['edit_token']}"}
        client.post(f"/api/maps/{made['id']}/publish", headers=headers)
        client.put(f"/api/maps/{made['id']}", json={**DOC, "title": "Two"},
                   headers={**headers, "if-match": f'"{made["id"]}.1"'})
        client.post(f"/api/maps/{made['id']}/publish", headers=headers)
        client.post("/api/maps", json={"title": "draft"})
    dump = tmp_path / "maps.json"
    out = cli(env, "maps", "export", "-o", str(dump))
    assert out.returncode == 0, out.stderr
    data = json.loads(dump.read_text())
    assert len(data["maps"]) == 2 and len(data["maps"][0]["versions"]) == 2
    assert made["edit_token"] not in dump.read_text()  # hashes only
    # restore into an empty SQLite state directory, then export again: identical
    target = {"FRONTIER_ATLAS_STATE_DIR": str(tmp_path / "b")}
    imported = cli(target, "maps", "import", str(dump))
    assert imported.returncode == 0 and "imported 2" in imported.stdout.decode()
    assert cli(target, "maps", "export").stdout == dump.read_bytes()
    again = cli(target, "maps", "import", "-", stdin=dump.read_bytes())
    assert "skipped 2" in again.stdout.decode()
    # the restored service serves the versions and the edit link still works
    restored = Settings(data_dir=REPO / "geodata", state_dir=tmp_path / "b")
    with TestClient(create_app(restored)) as client:
        assert "Two" in client.get(f"/maps/saved/{made['id']}").text
        assert client.get(f"/api/maps/{made['id']}", headers=headers).status_code == 200
