"""Embedding: the copy-paste iframe snippet with its resize script, and oEmbed 1.0 documents.

The map page posts its height to the parent in three forms (pym.js string
messages, AMP ``embed-size`` and ``frontier-atlas:height``); the snippet's
script listens for them and sets the iframe height. Without the script (a CMS
that strips scripts) the iframe keeps its fixed, phone-friendly height.
"""

from __future__ import annotations

import hashlib
import html
import math
from dataclasses import dataclass
from typing import Any

#: Default iframe height in pixels: title, a 420-px map, legend and caption on a phone.
DEFAULT_HEIGHT = 640
DEFAULT_WIDTH = 800

# Minified by hand; %(id)s is the iframe id. Accepts messages only from that iframe.
RESIZE_SCRIPT = (
    "(function(){var f=document.getElementById('%(id)s');if(!f)return;"
    "window.addEventListener('message',function(e){if(e.source!==f.contentWindow)return;"
    "var d=e.data,h=null;if(typeof d==='string'){var p=d.split('xPYMx');"
    "if(p.length===4&&p[2]==='height')h=p[3];}else if(d&&(d.type==='frontier-atlas:height'"
    "||(d.sentinel==='amp'&&d.type==='embed-size'))){h=d.height;}"
    "h=parseInt(h,10);if(h>0&&h<20000)f.style.height=h+'px';});})();"
)


def embed_id(url: str) -> str:
    """A stable element id for the iframe of *url*."""
    return "frontier-atlas-" + hashlib.sha256(url.encode()).hexdigest()[:10]


#: The iframe's height before (or without) the resize script, as CSS: tall enough to
#: show the map, its legend, key and caption at the common widths. Measured on the
#: frontier map (the longest key and dek): the caption ends at about 833 px at 320 px,
#: 809 at 375, 642 at 600, 726 at 768 and 824 from 1,024 px on (phones: a fixed 420-px
#: map and more lines of text; wider: a map 62 % as tall as it is wide, up to 620 px).
NO_SCRIPT_HEIGHT_CSS = "max(980px - 35vw, min(320px + 62vw, 900px))"


def snippet(url: str, title: str, height: int = DEFAULT_HEIGHT,
            height_css: str | None = None) -> str:  # fmt: skip
    """The iframe (responsive, titled, allowfullscreen, lazy) and its resize script.

    *height* is the HTML attribute (for browsers without CSS ``max()``); the style's
    height follows the width until the script sets it: *height_css* (``height_hint_css``,
    in ``cqw`` of a wrapping size container, that is of the iframe's own width) when
    given, else ``NO_SCRIPT_HEIGHT_CSS`` (viewport widths).
    """
    fid = embed_id(url)
    # pym.js children read childId from their URL: the page then also speaks pym's protocol.
    src = f"{url}{'&' if '?' in url else '?'}childId={fid}"
    iframe = (
        f'<iframe id="{fid}" src="{html.escape(src)}" title="{html.escape(title)}" '
        f'width="100%" height="{int(height)}" style="width:100%;'
        f'height:{html.escape(height_css or NO_SCRIPT_HEIGHT_CSS)};'
        f'border:0;display:block;max-width:100%" loading="lazy" allowfullscreen '
        f'referrerpolicy="strict-origin-when-cross-origin" scrolling="no"></iframe>'
    )
    if height_css:
        # A size container: cqw units in the iframe's height are its own width's.
        iframe = f'<div style="container-type:inline-size;width:100%">{iframe}</div>'
    return f"{iframe}\n<script>{RESIZE_SCRIPT % {'id': fid}}</script>"


# ---------------------------------------------------------------- height without script
#: Iframe widths (CSS px) the no-script height is worked out at; between two of them it
#: is interpolated, past the last it stays (the page is at most 1,040 + 28 px wide).
HINT_WIDTHS = (320, 375, 480, 600, 768, 1024, 1068)


@dataclass(frozen=True)
class PageText:
    """The text blocks a map page shows around its map, for estimating its height."""

    title: str
    dek: str = ""
    legend: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    caption: str = ""
    lines: int = 0  # one-line rows: "How this map was made", the list of places, …
    timeline_title: str = ""
    timeline: tuple[str, ...] = ()
    credit: str = ""


def map_height_px(width: float) -> float:
    """The map's height on the page at an iframe *width* (atlas.css ``.fa-map``)."""
    return min(max(320.0, 270 + 0.4 * width), 620.0)


def _lines(text: str, char_px: float, width: float) -> int:
    """Lines *text* takes at *width* pixels (generous: a whole word may wrap early)."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) * char_px / max(width - 2 * char_px, 40)))


def page_height_px(text: PageText, width: float) -> float:
    """A generous estimate of the page's height at an iframe *width* (CSS px): the map,
    plus every text block at atlas.css's sizes with average character widths a little
    wider than the usual sans-serif faces'."""
    phone = width <= 560
    inner = min(width - (16 if phone else 28), 1040)
    h = (14 if phone else 22) + map_height_px(width)
    h += _lines(text.title, 11.2 if phone else 12.6, inner) * (22 if phone else 25) + 4
    h += _lines(text.dek, 7.6, inner) * 21 + 8 if text.dek else 0
    if text.legend:  # flex-wrapped entries: symbol, gap and text each
        rows, used = 1, 0.0
        for entry in text.legend:
            w = len(entry) * 7.0 + 44
            if used and used + w > inner:
                rows, used = rows + 1, 0.0
            used += w
        h += rows * 22 + 8
    if text.key:  # one entry per line, in two columns from about 450 px
        cols = 2 if inner >= 450 else 1
        col_w = (inner - 16 * (cols - 1)) / cols - 24
        rows = [_lines(k, 7.0, col_w) for k in text.key]
        h += sum(sorted(rows, reverse=True)[: math.ceil(len(rows) / cols)]) * 22 + 8
    h += _lines(text.caption, 7.0, inner) * 19 + 8 if text.caption else 0
    h += text.lines * 26
    if text.timeline:
        h += 10 + _lines(text.timeline_title, 8.4, inner) * 21 + 4
        h += sum(_lines(t, 7.0, inner - 18) for t in text.timeline) * 19
    h += _lines(text.credit, 6.4, inner) * 17 + 16
    return h + 12


def height_hint_css(text: PageText) -> str:
    """The iframe height as CSS of its own width (``cqw``): the map's height plus the
    estimated height of the text around it, interpolated between ``HINT_WIDTHS`` (the
    text's height falls as the width grows: the largest of the lines through neighbouring
    points follows it from above). The map page fits its map to the height it is given, so
    a generous estimate costs a little blank space, never a cut caption."""
    points = [(w, page_height_px(text, w) - map_height_px(w)) for w in HINT_WIDTHS]
    lines = []
    for (w0, h0), (w1, h1) in zip(points, points[1:], strict=False):
        slope = (h1 - h0) / (w1 - w0)  # px per px of width; 1cqw is 1 % of the width
        lines.append(f"calc({h0 - slope * w0:.1f}px + {slope * 100:.3f}cqw)")
    widest, narrowest = points[-1][1], max(h for _, h in points)
    text_css = f"min(max({', '.join(lines)}, {widest:.0f}px), {narrowest:.0f}px)"
    return f"calc({text_css} + clamp(320px, calc(270px + 40cqw), 620px))"


def oembed_document(
    url: str,
    title: str,
    provider_url: str,
    thumbnail_url: str | None,
    maxwidth: int | None = None,
    maxheight: int | None = None,
) -> dict[str, Any]:
    """An oEmbed 1.0 ``rich`` response for the map at *url*."""
    width = min(DEFAULT_WIDTH, maxwidth) if maxwidth else DEFAULT_WIDTH
    height = min(DEFAULT_HEIGHT, maxheight) if maxheight else DEFAULT_HEIGHT
    doc: dict[str, Any] = {
        "version": "1.0",
        "type": "rich",
        "title": title,
        "provider_name": "Frontier Atlas",
        "provider_url": provider_url,
        "html": snippet(url, title, height),
        "width": width,
        "height": height,
        "cache_age": 86400,
    }
    if thumbnail_url:
        thumb_w = min(1200, width) if maxwidth else 1200
        thumb_h = round(thumb_w * 630 / 1200)
        doc.update(thumbnail_url=thumbnail_url, thumbnail_width=thumb_w, thumbnail_height=thumb_h)
    return doc
