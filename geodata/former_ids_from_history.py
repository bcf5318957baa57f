"""Regenerate ``curated/former_ids.csv`` from the published versions of places.geojson.

Maintenance tool, not part of the build (``build.py`` reads no git): run it
after a build that changed place ids, then rebuild so that every place carries
its ``former_ids``::

    python geodata/former_ids_from_history.py   # reads git, writes the table
    python geodata/build.py

A place is followed from version to version by its GeoNames id; places without
one, and settlements whose record was dropped as a duplicate or a city
district, are followed by ``SAME_PLACE`` below. An old id that is a current id
of another place (reused) cannot redirect and is listed on stderr, not in the
table. Rows are sorted by old_id, so a rerun rewrites no row it does not change.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLE = HERE / "curated" / "former_ids.csv"

#: Published versions of geodata/places.geojson, oldest first, and the label of
#: the change that replaced each one's ids ("since" in the table).
VERSIONS = [
    ("5df2a93", "issue 9 (data version 2025-11-20.a16072b)"),
    ("f48153d", "issue 9b (data version 2025-11-20.e5a5800)"),
    ("53cd4d0", "issue 9b rebuild (data version 2025-11-20.58fb781)"),
    ("e1dc121", "issue 9c"),
]

#: Old ids of records that are not in the current data under their GeoNames id
#: but describe a settlement that is: curated rows (no GeoNames id) and
#: records dropped as duplicates (same name within 5 km) or as city districts.
SAME_PLACE = {
    "jezerishche": "yezerishche",      # curated row, renamed by the romanisation policy
    "lyozna": "liozno",                # curated row merged with GeoNames' Liozno
    "bykovo-ru": "bykovo",             # GeoNames 570300, duplicate of 570298 (1.7 km)
    "dzerzhinskiy": "dzerzhinski",     # GeoNames 563705, duplicate of 8521440 (0.9 km)
    "horad-krychaw": "krichev",        # GeoNames 828920 "Horad Krychaw", the town of Krichev
    "husiatyn-ua": "husiatyn",         # GeoNames 11750332, duplicate of 707840 (1.3 km)
    "ozerniy": "ozerny",               # GeoNames 13132854, duplicate of 831208 (3.8 km)
    "naujoji-vilnia": "vilnius",       # district of Vilnius (curated/not_settlements.csv)
    "saltivka": "kharkiv",             # district of Kharkiv (curated/not_settlements.csv)
}


def features(text: str) -> list[dict]:
    """The features of a GeoJSON FeatureCollection text."""
    return json.loads(text)["features"]


def main() -> int:
    """Rewrite curated/former_ids.csv from the published versions of places.geojson."""
    current = features((HERE / "places.geojson").read_text(encoding="utf-8"))
    current_ids = {f["id"] for f in current}
    by_gid = {f["properties"]["geonames_id"]: f["id"] for f in current
              if f["properties"].get("geonames_id")}
    rows: dict[str, dict[str, str]] = {}
    reused = []
    history = [(commit, label, features(subprocess.run(
        ["git", "show", f"{commit}:geodata/places.geojson"], check=True, capture_output=True,
        cwd=HERE, text=True).stdout)) for commit, label in VERSIONS]
    # newest version first: "since" is the change after the last version that had the id
    for commit, label, feats in reversed(history):
        for f in feats:
            old, gid = f["id"], f["properties"].get("geonames_id")
            new = SAME_PLACE.get(old) or by_gid.get(gid)
            if new is None and gid is None and old in current_ids:
                continue  # a curated row keeps its id
            if new is None:
                raise SystemExit(f"{commit}: {old} (GeoNames {gid}) has no current place")
            if old == new or old in rows:
                continue
            if old in current_ids:
                reused.append(f"{old}: GeoNames {gid} in {commit}, now another place")
                continue
            rows[old] = {"old_id": old, "new_id": new, "geonames_id": str(gid or ""),
                         "since": label}
    with TABLE.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["old_id", "new_id", "geonames_id", "since"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows[k] for k in sorted(rows))
    print(f"{len(rows)} former ids written to {TABLE.relative_to(HERE.parent)}")
    for line in sorted(set(reused)):
        print("reused, not redirected:", line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
