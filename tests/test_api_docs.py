"""The README documents every setting; the Dockerfile passes hadolint; the CLI parses."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import build_parser
from service.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def _readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented_in_readme(name):
    assert f"`FRONTIER_ATLAS_{name.upper()}`" in _readme_section("Settings")


@pytest.mark.parametrize("path", ["/borders/{id}/zone", "/places?q=", "/locate", "/api.html"])
def test_readme_api_section_lists_endpoints(path):
    assert path in _readme_section("API")


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_essentials():
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert text.startswith("#")
    # The base is pinned to a Python patch release and a Debian release; two stages.
    assert re.search(r"^ARG BASE_IMAGE=\S*python:3\.11\.\d+-slim-bookworm", text, flags=re.M)
    assert len(re.findall(r"^FROM \$\{BASE_IMAGE\}", text, flags=re.M)) == 2
    assert re.search(r"^USER \d+", text, flags=re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "EXPOSE 8000" in text
    assert "COPY geodata/" in text and "-c constraints.txt" in text
    assert "build-store" in text  # the store is built into the image (read-only root at run)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["serve"], {"host": None, "port": None, "workers": None}),
        (["serve", "--host", "0.0.0.0", "--port", "9000", "--workers", "2"],
         {"host": "0.0.0.0", "port": 9000, "workers": 2}),
    ],
)  # fmt: skip
def test_cli_serve_arguments(argv, expected):
    args = build_parser().parse_args(argv)
    assert {k: getattr(args, k) for k in expected} == expected


def test_settings_read_plain_host_port_workers(monkeypatch):
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("WORKERS", "3")
    settings = Settings()
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9123, 3)


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("FRONTIER_ATLAS_DATA_DIR", "/nonexistent/dir"),
        ("FRONTIER_ATLAS_STORE_MMAP_MB", "-1"),
        ("FRONTIER_ATLAS_LOG_LEVEL", "loud"),
        ("PORT", "70000"),
    ],
)
def test_bad_settings_are_rejected(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ValueError):
        Settings()


def test_data_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FRONTIER_ATLAS_DATA_DIR", str(tmp_path))
    assert Settings().data_dir == tmp_path
