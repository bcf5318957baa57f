"""What a map shows, resolved: ``resolve`` turns a ``MapSpec`` (service.maps.specs) into
``MapContent`` (simplified geometries, labels, popups, legend, captions, in one language),
which the HTML page (service.maps.page) and the static images (service.maps.png) draw.

The map modules, by concern: ``strings`` (every word, by language), ``specs`` (what each
kind of map shows), ``basemap`` (generalised countries, borders' detail, view limits,
Natural Earth), ``labels`` (where labels go), ``content`` (this: assembly), ``page``
(assets, browser JSON, template), ``cache``, ``embed``, ``flags``, ``html`` (Folium),
``png`` (PNG and SVG). The names other modules use are importable from here as before.

Escaping: all text reaches the page through an autoescaping Jinja template or
through JSON embedded with ``<``, ``>``, ``&`` and ``'`` escaped; the browser
script builds popups and labels with ``textContent`` only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import shapely
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from service.domain.frontier import Frontier
from service.domain.geometry import BBox
from service.domain.records import Feature
from service.maps.basemap import (  # noqa: F401 - re-exported
    BASEMAP_TOLERANCES_DEG,
    EUROPE,
    STATIC_DIR,
    basemap_countries,
    basemap_tolerance,
    clip_bbox,
    country_edges,
    data_extent,
    europe_countries,
    europe_outline,
    land_beyond,
    pad_bbox,
    page_view_limit,
    pick_level,
    round_coords,
    span_km,
    warm_up,
)
from service.maps.cache import RenderCache  # noqa: F401 - re-exported
from service.maps.context_layers import ContextLayers, ContextView, zoom_of
from service.maps.embed import PageText
from service.maps.flags import MapFlags
from service.maps.labels import label_point, label_points, place_label_sides  # noqa: F401
from service.maps.page import (  # noqa: F401 - re-exported
    ASSETS,
    BROWSER_UI,
    ICON,
    TEMPLATES_DIR,
    Asset,
    MapOptions,
    PageUrls,
    TileSource,
    annotation_json,
    browser_data,
    credit_as_of,
    file_hash,
    geojson_feature,
    inline_asset,
    render_page,
    safe_json,
)
from service.maps.specs import (  # noqa: F401 - re-exported
    FRONTIER_BORDER,
    FRONTIER_PLACES,
    MAX_CUSTOM_ITEMS,
    NEARBY_TOWNS,
    Annotation,
    MapSpec,
    PageTexts,
    border_spec,
    custom_spec,
    data_date,
    events_of,
    frontier_spec,
    place_spec,
    places_of,
)
from service.maps.strings import (  # noqa: F401 - re-exported
    CARTO_TILE_ATTRIBUTION,
    COUNTRY_NAMES,
    DATA_ATTRIBUTION_HTML,
    OSM_TILE_ATTRIBUTION,
    UI,
    border_name,
    country_name,
    data_attribution_html,
    format_int,
    format_km,
    place_name,
)


@dataclass
class MapPoint:
    """A place or crossing as drawn: position (CRS84 degrees) and localised texts."""

    id: str
    kind: str  # capital | city | town | village | crossing
    lon: float
    lat: float
    name: str
    sub: str
    rows: list[tuple[str, str]]
    number: int | None = None
    label_side: str = "right"
    focus: bool = False
    rank: float = 0.0  # label priority: the focus, then the order of the spec
    status: str | None = None  # crossings: open | restricted | closed
    precision_m: float = 0.0  # crossings: stated uncertainty of the position, metres


@dataclass
class MapContent:
    """Everything a map shows, in one language, with geometries simplified for the view."""

    spec: MapSpec
    lang: str
    title: str
    dek: str
    caption: str
    alt: str
    countries: list[tuple[str, str, BaseGeometry, bool]]  # (a2, name, geometry, focus)
    borders: list[tuple[str, str, BaseGeometry, bool]]  # (id, name, geometry, focus)
    places: list[MapPoint]
    crossings: list[MapPoint]
    links: list[tuple[BaseGeometry, str]]  # dashed place → border lines with a label
    bounds: BBox
    simplify_m: float | None
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, text)
    sources: list[tuple[str, str]] = field(default_factory=list)  # (label, URL)
    method: list[str] = field(default_factory=list)  # "How this map was made" notes
    view_limit: BBox | None = None  # the reader may not pan or zoom out beyond it
    annotations: tuple[Annotation, ...] = ()  # the spec's own marks (user text)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (date, text, URL)
    data_as_of: str | None = None  # the data version's date, for "Data as of …"
    #: Land beyond the area our country polygons cover (Natural Earth 1:110m), so that a
    #: view wider than our data still shows land where land is: (id, geometry, focus).
    underlay: list[tuple[str, BaseGeometry, bool]] = field(default_factory=list)
    #: Country outlines as lines, without the straight edges where our data is cut off
    #: (made on demand: only the static images draw them).
    edges_of: Callable[[], BaseGeometry] | None = None
    #: Regions, lakes and rivers under the borders (service.maps.context_layers).
    context: ContextView | None = None
    #: The static images' limit: the basemap window within the land drawn (ours + underlay).
    image_limit: BBox | None = None


def resolve(frontier: Frontier, places_by_id: Mapping[str, Feature], spec: MapSpec,
            lang: str, context: ContextLayers | None = None) -> MapContent:  # fmt: skip
    """Geometries, labels, popups and texts for *spec* in *lang*.

    *places_by_id* holds the place features of the spec (``places_of``); the rest
    comes from the frontier's in-memory layers, and the regions, lakes and rivers under
    them from *context* (when given).
    """
    ui = UI[lang]

    def place_point(pid: str) -> tuple[float, float]:
        lonlat = places_by_id[pid].lonlat
        assert lonlat is not None
        return lonlat

    # The view: everything the map is about.
    parts: list[BaseGeometry] = []
    for bid in spec.borders if spec.kind != "place" else ():  # a locator map zooms on the place
        parts.append(frontier.borders[bid].geometry)
    for pid in spec.places:
        parts.append(Point(place_point(pid)))
    for cid in spec.crossings:
        parts.append(frontier.crossings[cid].geometry)
    if spec.kind == "custom" and not parts:
        for a2 in spec.countries:
            parts.append(frontier.countries[a2].geometry)
    for ann in spec.annotations:  # the journalist's own marks are in the view too
        parts.extend(Point(p) for p in ann.points)
    links: list[tuple[BaseGeometry, str]] = []
    nearest_rows: dict[str, tuple[str, str]] = {}
    for pid in spec.places:
        lon, lat = place_point(pid)
        nearest = frontier.nearest_border(lon, lat)
        text = ui["km_to"].format(km=format_km(nearest.distance_km, lang),
                                  border=border_name(frontier, nearest.border, lang))  # fmt: skip
        nearest_rows[pid] = (ui["nearest"], text)
        if spec.kind == "place" and pid == spec.focus:
            end = (nearest.nearest_lon, nearest.nearest_lat)
            links.append((LineString([(lon, lat), end]), text))
            parts.append(Point(end))
    union = shapely.union_all([shapely.envelope(p) for p in parts])
    west, south, east, north = union.bounds
    bounds = BBox(west, south, east, north)
    if spec.kind == "place":
        bounds = pad_bbox(bounds, 0.35, 0.25)
    elif bounds.east - bounds.west < 0.3 and bounds.north - bounds.south < 0.3:
        # A single point (or a tight cluster): a locator view about 60 km across.
        bounds = pad_bbox(bounds, 0.2, 0.3)
    span = span_km(bounds)
    level = pick_level(frontier, span)
    # Basemap window: wide enough for any aspect ratio of the map at the fitted zoom.
    cx, cy = (bounds.west + bounds.east) / 2, (bounds.south + bounds.north) / 2
    w, h = bounds.east - bounds.west, bounds.north - bounds.south
    # Leaflet fits the view at a whole zoom level, so it may show up to twice the
    # bounds in each direction, and a phone's map is taller than it is wide.
    half_w, half_h = max(w, h * 2) * 1.5 + 0.5, max(h, w / 1.2) * 1.5 + 0.5
    window = BBox(cx - half_w, cy - half_h, cx + half_w, cy + half_h)
    # Country outlines are background: about two pixels of a 700-pixel-wide map.
    tolerance = round(min(max(span / 350 / 111.32, 0.001), 0.05), 4)
    basemap = basemap_countries(frontier, window, tolerance)

    countries = []
    for a2, geom in zip(frontier.countries, basemap, strict=True):
        if geom.is_empty:
            continue
        countries.append((a2, country_name(frontier, a2, lang), geom, a2 in spec.countries))

    # Borders of Belarus always give context; the map's own borders are emphasised.
    border_ids = [*spec.borders, *(b for b in frontier.borders_of("BY") if b not in spec.borders)]
    borders = []
    for bid in border_ids:
        geom = frontier.border(bid, level).geometry
        if window is not None:
            geom = geom.intersection(box(*window))
            if geom.is_empty:
                continue
        borders.append((bid, border_name(frontier, bid, lang), round_coords(geom, 4),
                        bid in spec.borders))

    places = []
    for pid in spec.places:
        props = places_by_id[pid].properties
        lon, lat = place_point(pid)
        name = place_name(props, lang)
        sub = str(props.get("name_local") or "")  # the local form, when it differs
        rows = [(ui["country"], country_name(frontier, str(props.get("country")), lang)),
                (ui["kind"], ui.get(str(props.get("kind")), str(props.get("kind") or "")))]
        if props.get("population"):
            rows.append((ui["population"], format_int(int(props["population"]), lang)))
        rows.append(nearest_rows[pid])
        rows.append((ui["source"], str(props.get("source") or "GeoNames")))  # fmt: skip
        places.append(MapPoint(pid, str(props.get("kind") or "town"), lon, lat, name,
                               sub if sub != name else "", rows, focus=pid == spec.focus,
                               # the spec lists places most important first
                               rank=1e9 if pid == spec.focus
                               else float(len(spec.places) - len(places))))  # fmt: skip

    crossings = []
    for cid in spec.crossings:
        crossings.append(_crossing_point(frontier, cid, lang))

    place_label_sides(places, crossings)

    focus_names = [b[1] for b in borders if b[3]]
    if spec.kind == "frontier":
        title = ui["frontier_title"]
    elif spec.kind == "border":
        title = ui["border_title"].format(name=focus_names[0])
    elif spec.kind == "place":
        title = ui["place_title"].format(name=places[0].name)
    else:
        title = ui["custom_title"]
    # Captions for readers: the cited figure with its source first; how we measured,
    # simplified and placed things goes to the method notes behind a link.
    caption_parts: list[str] = []
    method: list[str] = []
    sources: list[tuple[str, str]] = []
    if spec.kind == "place" and links:
        nearest = frontier.distances_to_borders(*place_point(spec.places[0]))[0]
        caption_parts.append(ui["place_cap"].format(
            place=places[0].name, km=format_km(nearest.distance_km, lang),
            border=border_name(frontier, nearest.border, lang)))  # fmt: skip
    for bid in spec.borders:
        props = frontier.borders[bid].properties
        name = border_name(frontier, bid, lang)
        measured = format_km(float(props["length_km"]), lang)
        if props.get("clipped"):
            caption_parts.append(ui["clipped_cap"].format(name=name, measured=measured))
        elif props.get("cited_length_km"):
            caption_parts.append(ui["cited"].format(
                name=name, cited=format_km(float(props["cited_length_km"]), lang),
                source=_short_source(str(props.get("cited_source") or ""))))  # fmt: skip
            if url := _source_url(str(props.get("cited_source") or "")):
                sources.append((UI[lang]["source"], url))
            method.append(ui["method_measured"].format(measured=measured, name=name))
        else:
            caption_parts.append(ui["measured_cap"].format(name=name, measured=measured))
    if level:
        method.append(ui["method_simplified"].format(m=format_int(int(level), lang)))
    if any(c.precision_m for c in crossings):
        method.append(ui["method_points"])
    dek = ui["frontier_dek"] if spec.kind == "frontier" else ""
    items = [p.name for p in places] + [f"{c.number}. {c.name}" for c in crossings]
    what = title if not focus_names else f"{title} ({', '.join(focus_names)})"
    alt = ui["alt"].format(what=what, items=", ".join(items) or "—")

    legend = []
    for _bid, name, _, focus in borders:
        if focus:
            legend.append(("fa-key-focus-border", name))
    legend.append(("fa-key-border", ui["border"]))
    for status in ("open", "restricted", "closed"):
        if any(c.status == status for c in crossings):
            legend.append((f"fa-key-crossing fa-key-{status}", ui[f"key_{status}"]))
    if any(c.precision_m for c in crossings):
        legend.append(("fa-key-halo", ui["key_halo"]))
    if places:
        legend.append(("fa-key-place", ui["place"]))
    limit = page_view_limit(frontier, window)
    underlay = [(code, geom, code in spec.countries)
                for code, geom in land_beyond(frontier, window)]  # fmt: skip
    edge_tolerance = basemap_tolerance(tolerance)

    def edges() -> BaseGeometry:
        return country_edges(frontier, window, edge_tolerance)
    context_view = None
    if context is not None:
        context_view = context.view(window, zoom_of(bounds, span), basemap_tolerance(tolerance))
        if context_view.empty:
            context_view = None
        else:
            method.append(ui["method_context"])
            # Lakes come from the context layer, generalised for the zoom: the countries'
            # own lake holes would show as shards beside them.
            countries = [(a2, name, _without_holes(g), focus)
                         for a2, name, g, focus in countries]  # fmt: skip
    if spec.texts is not None:
        dek = spec.texts.dek or dek
        alt = spec.texts.alt or alt
    return MapContent(spec, lang, title, dek, " ".join(caption_parts), alt, countries, borders,
                      places, crossings, links, bounds, level, legend, sources,
                      method=method, view_limit=limit,
                      annotations=spec.annotations, underlay=underlay,
                      edges_of=edges, image_limit=clip_bbox(window, EUROPE),
                      context=context_view)  # fmt: skip


def _without_holes(geom: BaseGeometry) -> BaseGeometry:
    """*geom*'s polygons without their interior rings."""
    parts = [Polygon(p.exterior) for p in getattr(geom, "geoms", [geom])
             if isinstance(p, Polygon) and not p.is_empty]  # fmt: skip
    # (an island in a filled lake overlaps the filled polygon: the union stays valid)
    return shapely.union_all(parts) if parts else geom


#: Crossing statuses the data uses, in the order of the legend.
STATUSES = ("open", "restricted", "closed")


def crossing_number(frontier: Frontier, crossing_id: str) -> int:
    """A crossing's number on every map: its place in the data (1-based), never per map."""
    return list(frontier.crossings).index(crossing_id) + 1


def _crossing_point(frontier: Frontier, cid: str, lang: str) -> MapPoint:
    """A crossing as drawn: name in *lang*, status, stable number and its popup rows."""
    ui = UI[lang]
    props = frontier.crossings[cid].properties
    lon, lat = frontier.crossings[cid].geometry.coords[0]
    # A Russian or Belarusian reader is better served by the other Cyrillic form than by
    # the English one when the data has no name in their language (it never guesses one).
    fallbacks = {"ru": ("name_ru", "name_be", "name_local"), "be": ("name_be", "name_ru",
                 "name_local")}.get(lang, (f"name_{lang}",))  # fmt: skip
    name = str(next((props[k] for k in fallbacks if props.get(k)), None)
               or props.get("name") or cid)
    sub = str(props.get("name_local") or "") if lang == "en" else ""
    status = str(props.get("status") or "open")
    status_text = ui.get(f"status_{status}", status)
    if props.get("status_since"):
        status_text += ", " + ui["status_since"].format(date=props["status_since"])
    rows = [(ui["status"], status_text)]
    who = props.get("who_may_cross" if lang == "en" else f"who_may_cross_{lang}")
    if who:  # the data's sentence in the reader's language (ru/be are translations of en)
        rows.append((ui["who"], str(who)))
    rows.append((ui["border_of"], border_name(frontier, str(props.get("border")), lang)))
    if props.get("road"):
        rows.append((ui["road"], str(props["road"])))
    precision = float(props.get("precision_m") or 0)
    if precision:
        rows.append((ui["precision"], ui["approx"].format(km=format_km(precision / 1000, lang))))
    return MapPoint(cid, "crossing", lon, lat, name, sub if sub != name else "", rows,
                    number=crossing_number(frontier, cid), status=status,
                    precision_m=precision)  # fmt: skip


def _short_source(text: str) -> str:
    """``Wikipedia, "Belarus–Russia border"`` from a cited_source with URL and details."""
    return re.split(r"\s*\(https?://|:\s", text, maxsplit=1)[0].strip() or text


def _source_url(text: str) -> str | None:
    match = re.search(r"https?://[^\s)]+", text)
    return match.group(0) if match else None


def page_text(frontier: Frontier, content: MapContent, flags: MapFlags) -> PageText:
    """The text around the map on its page, for the embed's height without script."""

    ui = UI[content.lang]
    texts = content.spec.texts or PageTexts()
    caption = flags.caption or content.caption
    focus = content.spec.focus
    timeline_title = ""
    if content.events and focus in frontier.borders:
        timeline_title = ui["timeline"].format(name=border_name(frontier, focus, content.lang))
    credit = " · ".join([ui["as_of"], "Data © OpenStreetMap contributors (ODbL), GeoNames "
                         "(CC BY 4.0)", "Frontier Atlas", ui["embed"], ui["png"], ui["svg"],
                         ui["studio"]])  # fmt: skip
    return PageText(
        title=flags.title or content.title,
        dek=texts.dek or (content.dek if not flags.caption else ""),
        legend=tuple(text for _, text in content.legend),
        key=tuple(f"{c.name} ({ui['status_' + (c.status or 'open')]})"
                  for c in content.crossings),  # fmt: skip
        caption=caption + (" [Source]" * len(content.sources) if not flags.caption else ""),
        lines=int(bool(content.method) and not flags.caption) + int(bool(content.places))
        + int(bool(texts.source or texts.byline)),
        timeline_title=timeline_title,
        timeline=tuple(f"{d} {t} [{ui['source']}]" for d, t, _ in content.events),
        credit=credit,
    )


def list_items(content: MapContent) -> Sequence[str]:
    """The names of the places and crossings shown (for tests and alt texts)."""
    return [p.name for p in content.places] + [c.name for c in content.crossings]
