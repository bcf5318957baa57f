"""The Folium map object of a page (the only module that imports folium).

Imported lazily by ``service.maps.render_page``: folium pulls in pandas, which
the service's start-up should not wait for.
"""

from __future__ import annotations

from typing import Any

import folium
import folium.plugins
from branca.element import MacroElement
from folium.template import Template
from markupsafe import Markup

from service.domain.frontier import Frontier
from service.maps.basemap import europe_outline
from service.maps.content import MapContent
from service.maps.flags import MapFlags
from service.maps.page import MapOptions, browser_data, geojson_feature, safe_json
from service.maps.strings import UI


class AtlasLayers(MacroElement):
    """Draws the vector basemap, borders, places and crossings (service/static/atlas.js)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
FrontierAtlas.draw({{ this._parent.get_name() }}, {{ this.data_json }});
{% endmacro %}"""
    )

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "AtlasLayers"
        self.data_json = Markup(safe_json(data))


class AtlasMap(folium.Map):
    """folium.Map without CDN assets and without the viewport meta that blocks pinch zoom."""

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []
    _template = Template(
        """
{% macro header(this, kwargs) %}{% endmacro %}
{% macro html(this, kwargs) %}<div class="folium-map fa-map" id={{ this.get_name()|tojson }}
 role="region" aria-label="{{ this.fa_label|e }}" tabindex="0"></div>{% endmacro %}
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.map({{ this.get_name()|tojson }}, {
  center: {{ this.location|tojson }}, crs: L.CRS.{{ this.crs }},
  ...{{ this.options|tojavascript }},
  // prefers-reduced-motion: no zoom, fade or marker animations
  zoomAnimation: !FrontierAtlas.reducedMotion, fadeAnimation: !FrontierAtlas.reducedMotion,
  markerZoomAnimation: !FrontierAtlas.reducedMotion
});
{%- if this.control_scale %}
L.control.scale({metric: true, imperial: false}).addTo({{ this.get_name() }});
{%- endif %}
{% endmacro %}"""
    )


class _Fullscreen(folium.plugins.Fullscreen):
    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []


class InsetMap(MacroElement):
    """An overview inset (leaflet-minimap) drawn from our own country polygons, no tiles."""

    _template = Template(
        """{% macro script(this, kwargs) %}
FrontierAtlas.inset({{ this._parent.get_name() }}, {{ this.data_json }});
{% endmacro %}"""
    )

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "InsetMap"
        self.data_json = Markup(safe_json(data))


def _inset_countries(focus: str = "BY") -> list[dict[str, Any]]:
    """Europe's countries (Natural Earth 1:110m) for the overview, *focus* highlighted."""
    return [geojson_feature(g, {"id": a2, "focus": a2 == focus}) for a2, g in europe_outline()]


def build_map(
    frontier: Frontier, content: MapContent, flags: MapFlags, options: MapOptions
) -> folium.Map:
    """The Folium map object for *content* with *flags* applied."""
    b = content.bounds
    interactive = not flags.static
    m = AtlasMap(
        location=[(b.south + b.north) / 2, (b.west + b.east) / 2],
        zoom_start=6,
        tiles=None,
        control_scale=False,  # atlas.js adds it, with the units in the page's language
        prefer_canvas=False,
        zoom_control=False,  # atlas.js adds it, with translated button names
        scrollWheelZoom=False,  # no scroll-wheel trap: ctrl/cmd + wheel, or after a click
        dragging=interactive,
        touchZoom=interactive,
        doubleClickZoom=interactive,
        boxZoom=interactive,
        keyboard=interactive,
        zoomSnap=0.25,
        attributionControl=True,
        min_zoom=3,
        max_zoom=14,
    )
    m.fa_label = content.alt
    if flags.tiles != "none" and flags.tiles in options.tiles:
        source = options.tiles[flags.tiles]
        folium.TileLayer(
            tiles=source.url,
            attr=source.attribution,
            name=flags.tiles,
            max_zoom=source.max_zoom,
            subdomains=source.subdomains,
            referrer_policy="strict-origin-when-cross-origin",
            detect_retina=False,
            control=False,
        ).add_to(m)
    if interactive:
        ui = UI[content.lang]
        _Fullscreen(position="topleft", title=ui["fullscreen"], title_cancel=ui["exit_fullscreen"],
                    force_separate_button=True).add_to(m)  # fmt: skip
    AtlasLayers(browser_data(content, flags, options)).add_to(m)
    if flags.inset:
        InsetMap({"countries": _inset_countries(), "center": [53.7, 27.9],
                  "ui": {k: UI[content.lang][k] for k in ("inset_hide", "inset_show")}}
                 ).add_to(m)  # fmt: skip
    return m
