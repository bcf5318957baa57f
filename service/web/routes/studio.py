"""Saved maps over HTTP: the maps API (``/api/maps``), the published pages, embeds, PNGs
and oEmbed of every version (``/maps/saved/{mapId}[/v/{n}]``) and the studio page.

Published versions are rendered by the app's MapService (the same renderer and page
cache as every map page) from a ``MapSpec`` built from the saved document; the texts
go through the renderer's flags (title, caption, lang, dark, static, inset).

What stays fixed: at publish time the version's page HTML (with the placeholder
origin), its headline, and its PNG and SVG at the size preset are rendered once and
stored with the version (``studio_version_pages``, ``studio_version_renders``). Without
reader overrides these are served byte for byte, with a strong ETag: the page, PNG and
SVG of ``/maps/saved/{mapId}/v/{n}`` and of the latest ``/maps/saved/{mapId}``, the
embed snippet, the versions list and the oEmbed answers (title, thumbnail, html), so a
data release never changes a published story.

What is re-drawn from the data loaded now: a page or image with reader overrides
(``?lang=``, ``?title=``, ``?caption=``, ``?dark=``, ``?static=``, ``?tiles=``,
``?inset=``, ``?labels=``), an image at another ``width``/``height``, and every artefact
of a version published before renders were stored. A re-drawn answer says "Data as of"
the data it was drawn from (not the version's), and keeps the version's document.

What a delete does: the draft, its edit token and the map's listing go; every
published version stays reachable at ``/maps/saved/{mapId}/v/{n}`` because embeds
already out point there; ``/maps/saved/{mapId}`` and the API answer 404.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

import orjson
from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from service.domain.errors import AtlasError, InvalidParameterError
from service.maps import content as maps
from service.maps import embed
from service.maps.flags import FLAG_NAMES, MIN_PX, MapFlags, parse_flags, parse_size
from service.settings import StudioSettings
from service.store.base import FeatureStore
from service.studio import tokens
from service.studio.errors import (
    AuthenticationRequiredError,
    ConflictError,
    ForbiddenError,
    MapNotFoundError,
    PayloadTooLargeError,
    PreconditionFailedError,
    PreconditionRequiredError,
    RateLimitedError,
    SpecError,
)
from service.studio.spec import (
    LIMITS,
    MAX_ANNOTATIONS,
    MAX_ITEMS,
    SIZES,
    STRINGS_FILE,
    LineAnnotation,
    MapDocument,
    MarkerAnnotation,
    canonical_document,
    composed_caption,
)
from service.studio.store import (
    MapRecord,
    MapRepository,
    VersionRecord,
    VersionRenders,
    open_repository,
)
from service.web.params import SettingsDep, StoreDep
from service.web.problems import PROBLEMS, Problem, problem_document
from service.web.responses import HTML, HTMLResponse, JSONResponse, problem_response
from service.web.routes.maps import BASE_PLACEHOLDER, IMMUTABLE, add_path_hook, with_base

NO_STORE = {"cache-control": "no-store"}  # also keeps the response memo away
PNG = "image/png"
SVG = "image/svg+xml"
SVG_HEADERS = {"x-content-type-options": "nosniff",
               "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"}
MAP_ID = re.compile(r"^[a-z2-9]{12}$")

#: How the studio's errors are reported (added to the one table in service.web.problems).
STUDIO_PROBLEMS: dict[type[AtlasError], Problem] = {
    SpecError: Problem(400, "InvalidParameterValue", "Invalid map document", "invalid-map"),
    MapNotFoundError: Problem(404, "NotFound", "Saved map not found", "map-not-found"),
    AuthenticationRequiredError: Problem(401, "InvalidRequest", "Authentication required",
                                         "authentication-required"),
    ForbiddenError: Problem(403, "InvalidRequest", "Forbidden", "forbidden"),
    ConflictError: Problem(409, "InvalidRequest", "Conflict", "conflict"),
    PreconditionFailedError: Problem(412, "InvalidRequest", "Precondition failed",
                                     "precondition-failed"),
    PayloadTooLargeError: Problem(413, "InvalidRequest", "Request body too large",
                                  "payload-too-large"),
    PreconditionRequiredError: Problem(428, "InvalidRequest", "Precondition required",
                                       "precondition-required"),
    RateLimitedError: Problem(429, "InvalidRequest", "Too many requests", "rate-limited"),
}  # fmt: skip
PROBLEMS.update(STUDIO_PROBLEMS)


# ---------------------------------------------------------------- body size cap
class CappedBodyRoute(APIRoute):
    """An APIRoute that reads at most ``studio_max_body_kb`` of a body (413 beyond)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route handler, behind the size check."""
        handler = super().get_route_handler()

        async def capped(request: Request) -> Response:
            if request.method in ("POST", "PUT", "PATCH"):
                limit = request.app.state.settings.studio.max_body_bytes
                declared = request.headers.get("content-length", "")
                too_big = PayloadTooLargeError(f"The body must be at most {limit // 1024} KB.")
                if declared.isdigit() and int(declared) > limit:
                    raise too_big
                body = bytearray()
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > limit:
                        raise too_big
                request._body = bytes(body)  # FastAPI parses the JSON from this
            return await handler(request)

        return capped


router = APIRouter(route_class=CappedBodyRoute)
TAG_API = ["Saved maps"]
TAG_PAGES = ["Saved map pages"]


# ---------------------------------------------------------------- dependencies
def get_repository(request: Request) -> MapRepository:
    """The maps repository opened in the lifespan."""
    return request.app.state.map_repository


RepositoryDep = Annotated[MapRepository, Depends(get_repository)]
bearer = HTTPBearer(auto_error=False, description="A map's edit token (`fae_…`) or an API "
                    "key (`fak_…`, from `frontier-atlas keys create`).")  # fmt: skip
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class RateLimiter:
    """At most *per_hour* events of one kind per client address in each hour window,
    counted in the maps repository (one transaction per event), so that every worker and
    replica sharing the repository shares the budget."""

    def __init__(self, repo: MapRepository, kind: str, per_hour: int, what: str) -> None:
        self.repo, self.kind, self.per_hour, self.what = repo, kind, per_hour, what

    async def hit(self, client: str) -> None:
        """Count one event; RateLimitedError when *client* is over its budget."""
        if self.per_hour <= 0:
            return
        retry = await run_in_threadpool(self.repo.rate_hit, self.kind, client, self.per_hour)
        if retry:
            raise RateLimitedError(f"At most {self.per_hour} {self.what} per hour from one "
                                   f"address; try again in {retry} s.", retry)  # fmt: skip


def _map_id(map_id: str) -> str:
    if not MAP_ID.fullmatch(map_id):
        raise MapNotFoundError(f"No saved map {map_id[:40]!r} (ids are 12 characters, a-z 2-9).")
    return map_id


def _version_number(n: str) -> int:
    if not n.isdigit() or not 0 < int(n) < 1_000_000:
        raise MapNotFoundError(f"No version {n[:20]!r}: versions are numbered from 1.")
    return int(n)


async def _live_map(repo: MapRepository, map_id: str) -> MapRecord:
    record = await run_in_threadpool(repo.get, _map_id(map_id))
    if record.deleted:
        raise MapNotFoundError(f"Map {map_id} was deleted; its published versions stay at "
                               f"/maps/saved/{map_id}/v/1 … /v/{record.latest_version}.")
    return record


async def _authorize(repo: MapRepository, record: MapRecord,
                     credentials: HTTPAuthorizationCredentials | None) -> None:  # fmt: skip
    """401 without a bearer token; 403 when it is neither this map's edit token nor the key
    that created it."""
    if credentials is None or not credentials.credentials:
        raise AuthenticationRequiredError(
            "Send the map's edit token (from its edit link) or an API key as "
            "'Authorization: Bearer …'.")
    token = credentials.credentials
    if record.edit_hash and tokens.matches(token, record.edit_hash):
        return
    if token.startswith(tokens.KEY_PREFIX) and record.owner_key:
        key = await run_in_threadpool(repo.key_by_hash, tokens.token_hash(token))
        if key is not None and key.id == record.owner_key:
            return
    raise ForbiddenError("This token does not open this map (rotated, revoked, or another "
                         "map's).")  # fmt: skip


def _revision(if_match: str | None, record: MapRecord, required: bool) -> int | None:
    if if_match is None:
        if required:
            raise PreconditionRequiredError(
                f"Send If-Match with the map's ETag (now {record.etag}), from GET /api/maps/"
                f"{record.id}, so that two editors never overwrite each other.")
        return None
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" in tags:
        return record.revision
    for tag in tags:
        # The response cache gives a compressed answer its own ETag ("…-gzip", "…-br");
        # it names the same revision.
        m = re.fullmatch(rf'"{record.id}\.(\d+)(?:-gzip|-br)?"', tag)
        if m:
            return int(m.group(1))
    raise PreconditionFailedError(f"If-Match {if_match[:60]!r} is not this map's ETag "
                                  f"({record.etag}); reload the map.")  # fmt: skip


# ---------------------------------------------------------------- response models
class MapLinks(BaseModel):
    """Where a map can be edited and seen."""

    self: str
    studio: str = Field(description="The studio, opened on this map (add the edit token).")
    versions: str
    latest: str | None = Field(None, description="Page of the latest published version.")


class MapOut(BaseModel):
    """A saved map's draft (needs its edit token)."""

    id: str
    revision: int
    etag: str
    created: str
    updated: str
    latest_version: int = Field(description="0 until the first publish.")
    document: MapDocument
    links: MapLinks


class MapCreated(MapOut):
    """A new map, with its secret edit token (shown this once)."""

    edit_token: str = Field(description="Keep it: it is stored only as a hash.")
    edit_url: str = Field(description="The studio link that edits this map (token in the "
                          "fragment, so it never reaches a server log).")  # fmt: skip


class TokenOut(BaseModel):
    """A rotated edit token."""

    edit_token: str
    edit_url: str


class VersionUrls(BaseModel):
    """Everything a newsroom needs of one published version (all pinned to it)."""

    page: str
    embed: str = Field(description="The embed snippet as text/html.")
    png: str
    oembed: str
    latest: str


class VersionOut(BaseModel):
    """One published, immutable version."""

    map_id: str
    n: int
    published: str
    data_version: str = Field(description="The data it was drawn from.")
    data_time: str
    title: str
    urls: VersionUrls
    snippet: str = Field(description="The copy-paste iframe, pinned to this version.")


class VersionList(BaseModel):
    """The published versions of a map, oldest first."""

    map_id: str
    versions: list[VersionOut]


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in ((400, "Invalid document (the detail names the field)"),
                       (404, "No such map"))
}  # fmt: skip


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    texts = {401: "No edit token or API key", 403: "The token does not open this map",
             409: "Conflict with the map's state", 412: "Stale If-Match (someone else saved)",
             413: "Body too large", 428: "If-Match missing", 429: "Too many new maps"}
    out = dict(ERRORS)
    for code in codes:
        out[code] = {"description": texts[code], "content": {"application/problem+json": {}}}
    return out


# ---------------------------------------------------------------- URLs and documents
def _base(request: Request) -> str:
    return str(request.base_url)


def _map_out(request: Request, record: MapRecord) -> dict[str, Any]:
    base = _base(request)
    links = MapLinks(self=f"{base}api/maps/{record.id}", studio=f"{base}studio?map={record.id}",
                     versions=f"{base}api/maps/{record.id}/versions",
                     latest=f"{base}maps/saved/{record.id}" if record.latest_version else None)
    return MapOut(id=record.id, revision=record.revision, etag=record.etag,
                  created=record.created, updated=record.updated,
                  latest_version=record.latest_version, document=record.document,
                  links=links).model_dump(mode="json")  # fmt: skip


def _edit_url(request: Request, map_id: str, token: str) -> str:
    return f"{_base(request)}studio?map={map_id}#token={token}"


def _json(doc: Any, status: int = 200, etag: str | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    out = {**NO_STORE, **(headers or {})}
    if etag:
        out["etag"] = etag
    return JSONResponse(doc, status_code=status, headers=out)


# ---------------------------------------------------------------- rendering
@dataclass(frozen=True)
class SavedMapSpec(maps.MapSpec):
    """A custom MapSpec whose URLs are those of one saved version (pinned)."""

    saved_path: str = ""

    @property
    def path(self) -> str:  # type: ignore[override]
        """``maps/saved/{mapId}/v/{n}``."""
        return self.saved_path

    def query(self) -> dict[str, str]:
        """The content is in the path: no query."""
        return {}


@dataclass(frozen=True)
class SavedFlags(MapFlags):
    """Flags whose defaults are the saved version's own, so its URLs stay query-free."""

    saved: MapFlags | None = None

    def query(self, default_tiles: str = "none") -> dict[str, str]:
        """Only what differs from the saved flags (a reader's own overrides)."""
        base = self.saved or MapFlags(tiles=default_tiles)
        out: dict[str, str] = {}
        for name in MapFlags.__dataclass_fields__:
            value = getattr(self, name)
            if value == getattr(base, name) or value is None:
                continue
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return dict(sorted(out.items()))


def version_spec(version: VersionRecord) -> SavedMapSpec:
    """The MapSpec the renderer draws for *version*."""
    items = version.document.items
    return SavedMapSpec("custom", tuple(items.borders), tuple(items.places),
                        tuple(items.crossings), tuple(items.countries), None,
                        annotations=saved_annotations(version.document),
                        texts=maps.PageTexts(version.document.dek, version.document.source,
                                             version.document.byline, version.document.alt),
                        saved_path=f"maps/saved/{version.map_id}/v/{version.n}")  # fmt: skip


def saved_annotations(doc: MapDocument) -> tuple[maps.Annotation, ...]:
    """The document's annotations as the renderer draws them (hashable, lon/lat points)."""
    out = []
    for a in doc.annotations:
        if isinstance(a, LineAnnotation):
            out.append(maps.Annotation("line", ((a.start.lon, a.start.lat),
                                                (a.end.lon, a.end.lat)), a.text, "", a.arrow))
        elif isinstance(a, MarkerAnnotation):
            out.append(maps.Annotation("marker", ((a.lon, a.lat),), a.text, a.note))
        else:
            out.append(maps.Annotation("label", ((a.lon, a.lat),), a.text))
    return tuple(out)


def saved_flag_values(version: VersionRecord, drawn_from: tuple[str, str] | None = None
                      ) -> dict[str, str | None]:  # fmt: skip
    """The renderer flags of a version, as query-style values; "Data as of" names
    *drawn_from* (data version, time) when it is re-drawn, else the version's own data."""
    doc = version.document
    data_version, data_time = drawn_from or (version.data_version, version.data_time)
    return {"title": doc.title or None,
            "caption": composed_caption(doc, data_version, data_time),
            "lang": doc.lang, "dark": doc.dark, "static": str(doc.static).lower(),
            "inset": str(doc.inset).lower()}  # fmt: skip


def version_flags(version: VersionRecord, overrides: dict[str, str | None],
                  default_tiles: str, drawn_from: tuple[str, str] | None = None
                  ) -> SavedFlags:  # fmt: skip
    """The version's flags with a reader's URL overrides (validated like every map page)."""
    saved_raw = saved_flag_values(version, drawn_from)
    saved = parse_flags(saved_raw, default_tiles)
    given = {k: v for k, v in overrides.items() if v is not None}
    flags = parse_flags({**saved_raw, **given}, default_tiles)
    return SavedFlags(**asdict(flags), saved=saved)


def get_overrides(
    title: Annotated[str | None, Query(description="Headline instead of the saved one.")] = None,
    caption: Annotated[str | None, Query(description="Caption instead of the saved one.")] = None,
    lang: Annotated[str | None, Query(description="en, ru or be.")] = None,
    dark: Annotated[str | None, Query(description="auto, true or false.")] = None,
    static: Annotated[str | None, Query(description="true: no pan or zoom.")] = None,
    tiles: Annotated[str | None, Query(description="none, osm, light or dark.")] = None,
    inset: Annotated[str | None, Query(description="Overview inset (true/false).")] = None,
    labels: Annotated[str | None, Query(description="Place labels (true/false).")] = None,
    childId: Annotated[str | None, Query(include_in_schema=False)] = None,  # noqa: N803 - pym
    initialWidth: Annotated[str | None, Query(include_in_schema=False)] = None,  # noqa: N803
    parentTitle: Annotated[str | None, Query(include_in_schema=False)] = None,  # noqa: N803
    parentUrl: Annotated[str | None, Query(include_in_schema=False)] = None,  # noqa: N803
) -> dict[str, str | None]:
    """A reader's flag overrides (the same flags as every map page)."""
    return {"title": title, "caption": caption, "lang": lang, "dark": dark, "static": static,
            "tiles": tiles, "inset": inset, "labels": labels}  # fmt: skip


OverridesDep = Annotated[dict[str, str | None], Depends(get_overrides)]


def version_urls(request: Request, version: VersionRecord) -> VersionUrls:
    """The pinned URLs of *version*."""
    base = _base(request)
    page = f"{base}maps/saved/{version.map_id}/v/{version.n}"
    width, height, _ = SIZES[version.document.size]
    return VersionUrls(page=page, embed=f"{page}/embed", png=f"{page}.png?width={width}"
                       f"&height={height}",
                       oembed=f"{base}maps/saved/oembed?url={quote(page, safe='')}&format=json",
                       latest=f"{base}maps/saved/{version.map_id}")  # fmt: skip


async def version_title(request: Request, version: VersionRecord) -> str:
    """The headline a version shows: as stored at publish; for older versions its own
    title, else the renderer's default from the data loaded now."""
    if version.title is not None:
        return version.title
    if version.document.title:
        return version.document.title
    service = request.app.state.map_service
    return (await service.content(version_spec(version), version.document.lang)).title


def version_snippet(url: str, title: str, version: VersionRecord) -> str:
    """The iframe snippet of a version, at its size preset's height."""
    return embed.snippet(url, title, SIZES[version.document.size][2])


async def version_out(request: Request, version: VersionRecord) -> dict[str, Any]:
    """The JSON of one version, with its pinned URLs and snippet."""
    urls = version_urls(request, version)
    title = await version_title(request, version)
    return VersionOut(map_id=version.map_id, n=version.n, published=version.published,
                      data_version=version.data_version, data_time=version.data_time,
                      title=title, urls=urls,
                      snippet=version_snippet(urls.page, title, version)
                      ).model_dump(mode="json")  # fmt: skip


async def _latest(repo: MapRepository, map_id: str) -> VersionRecord:
    record = await _live_map(repo, map_id)
    if not record.latest_version:
        raise MapNotFoundError(f"Map {map_id} has no published version yet (drafts are seen "
                               "only in the studio, with the edit link).")  # fmt: skip
    return await run_in_threadpool(repo.version, map_id, record.latest_version)


async def _version(repo: MapRepository, map_id: str, n: str) -> VersionRecord:
    return await run_in_threadpool(repo.version, _map_id(map_id), _version_number(n))


async def _render_version(request: Request, version: VersionRecord
                          ) -> tuple[bytes, VersionRenders]:  # fmt: skip
    """The page (placeholder origin), headline, PNG and SVG of *version* at its size preset,
    drawn from the data loaded now (at publish time), concurrently within the render
    bounds."""
    service = request.app.state.map_service
    spec = version_spec(version)
    flags = version_flags(version, {}, service.default_tiles)
    size = _preset_size(version)
    page, png, svg, title = await asyncio.gather(
        service.page(spec, flags, BASE_PLACEHOLDER), service.png(spec, flags, size),
        service.svg(spec, flags, size), version_title(request, version))
    return page, VersionRenders(title, png, svg)


def _preset_size(version: VersionRecord) -> tuple[int, int]:
    width, height, _ = SIZES[version.document.size]
    return parse_size(width, height)


# ---------------------------------------------------------------- the API
CREATE_EXAMPLE = {"title": "Divin, 6 km from the Ukrainian border", "lang": "en",
                  "items": {"borders": ["BY-UA"], "places": ["divin"]},
                  "annotations": [{"type": "label", "lon": 24.58, "lat": 51.97,
                                   "text": "Border zone checkpoint"}]}  # fmt: skip
DocumentBody = Annotated[MapDocument, Body(openapi_examples={
    "divin": {"summary": "Divin and the BY-UA border", "value": CREATE_EXAMPLE}})]


async def _canonical(store: FeatureStore, document: MapDocument) -> MapDocument:
    return await canonical_document(store, document)


@router.post("/api/maps", status_code=201, tags=TAG_API, summary="Create a map",
             response_model=MapCreated, responses=_errors(403, 413, 429))  # fmt: skip
async def create_map(request: Request, document: DocumentBody, repo: RepositoryDep,
                     store: StoreDep, credentials: BearerDep) -> Response:  # fmt: skip
    """Save a new draft. The answer holds the secret edit token (only its hash is kept) and
    the edit link. Without an API key, creation is rate-limited per client address."""
    owner = None
    if credentials is not None and credentials.credentials:
        key = await run_in_threadpool(repo.key_by_hash, tokens.token_hash(credentials.credentials))
        if key is None:
            raise ForbiddenError("Unknown or revoked API key.")
        owner = key.id
    else:
        address = request.client.host if request.client else "unknown"
        await request.app.state.studio_limiter.hit(address)
    document = await _canonical(store, document)
    record, token = await run_in_threadpool(repo.create, document, owner)
    out = {**_map_out(request, record), "edit_token": token,
           "edit_url": _edit_url(request, record.id, token)}  # fmt: skip
    return _json(out, 201, record.etag, {"location": out["links"]["self"]})


@router.get("/api/maps/{mapId}", tags=TAG_API, summary="A map's draft", response_model=MapOut,
            responses=_errors(401, 403))  # fmt: skip
async def get_map(request: Request, mapId: str, repo: RepositoryDep,  # noqa: N803
                  credentials: BearerDep) -> Response:  # fmt: skip
    """The draft and its ETag (for If-Match); needs the edit token or the creating API key."""
    record = await _live_map(repo, mapId)
    await _authorize(repo, record, credentials)
    return _json(_map_out(request, record), etag=record.etag)


@router.put("/api/maps/{mapId}", tags=TAG_API, summary="Replace a map's draft",
            response_model=MapOut, responses=_errors(401, 403, 412, 413, 428))  # fmt: skip
async def put_map(request: Request, mapId: str, document: DocumentBody,  # noqa: N803
                  repo: RepositoryDep, store: StoreDep, credentials: BearerDep,
                  if_match: Annotated[str | None, Header(
                      description="The ETag of the draft being edited (required).")] = None,
                  ) -> Response:  # fmt: skip
    """Optimistic concurrency: a stale If-Match is 412, so two editors never overwrite each
    other silently; without If-Match, 428."""
    record = await _live_map(repo, mapId)
    await _authorize(repo, record, credentials)
    revision = _revision(if_match, record, required=True)
    assert revision is not None
    document = await _canonical(store, document)
    updated = await run_in_threadpool(repo.update, record.id, document, revision)
    return _json(_map_out(request, updated), etag=updated.etag)


@router.delete("/api/maps/{mapId}", status_code=204, tags=TAG_API, summary="Delete a map",
               responses=_errors(401, 403, 412))  # fmt: skip
async def delete_map(mapId: str, repo: RepositoryDep, credentials: BearerDep,  # noqa: N803
                     if_match: Annotated[str | None, Header()] = None) -> Response:  # fmt: skip
    """Deletes the draft, its edit token and its listing. Published versions stay reachable
    at /maps/saved/{mapId}/v/{n}, since embeds already out point there."""
    record = await _live_map(repo, mapId)
    await _authorize(repo, record, credentials)
    revision = _revision(if_match, record, required=False)
    if revision is not None and revision != record.revision:
        raise PreconditionFailedError(f"The map is at {record.etag}; reload it.")
    await run_in_threadpool(repo.delete, record.id)
    return Response(status_code=204, headers=NO_STORE)


@router.post("/api/maps/{mapId}/publish", status_code=201, tags=TAG_API,
             summary="Publish the draft as a new immutable version", response_model=VersionOut,
             responses=_errors(401, 403, 409, 412))  # fmt: skip
async def publish_map(request: Request, mapId: str, repo: RepositoryDep,  # noqa: N803
                      store: StoreDep, credentials: BearerDep,
                      if_match: Annotated[str | None, Header(
                          description="Publish only if the draft is still at this ETag.")] = None,
                      ) -> Response:  # fmt: skip
    """Version n+1 records the data version it is drawn from ("Data as of …"). Publishing
    the same document with the same data again is 409; with new data it is a new version."""
    record = await _live_map(repo, mapId)
    await _authorize(repo, record, credentials)
    revision = _revision(if_match, record, required=False)
    if record.document.is_empty():
        raise ConflictError("The draft shows nothing yet: add a border, place, crossing or "
                            "country (items) before publishing.")  # fmt: skip
    info = store.info
    # The page, headline, PNG and SVG are rendered now, once, and stored with the version:
    # a later data release never changes them. They are rendered as version n of this
    # revision; the repository refuses the publish if either moved meanwhile.
    n = record.latest_version + 1
    pending = VersionRecord(record.id, n, record.document, info.data_version,
                            info.data_time, "")  # fmt: skip
    page, renders = await _render_version(request, pending)
    try:
        version = await run_in_threadpool(
            repo.publish, record.id, info.data_version, info.data_time,
            record.revision if revision is None else revision, page, n, renders)
    except PreconditionFailedError:
        if revision is not None:
            raise
        raise ConflictError("The draft changed while it was being published; publish "
                            "again.") from None
    out = await version_out(request, version)
    return _json(out, 201, headers={"location": out["urls"]["page"]})


#: The preview is framed by the studio only (same origin), never indexed or cached.
PREVIEW_HEADERS = {
    **NO_STORE, "x-robots-tag": "noindex", "x-frame-options": "SAMEORIGIN",
    "content-security-policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data: https:; connect-src 'self'; frame-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"),
}  # fmt: skip
PREVIEW_PATH = "api/maps/preview"
FORM = "application/x-www-form-urlencoded"


def _preview_document(request: Request) -> MapDocument:
    """The draft of a preview request: a JSON MapDocument, or the studio's form post (one
    field, ``document``, holding that JSON, so the preview frame can be its target)."""
    body: bytes = request._body  # read (size-capped) by CappedBodyRoute
    try:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
            fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
            raw = fields.get("document", [""])[0]
        else:
            raw = body.decode("utf-8", "replace")
        data = orjson.loads(raw)
    except ValueError:  # orjson.JSONDecodeError too; parse_qs: too many fields
        raise RequestValidationError([{"loc": ("body",), "msg": "send a map document as JSON "
                                       "(or as the form field document)",
                                       "type": "json_invalid"}]) from None  # fmt: skip
    if not isinstance(data, dict):
        raise RequestValidationError([{"loc": ("body",), "msg": "a map document must be a "
                                       "JSON object", "type": "model_type"}])  # fmt: skip
    try:
        return MapDocument.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                      for e in exc.errors()]) from None


@router.post("/api/maps/preview", tags=TAG_API, response_class=HTMLResponse,
             summary="Preview a draft: its page as it would be published (nothing stored)",
             responses={200: {"content": {HTML: {}}}, **_errors(409, 413, 429)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"$ref": "#/components/schemas/MapDocument"}},
                 FORM: {"schema": {"type": "object", "required": ["document"], "properties": {
                     "document": {"type": "string", "description": "The map document as "
                                  "JSON (the studio's preview frame posts this form)."}}}}}}},
             )  # fmt: skip
async def preview_map(request: Request, store: StoreDep) -> Response:
    """The page a draft would publish now, drawn by the renderer of published versions
    (annotations, dek, source line, byline, "Data as of" the data loaded now; every text
    escaped). Nothing is stored; previews are rate-limited per client address and bodies
    are size-capped like every maps API call. The page's own links (PNG, embed) lead
    nowhere until the map is published."""
    address = request.client.host if request.client else "unknown"
    await request.app.state.studio_preview_limiter.hit(address)
    document = await _canonical(store, _preview_document(request))
    if document.is_empty():
        raise ConflictError("The draft shows nothing yet: add a border, place, crossing or "
                            "country (items) to preview it.")  # fmt: skip
    info = request.app.state.map_service.store.info
    draft = VersionRecord("preview", 0, document, info.data_version, info.data_time, "")
    service = request.app.state.map_service
    spec = replace(version_spec(draft), saved_path=PREVIEW_PATH)
    body = await service.page(spec, version_flags(draft, {}, service.default_tiles),
                              _base(request))  # fmt: skip
    return HTMLResponse(body, headers=PREVIEW_HEADERS)


@router.post("/api/maps/{mapId}/token", tags=TAG_API, summary="Rotate the edit token",
             response_model=TokenOut, responses=_errors(401, 403))  # fmt: skip
async def rotate_token(request: Request, mapId: str, repo: RepositoryDep,  # noqa: N803
                       credentials: BearerDep) -> Response:  # fmt: skip
    """A new edit token and link; the old token stops working at once."""
    record = await _live_map(repo, mapId)
    await _authorize(repo, record, credentials)
    token = await run_in_threadpool(repo.rotate_token, record.id)
    return _json({"edit_token": token, "edit_url": _edit_url(request, record.id, token)})


@router.get("/api/maps/{mapId}/versions", tags=TAG_API, summary="Published versions",
            response_model=VersionList, responses=ERRORS)  # fmt: skip
async def list_versions(request: Request, mapId: str, repo: RepositoryDep) -> Response:  # noqa: N803
    """Every published version (public: they are published), oldest first."""
    record = await _live_map(repo, mapId)
    versions = await run_in_threadpool(repo.versions, record.id)
    return _json({"map_id": record.id,
                  "versions": [await version_out(request, v) for v in versions]})


# ---------------------------------------------------------------- pages of versions
PAGE = {"response_class": HTMLResponse, "responses": {200: {"content": {HTML: {}}}, **ERRORS}}
IMAGE = {"response_class": Response, "responses": {200: {"content": {PNG: {}}}, **ERRORS}}
VECTOR = {"response_class": Response, "responses": {200: {"content": {SVG: {}}}, **ERRORS}}
SNIPPET = {"response_class": HTMLResponse, "responses": ERRORS}


def _no_overrides(overrides: dict[str, str | None]) -> bool:
    return all(value is None for value in overrides.values())


def _frozen_headers(body: bytes, latest: bool) -> dict[str, str]:
    """A strong ETag of the stored bytes; a year's caching for a version's own URL (it
    never changes), none for the latest (it moves on the next publish)."""
    etag = '"v-' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return {"etag": etag, **(NO_STORE if latest else {"cache-control": IMMUTABLE})}


def _drawn_from(request: Request) -> tuple[str, str]:
    info = request.app.state.map_service.store.info
    return info.data_version, info.data_time


async def _page(request: Request, repo: MapRepository, version: VersionRecord,
                overrides: dict[str, str | None], latest: bool = False) -> Response:  # fmt: skip
    """The stored page of *version* without overrides; else re-drawn from the data now."""
    headers = {"x-content-type-options": "nosniff"}
    if _no_overrides(overrides):
        stored = await run_in_threadpool(repo.version_page, version.map_id, version.n)
        if stored is not None:
            body = with_base(stored, _base(request))
            return HTMLResponse(body, headers={**headers, **_frozen_headers(body, latest)})
    service = request.app.state.map_service
    flags = version_flags(version, overrides, service.default_tiles, _drawn_from(request))
    body = await service.page(version_spec(version), flags, _base(request))
    return HTMLResponse(body, headers={**headers, **(NO_STORE if latest else {})})


async def _png(request: Request, repo: MapRepository, version: VersionRecord,
               overrides: dict[str, str | None], width: int | None, height: int | None,
               latest: bool = False, fmt: str = "png") -> Response:  # fmt: skip
    """The stored PNG or SVG of *version* at its size preset without overrides; else
    re-drawn from the data now."""
    media_type, headers = (SVG, dict(SVG_HEADERS)) if fmt == "svg" else (PNG, {})
    preset = SIZES[version.document.size]
    at_preset = width in (None, preset[0]) and height in (None, preset[1])
    if at_preset and _no_overrides(overrides):
        stored = await run_in_threadpool(repo.version_image, version.map_id, version.n, fmt)
        if stored is not None:
            return Response(stored, media_type=media_type,
                            headers={**headers, **_frozen_headers(stored, latest)})
    service = request.app.state.map_service
    flags = version_flags(version, overrides, service.default_tiles, _drawn_from(request))
    size = parse_size(width if width is not None else preset[0],
                      height if height is not None else preset[1])  # fmt: skip
    draw = service.svg if fmt == "svg" else service.png
    body = await draw(version_spec(version), flags, size)
    return Response(body, media_type=media_type,
                    headers={**headers, **(NO_STORE if latest else {})})


async def _snippet(request: Request, version: VersionRecord,
                   headers: dict[str, str] | None = None) -> Response:  # fmt: skip
    urls = version_urls(request, version)
    title = await version_title(request, version)
    return HTMLResponse(version_snippet(urls.page, title, version) + "\n", headers=headers)


Width = Annotated[int | None, Query(description="PNG width in pixels (default: the size "
                                    "preset's).")]  # fmt: skip
Height = Annotated[int | None, Query(description="PNG height in pixels.")]


@router.get("/maps/saved/oembed", tags=TAG_PAGES,
            summary=(
            "oEmbed 1.0 for saved maps (frozen: the version's stored title, pinned "
            "thumbnail and snippet)"),
            response_class=JSONResponse, responses=ERRORS)  # fmt: skip
async def saved_oembed(
    request: Request,
    repo: RepositoryDep,
    url: Annotated[str, Query(description="A /maps/saved/{mapId}[/v/{n}] page URL.")],
    format: Annotated[str, Query(description="json.")] = "json",  # noqa: A002
    maxwidth: Annotated[int | None, Query(ge=MIN_PX)] = None,
    maxheight: Annotated[int | None, Query(ge=MIN_PX)] = None,
) -> Response:
    """An oEmbed ``rich`` document whose iframe is pinned to a version (the latest when the
    URL names none)."""
    if format != "json":
        raise InvalidParameterError("format must be json.")
    parts = urlsplit(url)
    m = re.fullmatch(r"/maps/saved/([^/]+)(?:/v/([^/]+))?/?", parts.path)
    if parts.scheme not in ("http", "https") or not m:
        raise InvalidParameterError("url must be a saved map page, …/maps/saved/{mapId}[/v/{n}].")
    if m.group(2):
        version = await _version(repo, m.group(1), m.group(2))
    else:
        version = await _latest(repo, m.group(1))
    urls = version_urls(request, version)
    title = await version_title(request, version)
    doc = embed.oembed_document(urls.page, title, _base(request), urls.png, maxwidth, maxheight)
    doc["html"] = embed.snippet(urls.page, title, doc["height"])
    return _json(doc) if not m.group(2) else JSONResponse(doc)


@router.get("/maps/saved/{mapId}.png", tags=TAG_PAGES,
            summary=(
            "Latest version as a PNG (stored at publish; re-drawn with overrides or "
            "another width/height)"),
            **IMAGE)  # fmt: skip
async def latest_png(request: Request, mapId: str, repo: RepositoryDep,  # noqa: N803
                     overrides: OverridesDep, width: Width = None,
                     height: Height = None) -> Response:  # fmt: skip
    """The latest published version's PNG: stored at publish when there are no overrides and
    the size is the preset's; re-drawn from the current data otherwise."""
    return await _png(request, repo, await _latest(repo, mapId), overrides, width, height,
                      latest=True)


@router.get("/maps/saved/{mapId}.svg", tags=TAG_PAGES,
            summary=(
            "Latest version as SVG (stored at publish; re-drawn with overrides or "
            "another width/height)"),
            **VECTOR)  # fmt: skip
async def latest_svg(request: Request, mapId: str, repo: RepositoryDep,  # noqa: N803
                     overrides: OverridesDep, width: Width = None,
                     height: Height = None) -> Response:  # fmt: skip
    """The latest published version as SVG (the PNG's map, text kept as text): stored at
    publish when there are no overrides and the size is the preset's; re-drawn otherwise."""
    return await _png(request, repo, await _latest(repo, mapId), overrides, width, height,
                      latest=True, fmt="svg")


@router.get("/maps/saved/{mapId}/embed", tags=TAG_PAGES,
            summary=(
            "Embed snippet of the latest version (pinned to it; frozen)"),
            **SNIPPET)  # fmt: skip
async def latest_embed(request: Request, mapId: str, repo: RepositoryDep) -> Response:  # noqa: N803
    """The iframe snippet of the latest version, pinned to it: a story never changes."""
    return await _snippet(request, await _latest(repo, mapId), NO_STORE)


@router.get("/maps/saved/{mapId}", tags=TAG_PAGES,
            summary=(
            "Latest published version (stored page; re-drawn with overrides)"), **PAGE)
async def latest_page(request: Request, mapId: str, repo: RepositoryDep,  # noqa: N803
                      overrides: OverridesDep) -> Response:  # fmt: skip
    """The latest published version (never the draft), its links pinned to it: the page
    stored at publish without overrides; re-drawn from the current data with them."""
    return await _page(request, repo, await _latest(repo, mapId), overrides, latest=True)


@router.get("/maps/saved/{mapId}/v/{n}.png", tags=TAG_PAGES,
            summary=(
            "A version as a PNG (frozen at its size preset; re-drawn with overrides "
            "or another width/height)"),
            **IMAGE)  # fmt: skip
async def version_png(request: Request, mapId: str, n: str, repo: RepositoryDep,  # noqa: N803
                      overrides: OverridesDep, width: Width = None,
                      height: Height = None) -> Response:  # fmt: skip
    """Frozen: the PNG stored at publish (size preset, no overrides), byte for byte with a
    strong ETag. Re-drawn from the current data: other width/height, or overrides."""
    return await _png(request, repo, await _version(repo, mapId, n), overrides, width, height)


@router.get("/maps/saved/{mapId}/v/{n}.svg", tags=TAG_PAGES,
            summary=(
            "A version as SVG (frozen at its size preset; re-drawn with overrides "
            "or another width/height)"),
            **VECTOR)  # fmt: skip
async def version_svg(request: Request, mapId: str, n: str, repo: RepositoryDep,  # noqa: N803
                      overrides: OverridesDep, width: Width = None,
                      height: Height = None) -> Response:  # fmt: skip
    """Frozen: the SVG stored at publish (size preset, no overrides), byte for byte with a
    strong ETag. Re-drawn from the current data: other width/height, or overrides."""
    return await _png(request, repo, await _version(repo, mapId, n), overrides, width, height,
                      fmt="svg")


@router.get("/maps/saved/{mapId}/v/{n}/embed", tags=TAG_PAGES,
            summary="Embed snippet of a version (frozen)", **SNIPPET)  # fmt: skip
async def version_embed(request: Request, mapId: str, n: str,  # noqa: N803
                        repo: RepositoryDep) -> Response:  # fmt: skip
    """The iframe snippet pinned to this version."""
    return await _snippet(request, await _version(repo, mapId, n))


@router.get("/maps/saved/{mapId}/v/{n}", tags=TAG_PAGES,
            summary=(
            "One published version (frozen page; re-drawn with overrides)"),
            **PAGE)  # fmt: skip
async def version_page(request: Request, mapId: str, n: str, repo: RepositoryDep,  # noqa: N803
                       overrides: OverridesDep) -> Response:  # fmt: skip
    """Frozen: the page HTML rendered when the version was published, byte for byte with
    a strong ETag (its caption says "Data as of …" that data; the embed's pym query is
    not an override). Re-drawn from the data loaded now: with reader overrides
    (``?lang=``, ``?title=``, …), or for a version published before pages were stored."""
    return await _page(request, repo, await _version(repo, mapId, n), overrides)


# ---------------------------------------------------------------- the studio page
TEMPLATES = Environment(loader=FileSystemLoader(Path(maps.TEMPLATES_DIR)),
                        autoescape=select_autoescape(default=True, default_for_string=True))


def studio_strings() -> dict[str, dict[str, str]]:
    """Every visible string of the studio, in en, ru and be."""
    return orjson.loads(STRINGS_FILE.read_bytes())


@router.get("/studio", tags=TAG_PAGES, summary="The map studio", response_class=HTMLResponse,
            responses={200: {"content": {HTML: {}}}})  # fmt: skip
async def studio_page(request: Request, settings: SettingsDep,
                      lang: Annotated[str | None, Query(description="en, ru or be.")] = None,
                      map: Annotated[str | None, Query(  # noqa: A002
                          description="Open this saved map (the edit token goes in the "
                          "#token= fragment).")] = None) -> Response:  # fmt: skip
    """Make, save, publish and embed a map without writing a URL."""
    strings = studio_strings()
    if lang is not None and lang not in strings:
        raise InvalidParameterError("lang must be one of en, ru, be.")
    if map is not None and not MAP_ID.fullmatch(map):  # a query value: 400, not 404
        raise InvalidParameterError("map must be a saved map id: 12 characters, a-z and 2-9.")
    lang = lang or _preferred_lang(request.headers.get("accept-language", ""), strings)
    base = _base(request)
    config = {"lang": lang, "strings": strings, "base": base, "limits": LIMITS,
              "maxItems": MAX_ITEMS, "maxAnnotations": MAX_ANNOTATIONS,
              "sizes": {k: list(v) for k, v in SIZES.items()}, "map": map,
              "defaultTiles": settings.maps.default_tiles}  # fmt: skip
    page = TEMPLATES.get_template("studio.html").render(
        lang=lang, t=strings[lang], base=base,
        icon=maps.ICON.url(f"{base}static/"),
        css=maps.Asset("studio.css", "css").url(f"{base}static/"),
        js=maps.Asset("studio.js", "js").url(f"{base}static/"),
        config=_script_json(config))
    return HTMLResponse(page, headers={"vary": "Accept-Language",
                                       "content-language": lang, **NO_STORE})  # fmt: skip


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return (orjson.dumps(value).decode().replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029"))  # fmt: skip


def _preferred_lang(accept_language: str, strings: dict[str, Any]) -> str:
    for item in accept_language.split(","):
        code = item.split(";")[0].strip().lower()[:2]
        if code in strings:
            return code
    return "en"


# ---------------------------------------------------------------- wiring
async def _with_headers(request: Request, exc: Exception) -> Response:
    """Problem responses that need a header: WWW-Authenticate (401), Retry-After (429)."""
    assert isinstance(exc, AtlasError)
    response = problem_response(request, problem_document(request, exc))
    response.headers.update(NO_STORE)
    if isinstance(exc, AuthenticationRequiredError):
        response.headers["www-authenticate"] = 'Bearer realm="frontier-atlas maps"'
    if isinstance(exc, RateLimitedError):
        response.headers["retry-after"] = str(exc.retry_after)
    return response


async def saved_map_for_path(request: Request, parts: list[str], query: dict[str, str]
                             ) -> tuple[maps.MapSpec, MapFlags] | None:  # fmt: skip
    """The spec and flags of a ``/maps/saved/{mapId}[/v/{n}]`` page (the latest version
    when none is named: the answer pins it), for ``/oembed``; None for other paths.

    Without overrides the flags carry the headline stored at publish, so the answer's
    title, snippet and (pinned, stored) thumbnail never change; with overrides they are
    those of the re-drawn page."""
    if parts[:2] != ["maps", "saved"] or len(parts) not in (3, 5):
        return None
    repo = get_repository(request)
    if len(parts) == 5:
        if parts[3] != "v":
            return None
        version = await _version(repo, parts[2], parts[4])
    else:
        version = await _latest(repo, parts[2])
    service = request.app.state.map_service
    overrides = {name: query.get(name) for name in FLAG_NAMES}
    if _no_overrides(overrides):
        flags = version_flags(version, overrides, service.default_tiles)
        if version.title is not None:
            assert flags.saved is not None
            flags = replace(flags, title=version.title,
                            saved=replace(flags.saved, title=version.title))
        return version_spec(version), flags
    return version_spec(version), version_flags(version, overrides, service.default_tiles,
                                                _drawn_from(request))


def install(app: FastAPI) -> None:
    """Add the studio routes and the error handlers that set headers."""
    app.include_router(router)
    add_path_hook(app, saved_map_for_path)
    app.add_exception_handler(AuthenticationRequiredError, _with_headers)
    app.add_exception_handler(RateLimitedError, _with_headers)
    app.state.map_repository = None  # opened in the lifespan (``start``)


def start(app: FastAPI, settings: StudioSettings) -> None:
    """Open the maps repository (it connects on first use) and the creation limiter
    (counted in the repository)."""
    repo = open_repository(settings.state_dir, settings.database_url, settings.pool_size)
    app.state.map_repository = repo
    app.state.studio_limiter = RateLimiter(repo, "create", settings.creates_per_hour,
                                           "new maps")
    app.state.studio_preview_limiter = RateLimiter(
        repo, "preview", settings.previews_per_hour, "previews")


def stop(app: FastAPI) -> None:
    """Close the maps repository."""
    repo = getattr(app.state, "map_repository", None)
    if repo is not None:
        repo.close()
