"""Embedding: the copy-paste iframe snippet with its resize script, and oEmbed 1.0 documents.

The map page posts its height to the parent in three forms (pym.js string
messages, AMP ``embed-size`` and ``frontier-atlas:height``); the snippet's
script listens for them and sets the iframe height. Without the script (a CMS
that strips scripts) the iframe keeps its fixed, phone-friendly height.
"""

from __future__ import annotations

import hashlib
import html
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


def snippet(url: str, title: str, height: int = DEFAULT_HEIGHT) -> str:
    """The iframe (responsive, titled, allowfullscreen, lazy) and its resize script.

    *height* is the HTML attribute (for browsers without CSS ``max()``); the style's
    height follows the width (``NO_SCRIPT_HEIGHT_CSS``) until the script sets it.
    """
    fid = embed_id(url)
    # pym.js children read childId from their URL: the page then also speaks pym's protocol.
    src = f"{url}{'&' if '?' in url else '?'}childId={fid}"
    return (
        f'<iframe id="{fid}" src="{html.escape(src)}" title="{html.escape(title)}" '
        f'width="100%" height="{int(height)}" style="width:100%;height:{NO_SCRIPT_HEIGHT_CSS};'
        f'border:0;display:block;max-width:100%" loading="lazy" allowfullscreen '
        f'referrerpolicy="strict-origin-when-cross-origin" scrolling="no"></iframe>\n'
        f"<script>{RESIZE_SCRIPT % {'id': fid}}</script>"
    )


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
