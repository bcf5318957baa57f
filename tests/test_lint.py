"""The code stays as the house style has it: ruff (pyproject's rules) finds nothing."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_ruff_is_clean():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "service", "geodata", "tests",
                           "bench"], cwd=REPO, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
