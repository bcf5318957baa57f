"""A map's HTML page: the static assets it loads (or inlines), the JSON the browser
script draws from, and the Jinja template that puts content, flags and URLs together."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry

from service.domain.frontier import Frontier
from service.maps.basemap import STATIC_DIR, europe_outline, pad_bbox, round_coords  # noqa: F401 - re-used
from service.maps.context_layers import RIVER_WEIGHTS
from service.maps.flags import MapFlags
from service.maps.labels import PART_LABEL_SHARE, label_points, part_label_points
from service.maps.specs import Annotation, PageTexts
from service.maps.strings import (
    UI,
    border_name,
    credit_label,
    data_attribution_html,
    format_date,
)

if TYPE_CHECKING:
    from service.maps.content import MapContent, MapPoint

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Asset:
    """A vendored (or own) file under service/static/, served at /static/<path>."""

    path: str
    kind: str  # js | css

    def url(self, static_base: str) -> str:
        """Its URL; own assets carry a content hash so they can be cached for a year."""
        if self.path.startswith("vendor/"):
            return f"{static_base}{self.path}"
        return f"{static_base}{self.path}?v={file_hash(self.path)}"


ASSETS = (
    Asset("vendor/leaflet@1.9.4/leaflet.css", "css"),
    Asset("vendor/leaflet.fullscreen@3.0.2/Control.FullScreen.css", "css"),
    Asset("vendor/leaflet-minimap@3.6.1/Control.MiniMap.min.css", "css"),
    Asset("atlas.css", "css"),
    Asset("vendor/leaflet@1.9.4/leaflet.js", "js"),
    Asset("vendor/leaflet.fullscreen@3.0.2/Control.FullScreen.js", "js"),
    Asset("vendor/leaflet-minimap@3.6.1/Control.MiniMap.min.js", "js"),
    Asset("atlas.js", "js"),
)
#: The site icon every page links (service/static/favicon.svg; /favicon.ico is its raster).
ICON = Asset("favicon.svg", "icon")


@lru_cache(maxsize=64)
def file_hash(path: str) -> str:
    """First 10 hex digits of the sha256 of a static file."""
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]


def _data_uri(match: re.Match[str], folder: Path) -> str:
    target = (folder / match.group(2)).resolve()
    if not target.is_file() or STATIC_DIR not in target.parents:
        return match.group(0)
    mime = "image/svg+xml" if target.suffix == ".svg" else "image/png"
    data = base64.b64encode(target.read_bytes()).decode()
    return f"url(data:{mime};base64,{data})"


@lru_cache(maxsize=1)
def _icon_data_uri() -> str:
    """The site icon as a data: URI (read once), for pages that must work from disk."""
    svg = base64.b64encode((STATIC_DIR / ICON.path).read_bytes()).decode()
    return f"data:image/svg+xml;base64,{svg}"


@lru_cache(maxsize=16)
def inline_asset(path: str) -> str:
    """A static file's text for inlining; CSS images become data: URIs."""
    file = STATIC_DIR / path
    text = file.read_text(encoding="utf-8")
    if path.endswith(".css"):
        text = re.sub(r"url\((['\"]?)(?!data:|#)([^'\")]+)\1\)",
                      lambda m: _data_uri(m, file.parent), text)  # fmt: skip
        return text.replace("</style", "<\\/style")
    return text.replace("</script", "<\\/script")


@dataclass(frozen=True)
class TileSource:
    """A raster tile provider (URL template with {z}/{x}/{y}, optional {s} and {r})."""

    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 19


@dataclass(frozen=True)
class MapOptions:
    """Service-wide map settings (from Settings)."""

    tiles: dict[str, TileSource] = field(default_factory=dict)
    attribution_prefix: str = "Leaflet"
    attribution_prefix_url: str = "https://leafletjs.com"

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.tiles.items())), self.attribution_prefix,
                     self.attribution_prefix_url))  # fmt: skip


@dataclass(frozen=True)
class PageUrls:
    """Absolute URLs the page links to (or relative ones for a file from the CLI)."""

    page: str
    png: str | None
    oembed: str | None
    embed: str | None
    static_base: str
    home: str | None = None
    svg: str | None = None


def safe_json(value: Any) -> str:
    """JSON safe inside a <script> element and an HTML attribute."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("'", "\\u0027").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )  # fmt: skip


def geojson_feature(geom: BaseGeometry, props: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature of *geom* with *props*."""
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def _point_props(p: MapPoint) -> dict[str, Any]:
    props = {"id": p.id, "kind": p.kind, "name": p.name, "sub": p.sub,
             "rows": [list(r) for r in p.rows], "n": p.number, "side": p.label_side,
             "focus": p.focus, "ll": [round(p.lat, 5), round(p.lon, 5)],
             "rank": p.rank}  # fmt: skip
    if p.number:
        # crossings: the badge and the key name them, so places (regional centres,
        # capitals) keep their labels first; then the lower numbers
        props.update(status=p.status, prec=p.precision_m, rank=0.5 - p.number / 1000)
    return props


def annotation_json(a: Annotation) -> dict[str, Any]:
    """An annotation for the browser: points as [lat, lon] (texts set with textContent)."""
    return {"kind": a.kind, "ll": [[round(lat, 5), round(lon, 5)] for lon, lat in a.points],
            "text": a.text, "note": a.note, "arrow": a.arrow}  # fmt: skip


#: The UI strings the browser script needs.
BROWSER_UI = ("reset", "zoom_in", "zoom_out", "two_fingers", "scale_km", "scale_m",
              "inset_hide", "inset_show")  # fmt: skip


def _attribution(content: MapContent) -> str:
    """The data credit as HTML, with the context layers' credit when they are drawn."""
    credit = data_attribution_html(content.lang)
    if content.context is None:
        return credit
    return f"{credit}; {html.escape(UI[content.lang]['context_credit'])}"


def credit_as_of(content: MapContent, caption: str) -> str:
    """The credit line's "Data as of …", the day written for readers ("Data as of
    20 November 2025"): empty without a data date, or when *caption* already says it (a
    saved map's caption names the data its version is drawn from, in either form), so
    that the page and the image state it once."""
    if not content.data_as_of:
        return ""
    template = UI[content.lang]["as_of"]
    as_of = template.format(date=format_date(content.data_as_of, content.lang))
    said = (as_of, template.format(date=content.data_as_of))
    return "" if any(s in caption for s in said) else as_of


def _context_json(content: MapContent) -> dict[str, Any] | None:
    """Regions, lakes and rivers for the browser (drawn under the borders)."""
    view = content.context
    if view is None:
        return None
    return {
        "regions": geojson_feature(view.regions, {}) if view.regions is not None else None,
        "lakes": geojson_feature(round_coords(view.lakes, 3), {})
        if view.lakes is not None else None,
        "rivers": [geojson_feature(round_coords(g, 3),
                                   {"level": level, "weight": RIVER_WEIGHTS[level]})
                   for level, g in view.rivers],
    }  # fmt: skip


def browser_data(content: MapContent, flags: MapFlags, options: MapOptions) -> dict[str, Any]:
    """The JSON the browser script draws from."""
    prefix = ""
    if options.attribution_prefix:
        text = html.escape(options.attribution_prefix)
        url = html.escape(options.attribution_prefix_url)
        prefix = f'<a href="{url}" target="_blank" rel="noopener">{text}</a>' if url else text
    b = content.bounds
    return {
        "countries": [geojson_feature(g, {"id": a2, "name": name, "focus": focus})
                      for a2, name, g, focus in content.countries],
        "countryLabels": _country_labels(content),
        "borders": [geojson_feature(g, {"id": bid, "name": name, "focus": focus})
                    for bid, name, g, focus in content.borders],
        "links": [geojson_feature(g, {"label": text}) for g, text in content.links],
        "annotations": [annotation_json(a) for a in content.annotations],
        "places": [_point_props(p) for p in content.places],
        "crossings": [_point_props(c) for c in content.crossings],
        "bounds": [[b.south, b.west], [b.north, b.east]],
        "labels": flags.labels,
        "static": flags.static,
        "tiles": flags.tiles != "none",
        "prefix": prefix,
        # the in-map credit stays one line: the context layers are credited under the map
        "attribution": data_attribution_html(content.lang),
        "context": _context_json(content),
        "zoomHint": UI[content.lang]["zoom_hint"],
        "ui": {k: UI[content.lang][k] for k in BROWSER_UI},
        "viewLimit": ([[content.view_limit.south, content.view_limit.west],
                       [content.view_limit.north, content.view_limit.east]]
                      if content.view_limit else None),
    }  # fmt: skip


def _country_labels(content: MapContent) -> list[dict[str, Any]]:
    """Country names with a few spots each (best first): the page takes the first free one."""
    view = box(*pad_bbox(content.bounds, 0.02))
    wide = box(*pad_bbox(content.bounds, 0.5))
    out = []
    for a2, name, geom, _ in content.countries:
        spots = label_points(geom, view, most=5)
        if spots:
            lls = [[round(lat, 3), round(lon, 3)] for lon, lat in spots]
            out.append({"id": a2, "name": name, "ll": lls[0], "alt": lls[1:]})
            # Its other parts big enough to read a name on (Kaliningrad for Russia), in
            # a wider view: a page shows more than the content's bounds on a wide screen
            # (and hides a label that ends up outside the map).
            least = view.area * PART_LABEL_SHARE
            for n, (lon, lat) in enumerate(part_label_points(geom, wide, least), start=2):
                out.append({"id": f"{a2}-{n}", "name": name,
                            "ll": [round(lat, 3), round(lon, 3)], "alt": []})  # fmt: skip
    return out


_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_page(
    frontier: Frontier,
    content: MapContent,
    flags: MapFlags,
    options: MapOptions,
    urls: PageUrls,
    inline_assets: bool = False,
) -> str:
    """The complete HTML page (assets linked from urls.static_base, or inlined)."""
    # Imported here, not at the top: folium (and pandas under it) take about a
    # second to import, which the service's start-up should not pay.
    from service.maps.html import build_map

    m = build_map(frontier, content, flags, options)
    figure = m.get_root()
    for child in figure._children.values():
        child.render()
    title = flags.title or content.title
    caption = flags.caption or content.caption
    theme = {"true": "dark", "false": "light"}.get(flags.dark, "auto")
    assets: list[dict[str, str]] = []
    for asset in ASSETS:
        if inline_assets:
            assets.append({"kind": asset.kind, "inline": Markup(inline_asset(asset.path))})
        else:
            assets.append({"kind": asset.kind, "url": asset.url(urls.static_base)})
    # A file that works from disk makes no request for the icon either.
    icon = _icon_data_uri() if inline_assets else ICON.url(urls.static_base)
    places = [{"n": None, "name": p.name, "sub": p.sub, "detail": p.rows[-2][1]}
              for p in content.places]  # fmt: skip
    items = places + [{"n": c.number, "name": c.name, "sub": c.sub, "detail": c.rows[0][1]}
                      for c in content.crossings]  # fmt: skip
    notes = [(a.text, a.note) for a in content.annotations if a.kind != "line" or a.text]
    ui = UI[content.lang]
    texts = content.spec.texts or PageTexts()
    focus = content.spec.focus
    timeline_title = ""
    if content.events and focus in frontier.borders:
        timeline_title = ui["timeline"].format(name=border_name(frontier, focus, content.lang))
    return _ENV.get_template("map_page.html").render(
        lang=content.lang,
        theme=theme,
        static=flags.static,
        title=title,
        dek=texts.dek or (content.dek if not flags.caption else ""),
        source=credit_label(ui["source"], texts.source) if texts.source else "",
        byline=credit_label(ui["by"], texts.byline) if texts.byline else "",
        caption=caption,
        alt=content.alt,
        legend=content.legend,
        sources=content.sources,
        own_caption=bool(flags.caption),
        method=content.method,
        key=sorted(content.crossings, key=lambda c: c.number or 0),
        places=places,
        events=content.events,
        timeline_title=timeline_title,
        as_of=credit_as_of(content, caption),
        items=items,
        notes=notes,
        ui=UI[content.lang],
        urls=urls,
        assets=assets,
        icon=icon,
        map_html=Markup(figure.html.render()),
        map_script=Markup(figure.script.render()),
        attribution=Markup(_attribution(content)),
        description=(caption or content.alt)[:300],
    )
