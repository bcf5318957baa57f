"""Re-vendor the pinned browser assets the map pages use into service/static/vendor/.

Run ``python tools/vendor_assets.py`` (needs ``npm``). Each package is fetched
with ``npm pack NAME@VERSION`` (the registry's tarball, checked by npm against
its integrity hash), only the files the pages use are copied, and
``service/static/vendor/VENDOR.md`` plus ``vendor.json`` record the version,
licence and sha256 of every file. Bump a version here, run it, commit.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENDOR = REPO / "service" / "static" / "vendor"
#: Tools the browser tests load into pages (never served by the service).
TEST_VENDOR = REPO / "tests" / "vendor"

#: (npm package, version, licence, {path in the tarball: path under vendor/})
PACKAGES = [
    ("leaflet", "1.9.4", "BSD-2-Clause", {
        "package/dist/leaflet.js": "leaflet@1.9.4/leaflet.js",
        "package/dist/leaflet.css": "leaflet@1.9.4/leaflet.css",
        "package/LICENSE": "leaflet@1.9.4/LICENSE",
    }),
    ("leaflet.fullscreen", "3.0.2", "MIT", {
        "package/Control.FullScreen.js": "leaflet.fullscreen@3.0.2/Control.FullScreen.js",
        "package/Control.FullScreen.css": "leaflet.fullscreen@3.0.2/Control.FullScreen.css",
        "package/icon-fullscreen.svg": "leaflet.fullscreen@3.0.2/icon-fullscreen.svg",
        "package/LICENSE": "leaflet.fullscreen@3.0.2/LICENSE",
    }),
    ("leaflet-minimap", "3.6.1", "BSD-2-Clause", {
        "package/dist/Control.MiniMap.min.js": "leaflet-minimap@3.6.1/Control.MiniMap.min.js",
        "package/dist/Control.MiniMap.min.css": "leaflet-minimap@3.6.1/Control.MiniMap.min.css",
        "package/dist/images/toggle.svg": "leaflet-minimap@3.6.1/images/toggle.svg",
        "package/LICENSE.txt": "leaflet-minimap@3.6.1/LICENSE",
    }),
    # Natural Earth 1:110m countries (public domain): Europe's outline for the inset locator.
    ("world-atlas", "2.0.2", "ISC (data: Natural Earth, public domain)", {
        "package/countries-110m.json": "world-atlas@2.0.2/countries-110m.json",
        "package/LICENSE": "world-atlas@2.0.2/LICENSE",
    }),
]  # fmt: skip

#: Test-only tools, vendored under tests/vendor/ (the accessibility engine and the
#: embedding library a newsroom's article page would load).
TEST_PACKAGES = [
    ("axe-core", "4.14.1", "MPL-2.0", {
        "package/axe.min.js": "axe-core@4.14.1/axe.min.js",
        "package/LICENSE": "axe-core@4.14.1/LICENSE",
    }),
    ("pym.js", "1.3.2", "MIT", {
        "package/dist/pym.v1.min.js": "pym.js@1.3.2/pym.v1.min.js",
        "package/LICENSE": "pym.js@1.3.2/LICENSE",
    }),
]  # fmt: skip


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor(packages: list, folder: Path) -> list[dict]:
    """``npm pack`` each package and copy its listed files under *folder*; the manifest rows."""
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, version, licence, files in packages:
            out = subprocess.run(
                ["npm", "pack", f"{name}@{version}", "--silent"],
                cwd=tmp, check=True, capture_output=True, text=True,
            )  # fmt: skip
            tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as tar:
                for member, target in files.items():
                    source = tar.extractfile(member)
                    if source is None:
                        raise SystemExit(f"{name}@{version}: {member} missing")
                    dest = folder / target
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with dest.open("wb") as fh:
                        shutil.copyfileobj(source, fh)
                    manifest.append({
                        "package": name, "version": version, "licence": licence,
                        "file": target, "from": member, "bytes": dest.stat().st_size,
                        "sha256": sha256(dest),
                    })  # fmt: skip
    return manifest


def write_manifest(folder: Path, manifest: list[dict], served: bool) -> None:
    """vendor.json and VENDOR.md in *folder*."""
    (folder / "vendor.json").write_text(json.dumps(manifest, indent=2) + "\n")
    lines = [
        "# Vendored browser assets",
        "",
        "Served by the service itself from `/static/vendor/` (no CDN)." if served else
        "Used by the browser tests only (loaded from disk; never served).",
        "Written by `python tools/vendor_assets.py` from `npm pack NAME@VERSION`; "
        "do not edit by hand.",
        "",
        "| package | version | licence | file | bytes | sha256 |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {m['package']} | {m['version']} | {m['licence']} | `{m['file']}` | {m['bytes']} "
        f"| `{m['sha256']}` |"
        for m in manifest
    ]
    (folder / "VENDOR.md").write_text("\n".join(lines) + "\n")
    print(f"vendored {len(manifest)} files into {folder}", file=sys.stderr)


def main() -> int:
    """Fetch, copy, and write the manifests."""
    write_manifest(VENDOR, vendor(PACKAGES, VENDOR), served=True)
    write_manifest(TEST_VENDOR, vendor(TEST_PACKAGES, TEST_VENDOR), served=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
