"""Plain HTML pages for the HTML representation of every resource, escaped by default.

``render(kind, document, request)`` is the one entry point; the app calls it
through ``app.state.html_renderer`` so that map pages can replace it (or wrap
it for some kinds) without touching the routes.
"""

from __future__ import annotations

from typing import Any

import orjson
from jinja2 import DictLoader, Environment, select_autoescape
from starlette.requests import Request

from service.maps.page import ICON

ATTRIBUTION = "Data © OpenStreetMap contributors (ODbL) and GeoNames (CC BY 4.0)."

_BASE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Frontier Atlas</title>
<link rel="icon" href="{{ icon }}" type="image/svg+xml">
<style>
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:0 1rem;color:#222}
header,footer{padding:.75rem 0;border-bottom:1px solid #ddd}
footer{border:0;border-top:1px solid #ddd;font-size:.85rem;color:#555}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #eee;padding:.3rem .5rem;text-align:left;vertical-align:top}
pre{background:#f6f6f6;padding:.75rem;overflow:auto;font-size:.8rem;max-height:40rem}
code{background:#f6f6f6}nav a{margin-right:1rem}.muted{color:#666}
</style>
</head>
<body>
<header><nav><a href="{{ base }}">Frontier Atlas</a><a href="{{ base }}collections">Collections</a>
<a href="{{ base }}borders">Borders</a><a href="{{ base }}places?q=Divin">Places</a>
<a href="{{ base }}api.html">API</a></nav></header>
<main>
<h1>{{ title }}</h1>
{% block main %}{% endblock %}
</main>
<footer>{{ attribution }}</footer>
</body>
</html>"""

_LINKS = """{% macro links(items) %}{% if items %}<ul>
{% for link in items %}<li><a href="{{ link.href }}" rel="{{ link.rel }}">
{{ link.title or link.rel }}</a> <span class="muted">{{ link.type or "" }}</span></li>
{% endfor %}</ul>{% endif %}{% endmacro %}"""

_TEMPLATES = {
    "base.html": _BASE,
    "macros.html": _LINKS,
    "document.html": """{% extends "base.html" %}{% import "macros.html" as m %}
{% block main %}{% if description %}<p>{{ description }}</p>{% endif %}
{{ m.links(links) }}<pre>{{ body }}</pre>{% endblock %}""",
    "collections.html": """{% extends "base.html" %}{% import "macros.html" as m %}
{% block main %}<table><tr><th>Collection</th><th>Description</th><th>Extent (CRS84)</th></tr>
{% for c in doc.collections %}<tr><td><a href="{{ base }}collections/{{ c.id }}/items?f=html">
{{ c.title }}</a></td><td>{{ c.description }}</td>
<td>{{ c.extent.spatial.bbox[0] | join(", ") }}</td></tr>{% endfor %}</table>
{{ m.links(doc.links) }}{% endblock %}""",
    "items.html": """{% extends "base.html" %}{% import "macros.html" as m %}
{% block main %}{% if doc.numberMatched is defined %}<p>{{ doc.numberReturned }} of
{{ doc.numberMatched }} features.</p>{% endif %}
<table><tr><th>id</th>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for f in doc.features %}<tr><td><a href="{{ item_href(f) }}">{{ f.id }}</a></td>
{% for c in columns %}<td>{{ cell(f.properties.get(c)) }}</td>{% endfor %}</tr>{% endfor %}
</table>{{ m.links(doc.links) }}{% endblock %}""",
    "feature.html": """{% extends "base.html" %}{% import "macros.html" as m %}
{% block main %}<table>{% for k, v in doc.properties.items() %}<tr><th>{{ k }}</th>
<td>{{ cell(v) }}</td></tr>{% endfor %}<tr><th>geometry</th><td>{{ geometry_summary }}</td></tr>
</table>{{ m.links(doc.links) }}{% endblock %}""",
    "borders.html": """{% extends "base.html" %}{% import "macros.html" as m %}
{% block main %}<table><tr><th>Border</th><th>Measured (km)</th><th>Cited (km)</th>
<th>Source of the cited figure</th></tr>{% for b in doc.borders %}<tr>
<td><a href="{{ base }}borders/{{ b.id }}?f=html">{{ b.name }}</a></td><td>{{ b.length_km }}</td>
<td>{{ b.cited_length_km if b.cited_length_km is not none else "—" }}</td>
<td>{{ b.cited_source or "" }}</td></tr>{% endfor %}</table>
<p class="muted">Measured: geodesic length on the WGS84 ellipsoid of our line.</p>
{{ m.links(doc.links) }}{% endblock %}""",
    "error.html": """{% extends "base.html" %}{% block main %}
<p>{{ doc.detail }}</p><p class="muted">HTTP {{ doc.status }} · {{ doc.code }}</p>
<p><a href="{{ base }}">Start page</a></p>{% endblock %}""",
    "api.html": """{% extends "base.html" %}{% block main %}
<p>{{ doc.info.description }}</p><p>OpenAPI 3.0 description:
<a href="{{ base }}api">{{ base }}api</a>. Version {{ doc.info.version }}.</p>
{% for path, ops in doc.paths.items() %}{% for method, op in ops.items() %}
<section><h2><code>{{ method | upper }} {{ path }}</code></h2><p>{{ op.summary }}</p>
{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% if op.parameters %}<table><tr><th>parameter</th><th>in</th><th>description</th></tr>
{% for p in op.parameters %}<tr><td><code>{{ p.name }}</code></td><td>{{ p["in"] }}</td>
<td>{{ p.description or "" }}</td></tr>{% endfor %}</table>{% endif %}</section>
{% endfor %}{% endfor %}
<h2 id="problems">Problem types</h2><p>Errors are RFC 9457 <code>application/problem+json</code>
with the OGC exception <code>code</code>.</p><table><tr><th>type</th><th>status</th>
<th>code</th><th>title</th></tr>{% for p in problems %}<tr id="problem-{{ p.slug }}">
<td><code>#problem-{{ p.slug }}</code></td><td>{{ p.status }}</td><td>{{ p.code }}</td>
<td>{{ p.title }}</td></tr>{% endfor %}</table>{% endblock %}""",
}

_ENV = Environment(
    loader=DictLoader(_TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
)

_COLUMNS = {
    "borders": ["name", "length_km", "cited_length_km", "clipped"],
    "countries": ["name", "name_local", "iso_a3"],
    "places": ["name", "name_local", "country", "kind", "population", "distance_km"],
    "crossings": ["name", "name_local", "border", "road", "kind"],
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return str(value)


def _geometry_summary(geometry: dict[str, Any] | None) -> str:
    if not geometry:
        return "none"
    if geometry.get("type") == "Point":
        lon, lat = geometry["coordinates"][:2]
        return f"Point {lon:.5f}, {lat:.5f}"
    return str(geometry.get("type"))


def render(kind: str, document: dict[str, Any], request: Request) -> str:
    """The HTML page for a document of *kind* (landing, collections, items, feature, ...)."""
    base = str(request.base_url)
    title = str(document.get("title") or document.get("name") or kind.replace("-", " ").title())
    context: dict[str, Any] = {
        "base": base, "doc": document, "title": title, "attribution": ATTRIBUTION,
        "icon": ICON.url(f"{base}static/"),
        "cell": _cell, "links": document.get("links") or [],
        "description": document.get("description"),
    }  # fmt: skip
    if kind == "items":
        collection = str(document.get("collection") or "places")
        context["columns"] = _COLUMNS.get(collection, ["name"])
        context["item_href"] = lambda f: (
            f"{base}collections/{collection}/items/{f.get('id')}?f=html"
        )
        template = "items.html"
    elif kind == "feature":
        props = document.get("properties") or {}
        context["title"] = str(props.get("name") or document.get("id") or "Feature")
        context["geometry_summary"] = _geometry_summary(document.get("geometry"))
        template = "feature.html"
    elif kind == "error":
        template = "error.html"
    elif kind == "collections":
        context["title"] = "Collections"
        template = "collections.html"
    elif kind == "borders":
        context["title"] = "Borders"
        template = "borders.html"
    elif kind == "api":
        from service.web.problems import PROBLEMS

        context["title"] = "API documentation"
        context["problems"] = list(dict.fromkeys(PROBLEMS.values()))
        template = "api.html"
    else:
        body = {k: v for k, v in document.items() if k != "links"}
        context["body"] = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
        template = "document.html"
    return _ENV.get_template(template).render(**context)
