"""The OpenAPI document matches every response: schemathesis against a live server.

Bounded (a few examples per operation, a fixed seed) so it runs in well under a
minute; the map pages (PNG rendering) are left to their own tests.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance")


def test_schemathesis_finds_no_mismatch(live_server, tmp_path):
    exe = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    if not Path(exe).exists():
        pytest.fail("schemathesis is not installed (pip install -e .[test])")
    result = subprocess.run(
        [exe, "run", f"{live_server}/api", "--max-examples", "10", "--seed", "1",
         "--checks", CHECKS, "--exclude-path-regex", "^/maps|^/oembed",
         "--phases", "examples,coverage,fuzzing"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
