"""Uncached benchmark: one uvicorn worker of ours vs a bare Starlette app, same bytes.

Issue 8, "Speed": each request asks for a different point / bbox / place, the
response memo is off (``FRONTIER_ATLAS_RESPONSE_MEMO_MB=0``), and the ceiling is a
bare Starlette app (``bench/uncached_ceiling.py``) that returns, for the very same
URL, the bytes our service returned for it. Targets: ours >= 20 % of the ceiling's
req/s, p99 < 25 ms at 32 connections.

How:

1. For every endpoint, ``BENCH_URLS`` (default 5000) random URLs from a fixed seed
   (points and places-bbox centres uniform in 19-40 E, 49-58.5 N; borders boxes
   around random border vertices in that range; place ids from
   ``geodata/places.geojson``, each once), one list file per endpoint.
2. Start ours (``python -m uvicorn service.asgi:app``, one worker, memo off,
   ``FRONTIER_ATLAS_DATA_DIR`` = this checkout's geodata) and fetch every URL once
   (every answer must be 200); the bodies go to ``bench/work/uncached/``.
3. Start the ceiling on those bodies with the same uvicorn options.
4. wrk (``bench/wrk/urls.lua``) walks the list, one new URL per request, at each of
   ``BENCH_CONNECTIONS`` (default 1,32) for ``BENCH_DURATION`` s (default 10);
   ours and the ceiling take turns; each figure is the median of ``BENCH_ROUNDS``
   rounds (default 3). With a spare core the servers are pinned to
   core 0 and wrk to the rest (as in ``bench/run.py``).

Writes ``bench/results-uncached.md`` and ``bench/work/uncached.json``.
Run: ``.venv/bin/python bench/uncached.py`` (``BENCH_ONLY=locate,near`` for a subset;
``--report`` rewrites the table from the saved raw runs).
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (process handling, pinning, HTTP helpers; stops servers on exit)

ROOT = run.ROOT
OUT = run.WORK / "uncached"
LUA = run.BENCH / "wrk" / "urls.lua"
RESULTS = run.BENCH / "results-uncached.md"

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "1,32").split(",")]
N_URLS = int(os.environ.get("BENCH_URLS", "5000"))
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SEED = int(os.environ.get("BENCH_SEED", "8"))
DATA_DIR = Path(os.environ.get("FRONTIER_ATLAS_DATA_DIR", ROOT / "geodata"))

LON, LAT = (19.0, 40.0), (49.0, 58.5)
BBOX_PLACES = 50
TARGET_SHARE, TARGET_P99_MS = 0.20, 25.0

ENDPOINTS = {  # key -> title
    "locate": "/locate?lon=&lat=",
    "place-borders": "/places/{id}/borders",
    "near": "/places?near=lon,lat",
    "places-bbox": "/collections/places/items?bbox= (~50 places)",
    "borders-bbox": "/collections/borders/items?bbox=",
}


# --------------------------------------------------------------------------- URLs
def _places() -> tuple[list[str], np.ndarray]:
    feats = json.loads((DATA_DIR / "places.geojson").read_text())["features"]
    ids = [str(f["id"]) for f in feats]
    xy = np.array([f["geometry"]["coordinates"][:2] for f in feats], dtype=float)
    return ids, xy


def _point(rng: random.Random) -> tuple[float, float]:
    return round(rng.uniform(*LON), 5), round(rng.uniform(*LAT), 5)


def _bbox_for_places(lon: float, lat: float, xy: np.ndarray, k: int) -> str:
    """The smallest square box (km-ish: lon scaled by cos(lat)) around the point
    holding k places; rounded outwards to 4 decimals."""
    c = math.cos(math.radians(lat))
    d = np.maximum(np.abs(xy[:, 0] - lon) * c, np.abs(xy[:, 1] - lat))
    h = float(np.partition(d, k - 1)[k - 1]) + 1e-4
    box = (lon - h / c, lat - h, lon + h / c, lat + h)
    lo = [math.floor(v * 1e4) / 1e4 for v in box[:2]]
    hi = [math.ceil(v * 1e4) / 1e4 for v in box[2:]]
    return f"{lo[0]:.4f},{lo[1]:.4f},{hi[0]:.4f},{hi[1]:.4f}"


def _border_vertices() -> np.ndarray:
    feats = json.loads((DATA_DIR / "borders.geojson").read_text())["features"]
    pts: list[list[float]] = []

    def walk(c: Any) -> None:
        if isinstance(c[0], (int, float)):
            pts.append(c[:2])
        else:
            for x in c:
                walk(x)

    for f in feats:
        walk(f["geometry"]["coordinates"])
    v = np.array(pts, dtype=float)
    inside = (v[:, 0] >= LON[0]) & (v[:, 0] <= LON[1]) & (v[:, 1] >= LAT[0]) & (v[:, 1] <= LAT[1])
    return v[inside]


def make_urls(n: int) -> dict[str, list[str]]:
    rng = random.Random(SEED)
    ids, xy = _places()
    vertices = _border_vertices()
    urls: dict[str, list[str]] = {k: [] for k in ENDPOINTS}
    for _ in range(n):
        lon, lat = _point(rng)
        urls["locate"].append(f"/locate?lon={lon}&lat={lat}")
        lon, lat = _point(rng)
        urls["near"].append(f"/places?near={lon},{lat}")
        lon, lat = _point(rng)
        urls["places-bbox"].append(
            f"/collections/places/items?bbox={_bbox_for_places(lon, lat, xy, BBOX_PLACES)}"
        )
        # borders: a box of 0.5-4 x 0.3-2.5 degrees around a random border vertex,
        # shifted at random so the vertex may sit anywhere in it (few empty answers)
        w, h = rng.uniform(0.5, 4.0), rng.uniform(0.3, 2.5)
        vx, vy = vertices[rng.randrange(len(vertices))]
        lon = float(vx) + rng.uniform(-w / 2, w / 2)
        lat = float(vy) + rng.uniform(-h / 2, h / 2)
        x0, y0 = max(LON[0], lon - w / 2), max(LAT[0], lat - h / 2)
        x1, y1 = min(LON[1], lon + w / 2), min(LAT[1], lat + h / 2)
        urls["borders-bbox"].append(
            f"/collections/borders/items?bbox={x0:.4f},{y0:.4f},{x1:.4f},{y1:.4f}"
        )
    chosen = rng.sample(ids, min(n, len(ids)))  # every place once, up to n
    urls["place-borders"] = [f"/places/{urllib.parse.quote(i, safe='')}/borders" for i in chosen]
    return {k: v for k, v in urls.items() if not ONLY or k in ONLY}


# --------------------------------------------------------------------------- servers
def _uvicorn(name: str, app: str, port: int, env: dict[str, str]):
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return run.start(name, cmd, {"PYTHONPATH": str(ROOT), **env})


def start_ours(port: int):
    env = {
        "FRONTIER_ATLAS_RESPONSE_MEMO_MB": "0",
        "FRONTIER_ATLAS_DATA_DIR": str(DATA_DIR),
    }
    os.environ.pop("FRONTIER_ATLAS_DATABASE_URL", None)  # the embedded backend only
    return _uvicorn("uncached-ours", "service.asgi:app", port, env)


def start_ceiling(port: int):
    return _uvicorn(
        "uncached-starlette", "bench.uncached_ceiling:app", port, {"BENCH_UNCACHED_DIR": str(OUT)}
    )


def wait_warm(base: str, timeout: float = 180) -> None:
    """Until /healthz reports the background map warm-up done (it would steal the core)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        status, body, _ = run.get(base + "/healthz", timeout=5)
        if status == 200 and json.loads(body).get("maps", "ready") == "ready":
            return
        time.sleep(0.2)
    raise RuntimeError(f"{base}: map warm-up not done after {timeout} s")


def prefetch(base: str, urls: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Fetch every URL once from ours; write the bodies, the index and the lists."""
    OUT.mkdir(parents=True, exist_ok=True)
    index: dict[str, list[Any]] = {}
    stats: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(4) as pool:
        for key, lst in urls.items():
            t0 = time.perf_counter()
            answers = list(pool.map(lambda u: run.get(base + u), lst))
            secs = time.perf_counter() - t0
            bad = [(u, s) for u, (s, _, _) in zip(lst, answers, strict=True) if s != 200]
            if bad:
                raise RuntimeError(f"{key}: {len(bad)} non-200 answers, e.g. {bad[:3]}")
            blob, off, sizes, empty = bytearray(), 0, [], 0
            for u, (_, body, ctype) in zip(lst, answers, strict=True):
                index[u] = [f"{key}.bin", off, len(body), ctype]
                blob += body
                off += len(body)
                sizes.append(len(body))
                empty += body.startswith(b'{"type":"FeatureCollection","features":[]')
            (OUT / f"{key}.bin").write_bytes(bytes(blob))
            (OUT / f"{key}.txt").write_text("\n".join(lst) + "\n")
            stats[key] = {
                "urls": len(lst),
                "median_bytes": int(np.median(sizes)),
                "empty": empty,
                "prefetch_s": round(secs, 1),
            }
            print(
                f"  {key}: {len(lst)} URLs, median {stats[key]['median_bytes']} B, "
                f"{empty} empty, {secs:.1f} s",
                flush=True,
            )
    (OUT / "index.json").write_text(json.dumps(index))
    return stats


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(base: str, key: str, connections: int, start_at: int, pid: int) -> dict[str, Any]:
    cmd = run.pinned(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(DURATION))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            base,
            "--",
            str(OUT / f"{key}.txt"),
            str(start_at),
        ],
        run.wrk_cpus(),
    )
    cpu0 = cpu_seconds(pid)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=DURATION + 60)
    cpu = cpu_seconds(pid) - cpu0
    line = next((x for x in r.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {r.stdout}\n{r.stderr}")
    raw = json.loads(line.split(" ", 1)[1])
    secs = raw["duration_us"] / 1e6
    return {
        "rps": raw["requests"] / secs if secs else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": raw["requests"],
        "errors": sum(raw["errors"].values()),
        # The server's own CPU time per answer: steadier than req/s when other work
        # shares the cores (the run may also count a few requests still queued at the end).
        "cpu_ms": 1000 * cpu / raw["requests"] if raw["requests"] else 0.0,
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over the rounds; requests and errors summed."""
    out = {k: statistics.median(r.get(k, 0.0) for r in runs)
           for k in ("rps", "p50_ms", "p99_ms", "cpu_ms")}
    out["requests_max"] = max(r["requests"] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    return out


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Medians per server, and the ours/ceiling ratio as the median (min, max) of the
    per-round ratios: the two runs of a round are adjacent in time, so on a shared
    machine their ratio is steadier than the ratio of the medians."""
    res: dict[str, Any] = {}
    for key, by_c in raw.items():
        res[key] = {}
        for c, per in by_c.items():
            ratios = [
                o["rps"] / s["rps"] if s["rps"] else 0.0
                for o, s in zip(per["ours"], per["starlette"], strict=True)
            ]
            res[key][c] = {name: _median(runs) for name, runs in per.items()}
            res[key][c]["ratio"] = (statistics.median(ratios), min(ratios), max(ratios))
    return res


# --------------------------------------------------------------------------- report
def _out(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return "unknown"


def machine() -> dict[str, str]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "unknown",
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    load = os.getloadavg()
    dirty = _out(["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB",
        "os": f"{_out(['sh', '-c', '. /etc/os-release && echo $PRETTY_NAME'])}, "
        f"kernel {platform.release()}, Python {platform.python_version()}",
        "wrk": _out(["wrk", "-v"]).splitlines()[0] if _out(["wrk", "-v"]) else "?",
        "commit": _out(["git", "rev-parse", "--short", "HEAD"]) + (" (dirty)" if dirty else ""),
        "load": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min, at start)",
        "pinning": (
            f"servers on core(s) {run.server_cpus()}, wrk on {run.wrk_cpus()}"
            if run.server_cpus()
            else "none (no spare core)"
        ),
    }


def report(info: dict[str, str], stats: dict, res: dict) -> str:
    lines = [
        "# Uncached benchmark (one worker, every request a different URL)",
        "",
        f"Generated by `python bench/uncached.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        *(f"- {k}: {v}" for k, v in info.items()),
        f"- {DURATION:g} s per run, wrk 1 thread, median of {ROUNDS} round(s) (ours and "
        "the ceiling alternate who goes first); response memo off "
        "(`FRONTIER_ATLAS_RESPONSE_MEMO_MB=0`), embedded SQLite backend; the ceiling is a "
        "bare Starlette app (`bench/uncached_ceiling.py`, same uvicorn options) returning "
        "the bytes ours returned for the same URL.",
        f"- Targets (issue 8): ours >= {TARGET_SHARE:.0%} of the ceiling's req/s; "
        f"p99 < {TARGET_P99_MS:g} ms at 32 connections.",
        "- CPU ms/req: the server process's user + system CPU time over the run divided by "
        "the requests wrk counted; unlike req/s and latency it hardly moves when other "
        "work shares the cores (compare the load above).",
        "",
        "| endpoint | conns | ours req/s | ours p50 ms | ours p99 ms | Starlette req/s "
        "| Starlette p50 ms | Starlette p99 ms | ours/Starlette (range) | target "
        "| CPU ms/req ours / Starlette |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for key, per in res.items():
        for c, r in per.items():
            o, s = r["ours"], r["starlette"]
            share, lo, hi = r["ratio"]
            ok = share >= TARGET_SHARE and (int(c) != 32 or o["p99_ms"] < TARGET_P99_MS)
            lines.append(
                f"| `{ENDPOINTS[key]}` | {c} | {o['rps']:,.0f} | {o['p50_ms']:.2f} | "
                f"{o['p99_ms']:.2f} | {s['rps']:,.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
                f"{share:.1%} ({lo:.1%}–{hi:.1%}) | {'met' if ok else 'missed'} | "
                f"{o.get('cpu_ms', 0):.3f} / {s.get('cpu_ms', 0):.3f} |"
            )
    lines += [
        "",
        "URL lists (fixed seed; each wrk run walks its list, one new URL per request; "
        "'wraps' > 1 means some URLs of ours were asked for again, still uncached):",
        "",
        "| endpoint | URLs | median body | empty collections | ours requests (max wraps) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, st in stats.items():
        most = max((r["ours"]["requests_max"] for r in res.get(key, {}).values()), default=0)
        lines.append(
            f"| `{ENDPOINTS[key]}` | {st['urls']} | {st['median_bytes']:,} B | {st['empty']} | "
            f"{most:,} ({most / st['urls']:.1f}) |"
        )
    errors = [
        (k, c, w)
        for k, p in res.items()
        for c, r in p.items()
        for w in ("ours", "starlette")
        if r[w]["errors"]
    ]
    lines += ["", f"Socket/status errors: {errors or 'none'}.", ""]
    return "\n".join(lines)


def main() -> None:
    port_ours, port_ceiling = run.free_port(), run.free_port()
    urls = make_urls(N_URLS)
    info = machine()
    print(f"uncached benchmark: {', '.join(urls)}; {DURATION:g} s x {CONNECTIONS}", flush=True)
    ours = start_ours(port_ours)
    base_ours = f"http://127.0.0.1:{port_ours}"
    run.wait_ready(ours, base_ours + "/healthz")
    wait_warm(base_ours)
    print("prefetching from ours", flush=True)
    stats = prefetch(base_ours, urls)
    ceiling = start_ceiling(port_ceiling)
    base_ceiling = f"http://127.0.0.1:{port_ceiling}"
    run.wait_ready(ceiling, base_ceiling + urls[next(iter(urls))][0])
    raw: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {
        k: {str(c): {"ours": [], "starlette": []} for c in CONNECTIONS} for k in urls
    }
    turn = 0
    for rnd in range(ROUNDS):
        for key in urls:
            for c in CONNECTIONS:
                order = [("ours", base_ours, ours.pid), ("starlette", base_ceiling, ceiling.pid)]
                row: dict[str, Any] = {}
                for name, base, pid in order if turn % 2 == 0 else order[::-1]:
                    row[name] = wrk(base, key, c, start_at=(turn * 997) % len(urls[key]), pid=pid)
                    run.settle(base + "/healthz" if name == "ours" else base + urls[key][0])
                    raw[key][str(c)][name].append(row[name])
                turn += 1
                o, s = row["ours"], row["starlette"]
                print(
                    f"  [{rnd + 1}/{ROUNDS}] {key:14} c={c:<3} ours {o['rps']:8,.0f} req/s "
                    f"p50 {o['p50_ms']:6.2f} p99 {o['p99_ms']:7.2f} | starlette "
                    f"{s['rps']:8,.0f} req/s | {o['rps'] / s['rps']:.1%} | CPU ms/req ours "
                    f"{o['cpu_ms']:.3f} starlette {s['cpu_ms']:.3f}",
                    flush=True,
                )
    res = summarise(raw)
    run.stop(ceiling)
    run.stop(ours)
    (run.WORK / "uncached.json").write_text(
        json.dumps({"machine": info, "urls": stats, "results": res, "runs": raw}, indent=1)
    )
    RESULTS.write_text(report(info, stats, res))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--report"]:  # rewrite the table from bench/work/uncached.json
        saved = json.loads((run.WORK / "uncached.json").read_text())
        RESULTS.write_text(report(saved["machine"], saved["urls"], summarise(saved["runs"])))
    else:
        main()
