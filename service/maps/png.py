"""Server-rendered static maps, PNG or SVG (matplotlib + geopandas, Agg backend; no browser).

Draws the same ``MapContent`` as the HTML page in the ETRS89 Lambert
azimuthal equal-area projection (EPSG:3035, metres): countries, borders,
checkpoints by status with their uncertainty circles and stable numbers,
place and checkpoint labels placed without overlaps, a legend, a scale bar,
the title, a wrapped caption and the data attribution, all in the map's language.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Callable

import geopandas as gpd
import matplotlib
import numpy as np
import shapely

matplotlib.use("Agg")  # before pyplot-free imports that may pick a GUI backend
from matplotlib import patheffects  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Circle, Patch  # noqa: E402
from matplotlib.text import Annotation, Text  # noqa: E402
from pyproj import Transformer  # noqa: E402
from shapely.geometry import Polygon, box  # noqa: E402

from service.maps.content import UI, MapContent, credit_as_of, label_points  # noqa: E402
from service.maps.context_layers import RIVER_WEIGHTS, ContextView  # noqa: E402
from service.maps.flags import MapFlags  # noqa: E402
from service.maps.labels import part_label_points  # noqa: E402
from service.maps.strings import credit_label, format_date  # noqa: E402

#: A layer with nothing inside the view is expected (layers are cut to it): not worth a warning.
warnings.filterwarnings("ignore", message="The GeoSeries you are attempting to plot is",
                        category=UserWarning)  # fmt: skip

CRS = "EPSG:3035"
_TO_LAEA = Transformer.from_crs("OGC:CRS84", CRS, always_xy=True)
_FROM_LAEA = Transformer.from_crs(CRS, "OGC:CRS84", always_xy=True)
matplotlib.rcParams["svg.fonttype"] = "none"  # SVG text stays editable text

PALETTES = {
    "light": {
        "bg": "#ffffff", "water": "#cfe0ec", "land": "#e3e0d8", "land_edge": "#b9b4a8",
        "focus_land": "#f6f2e8", "by": "#fffdf7", "border": "#6b6f77", "focus": "#c21a1a",
        "casing": "#ffffff", "text": "#1d1d1f", "muted": "#50545b", "halo": "#ffffff",
        "country": "#5f584d", "link": "#1d4ed8", "river": "#8fb4cf", "region": "#8f897c",
        "open": "#c21a1a", "restricted": "#b45309", "closed": "#4b5563",
    },
    "dark": {
        "bg": "#16181c", "water": "#0f1a24", "land": "#23262c", "land_edge": "#3a3e46",
        "focus_land": "#2c3038", "by": "#3a3f48", "border": "#8d939c", "focus": "#ff6b5e",
        "casing": "#16181c", "text": "#eceef1", "muted": "#a4a9b2", "halo": "#16181c",
        "country": "#a4a9b2", "link": "#7aa7ff", "river": "#2c4a63", "region": "#4a4f58",
        "open": "#ff6b5e", "restricted": "#f59e0b", "closed": "#9ca3af",
    },
}  # fmt: skip


#: Where a label may go when neither side of its point is free (offsets in label gaps):
#: above, below, then the diagonals.
_LABEL_SPOTS = ((0, 1), (0, -1), (0.8, 0.8), (0.8, -0.8), (-0.8, 0.8), (-0.8, -0.8))


#: The data credit under every image, by language.
DATA_CREDIT = {
    "en": "Data © OpenStreetMap contributors (ODbL), GeoNames (CC BY 4.0)",
    "ru": "Данные © участники OpenStreetMap (ODbL), GeoNames (CC BY 4.0)",
    "be": "Даныя © удзельнікі OpenStreetMap (ODbL), GeoNames (CC BY 4.0)",
}


def _text_px(renderer, text: str, pt: float, weight: str = "normal") -> float:
    """The width in pixels of *text* drawn at *pt* points."""
    props = FontProperties(size=pt, weight=weight)
    return renderer.get_text_width_height_descent(text, props, ismath=False)[0]



def _drop_partial(lines: list[str], start: int, phrase: str) -> int:
    """Remove the first words of *phrase* that end ``lines[start:]`` (a caption whose
    closing "Data as of …" was cut part-way: the credit says it whole instead); the number
    of lines that went."""
    words = phrase.split(" ")
    text = " ".join(lines[start:])
    cut = next((n for n in range(len(words) - 1, 0, -1)
                if text == " ".join(words[:n]) or text.endswith(" " + " ".join(words[:n]))),
               0)  # fmt: skip
    before = len(lines)
    while cut and len(lines) > start:
        parts = lines[-1].split(" ")
        taken = min(cut, len(parts))
        cut -= taken
        if taken < len(parts):
            lines[-1] = " ".join(parts[:-taken])
        else:
            lines.pop()
    return before - len(lines)


def _wrap(renderer, text: str, pt: float, max_px: float, weight: str = "normal",
          sep: str = " ") -> list[str]:  # fmt: skip
    """*text* in lines no wider than *max_px*, broken at *sep* (a word longer than a line
    gets a line of its own)."""
    lines: list[str] = []
    line = ""
    for word in text.split(sep):
        candidate = f"{line}{sep}{word}" if line else word
        if line and _text_px(renderer, candidate, pt, weight) > max_px:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def _nice_length_km(max_km: float) -> float:
    """The largest 1-2-5 × 10^n kilometre length not above *max_km*."""
    exponent = math.floor(math.log10(max_km))
    for step in (5, 2, 1):
        value = step * 10**exponent
        if value <= max_km:
            return float(value)
    return float(10**exponent)


def _fit_inside(view: tuple[float, float, float, float], limit: Polygon
                ) -> tuple[float, float, float, float]:  # fmt: skip
    """Shrink (and, if need be, move) the view box until it lies inside *limit* (metres)."""
    x0, y0, x1, y1 = view
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    inner = limit.buffer(-1)
    for _ in range(40):
        candidate = box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if inner.contains(candidate):
            break
        centre = inner.centroid
        cx, cy = cx + (centre.x - cx) * 0.1, cy + (centre.y - cy) * 0.1
        w, h = w * 0.95, h * 0.95
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def render_png(content: MapContent, flags: MapFlags, width: int, height: int) -> bytes:
    """A PNG of *width* × *height* pixels."""
    return render_image(content, flags, width, height, "png")


def render_image(content: MapContent, flags: MapFlags, width: int, height: int,
                 fmt: str = "png") -> bytes:  # fmt: skip
    """The map as a *width* × *height* pixel PNG, or an SVG of that size (``fmt="svg"``)."""
    ui = UI[content.lang]
    colors = PALETTES["dark" if flags.dark == "true" else "light"]
    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor=colors["bg"])
    canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    scale = max(min(width, height * 1.6) / 1000, 0.55)  # font scale; readable when small
    fs = max(8.0, 11 * scale)
    title = flags.title or content.title
    caption = flags.caption or content.caption
    # Text above and below the map, wrapped (never truncated) to the image's width, as
    # measured in the font that draws it.
    text_px = width * 0.96

    def wrap(text: str, pt: float, weight: str = "normal", sep: str = " ") -> list[str]:
        return _wrap(renderer, text, pt, text_px, weight, sep)

    title_lines = wrap(title, fs * 1.55, "bold") or [""]
    legend_items = [(cls, text) for cls, text in content.legend]
    # The key: one "number name" entry never splits across lines.
    key = "   ".join(f"{c.number}\u00a0{c.name.replace(' ', chr(0xa0))}" for c in
                     sorted(content.crossings, key=lambda c: c.number or 0))  # fmt: skip
    foot_lines = wrap(key, fs * 0.8, sep="   ") if key else []
    key_lines = len(foot_lines)
    if caption and height >= 300:
        foot_lines += wrap(caption, fs * 0.8)
    texts = content.spec.texts
    credit_line = ""
    if texts is not None:  # a saved map's source line and byline, after its caption
        credit_line = " · ".join(credit_label(word, text) for word, text in
                                 ((ui["source"], texts.source), (ui["by"], texts.byline)) if text)
        foot_lines += wrap(credit_line, fs * 0.8)
    credit = DATA_CREDIT.get(content.lang, DATA_CREDIT["en"])
    if content.context is not None:
        credit += "; " + ui["context_credit"]
    # "Data as of …" once: in the credit unless the caption drawn says it.
    as_of = (ui["as_of"].format(date=format_date(content.data_as_of, content.lang))
             if content.data_as_of else "")
    said = bool(as_of) and not credit_as_of(content, caption) and height >= 300

    def credit_wrapped(with_as_of: bool) -> list[str]:
        return wrap((as_of + " · " if with_as_of else "") + credit + " · Frontier Atlas",
                    fs * 0.7)

    credit_lines = credit_wrapped(bool(as_of) and not said)
    dek = texts.dek if texts is not None else ""
    dek_lines = wrap(dek, fs * 0.95) if dek else []
    line_px = fs * 0.8 * 1.45 * dpi / 72
    head_px = len(title_lines) * fs * 1.55 * 1.3 * dpi / 72 + 14
    title_px = head_px - 10
    head_px += len(dek_lines) * fs * 0.95 * 1.3 * dpi / 72
    # Legend columns as wide as its longest entry (symbol and gaps included).
    entry_px = max((_text_px(renderer, t, fs * 0.78) for _, t in legend_items), default=0)
    entry_px += fs * 0.78 * (1.6 + 0.8 + 1.2) * dpi / 72
    legend_cols = max(1, min(len(legend_items), int(text_px // max(entry_px, 1))))
    legend_rows = math.ceil(len(legend_items) / legend_cols) if legend_items else 0
    credit_px = len(credit_lines) * fs * 0.7 * 1.35 * dpi / 72 + 10
    foot_px = (len(foot_lines) + legend_rows) * line_px + credit_px + 8
    # The map keeps at least half the image: drop caption lines if the text does not fit
    # (never the key's: every crossing drawn stays identifiable).
    while head_px + foot_px > height * 0.5 and len(foot_lines) > key_lines:
        foot_lines.pop()
        foot_px -= line_px
        if said and as_of not in " ".join(foot_lines[key_lines:]):
            said = False  # its caption line went: the credit says it after all
            foot_px -= line_px * _drop_partial(foot_lines, key_lines, as_of)
            more = credit_wrapped(True)
            foot_px += (len(more) - len(credit_lines)) * fs * 0.7 * 1.35 * dpi / 72
            credit_lines = more
    header, footer = head_px / height, foot_px / height
    ax = fig.add_axes((0.0, footer, 1.0, 1.0 - header - footer))
    ax.set_axis_off()
    fig.patches.append(
        matplotlib.patches.Rectangle((0, footer), 1, 1 - header - footer, transform=fig.transFigure,
                                     color=colors["water"], zorder=-1)  # fmt: skip
    )

    # View: the content bounds, padded, at the axes' aspect ratio, inside the basemap.
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
    view = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    lim = content.image_limit or content.view_limit
    if lim is not None:
        # Land is land: the view may not reach past the land drawn (the lon/lat
        # window is a curved trapezoid in this projection).
        edge = [(lim.west + (lim.east - lim.west) * i / 40, lim.south) for i in range(41)]
        edge += [(lim.east, lim.south + (lim.north - lim.south) * i / 40) for i in range(41)]
        edge += [(lim.east - (lim.east - lim.west) * i / 40, lim.north) for i in range(41)]
        edge += [(lim.west, lim.north - (lim.north - lim.south) * i / 40) for i in range(41)]
        px, py = _TO_LAEA.transform([p[0] for p in edge], [p[1] for p in edge])
        view = _fit_inside(view, Polygon(zip(px, py, strict=True)))
    # Geometry is drawn cut to just beyond the view and simplified below what a pixel
    # shows (0.4 px): the SVG carries no invisible vertices, the PNG renders faster.
    margin_x, margin_y = (view[2] - view[0]) * 0.02, (view[3] - view[1]) * 0.02
    window = (view[0] - margin_x, view[1] - margin_y, view[2] + margin_x, view[3] + margin_y)
    detail = 0.4 * (view[2] - view[0]) / box_w

    def fitted(frame):
        frame = frame.to_crs(CRS)
        shapes = shapely.simplify(shapely.clip_by_rect(np.asarray(frame.geometry.values),
                                                       *window), detail)  # fmt: skip
        series = gpd.GeoSeries(shapes, index=frame.index, crs=CRS)
        return frame.set_geometry(series) if isinstance(frame, gpd.GeoDataFrame) else series

    # Land: Natural Earth beyond our data, then our countries, filled without outlines;
    # the outlines come as lines without the straight edges where either is cut off.
    if content.underlay:
        beyond = fitted(gpd.GeoDataFrame(
            {"focus": [u[2] for u in content.underlay]},
            geometry=[u[1] for u in content.underlay], crs="OGC:CRS84",
        ))  # fmt: skip
        beyond.plot(ax=ax, color=[colors["focus_land"] if f else colors["land"]
                                  for f in beyond["focus"]], linewidth=0, zorder=0.9)  # fmt: skip
    countries = fitted(gpd.GeoDataFrame(
        {"id": [c[0] for c in content.countries], "focus": [c[3] for c in content.countries]},
        geometry=[c[2] for c in content.countries], crs="OGC:CRS84",
    ))  # fmt: skip
    fills = [colors["by"] if cid == "BY" else colors["focus_land"] if focus else colors["land"]
             for cid, focus in zip(countries["id"], countries["focus"], strict=True)]  # fmt: skip
    edges = content.edges_of() if content.edges_of is not None else None
    if edges is not None:
        countries.plot(ax=ax, color=fills, linewidth=0, zorder=1)
        if not edges.is_empty:
            fitted(gpd.GeoSeries([edges], crs="OGC:CRS84")).plot(
                ax=ax, color=colors["land_edge"], linewidth=0.6, zorder=1.1)
    else:
        countries.plot(ax=ax, color=fills, edgecolor=colors["land_edge"], linewidth=0.6, zorder=1)

    if content.context is not None:
        _draw_context(ax, content.context, colors, scale, fitted)

    borders = fitted(gpd.GeoDataFrame(
        {"focus": [b[3] for b in content.borders]},
        geometry=[b[2] for b in content.borders], crs="OGC:CRS84",
    ))  # fmt: skip
    lw = max(1.0, 2.2 * scale)
    other, focus = borders[~borders["focus"]], borders[borders["focus"]]
    if len(other):
        other.plot(ax=ax, color=colors["casing"], linewidth=lw * 1.8, zorder=2)
        other.plot(ax=ax, color=colors["border"], linewidth=lw * 0.7, zorder=3)
    if len(focus):
        focus.plot(ax=ax, color=colors["casing"], linewidth=lw * 2.6, zorder=4)
        focus.plot(ax=ax, color=colors["focus"], linewidth=lw * 1.3, zorder=5)
    if content.links:
        links = fitted(gpd.GeoSeries([g for g, _ in content.links], crs="OGC:CRS84"))
        links.plot(ax=ax, color=colors["link"], linewidth=lw * 0.8, linestyle=(0, (4, 3)), zorder=6)

    ax.set_xlim(view[0], view[2])
    ax.set_ylim(view[1], view[3])
    ax.set_aspect("equal")
    w, h = view[2] - view[0], view[3] - view[1]
    cx, cy = (view[0] + view[2]) / 2, (view[1] + view[3]) / 2
    m_per_px = w / box_w

    halo = [patheffects.withStroke(linewidth=3 * scale + 1.5, foreground=colors["halo"])]
    taken: list = []  # display-space boxes of what is drawn: labels may not cover them

    def free(bbox) -> bool:
        axbox = ax.get_window_extent(renderer)
        inside = (bbox.x0 >= axbox.x0 + 2 and bbox.x1 <= axbox.x1 - 2 and
                  bbox.y0 >= axbox.y0 + 2 and bbox.y1 <= axbox.y1 - 2)  # fmt: skip
        return inside and not any(bbox.overlaps(t) for t in taken)

    def mark(x: float, y: float, r_px: float) -> None:
        dx, dy = ax.transData.transform((x, y))
        taken.append(matplotlib.transforms.Bbox([[dx - r_px, dy - r_px], [dx + r_px, dy + r_px]]))

    # Scale bar: about a fifth of the map width (EPSG:3035 metres are true near the centre),
    # drawn first so that no label covers it.
    km = _nice_length_km(w / 1000 / 5)
    sx = cx - w / 2 + w * 0.03
    sy = cy - h / 2 + h * 0.05
    bar = ax.plot([sx, sx + km * 1000], [sy, sy], color=colors["text"],
                  linewidth=2.5 * scale + 0.5, solid_capstyle="butt", zorder=12,
                  path_effects=halo)[0]  # fmt: skip
    bar_text = ax.text(sx + km * 1000 / 2, sy + h * 0.015, f"{km:g} {ui['scale_km']}",
                       ha="center", va="bottom", fontsize=fs * 0.85, color=colors["text"],
                       path_effects=halo, zorder=12)  # fmt: skip
    taken.extend([bar.get_window_extent(renderer).expanded(1.1, 3),
                  bar_text.get_window_extent(renderer)])
    # The view as a lon/lat polygon, for placing country names inside it.
    vx = [view[0] + w * i / 8 for i in range(9)]
    vy = [view[1] + h * i / 8 for i in range(9)]
    ring = ([(x, view[1]) for x in vx] + [(view[2], y) for y in vy] +
            [(x, view[3]) for x in vx[::-1]] + [(view[0], y) for y in vy[::-1]])  # fmt: skip
    lons, lats = _FROM_LAEA.transform([p[0] for p in ring], [p[1] for p in ring])
    view_ll = Polygon(zip(lons, lats, strict=True)).buffer(0)

    # Points first (their boxes are reserved), then labels in order of importance.
    num_size = fs * 1.6
    for c in content.crossings:
        x, y = _TO_LAEA.transform(c.lon, c.lat)
        col = colors.get(c.status or "open", colors["open"])
        if c.precision_m and c.precision_m / m_per_px > num_size * 0.6:
            ax.add_patch(Circle((x, y), c.precision_m, facecolor=col, alpha=0.16, edgecolor=col,
                                linewidth=0.8, linestyle=(0, (3, 2)), zorder=6.5))  # fmt: skip
        mark(x, y, num_size * 0.7)
    for p in content.places:
        x, y = _TO_LAEA.transform(p.lon, p.lat)
        size = (7 if p.kind in ("capital", "city") else 5) * scale + 2
        ax.plot(x, y, "s" if p.kind == "capital" else "o",
                color=colors["link"] if p.focus else colors["text"], markersize=size,
                markeredgecolor=colors["halo"], markeredgewidth=1, zorder=8)  # fmt: skip
        mark(x, y, size * 0.8)
    # Badges that would overlap move apart, joined to their true position by a leader line.
    badges = []
    for c in sorted(content.crossings, key=lambda c: c.number or 0):
        x, y = _TO_LAEA.transform(c.lon, c.lat)
        dx, dy = ax.transData.transform((x, y))
        r = num_size * 0.75
        best = (dx, dy)
        offsets = [(0, 0), (0, 1), (1, 0), (0, -1), (-1, 0),
                   (0.7, 0.7), (0.7, -0.7), (-0.7, -0.7), (-0.7, 0.7)]
        for k, (ox, oy) in enumerate(offsets):
            tx, ty = dx + ox * r * 2.4, dy + oy * r * 2.4
            if all(math.hypot(tx - bx, ty - by) >= 2 * r for bx, by in badges) or k == 8:
                best = (tx, ty)
                break
        badges.append(best)
        bx, by = ax.transData.inverted().transform(best)
        col = colors.get(c.status or "open", colors["open"])
        if best != (dx, dy):
            ax.plot([x, bx], [y, by], color=colors["text"], linewidth=0.8, zorder=9.5)
            ax.plot(x, y, "o", color=col, markersize=3, zorder=9.6)
        hollow = c.status == "closed"
        ax.plot(bx, by, "o", color=colors["bg"] if hollow else col, markersize=num_size,
                markeredgecolor=col if hollow else colors["casing"],
                markeredgewidth=2 if hollow else 1.5, zorder=10)  # fmt: skip
        ax.text(bx, by, str(c.number), color=col if hollow else "#ffffff", fontsize=fs * 0.8,
                fontweight="bold", ha="center", va="center", zorder=11)  # fmt: skip
        taken.append(matplotlib.transforms.Bbox([[best[0] - r, best[1] - r],
                                                 [best[0] + r, best[1] + r]]))  # fmt: skip

    _draw_annotations(ax, content, colors, fs, scale, taken)

    if flags.labels:
        items = [(p.rank if not p.focus else 1e12, p, False) for p in content.places]
        items += [(0.5 - (c.number or 0) / 1000, c, True) for c in content.crossings]
        items.sort(key=lambda t: -t[0])
        ordered = sorted(content.crossings, key=lambda c: c.number or 0)
        for _, p, is_crossing in items:
            x, y = _TO_LAEA.transform(p.lon, p.lat)
            if is_crossing:
                x, y = ax.transData.inverted().transform(badges[ordered.index(p)])
                gap = num_size * 0.75 + 3
            else:
                gap = (7 if p.kind in ("capital", "city") else 5) * scale + 4
            first = (1, 0) if p.label_side == "right" else (-1, 0)
            for ox, oy in (first, (-first[0], 0), *_LABEL_SPOTS):
                text = ax.annotate(
                    p.name, (x, y), xytext=(ox * gap, oy * gap * 0.75),
                    textcoords="offset points",
                    ha="left" if ox > 0 else "right" if ox < 0 else "center",
                    va="bottom" if oy > 0 else "top" if oy < 0 else "center",
                    fontsize=fs * (1.1 if p.focus else 0.95 if is_crossing else 1),
                    fontweight="bold", color=colors["text"], path_effects=halo, zorder=12)
                bbox = text.get_window_extent(renderer)
                if free(bbox):
                    taken.append(bbox)
                    break
                text.remove()

    # Each country once on its largest part, then again on its other parts big enough to
    # read a name on (Kaliningrad for Russia), each at the first of its spots that is free.
    named = [(name, label_points(geom, view_ll)) for _a2, name, geom, _ in content.countries]
    named += [(name, [spot]) for _a2, name, geom, _ in content.countries
              for spot in part_label_points(geom, view_ll)]  # fmt: skip
    for name, spots in named:
        for lon, lat in spots:
            x, y = _TO_LAEA.transform(lon, lat)
            text = ax.text(x, y, name.upper(), fontsize=fs * 0.95, color=colors["country"],
                           ha="center", va="center", fontweight="bold", zorder=7,
                           path_effects=halo)  # fmt: skip
            bbox = text.get_window_extent(renderer)
            if free(bbox):
                taken.append(bbox)
                break
            text.remove()

    fig.text(0.02, 1 - 7 / height, "\n".join(title_lines), ha="left", va="top",
             fontsize=fs * 1.55, fontweight="bold", color=colors["text"],
             linespacing=1.15, parse_math=False)  # fmt: skip
    if dek_lines:
        fig.text(0.02, 1 - title_px / height, "\n".join(dek_lines), ha="left", va="top",
                 fontsize=fs * 0.95, color=colors["muted"], linespacing=1.15,
                 parse_math=False)  # fmt: skip
    if legend_items:
        handles = []
        for cls, text in legend_items:
            handles.append(_legend_handle(cls, text, colors, lw))
        anchor = (0.01, footer - legend_rows * line_px / height * 1.1)
        fig.legend(handles=handles, loc="lower left", bbox_to_anchor=anchor,
                   ncols=legend_cols, frameon=False, fontsize=fs * 0.78, handlelength=1.6,
                   columnspacing=1.2, labelcolor=colors["text"], borderaxespad=0)  # fmt: skip
    if foot_lines:
        fig.text(0.02, footer - (legend_rows + 0.2) * line_px / height, "\n".join(foot_lines),
                 ha="left", va="top", fontsize=fs * 0.8, color=colors["muted"],
                 linespacing=1.3, parse_math=False)  # fmt: skip
    fig.text(0.98, 5 / height, "\n".join(credit_lines), ha="right", va="bottom",
             fontsize=fs * 0.7, color=colors["muted"], linespacing=1.25,
             parse_math=False)  # fmt: skip
    out = io.BytesIO()
    if fmt == "svg":
        fig.savefig(out, format="svg", facecolor=colors["bg"],
                    metadata={"Creator": "Frontier Atlas (matplotlib)",
                              "Title": title})  # fmt: skip
        return _compact_svg(out.getvalue())
    else:
        fig.savefig(out, format="png", dpi=dpi, facecolor=colors["bg"],
                    metadata={"Software": "Frontier Atlas (matplotlib)"})  # fmt: skip
    return out.getvalue()


_PATH_DATA = re.compile(rb'(?<= d=")[^"]*')
_NUMBER = re.compile(rb"-?\d+\.\d+")


def _compact_svg(svg: bytes) -> bytes:
    """matplotlib's SVG with its path data written to a tenth of a point (an SVG point is
    a pixel here) on one line: about half the bytes, the same drawing."""

    def compact(path: re.Match[bytes]) -> bytes:
        data = _NUMBER.sub(lambda n: b"%.1f" % float(n.group()), path.group())
        return b" ".join(data.split())

    return _PATH_DATA.sub(compact, svg)


def _draw_context(ax, view: ContextView, colors: dict[str, str], scale: float,
                  fitted: Callable[[gpd.GeoSeries], gpd.GeoSeries]) -> None:  # fmt: skip
    """Regions (dotted lines), lakes and rivers, over the land and under the borders;
    *fitted* projects a layer and fits it to the view."""
    if view.lakes is not None:
        fitted(gpd.GeoSeries([view.lakes], crs="OGC:CRS84")).plot(
            ax=ax, color=colors["water"], edgecolor=colors["river"], linewidth=0.3, zorder=1.3)
    for level, lines in view.rivers:
        fitted(gpd.GeoSeries([lines], crs="OGC:CRS84")).plot(
            ax=ax, color=colors["river"], linewidth=RIVER_WEIGHTS[level] * 0.75 * max(scale, 0.8),
            zorder=1.4)  # fmt: skip
    if view.regions is not None:
        fitted(gpd.GeoSeries([view.regions], crs="OGC:CRS84")).plot(
            ax=ax, color=colors["region"], linewidth=0.7, linestyle=(0, (2, 2)), zorder=1.5)


def _draw_annotations(ax, content: MapContent, colors: dict[str, str], fs: float, scale: float,
                      taken: list) -> None:  # fmt: skip
    """The journalist's own marks: labels, markers (their text; the note is the page's
    popup), lines and arrows. User text: drawn as plain text, never as mathtext."""
    col = colors["link"]
    # A box behind the text, not a stroked halo: a halo turns SVG text into paths, and
    # a graphics desk edits these texts.
    box = {"boxstyle": "round,pad=0.2", "facecolor": colors["halo"], "edgecolor": "none",
           "alpha": 0.85}
    for a in content.annotations:
        xy = [_TO_LAEA.transform(lon, lat) for lon, lat in a.points]
        if a.kind == "line" and len(xy) == 2:
            (x0, y0), (x1, y1) = xy
            style = "-|>" if a.arrow else "-"
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=13,
                        arrowprops={"arrowstyle": style, "color": col, "linewidth": 2 * scale + 0.6,
                                    "mutation_scale": 14 * scale + 6, "shrinkA": 0,
                                    "shrinkB": 0})  # fmt: skip
            if a.text:
                text = ax.text((x0 + x1) / 2, (y0 + y1) / 2, a.text, ha="center", va="center",
                               fontsize=fs * 0.95, fontweight="bold", color=col, zorder=14,
                               bbox=box, parse_math=False)  # fmt: skip
                taken.append(text.get_window_extent())
            continue
        x, y = xy[0]
        if a.kind == "marker":
            ax.plot(x, y, "v", color=col, markersize=9 * scale + 4, markeredgecolor=colors["halo"],
                    markeredgewidth=1.2, zorder=13)  # fmt: skip
            text = ax.annotate(a.text, (x, y), xytext=(8 * scale + 6, 4),
                               textcoords="offset points",
                               ha="left", va="bottom", fontsize=fs, fontweight="bold", color=col,
                               bbox=box, zorder=14, parse_math=False)  # fmt: skip
        else:
            text = _place_note(ax, a.text, (x, y), fs * 1.05, col, box, taken)
        taken.append(_text_box(text))


def _text_box(artist: Text):
    """The display box of a text or annotation's text (not of its leader line, which may
    cross dots)."""
    renderer = artist.figure.canvas.get_renderer()
    if isinstance(artist, Annotation):
        artist.update_positions(renderer)
    return Text.get_window_extent(artist, renderer)


#: Where a label annotation may go, in gaps from its point: on it, beside it, then
#: further off (joined to the point by a leader line).
_NOTE_SPOTS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (0, 2.5), (0, -2.5), (2.5, 0), (-2.5, 0))


def _place_note(ax, text: str, xy: tuple[float, float], size: float, col: str, box: dict,
                taken: list):  # fmt: skip
    """A label annotation at the first of ``_NOTE_SPOTS`` where it covers no dot, badge,
    label or other note and stays inside the map (as on the page): a label put on a town
    no longer hides the town. Where nothing is free, it stays on its point."""
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    gap = size * 0.9  # points
    for ox, oy in _NOTE_SPOTS:
        far = max(abs(ox), abs(oy)) > 1
        artist = ax.annotate(
            text, xy, xytext=(ox * gap, oy * gap), textcoords="offset points",
            ha="center" if ox == 0 else "left" if ox > 0 else "right",
            va="center" if oy == 0 else "bottom" if oy > 0 else "top",
            fontsize=size, fontweight="bold", color=col, bbox=box, zorder=14, parse_math=False,
            arrowprops={"arrowstyle": "-", "color": col, "linewidth": 0.9, "shrinkA": 0,
                        "shrinkB": 3} if far else None,
        )  # fmt: skip
        bbox = _text_box(artist)
        inside = (bbox.x0 >= frame.x0 + 2 and bbox.x1 <= frame.x1 - 2 and
                  bbox.y0 >= frame.y0 + 2 and bbox.y1 <= frame.y1 - 2)  # fmt: skip
        if inside and not any(bbox.overlaps(t) for t in taken):
            return artist
        artist.remove()
    return ax.text(*xy, text, ha="center", va="center", fontsize=size, fontweight="bold",
                   color=col, bbox=box, zorder=14, parse_math=False)  # fmt: skip


def _legend_handle(cls: str, text: str, colors: dict[str, str], lw: float):
    """A legend entry drawn like the map symbol the page's CSS class stands for."""
    if "fa-key-focus-border" in cls:
        return Line2D([], [], color=colors["focus"], linewidth=lw * 1.3, label=text)
    if "fa-key-border" in cls:
        return Line2D([], [], color=colors["border"], linewidth=lw * 0.7, label=text)
    for status in ("open", "restricted", "closed"):
        if f"fa-key-{status}" in cls:
            col = colors[status]
            return Line2D([], [], marker="o", linestyle="", markersize=8, label=text,
                          markerfacecolor=colors["bg"] if status == "closed" else col,
                          markeredgecolor=col, markeredgewidth=1.5)  # fmt: skip
    if "fa-key-halo" in cls:
        return Patch(facecolor=colors["open"], alpha=0.2, edgecolor=colors["open"], label=text)
    return Line2D([], [], marker="o", linestyle="", markersize=5, color=colors["text"], label=text)
