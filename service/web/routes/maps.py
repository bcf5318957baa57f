"""Map pages, PNGs, embed snippets and oEmbed; the static assets they load.

``install(app)`` adds the router, mounts ``/static`` (long-lived caching) and
wraps the app's HTML renderer so that collection and feature pages show a map.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from service.domain.errors import InvalidParameterError, NotFoundError
from service.maps import content as maps
from service.maps import embed
from service.maps.context_layers import ContextLayers
from service.maps.flags import (
    DARK,
    LANGS,
    MAX_PX,
    MIN_PX,
    PYM_PARAMS,
    TILES,
    MapFlags,
    parse_flags,
    parse_size,
)
from service.maps.limits import RenderLimiter
from service.settings import MapSettings, Settings
from service.store.base import FeatureStore
from service.web.params import SettingsDep, StoreDep
from service.web.responses import HTML, HTMLResponse, JSONResponse, problem_response

router = APIRouter(tags=["Maps"])
PNG = "image/png"
SVG = "image/svg+xml"
IMMUTABLE = "public, max-age=31536000, immutable"


# ---------------------------------------------------------------- service object
#: The origin map pages are rendered with; each answer puts the real one in its place.
BASE_PLACEHOLDER = "http://base.frontier-atlas.invalid/"
_PLACEHOLDER_FORMS = (BASE_PLACEHOLDER.encode(), quote(BASE_PLACEHOLDER, safe="").encode())


def with_base(body: bytes, base: str) -> bytes:
    """*body* with the placeholder origin replaced by *base* (plain and URL-encoded)."""
    plain, encoded = _PLACEHOLDER_FORMS
    return body.replace(plain, base.encode()).replace(encoded, quote(base, safe="").encode())


class MapService:
    """Map options from the settings, plus the caches of rendered pages and images."""

    def __init__(self, settings: MapSettings, store: FeatureStore) -> None:
        self.store = store
        self.default_tiles = settings.default_tiles
        tiles = {
            "osm": maps.TileSource(settings.tile_url("osm"), maps.OSM_TILE_ATTRIBUTION,
                                   subdomains="abc"),
            "light": maps.TileSource(settings.tile_url("light"), maps.CARTO_TILE_ATTRIBUTION,
                                     subdomains="abcd"),
            "dark": maps.TileSource(settings.tile_url("dark"), maps.CARTO_TILE_ATTRIBUTION,
                                    subdomains="abcd"),
        }
        self.options = maps.MapOptions(
            tiles=tiles, attribution_prefix=settings.attribution_prefix)
        # Regions, lakes and rivers: read once, in the background (start-up does not wait
        # for it; the first map that needs it does), never per request.
        self._context_path = settings.context_file
        self._context: ContextLayers | None = None
        self._context_lock = threading.Lock()
        threading.Thread(target=lambda: self.context, daemon=True,
                         name="map-context-layers").start()  # fmt: skip
        self.cache = maps.RenderCache(settings.cache_entries)
        self.limiter = RenderLimiter(settings.render_concurrency, settings.render_queue)
        self.timings: dict[str, float] = {}

    @property
    def context(self) -> ContextLayers | None:
        """The context layers, loaded on first use (once)."""
        with self._context_lock:
            if self._context is None and self._context_path is not None:
                self._context = ContextLayers.load(self._context_path)
                self._context_path = None
            return self._context

    async def _cached(self, key: Any, make: Callable[[], Any]) -> Any:
        """A cached render, or a new one made within the render bounds."""
        hit = self.cache.peek(key)
        if hit is not None:
            return hit
        return await self.limiter.run(self.cache.get_or_make, key, make)

    async def content(self, spec: maps.MapSpec, lang: str) -> maps.MapContent:
        """What *spec* shows in *lang*: resolved once, then kept with the pages."""
        places = await maps.places_of(self.store, spec)
        events = await maps.events_of(self.store, spec, lang)
        as_of = maps.data_date(self.store)

        def make() -> maps.MapContent:
            content = maps.resolve(self.store.frontier, places, spec, lang, self.context)
            content.events, content.data_as_of = events, as_of
            return content

        return await self._cached(("content", spec, lang), make)

    async def page(self, spec: maps.MapSpec, flags: MapFlags, base: str) -> bytes:
        """The HTML page, rendered once per (spec, flags) whatever the base URL: it is
        rendered with a placeholder origin that each answer replaces with *base*, so a
        new Host header costs a byte replacement, not a render."""
        content = await self.content(spec, flags.lang)

        def make() -> bytes:
            started = time.perf_counter()
            urls = self.urls(spec, flags, BASE_PLACEHOLDER)
            body = maps.render_page(self.store.frontier, content, flags, self.options,
                                    urls).encode()  # fmt: skip
            self.timings[f"html:{spec.path}"] = time.perf_counter() - started
            return body

        body = await self._cached(("html", spec, flags), make)
        return with_base(body, base)

    async def png(self, spec: maps.MapSpec, flags: MapFlags, size: tuple[int, int]) -> bytes:
        """The PNG, rendered once per (spec, flags, size); tiles never apply."""
        return await self.image(spec, flags, size, "png")

    async def svg(self, spec: maps.MapSpec, flags: MapFlags, size: tuple[int, int]) -> bytes:
        """The same map as the PNG, as SVG (text kept as text, for graphics desks)."""
        return await self.image(spec, flags, size, "svg")

    async def image(self, spec: maps.MapSpec, flags: MapFlags, size: tuple[int, int],
                    fmt: str) -> bytes:  # fmt: skip
        """A static image (``png`` or ``svg``), rendered once per (spec, flags, size, fmt)."""
        flags = flags.with_tiles("none")
        content = await self.content(spec, flags.lang)

        def make() -> bytes:
            started = time.perf_counter()
            from service.maps import (
                png as static_map,  # matplotlib: imported on the first image only
            )

            body = static_map.render_image(content, flags, *size, fmt=fmt)
            self.timings[f"{fmt}:{spec.path}"] = time.perf_counter() - started
            return body

        return await self._cached((fmt, spec, flags, size), make)

    def query(self, spec: maps.MapSpec, flags: MapFlags) -> str:
        """Canonical query string: content ids, then non-default flags."""
        params = {**spec.query(), **flags.query(self.default_tiles)}
        return ("?" + urlencode(params, quote_via=quote)) if params else ""

    def urls(self, spec: maps.MapSpec, flags: MapFlags, base: str) -> maps.PageUrls:
        """Absolute URLs of the page, its PNG, embed snippet and oEmbed document."""
        q = self.query(spec, flags)
        page = f"{base}{spec.path}{q}"
        return maps.PageUrls(
            page=page,
            png=f"{base}{spec.path}.png{self.query(spec, flags.with_tiles(self.default_tiles))}",
            svg=f"{base}{spec.path}.svg{self.query(spec, flags.with_tiles(self.default_tiles))}",
            oembed=f"{base}oembed?url={quote(page, safe='')}&format=json",
            embed=f"{base}{spec.path}/embed{q}",
            static_base=f"{base}static/",
            home=base,
        )


async def get_map_service(request: Request) -> MapService:
    """The app's MapService (made in the lifespan, with the store)."""
    return request.app.state.map_service


MapServiceDep = Annotated[MapService, Depends(get_map_service)]


# ---------------------------------------------------------------- flags
async def get_flags(
    settings: SettingsDep,
    title: Annotated[str | None, Query(description="Headline (default: the map's own).")] = None,
    caption: Annotated[str | None, Query(description="Caption under the map.")] = None,
    lang: Annotated[str | None, Query(description=f"Language: {', '.join(LANGS)}.")] = None,
    dark: Annotated[str | None, Query(description=f"Dark mode: {', '.join(DARK)}.")] = None,
    static: Annotated[str | None, Query(description="true: no pan or zoom.")] = None,
    tiles: Annotated[
        str | None, Query(description=f"Raster tiles under our basemap: {', '.join(TILES)}.")
    ] = None,
    inset: Annotated[str | None, Query(description="Overview inset map (true/false).")] = None,
    labels: Annotated[str | None, Query(description="Place labels (true/false).")] = None,
    childId: Annotated[str | None, Query(include_in_schema=False)] = None,  # noqa: N803 - pym
    initialWidth: Annotated[str | None, Query(include_in_schema=False)] = None,  # noqa: N803
    parentTitle: Annotated[str | None, Query(include_in_schema=False)] = None,  # noqa: N803
    parentUrl: Annotated[str | None, Query(include_in_schema=False)] = None,  # noqa: N803
) -> MapFlags:
    """The map flags, validated (400 problem+json on an invalid value)."""
    raw = {"title": title, "caption": caption, "lang": lang, "dark": dark, "static": static,
           "tiles": tiles, "inset": inset, "labels": labels}  # fmt: skip
    return parse_flags(raw, settings.maps.default_tiles)


FlagsDep = Annotated[MapFlags, Depends(get_flags)]


async def get_size(
    width: Annotated[
        int | None, Query(description=f"PNG width in pixels ({MIN_PX}–{MAX_PX}, default 1200).")
    ] = None,
    height: Annotated[
        int | None, Query(description=f"PNG height in pixels ({MIN_PX}–{MAX_PX}, default 630).")
    ] = None,
) -> tuple[int, int]:
    """The PNG size, bounded."""
    return parse_size(width, height)


SizeDep = Annotated[tuple[int, int], Depends(get_size)]


async def get_custom_spec(
    store: StoreDep,
    borders: Annotated[str | None, Query(description="Border ids, comma-separated.")] = None,
    places: Annotated[str | None, Query(description="Place ids, comma-separated.")] = None,
    crossings: Annotated[str | None, Query(description="Crossing ids, comma-separated.")] = None,
    countries: Annotated[str | None, Query(description="Country codes to highlight.")] = None,
) -> maps.MapSpec:
    """The content of a custom map."""
    return await maps.custom_spec(store, borders, places, crossings, countries)


CustomSpecDep = Annotated[maps.MapSpec, Depends(get_custom_spec)]


# ---------------------------------------------------------------- responses
def _base(request: Request) -> str:
    return str(request.base_url)


async def _page(request: Request, service: MapService, spec: maps.MapSpec,
                flags: MapFlags) -> Response:  # fmt: skip
    body = await service.page(spec, flags, _base(request))
    return HTMLResponse(body, headers={"x-content-type-options": "nosniff"})


async def _png(service: MapService, spec: maps.MapSpec, flags: MapFlags,
               size: tuple[int, int]) -> Response:  # fmt: skip
    return Response(await service.png(spec, flags, size), media_type=PNG)


async def _svg(service: MapService, spec: maps.MapSpec, flags: MapFlags,
               size: tuple[int, int]) -> Response:  # fmt: skip
    return Response(await service.svg(spec, flags, size), media_type=SVG,
                    headers={"x-content-type-options": "nosniff",
                             "content-security-policy": "default-src 'none'; style-src "
                             "'unsafe-inline'"})  # fmt: skip


async def _embed(request: Request, service: MapService, spec: maps.MapSpec,
                 flags: MapFlags) -> Response:  # fmt: skip
    # An embed sits in someone else's (usually white) article: light unless asked.
    if "dark" not in request.query_params:
        flags = replace(flags, dark="false")
    urls = service.urls(spec, flags, _base(request))
    content = await service.content(spec, flags.lang)
    title = flags.title or content.title
    # Without the script (a CMS that strips it) the iframe's height follows its width.
    hint = embed.height_hint_css(maps.page_text(service.store.frontier, content, flags))
    return HTMLResponse(embed.snippet(urls.page, title, height_css=hint) + "\n")


PAGE = {"response_class": HTMLResponse, "responses": {200: {"content": {HTML: {}}}}}
IMAGE = {"response_class": Response, "responses": {200: {"content": {PNG: {}}}}}
VECTOR = {"response_class": Response, "responses": {200: {"content": {SVG: {}}}}}
SNIPPET = {
    "response_class": HTMLResponse,
    "description": "The copy-paste HTML: a responsive, titled iframe with `allowfullscreen` and "
    "a tiny script that sets its height from the page's messages (pym.js, AMP embed-size).",
}


# ---------------------------------------------------------------- the map routes
@dataclass(frozen=True)
class MapKind:
    """One kind of map: its URL path, route-name stem, how its spec is made from the path
    parameter (or the custom map's query), and the OpenAPI summaries and descriptions of
    its page, PNG, SVG and embed snippet."""

    path: str  # "/maps/frontier", "/maps/borders/{borderId}", …
    name: str  # route names are map_<name>, map_<name>_png, map_<name>_svg, map_<name>_embed
    page: tuple[str, str]  # (summary, description) of each variant
    png: tuple[str, str]
    svg: tuple[str, str]
    embed: tuple[str, str]
    spec: Callable[..., Awaitable[maps.MapSpec]] | None = None  # (store, raw id or None)
    param: str | None = None  # the path parameter, if any


async def _frontier_spec(store: FeatureStore, _raw: str | None) -> maps.MapSpec:
    return await maps.frontier_spec(store)


async def _border_spec(store: FeatureStore, raw: str | None) -> maps.MapSpec:
    return await maps.border_spec(store, str(raw))


async def _place_spec(store: FeatureStore, raw: str | None) -> maps.MapSpec:
    return await maps.place_spec(store, str(raw))


#: Every kind of map, each served as page, .png, .svg and /embed (``add_map_routes``).
MAP_KINDS = (
    MapKind("/maps/frontier", "frontier",
            ("Map of the Belarus–Russia frontier",
             "The border, both countries and neighbours, the six checkpoints, Divin and the "
             "regional centres; measured and cited lengths in the caption."),
            ("The Belarus–Russia frontier as a PNG",
             "Server-rendered static map (no tiles, no browser), cached."),
            ("The Belarus–Russia frontier as SVG",
             "The PNG's map as SVG (same flags and size), for print and graphics desks."),
            ("Embed snippet of the frontier map",
             "The iframe snippet for /maps/frontier with the same flags."),
            spec=_frontier_spec),
    MapKind("/maps/borders/{borderId}", "border",
            ("Map of one border",
             "The border, its countries, its crossings and the largest places near it."),
            ("A border as a PNG", "Server-rendered static map of one border."),
            ("A border as SVG", "A border map as SVG."),
            ("Embed snippet of a border map", "The iframe snippet for a border map."),
            spec=_border_spec, param="borderId"),
    MapKind("/maps/places/{placeId}", "place",
            ("Locator map of a place",
             "The place, its nearest border with the distance to it, and nearby crossings."),
            ("A locator map as a PNG", "Server-rendered locator map of a place."),
            ("A locator map as SVG", "A locator map as SVG."),
            ("Embed snippet of a locator map", "The iframe snippet for a locator map."),
            spec=_place_spec, param="placeId"),
    MapKind("/maps/custom", "custom",
            ("A map of any borders, places and crossings",
             "Compose borders, places, crossings and highlighted countries by id."),
            ("A custom map as a PNG", "Server-rendered custom map."),
            ("A custom map as SVG", "A custom map as SVG."),
            ("Embed snippet of a custom map", "The iframe snippet for a custom map."),
            spec=None),  # its content comes from the query (CustomSpecDep)
)  # fmt: skip


def _spec_dependency(kind: MapKind) -> Callable[..., Awaitable[maps.MapSpec]]:
    """A FastAPI dependency giving the MapSpec of *kind* from the request."""
    if kind.spec is None:
        async def custom(spec: CustomSpecDep) -> maps.MapSpec:
            return spec

        return custom
    make = kind.spec
    if kind.param is None:
        async def fixed(store: StoreDep) -> maps.MapSpec:
            return await make(store, None)

        return fixed

    async def by_id(store: StoreDep, **path: str) -> maps.MapSpec:
        return await make(store, str(path[str(kind.param)]))

    # The path parameter is declared for OpenAPI (and validated) through the signature.
    by_id.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("store", inspect.Parameter.KEYWORD_ONLY, annotation=StoreDep),
        inspect.Parameter(kind.param, inspect.Parameter.KEYWORD_ONLY,
                          annotation=Annotated[str, Path()]),
    ])  # fmt: skip
    return by_id


def add_map_routes(target: APIRouter, kind: MapKind) -> None:
    """Register the page, .png, .svg and /embed routes of *kind* on *target*.

    Registered in the order that keeps the literal suffixes first (``….svg`` and ``….png``
    before ``{id}``, whose value could otherwise swallow them).
    """
    spec_dep = Annotated[maps.MapSpec, Depends(_spec_dependency(kind))]

    async def svg(service: MapServiceDep, spec: spec_dep, flags: FlagsDep,
                  size: SizeDep) -> Response:  # fmt: skip
        return await _svg(service, spec, flags, size)

    async def png(service: MapServiceDep, spec: spec_dep, flags: FlagsDep,
                  size: SizeDep) -> Response:  # fmt: skip
        return await _png(service, spec, flags, size)

    async def snippet(request: Request, service: MapServiceDep, spec: spec_dep,
                      flags: FlagsDep) -> Response:  # fmt: skip
        return await _embed(request, service, spec, flags)

    async def page(request: Request, service: MapServiceDep, spec: spec_dep,
                   flags: FlagsDep) -> Response:  # fmt: skip
        return await _page(request, service, spec, flags)

    for suffix, name, endpoint, (summary, description), extra in (
        (".svg", f"map_{kind.name}_svg", svg, kind.svg, VECTOR),
        (".png", f"map_{kind.name}_png", png, kind.png, IMAGE),
        ("/embed", f"map_{kind.name}_embed", snippet, kind.embed, SNIPPET),
        ("", f"map_{kind.name}", page, kind.page, PAGE),
    ):
        options = {"description": description, **extra}  # the snippet keeps its own
        endpoint.__name__ = name
        # (annotations are strings under ``from __future__``: give FastAPI the object)
        endpoint.__annotations__["spec"] = spec_dep
        target.add_api_route(kind.path + suffix, endpoint, methods=["GET"], name=name,
                             summary=summary, **options)  # fmt: skip


for _kind in MAP_KINDS:
    add_map_routes(router, _kind)


# ---------------------------------------------------------------- oEmbed
#: A map page served by another router (the studio's saved maps, ``/maps/saved/…``): given
#: the request, the URL's path segments and query, the (spec, flags) that page shows, or
#: None when the path is not its own. Hooks are listed in ``app.state.map_path_hooks``.
MapPathHook = Callable[[Request, list[str], dict[str, str]],
                       Awaitable[tuple[maps.MapSpec, MapFlags] | None]]  # fmt: skip


def add_path_hook(app: FastAPI, hook: MapPathHook) -> None:
    """Let ``/oembed`` (through ``spec_for_path``) resolve another router's map pages."""
    if not hasattr(app.state, "map_path_hooks"):
        app.state.map_path_hooks = []
    app.state.map_path_hooks.append(hook)


async def spec_for_path(store: FeatureStore, path: str, query: dict[str, str],
                        request: Request | None = None
                        ) -> maps.MapSpec | tuple[maps.MapSpec, MapFlags]:  # fmt: skip
    """The MapSpec a map URL path denotes; NotFoundError for any other path.

    With *request*, the app's path hooks come first; a page a hook resolves (a saved map)
    comes back with its own flags, as (spec, flags).
    """
    parts = [p for p in path.split("/") if p]
    for hook in getattr(request.app.state, "map_path_hooks", []) if request else []:
        found = await hook(request, parts, query)
        if found is not None:
            return found
    if parts == ["maps", "frontier"]:
        return await maps.frontier_spec(store)
    if parts == ["maps", "custom"]:
        return await maps.custom_spec(store, query.get("borders"), query.get("places"),
                                      query.get("crossings"), query.get("countries"))  # fmt: skip
    if len(parts) == 3 and parts[:2] == ["maps", "borders"]:
        return await maps.border_spec(store, parts[2])
    if len(parts) == 3 and parts[:2] == ["maps", "places"]:
        return await maps.place_spec(store, parts[2])
    raise NotFoundError("url is not a Frontier Atlas map page (/maps/frontier, "
                        "/maps/borders/{id}, /maps/places/{id}, /maps/custom, "
                        "/maps/saved/{id}[/v/{n}]).")  # fmt: skip


@router.get("/oembed", summary="oEmbed 1.0 for map pages", response_class=JSONResponse)
async def oembed(
    request: Request,
    store: StoreDep,
    service: MapServiceDep,
    url: Annotated[str, Query(description="URL of a map page, e.g. …/maps/frontier?lang=ru.")],
    format: Annotated[str, Query(description="json (xml is not implemented: 501).")] = "json",  # noqa: A002
    maxwidth: Annotated[int | None, Query(ge=200, description="Largest width.")] = None,
    maxheight: Annotated[int | None, Query(ge=200, description="Largest height.")] = None,
) -> Response:
    """An oEmbed ``rich`` document (iframe snippet and PNG thumbnail) for a map URL."""
    if format != "json":
        if format == "xml":  # oEmbed 1.0 §2.3.5: 501 for a format the provider lacks
            doc = {"type": f"{request.base_url}api.html#problem-not-implemented",
                   "title": "Not implemented", "status": 501,
                   "detail": "Only format=json is implemented.",
                   "code": "InvalidParameterValue", "instance": request.url.path}  # fmt: skip
            return problem_response(request, doc)
        raise InvalidParameterError("format must be json.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParameterError("url must be an absolute http(s) URL of a map page.")
    query = dict(parse_qsl(parts.query))
    allowed = {"borders", "places", "crossings", "countries", "f", *PYM_PARAMS,
               *MapFlags.__dataclass_fields__}  # fmt: skip
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise InvalidParameterError(f"url has unknown query parameter(s): {', '.join(unknown)}.")
    found = await spec_for_path(store, parts.path, query, request)
    if isinstance(found, tuple):  # a saved map: its own title, caption and flags
        spec, flags = found
    else:
        spec, flags = found, parse_flags(query, service.default_tiles)
    urls = service.urls(spec, flags, _base(request))
    title = flags.title or (await service.content(spec, flags.lang)).title
    doc = embed.oembed_document(urls.page, title, _base(request), urls.png, maxwidth, maxheight)
    return JSONResponse(doc)


# ---------------------------------------------------------------- static files
class CachedStaticFiles(StaticFiles):
    """Static files with Cache-Control: a year for versioned URLs, an hour otherwise."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file response plus its Cache-Control header."""
        response = await super().get_response(path, scope)
        versioned = path.startswith("vendor/") or b"v=" in scope.get("query_string", b"")
        if response.status_code == 200:
            response.headers["cache-control"] = IMMUTABLE if versioned else "public, max-age=3600"
            response.headers["x-content-type-options"] = "nosniff"
        return response


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    """The site icon where browsers look for it unasked (pages link ``favicon.svg``).

    ``static/favicon.ico`` is ``static/favicon.svg`` drawn at 16, 32 and 48 px.
    """
    return Response(_favicon_bytes(), media_type="image/x-icon",
                    headers={"cache-control": "public, max-age=86400",
                             "x-content-type-options": "nosniff"})  # fmt: skip


@functools.cache
def _favicon_bytes() -> bytes:
    """The icon's bytes, read once (never a file read per request)."""
    return (FilePath(maps.STATIC_DIR) / "favicon.ico").read_bytes()


# ---------------------------------------------------------------- f=html pages with a map
#: Collections whose features a custom map can show, by its query parameter.
MAP_COLLECTIONS = ("borders", "places", "crossings", "countries")


def _custom(request: Request, **ids: str) -> str:
    return f"{request.url_for('map_custom')}?{urlencode(ids, safe=',')}"


def map_src_for(kind: str, document: dict[str, Any], request: Request) -> str | None:
    """The map page that illustrates an f=html page, or None.

    Decided by the route that answered (its path template and parameters) and built with
    ``url_for`` from the map routes' names: never guessed from link text or ids.
    """
    route = request.scope.get("route")
    template = getattr(route, "path", "")
    params = request.path_params
    store = request.app.state.store
    frontier = store.frontier
    try:
        if template.startswith("/borders/{borderId}"):
            # the border, its crossings, its zone and its events: the border's map
            border_id = frontier.border_id(str(params["borderId"]))
            return str(request.url_for("map_border", borderId=border_id))
        if template.startswith("/places/{placeId}"):
            return str(request.url_for("map_place", placeId=str(document.get("id")
                                                                 or params["placeId"])))
        if template == "/collections/{collectionId}/items/{featureId}" and kind == "feature":
            collection, fid = str(params["collectionId"]), str(document.get("id") or "")
            if collection == "borders":
                return str(request.url_for("map_border", borderId=frontier.border_id(fid)))
            if collection == "places":
                return str(request.url_for("map_place", placeId=fid))
            if collection in ("crossings", "countries"):
                return _custom(request, **{collection: fid})
            if collection == "events":
                borders = (document.get("properties") or {}).get("borders") or []
                return _custom(request, borders=",".join(borders)) if borders else None
            return None
        if kind == "items":
            collection = str(document.get("collection") or params.get("collectionId") or "")
            if template == "/places":
                collection = "places"
            ids = [str(f.get("id")) for f in document.get("features") or []][:100]
            if not ids or collection not in MAP_COLLECTIONS:
                return None
            return _custom(request, **{collection: ",".join(ids)})
    except (NotFoundError, InvalidParameterError, KeyError):
        return None
    return None


def wrap_renderer(render: Callable[[str, dict[str, Any], Request], str]) -> Callable[..., str]:
    """The app's HTML renderer, with a map under the heading of items/feature pages.

    The map comes as the embed snippet, so it takes the height the map page posts.
    """

    def render_with_map(kind: str, document: dict[str, Any], request: Request) -> str:
        page = render(kind, document, request)
        if kind not in ("feature", "items", "place-borders", "borders") or "</h1>" not in page:
            return page
        src = map_src_for(kind, document, request)
        if src is None:
            return page
        title = f"Map: {document.get('title') or document.get('id') or kind}"
        return page.replace("</h1>", "</h1>\n" + embed.snippet(src + (
            "&" if "?" in src else "?") + "dark=false", title, 560), 1)

    return render_with_map


def install(app: FastAPI) -> None:
    """Add the map routes, mount /static and give HTML pages their maps."""
    app.include_router(router)
    app.mount("/static", CachedStaticFiles(directory=FilePath(maps.STATIC_DIR)), name="static")
    app.state.html_renderer = wrap_renderer(app.state.html_renderer)
    app.state.map_service = None  # made in the lifespan (``start``), with the store


def start(app: FastAPI, settings: Settings, store: FeatureStore) -> None:
    """Create the app's MapService once the store is open."""
    app.state.map_service = MapService(settings.maps, store)
