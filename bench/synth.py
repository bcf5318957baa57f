"""Synthetic places for the scaling study (``bench/scale.py``).

``data_dir(n)`` writes ``bench/work/scale/<n>/``: the committed borders, countries,
crossings and curated tables (symlinks) and ``places.geojson`` with *n* synthetic
places, plus a ``manifest.json`` that lists every file's sha256 (as ``geodata/`` has),
so that opening the store does not hash hundreds of MB at start-up.

Each place (fixed seed per *n*):

- a point: 70 % scattered around the committed places inside the region (a
  normal spread of ~0.15 degrees, so towns have villages around them), 30 % uniform
  over the region (Belarus and a margin);
- ``name`` = a committed place's name + a Latin code word (unique per place, so a
  selective search has few hits); ``name_en`` the same; ``name_local`` and
  ``name_be`` in Belarusian Cyrillic, ``name_ru`` and one ``alternate_names`` entry
  in Russian Cyrillic, each with the code word in Cyrillic letters (they normalise
  to the same key as the Latin one, as real transliterations do);
- ``country`` from the base place, ``kind`` village (90 %) or town, a log-normal
  ``population``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
GEODATA = ROOT / "geodata"
WORK = ROOT / "bench" / "work" / "scale"
VERSION = "1"
REGION = (23.0, 51.0, 32.8, 56.2)  # west, south, east, north (Belarus and a margin)
CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
LAT_TO_CYR = {"b": "б", "d": "д", "f": "ф", "g": "г", "k": "к", "l": "л", "m": "м", "n": "н",
              "p": "п", "r": "р", "s": "с", "t": "т", "v": "в", "z": "з",
              "a": "а", "e": "э", "i": "і", "o": "о", "u": "у"}  # fmt: skip
LAT_TO_RU = {**LAT_TO_CYR, "i": "и"}


def code_word(i: int) -> str:
    """A word of 4 syllables (more when needed) unique to *i*: consonant + vowel pairs."""
    out = []
    for _ in range(4):
        i, r = divmod(i, len(CONSONANTS) * len(VOWELS))
        out.append(CONSONANTS[r // len(VOWELS)] + VOWELS[r % len(VOWELS)])
    while i:
        i, r = divmod(i, len(CONSONANTS) * len(VOWELS))
        out.append(CONSONANTS[r // len(VOWELS)] + VOWELS[r % len(VOWELS)])
    return "".join(out)


def cyrillic(word: str, table: dict[str, str]) -> str:
    return "".join(table[c] for c in word)


def _bases() -> list[dict[str, Any]]:
    feats = orjson.loads((GEODATA / "places.geojson").read_bytes())["features"]
    out = []
    for f in feats:
        p = f["properties"]
        lon, lat = f["geometry"]["coordinates"][:2]
        latin = p.get("name") or ""
        be = p.get("name_be") or p.get("name_local") or p.get("name_ru")
        ru = p.get("name_ru") or p.get("name_local") or be
        if latin and be and ru:
            out.append({"name": latin, "be": be, "ru": ru, "country": p.get("country") or "BY",
                        "lon": lon, "lat": lat})  # fmt: skip
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_dir(n: int) -> Path:
    """The data directory with *n* synthetic places (generated once per version)."""
    d = WORK / str(n)
    stamp = d / ".generated"
    if stamp.exists() and stamp.read_text() == VERSION:
        return d
    d.mkdir(parents=True, exist_ok=True)
    for item in ("borders.geojson", "countries.geojson", "crossings.geojson", "curated"):
        link = d / item
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        link.symlink_to(GEODATA / item)
    rng = np.random.default_rng(8_000 + n)
    bases = _bases()
    w, s, e, nn = REGION
    inside = [i for i, b in enumerate(bases) if w <= b["lon"] <= e and s <= b["lat"] <= nn]
    scattered = rng.random(n) < 0.7
    around = rng.choice(inside, n)
    lon = np.where(scattered, [bases[i]["lon"] for i in around] + rng.normal(0, 0.25, n),
                   rng.uniform(w, e, n))  # fmt: skip
    lat = np.where(scattered, [bases[i]["lat"] for i in around] + rng.normal(0, 0.15, n),
                   rng.uniform(s, nn, n))  # fmt: skip
    lon = np.round(np.clip(lon, w, e), 5)
    lat = np.round(np.clip(lat, s, nn), 5)
    name_of = rng.integers(0, len(bases), n)
    pop = np.clip(rng.lognormal(6.0, 1.3, n), 20, 200_000).astype(int)
    town = rng.random(n) < 0.1
    path = d / "places.geojson"
    with open(path, "wb") as fh:
        fh.write(b'{"type":"FeatureCollection","name":"places","features":[\n')
        for i in range(n):
            b = bases[int(name_of[i])]
            word = code_word(i)
            latin = f"{b['name']} {word.title()}"
            be = f"{b['be']} {cyrillic(word, LAT_TO_CYR).title()}"
            ru = f"{b['ru']} {cyrillic(word, LAT_TO_RU).title()}"
            if i:
                fh.write(b",\n")
            fh.write(orjson.dumps({
                "type": "Feature",
                "id": f"s{i}",
                "properties": {
                    "name": latin, "name_en": latin, "name_ru": ru, "name_be": be,
                    "name_local": be, "alternate_names": [ru],
                    "country": b["country"], "population": int(pop[i]),
                    "kind": "town" if town[i] else "village",
                    "near_belarus_frontier": False, "source": "synthetic (bench/synth.py)",
                },
                "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
            }))  # fmt: skip
        fh.write(b"\n]}\n")
    real = json.loads((GEODATA / "manifest.json").read_text())
    outputs = {k: v for k, v in real.get("outputs", {}).items()
               if k in ("borders.geojson", "countries.geojson", "crossings.geojson")}
    outputs["places.geojson"] = {"bytes": path.stat().st_size, "features": n,
                                 "sha256": _sha256(path)}  # fmt: skip
    manifest = {"version": {"id": f"synthetic-{n}-v{VERSION}", "built": "2025-11-20"},
                "outputs": outputs}  # fmt: skip
    (d / "manifest.json").write_text(json.dumps(manifest, indent=1))
    stamp.write_text(VERSION)
    return d


def points(n: int) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """(ids, lon/lat array, names, populations) of the synthetic places (for query lists)."""
    feats = orjson.loads((data_dir(n) / "places.geojson").read_bytes())["features"]
    ids = [f["id"] for f in feats]
    xy = np.array([f["geometry"]["coordinates"] for f in feats], dtype=float)
    names = [f["properties"]["name"] for f in feats]
    pops = np.array([f["properties"]["population"] for f in feats])
    return ids, xy, names, pops


if __name__ == "__main__":
    import sys
    import time

    for arg in sys.argv[1:]:
        t = time.perf_counter()
        print(data_dir(int(arg)), f"{time.perf_counter() - t:.1f} s")
