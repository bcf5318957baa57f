"""Media types, content negotiation and the response classes the routes return."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import Request
from starlette.responses import Response

from service.domain.errors import InvalidParameterError

GEOJSON = "application/geo+json"
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
HTML = "text/html; charset=utf-8"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"

Format = Literal["json", "html"]
_F_VALUES: dict[str, Format] = {"json": "json", "geojson": "json", "html": "html"}


class JSONResponse(Response):
    """JSON serialized with orjson (or bytes passed through unchanged)."""

    media_type = JSON

    def render(self, content: Any) -> bytes:
        """Serialize unless the content is already bytes."""
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class GeoJSONResponse(JSONResponse):
    """``application/geo+json``."""

    media_type = GEOJSON


class OpenAPIResponse(JSONResponse):
    """The OpenAPI 3.0 document."""

    media_type = OPENAPI_JSON


class ProblemResponse(JSONResponse):
    """RFC 9457 ``application/problem+json``."""

    media_type = PROBLEM_JSON


class HTMLResponse(Response):
    """UTF-8 HTML."""

    media_type = HTML


def quality_list(header: str) -> list[tuple[str, float]]:
    """``Accept``/``Accept-Encoding`` values with their q weights, lower-cased, in order."""
    weights = []
    for item in header.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media:
            weights.append((media.lower(), q))
    return weights


def prefers_html(accept: str) -> bool:
    """True when an Accept header ranks HTML above JSON (ties go to whichever comes first)."""
    q_html = q_json = 0.0
    first: str | None = None
    for media, q in quality_list(accept):
        if media in ("text/html", "application/xhtml+xml"):
            q_html = max(q_html, q)
            first = first or "html"
        elif media.endswith("json") or media in ("application/*", "*/*"):
            # */* counts for JSON: it is our default representation.
            q_json = max(q_json, q * (0.99 if media == "*/*" else 1.0))
            first = first or "json"
    if q_html > q_json:
        return True
    return q_html == q_json and q_html > 0 and first == "html"


def negotiate(request: Request) -> Format:
    """``f=json|html`` if given (else 400), otherwise the Accept header; JSON by default."""
    f = request.query_params.get("f")
    if f is not None:
        try:
            return _F_VALUES[f.lower()]
        except KeyError:
            raise InvalidParameterError("f must be json or html.") from None
    return "html" if prefers_html(request.headers.get("accept", "")) else "json"


def negotiate_quietly(request: Request) -> Format:
    """Like ``negotiate`` but never raises (for rendering errors)."""
    try:
        return negotiate(request)
    except InvalidParameterError:
        return "json"


def html_response(
    request: Request, kind: str, document: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render *document* with the app's HTML renderer (replaceable: app.state.html_renderer)."""
    renderer = request.app.state.html_renderer
    return HTMLResponse(renderer(kind, document, request), status_code=status_code)


def problem_response(request: Request, problem: dict[str, Any]) -> Response:
    """A problem document as problem+json, or as an escaped HTML page for HTML clients."""
    if negotiate_quietly(request) == "html" and hasattr(request.app.state, "html_renderer"):
        return html_response(request, "error", problem, status_code=problem["status"])
    return ProblemResponse(problem, status_code=problem["status"])


def document_response(
    request: Request,
    fmt: Format,
    kind: str,
    document: dict[str, Any] | bytes,
    response_class: type[JSONResponse] = JSONResponse,
    html_document: dict[str, Any] | None = None,
) -> Response:
    """JSON (or GeoJSON) bytes, or the HTML page for the same document."""
    if fmt == "html":
        if html_document is None:
            assert isinstance(document, dict)
            html_document = document
        return html_response(request, kind, html_document)
    return response_class(document)
