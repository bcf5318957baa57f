"""Soak: mixed cold and cached traffic against `frontier-atlas serve` for minutes,
with the server's memory and the p99 latency sampled over time.

    python bench/soak.py            # 10 minutes (SOAK_MINUTES), 16 connections
    SOAK_MINUTES=2 python bench/soak.py

The mix (one list, shuffled with a fixed seed): two thirds of the requests are
new (random points, bboxes and searches: uncached), one third repeat a small set
of popular URLs (the border, the frontier map page, its PNG: cached). wrk runs in
slices of SOAK_SLICE_S seconds; after each slice the server's RSS (all its
processes) is read from /proc. Writes bench/results-soak.md. Never part of
`make test`.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import free_port as _free_port  # noqa: E402
from uncached import machine, make_urls  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
MINUTES = float(os.environ.get("SOAK_MINUTES", "10"))
SLICE_S = int(os.environ.get("SOAK_SLICE_S", "30"))
CONNECTIONS = int(os.environ.get("SOAK_CONNECTIONS", "16"))
POPULAR = ["/borders/BY-RU", "/borders/BY-RU?simplify=1000", "/maps/frontier",
           "/maps/frontier.png", "/collections/places/items?limit=100", "/places?q=Divin",
           "/collections?f=html", "/maps/places/divin"]


def _mix(n: int) -> list[str]:
    urls = make_urls(n // 5)
    cold = [u for lst in urls.values() for u in lst]
    cold += [f"/places?q={name[:4]}" for name in ("Minsk", "Brest", "Gomel", "Vitebsk", "Orsha")]
    rng = random.Random(7)
    mix = cold + [rng.choice(POPULAR) for _ in range(len(cold) // 2)]
    rng.shuffle(mix)
    return mix


def _rss_kib(pid: int) -> int:
    """Resident memory of the process and its children (KiB)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total


def main() -> None:
    """Run the soak and write the report."""
    WORK.mkdir(parents=True, exist_ok=True)
    mix = _mix(20_000)
    list_file = WORK / "soak-urls.txt"
    list_file.write_text("\n".join(mix) + "\n")
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "FRONTIER_ATLAS_DATA_DIR": str(ROOT / "geodata")}
    env.pop("FRONTIER_ATLAS_DATABASE_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        rows = []
        start = time.monotonic()
        offset = 0
        while time.monotonic() - start < MINUTES * 60:
            out = subprocess.run(
                ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SLICE_S}s", "--latency",
                 "-s", str(ROOT / "bench" / "wrk" / "urls.lua"), base, "--",
                 str(list_file), str(offset)], capture_output=True, text=True, check=True)
            line = next(x for x in out.stdout.splitlines() if x.startswith("BENCHJSON "))
            res = json.loads(line.removeprefix("BENCHJSON "))
            offset += res["requests"]
            errors = sum(res["errors"].values())
            rows.append({"t_s": round(time.monotonic() - start), "rps": res["requests"] / SLICE_S,
                         "p99_ms": res["p99_us"] / 1000, "p50_ms": res["p50_us"] / 1000,
                         "errors": errors, "rss_mib": _rss_kib(server.pid) / 1024})
            print(rows[-1], flush=True)
        health = httpx.get(f"{base}/healthz", timeout=5).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    info = machine()
    lines = [
        "# Soak: mixed cold and cached traffic over time",
        "",
        f"`python bench/soak.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"{MINUTES:g} min, {CONNECTIONS} connections, one `frontier-atlas serve` worker "
        f"(granian), embedded store, response memo on; slices of {SLICE_S} s.",
        "",
        *(f"- {k}: {v}" for k, v in info.items()),
        "",
        "| t (s) | req/s | p50 ms | p99 ms | errors | server RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|",
        *(f"| {r['t_s']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.1f} | "
          f"{r['errors']} | {r['rss_mib']:.0f} |" for r in rows),
        "",
        f"Response cache at the end: {health.get('response_cache')}.",
        "",
    ]
    (ROOT / "bench" / "results-soak.md").write_text("\n".join(lines))
    print("wrote bench/results-soak.md")


if __name__ == "__main__":
    main()
