"""Server-rendered PNG maps (matplotlib + geopandas, Agg backend; no tiles, no browser).

Draws the same ``MapContent`` as the HTML page in the ETRS89 Lambert
azimuthal equal-area projection (EPSG:3035, metres), with labels, numbered
checkpoints, a scale bar, the title, caption and the data attribution.
"""

from __future__ import annotations

import io
import math
import textwrap

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # before pyplot-free imports that may pick a GUI backend
from matplotlib import patheffects  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from pyproj import Transformer  # noqa: E402

from service.maps.content import MapContent, label_point  # noqa: E402
from service.maps.flags import MapFlags  # noqa: E402

CRS = "EPSG:3035"
_TO_LAEA = Transformer.from_crs("OGC:CRS84", CRS, always_xy=True)

PALETTES = {
    "light": {
        "bg": "#ffffff", "water": "#dbe7ef", "land": "#f3f1ec", "land_edge": "#c9c5bb",
        "focus_land": "#fffdf7", "by": "#fbf6e9", "border": "#7b7f87", "focus": "#c21a1a",
        "casing": "#ffffff", "text": "#1d1d1f", "muted": "#5b5f66", "halo": "#ffffff",
        "country": "#8b8377", "link": "#1d4ed8",
    },
    "dark": {
        "bg": "#16181c", "water": "#0f1a24", "land": "#23262c", "land_edge": "#3a3e46",
        "focus_land": "#2c3038", "by": "#30343c", "border": "#8d939c", "focus": "#ff6b5e",
        "casing": "#16181c", "text": "#eceef1", "muted": "#a4a9b2", "halo": "#16181c",
        "country": "#8d939c", "link": "#7aa7ff",
    },
}  # fmt: skip


def _nice_length_km(max_km: float) -> float:
    """The largest 1-2-5 × 10^n kilometre length not above *max_km*."""
    exponent = math.floor(math.log10(max_km))
    for step in (5, 2, 1):
        value = step * 10**exponent
        if value <= max_km:
            return float(value)
    return float(10**exponent)


def render_png(content: MapContent, flags: MapFlags, width: int, height: int) -> bytes:
    """A PNG of *width* × *height* pixels."""
    colors = PALETTES["dark" if flags.dark == "true" else "light"]
    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor=colors["bg"])
    FigureCanvasAgg(fig)
    scale = min(width, height * 1.6) / 1000  # font scale
    title = flags.title or content.title
    header = 0.11 if height >= 400 else 0.14
    footer = 0.1 if height >= 400 else 0.14
    ax = fig.add_axes((0.0, footer, 1.0, 1.0 - header - footer))
    ax.set_facecolor(colors["water"])
    ax.set_axis_off()
    ax.set_facecolor(colors["water"])
    fig.patches.append(
        matplotlib.patches.Rectangle((0, footer), 1, 1 - header - footer, transform=fig.transFigure,
                                     color=colors["water"], zorder=-1)  # fmt: skip
    )

    countries = gpd.GeoDataFrame(
        {"id": [c[0] for c in content.countries], "focus": [c[3] for c in content.countries]},
        geometry=[c[2] for c in content.countries], crs="OGC:CRS84",
    ).to_crs(CRS)  # fmt: skip
    fills = [colors["by"] if cid == "BY" else colors["focus_land"] if focus else colors["land"]
             for cid, focus in zip(countries["id"], countries["focus"], strict=True)]  # fmt: skip
    countries.plot(ax=ax, color=fills, edgecolor=colors["land_edge"], linewidth=0.6, zorder=1)

    borders = gpd.GeoDataFrame(
        {"focus": [b[3] for b in content.borders]},
        geometry=[b[2] for b in content.borders], crs="OGC:CRS84",
    ).to_crs(CRS)  # fmt: skip
    lw = max(1.0, 2.2 * scale)
    other, focus = borders[~borders["focus"]], borders[borders["focus"]]
    if len(other):
        other.plot(ax=ax, color=colors["casing"], linewidth=lw * 1.8, zorder=2)
        other.plot(ax=ax, color=colors["border"], linewidth=lw * 0.7, zorder=3)
    if len(focus):
        focus.plot(ax=ax, color=colors["casing"], linewidth=lw * 2.6, zorder=4)
        focus.plot(ax=ax, color=colors["focus"], linewidth=lw * 1.3, zorder=5)
    if content.links:
        links = gpd.GeoSeries([g for g, _ in content.links], crs="OGC:CRS84").to_crs(CRS)
        links.plot(ax=ax, color=colors["link"], linewidth=lw * 0.8, linestyle=(0, (4, 3)), zorder=6)

    # View: the content bounds, padded, at the axes' aspect ratio.
    b = content.bounds
    xs, ys = _TO_LAEA.transform(
        [b.west, b.east, b.west, b.east], [b.south, b.south, b.north, b.north]
    )
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    box_w, box_h = width, height * (1 - header - footer)
    pad = 0.06
    w, h = (x1 - x0) * (1 + 2 * pad) or 20_000, (y1 - y0) * (1 + 2 * pad) or 20_000
    if w / h < box_w / box_h:
        w = h * box_w / box_h
    else:
        h = w * box_h / box_w
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal")

    halo = [patheffects.withStroke(linewidth=3 * scale + 1, foreground=colors["halo"])]
    fs = max(7.0, 11 * scale)
    for _a2, name, geom, _ in content.countries:
        ll = label_point(geom, content.bounds)
        if ll is None:
            continue
        x, y = _TO_LAEA.transform(ll[1], ll[0])
        ax.text(x, y, name.upper(), fontsize=fs * 0.95, color=colors["country"], ha="center",
                va="center", fontweight="bold", zorder=7, path_effects=halo)  # fmt: skip
    for p in content.places:
        x, y = _TO_LAEA.transform(p.lon, p.lat)
        size = (7 if p.kind in ("capital", "city") else 5) * scale + 2
        ax.plot(x, y, "o", color=colors["link"] if p.focus else colors["text"], markersize=size,
                markeredgecolor=colors["halo"], markeredgewidth=1, zorder=8)  # fmt: skip
        if flags.labels:
            side = 1 if p.label_side == "right" else -1
            ax.annotate(p.name, (x, y), xytext=(side * (size + 2), 0), textcoords="offset points",
                        ha="left" if side > 0 else "right", va="center", fontsize=fs,
                        fontweight="bold", color=colors["text"],
                        path_effects=halo, zorder=9)  # fmt: skip
    for c in content.crossings:
        x, y = _TO_LAEA.transform(c.lon, c.lat)
        ax.plot(x, y, "o", color=colors["focus"], markersize=fs * 1.55,
                markeredgecolor=colors["casing"], markeredgewidth=1.5, zorder=10)  # fmt: skip
        ax.text(x, y, str(c.number), color="#16181c" if flags.dark == "true" else "#ffffff",
                fontsize=fs * 0.8, fontweight="bold", ha="center", va="center",
                zorder=11)  # fmt: skip

    # Scale bar: about a fifth of the map width (EPSG:3035 metres are true near the centre).
    km = _nice_length_km(w / 1000 / 5)
    sx = cx - w / 2 + w * 0.03
    sy = cy - h / 2 + h * 0.05
    ax.plot([sx, sx + km * 1000], [sy, sy], color=colors["text"], linewidth=2.5 * scale + 0.5,
            solid_capstyle="butt", zorder=12, path_effects=halo)  # fmt: skip
    ax.text(sx + km * 1000 / 2, sy + h * 0.015, f"{km:g} km", ha="center", va="bottom",
            fontsize=fs * 0.85, color=colors["text"], path_effects=halo, zorder=12)  # fmt: skip

    fig.text(0.02, 1 - header / 2, textwrap.shorten(title, 90, placeholder="…"), ha="left",
             va="center", fontsize=fs * 1.55, fontweight="bold", color=colors["text"])  # fmt: skip
    legend = "  ".join(f"{c.number} {c.name}" for c in content.crossings)
    caption = flags.caption or content.caption
    lines = []
    if legend:
        lines.append(textwrap.shorten(legend, int(width / (fs * 0.62)), placeholder="…"))
    if caption and height >= 300:
        lines.append(textwrap.shorten(caption, int(width / (fs * 0.62)), placeholder="…"))
    fig.text(0.02, footer * 0.62, "\n".join(lines), ha="left", va="center",
             fontsize=fs * 0.78, color=colors["muted"], linespacing=1.3)  # fmt: skip
    fig.text(0.98, footer * 0.18, "Data © OpenStreetMap contributors (ODbL), GeoNames (CC BY 4.0)"
             " · Frontier Atlas", ha="right", va="center", fontsize=fs * 0.7,
             color=colors["muted"])  # fmt: skip
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi, facecolor=colors["bg"],
                metadata={"Software": "Frontier Atlas (matplotlib)"})  # fmt: skip
    return out.getvalue()
