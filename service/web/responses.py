"""Media types, content negotiation and the response classes the routes return."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import orjson
from fastapi import Request
from starlette.responses import Response

from service.domain.errors import AtlasError, InvalidParameterError

GEOJSON = "application/geo+json"
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
HTML = "text/html; charset=utf-8"
#: Link ``type`` values carry no parameters (the OGC suite compares them exactly).
HTML_TYPE = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
CSV = "text/csv; charset=utf-8"
CSV_TYPE = "text/csv"
GEOJSON_SEQ = "application/geo+json-seq"
NDJSON = "application/x-ndjson"

Format = Literal["json", "html"]
ItemsFormat = Literal["json", "html", "csv", "ndjson", "seq"]
_F_VALUES: dict[str, Format] = {"json": "json", "geojson": "json", "html": "html"}
_ITEMS_F_VALUES: dict[str, ItemsFormat] = {**_F_VALUES, "csv": "csv", "ndjson": "ndjson",
                                           "geojsonseq": "seq"}  # fmt: skip
#: The ``f`` values each kind of resource takes (for errors and the OpenAPI enums).
F_VALUES = tuple(_F_VALUES)
ITEMS_F_VALUES = tuple(_ITEMS_F_VALUES)


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


class NotAcceptableError(AtlasError):
    """The Accept header names no representation this resource has."""


def _accepts(accept: str, media: tuple[str, ...]) -> bool:
    """True when *accept* (an Accept header) takes one of *media* (or JSON of any kind)."""
    for item, q in quality_list(accept):
        if q <= 0:
            continue
        if item in ("*/*", "application/*") or item.endswith("json") or item in media:
            return True
        if item.endswith("/*") and any(m.startswith(item[:-1]) for m in media):
            return True
    return False


def negotiate(request: Request) -> Format:
    """``f=json|html`` if given (else 400), otherwise the Accept header; JSON by default;
    406 when the Accept header takes neither."""
    f = request.query_params.get("f")
    if f is not None:
        try:
            return _F_VALUES[f.lower()]
        except KeyError:
            raise InvalidParameterError("f must be json or html.") from None
    accept = request.headers.get("accept", "")
    fmt = _format_for_accept(accept)
    if fmt is None:
        raise NotAcceptableError(
            f"Cannot produce any of {accept[:100]!r} here: JSON or HTML (f=json, f=html).")
    return fmt


@lru_cache(maxsize=256)  # clients send few distinct Accept headers; parsed once each
def _format_for_accept(accept: str) -> Format | None:
    """What an Accept header asks for: json, html or None (neither: 406)."""
    if accept.strip() and not _accepts(accept, ("text/html", "application/xhtml+xml")):
        return None
    return "html" if prefers_html(accept) else "json"


def negotiate_items(request: Request) -> ItemsFormat:
    """Like ``negotiate``, with CSV (``f=csv``, ``text/csv``) and newline-delimited GeoJSON
    (``f=ndjson``, ``application/geo+json-seq``, ``application/x-ndjson``) as well."""
    f = request.query_params.get("f")
    if f is not None:
        try:
            return _ITEMS_F_VALUES[f.lower()]
        except KeyError:
            raise InvalidParameterError(
                f"f must be one of {', '.join(ITEMS_F_VALUES)}.") from None
    accept = request.headers.get("accept", "")
    best, q_generic = _items_format_for_accept(accept)
    if best is not None and not _accepts(accept, ("text/html", "application/xhtml+xml")):
        return best[2]
    if best is not None:
        generic = negotiate(request)
        return best[2] if best[0] > q_generic else generic
    return negotiate(request)


@lru_cache(maxsize=256)
def _items_format_for_accept(
    accept: str,
) -> tuple[tuple[float, int, ItemsFormat] | None, float]:
    """The best of the items-only media types an Accept header names (q, rank, format),
    and the highest q it gives JSON, HTML or anything."""
    best: tuple[float, int, ItemsFormat] | None = None
    weights = quality_list(accept)
    for rank, (media, q) in enumerate(weights):
        fmt: ItemsFormat | None = {
            "text/csv": "csv", GEOJSON_SEQ: "seq", NDJSON: "ndjson",
        }.get(media)  # type: ignore[assignment]
        if fmt is not None and q > 0 and (best is None or q > best[0]):
            best = (q, rank, fmt)
    q_generic = max((q for m, q in weights
                     if m.endswith("json") or m in ("text/html", "*/*")), default=0.0)
    return best, q_generic


def negotiate_quietly(request: Request) -> Format:
    """Like ``negotiate`` but never raises (for rendering errors)."""
    try:
        return negotiate(request)
    except (InvalidParameterError, NotAcceptableError):
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
