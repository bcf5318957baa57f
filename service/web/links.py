"""Absolute links for OGC documents, built from the request's base URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse

from service.web.responses import GEOJSON, JSON
from service.web.responses import HTML_TYPE as HTML


def href(request: Request, path: str, **params: Any) -> str:
    """Absolute URL of *path* (no leading slash) with optional query parameters."""
    url = f"{request.base_url}{path.lstrip('/')}"
    query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    return f"{url}?{query}" if query else url


def link(href_: str, rel: str, type_: str | None = None, title: str | None = None) -> dict:
    """One OGC link object."""
    item = {"href": href_, "rel": rel}
    if type_:
        item["type"] = type_
    if title:
        item["title"] = title
    return item


def self_links(request: Request, path: str, json_type: str = JSON) -> list[dict]:
    """``self`` (JSON) and ``alternate`` (HTML) links for a resource."""
    return [
        link(href(request, path, f="json"), "self", json_type, "This document as JSON"),
        link(href(request, path, f="html"), "alternate", HTML, "This document as HTML"),
    ]


class _CurrentURL:
    """The request URL with some query parameters set, as Starlette's
    ``URL.include_query_params`` writes it (the others kept in order, the new ones
    last), with the URL split and its query parsed once for all the variants."""

    def __init__(self, request: Request) -> None:
        url = request.url
        self.base = url.components._replace(query="", fragment="").geturl() + "?"
        # Each parameter encoded once (urlencode's quoting), for all the variants.
        self.pairs = [(k, urlencode([(k, v)]))
                      for k, v in parse_qsl(url.query, keep_blank_values=True)]  # fmt: skip

    def with_params(self, **params: Any) -> str:
        kept = [encoded for k, encoded in self.pairs if k not in params]
        return self.base + "&".join([*kept, urlencode([(k, str(v)) for k, v in params.items()])])


def current_links(request: Request, json_type: str = JSON,
                  url: _CurrentURL | None = None) -> list[dict]:  # fmt: skip
    """``self`` and ``alternate`` links for the current URL, keeping its query parameters."""
    url = url or _CurrentURL(request)
    return [
        link(url.with_params(f="json"), "self", json_type, "This document as JSON"),
        link(url.with_params(f="html"), "alternate", HTML, "This document as HTML"),
    ]


def page_links(
    request: Request, matched: int, offset: int, limit: int, returned: int
) -> list[dict]:
    """self/alternate/next/prev links for a page of features, keeping the other parameters."""
    url = _CurrentURL(request)
    items = current_links(request, GEOJSON, url)
    if offset + returned < matched:
        nxt = url.with_params(offset=offset + limit, limit=limit)
        items.append(link(nxt, "next", GEOJSON, "Next page"))
    if offset > 0:
        prev = url.with_params(offset=max(0, offset - limit), limit=limit)
        items.append(link(prev, "prev", GEOJSON, "Previous page"))
    return items


def link_header(links: list[dict]) -> str:
    """The links as an HTTP ``Link`` header (RFC 8288)."""
    parts = []
    for item in links:
        attrs = [f'rel="{item["rel"]}"']
        if item.get("type"):
            attrs.append(f'type="{item["type"]}"')
        if item.get("title"):
            attrs.append('title="' + item["title"].replace('"', "'") + '"')
        parts.append(f"<{item['href']}>; " + "; ".join(attrs))
    return ", ".join(parts)


def moved(request: Request, old_id: str, new_id: str) -> RedirectResponse:
    """301 to the same URL with a feature's current id in place of an id it had before
    (data releases may rename a place; links and saved maps made with the old id live on)."""
    old, new = quote(old_id, safe=""), quote(new_id, safe="")
    parts = request.url.path.split("/")
    path = "/".join(new if part in (old, old_id) else part for part in parts)
    return RedirectResponse(str(request.url.replace(path=path)), status_code=301)
