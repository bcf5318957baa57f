"""HTTP caching and compression for every GET: strong ETag, 304, Cache-Control, gzip/brotli.

A pure ASGI middleware: it buffers the body (every response here is a byte
string built in memory anyway), hashes it, and compresses once per ETag —
compressed variants are kept in a bounded cache, so repeated requests for the
same border cost a dictionary look-up.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import brotli
import orjson
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.web.responses import quality_list

#: A response header (removed here) by which a route says its body must not be replayed
#: from the memo, such as a FeatureCollection whose ``timeStamp`` is the response time.
NO_MEMO_HEADER = "x-atlas-no-memo"
_COMPRESSIBLE = ("json", "html", "text/", "javascript", "xml", "svg")


@lru_cache(maxsize=256)  # clients send few distinct values; each is parsed once
def choose_encoding(accept_encoding: str) -> str | None:
    """``br`` if the client takes it, else ``gzip``, else None (identity)."""
    accepted = dict(quality_list(accept_encoding))
    for name in ("br", "gzip"):
        if accepted.get(name, accepted.get("*", 0.0)) > 0:
            return name
    return None


def _matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match against the ETag of the representation this client would get (weak
    comparison, RFC 9110 13.1.2): another content coding's ETag does not match."""
    base = etag.removeprefix("W/").strip('"')
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.removeprefix("W/").strip('"') == base:
            return True
    return False


class CompressedCache:
    """Compressed bodies keyed by (etag, encoding), bounded by total size in bytes."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._size = 0

    def get(self, etag: str, encoding: str, body: bytes) -> bytes:
        """The compressed body, computed once per ETag and encoding."""
        key = (etag, encoding)
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            return hit
        if encoding == "br":
            data = brotli.compress(body, quality=5)
        else:
            data = gzip.compress(body, compresslevel=6, mtime=0)
        self._items[key] = data
        self._size += len(data)
        while self._size > self.max_bytes and self._items:
            _, old = self._items.popitem(last=False)
            self._size -= len(old)
        return data


class Memoised(NamedTuple):
    """A finished 200 response: its raw headers, its (encoded) body and its base ETag."""

    raw_headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str


#: What one memo entry costs beyond its key, headers and body (dict slot, tuples,
#: objects), measured roughly with tracemalloc; counted so the budget is real memory.
ENTRY_OVERHEAD = 600
#: Requests whose key would be larger than this are answered but not remembered.
MAX_KEY_BYTES = 2048


class ResponseMemo:
    """Finished 200 responses by request key, bounded by what they really cost in bytes.

    The data never changes while the service runs, so a GET's answer depends only
    on its URL, the host and scheme its links are built from, the representation
    the Accept header picks and the content coding: a repeated request is one dict
    look-up and a cached byte string, without running the application.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], tuple[Memoised, int]] = OrderedDict()
        self._size = 0
        self.hits = self.misses = self.skipped = 0

    @staticmethod
    def key_bytes(key: tuple[Any, ...]) -> int:
        """The bytes a key holds (its strings and byte strings)."""
        return sum(len(part) for part in key if isinstance(part, str | bytes))

    @staticmethod
    def cost(key: tuple[Any, ...], response: Memoised) -> int:
        """What an entry really holds: key, headers, body and fixed overhead (bytes)."""
        headers = sum(len(k) + len(v) + 64 for k, v in response.raw_headers)
        return ResponseMemo.key_bytes(key) + headers + len(response.body) + ENTRY_OVERHEAD

    def get(self, key: tuple[Any, ...]) -> Memoised | None:
        """The stored response for *key*, if any."""
        hit = self._items.get(key)
        if hit is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return hit[0]

    def put(self, key: tuple[Any, ...], response: Memoised) -> None:
        """Remember a response; the least recently used go first when over budget."""
        cost = self.cost(key, response)
        if cost > self.max_bytes // 4 or self.key_bytes(key) > MAX_KEY_BYTES or key in self._items:
            self.skipped += 1  # also when max_bytes is 0: the memo is off
            return
        self._items[key] = (response, cost)
        self._size += cost
        while self._size > self.max_bytes and self._items:
            _, (_, old) = self._items.popitem(last=False)
            self._size -= old

    def stats(self) -> dict[str, int]:
        """Entries, bytes held and the budget, hits, misses and responses not kept."""
        return {"entries": len(self._items), "bytes": self._size, "budget_bytes": self.max_bytes,
                "hits": self.hits, "misses": self.misses, "not_kept": self.skipped}


class _RequestHeaders(NamedTuple):
    """The request headers the caching middleware reads, found in one pass (the first
    occurrence of each, as ``Headers.get`` would)."""

    host: str | None
    accept: str
    accept_encoding: str
    if_none_match: str | None
    authorised: bool
    has_range: bool


def _request_headers(raw: list[tuple[bytes, bytes]]) -> _RequestHeaders:
    host = accept = accept_encoding = if_none_match = None
    authorised = has_range = False
    for key, value in raw:
        if key == b"host":
            host = host if host is not None else value.decode("latin-1")
        elif key == b"accept":
            accept = accept if accept is not None else value.decode("latin-1")
        elif key == b"accept-encoding":
            if accept_encoding is None:
                accept_encoding = value.decode("latin-1")
        elif key == b"if-none-match":
            if if_none_match is None:
                if_none_match = value.decode("latin-1")
        elif key == b"authorization":
            authorised = True
        elif key == b"range":
            has_range = True
    return _RequestHeaders(host, accept or "", accept_encoding or "", if_none_match,
                           authorised, has_range)  # fmt: skip


def _memo_key(scope: Scope, request: _RequestHeaders, encoding: str | None) -> tuple[Any, ...]:
    return (scope.get("scheme"), request.host, scope.get("root_path", ""), scope["path"],
            scope.get("query_string", b""), request.accept, encoding)  # fmt: skip


_NO_MEMO_RAW = NO_MEMO_HEADER.encode("latin-1")
#: Response headers the middleware sets itself (dropped from what the app sent).
_REPLACED = frozenset({b"vary", b"accept-ranges", b"content-length", _NO_MEMO_RAW})
_NOT_MODIFIED_DROPS = frozenset({b"content-length", b"content-type", b"content-encoding"})


def _first(raw: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in raw:
        if key == name:
            return value.decode("latin-1")
    return None


class HttpCachingMiddleware:
    """Adds ETag/Cache-Control/Vary, answers If-None-Match with 304, compresses bodies.

    Successful GET responses are memoised whole (see ResponseMemo), so a repeated
    request is answered without running the application. Headers are handled as raw
    lists in one pass each: this runs on every request.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_age: int = 3600,
        min_size: int = 1024,
        cache_bytes: int = 64 << 20,
        memo: ResponseMemo | None = None,
    ) -> None:
        self.app = app
        self.max_age = max_age
        self.min_size = min_size
        self.cache = CompressedCache(cache_bytes)
        self.memo = memo if memo is not None else ResponseMemo(0)
        self._cache_control = f"public, max-age={max_age}".encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer GET responses and send them with caching headers, compressed if asked."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        request = _request_headers(scope["headers"])
        head = scope["method"] == "HEAD"
        encoding = choose_encoding(request.accept_encoding)
        # An authorised answer is that client's alone: never kept, never served from the memo.
        key = None if request.authorised else _memo_key(scope, request, encoding)
        hit = self.memo.get(key) if key is not None else None
        if hit is not None:
            await self._replay(hit, request, send, head)
            return
        # HEAD is answered as GET without the body (routes are declared for GET only);
        # files must come as body messages we can hash, not as a zero-copy path send.
        # Range requests are not offered: every answer is one whole body, hashed and
        # compressed as such (a Range header is ignored, as HTTP allows).
        extensions = scope.get("extensions") or {}
        if head or request.has_range or "http.response.pathsend" in extensions:
            scope = {**scope, "method": "GET",
                     "extensions": {k: v for k, v in extensions.items()
                                    if k != "http.response.pathsend"},
                     "headers": [(k, v) for k, v in scope["headers"] if k != b"range"]}  # fmt: skip
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            kind = message["type"]
            if kind == "http.response.start":
                start = message
                return
            if kind == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                    await self._send(start, body, request, encoding, send, head, key)
                return
            await send(message)

        await self.app(scope, receive, capture)

    async def _replay(self, hit: Memoised, request: _RequestHeaders, send: Send,
                      head: bool) -> None:  # fmt: skip
        # A copy: the middleware outside may add to the list it is sent.
        raw = list(hit.raw_headers)
        if request.if_none_match and _matches(request.if_none_match,
                                              _first(raw, b"etag") or hit.etag):
            await self._not_modified(send, raw)
            return
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        await send({"type": "http.response.body", "body": b"" if head else hit.body})

    @staticmethod
    async def _not_modified(send: Send, raw: list[tuple[bytes, bytes]]) -> None:
        headers = [(k, v) for k, v in raw if k not in _NOT_MODIFIED_DROPS]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _send(
        self,
        start: Message,
        body: bytes,
        request: _RequestHeaders,
        encoding: str | None,
        send: Send,
        head: bool,
        key: tuple[Any, ...] | None,
    ) -> None:
        status = start["status"]
        raw: list[tuple[bytes, bytes]] = []
        vary = {"Accept", "Accept-Encoding"}
        etag = cache_control = None
        content_type = ""
        encoded_already = fresh = False
        for name, value in start.get("headers", ()):
            if name in _REPLACED:
                if name == b"vary":
                    vary.update(v.strip() for v in value.decode("latin-1").split(",")
                                if v.strip())  # fmt: skip
                elif name == _NO_MEMO_RAW:
                    fresh = True  # the body holds the time of the response
                continue
            if name == b"etag":
                etag = etag or value.decode("latin-1")
            elif name == b"cache-control":
                cache_control = cache_control or value.decode("latin-1")
            elif name == b"content-type":
                content_type = content_type or value.decode("latin-1")
            elif name == b"content-encoding":
                encoded_already = True
            raw.append((name, value))
        raw.append((b"vary", ", ".join(sorted(vary)).encode("latin-1")))
        if status != 200:
            if cache_control is None:
                raw.append((b"cache-control", b"no-store"))
            body = self._encode(raw, body, encoding, content_type, encoded_already, None)
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": b"" if head else body})
            return
        if etag is None:
            etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
            raw.append((b"etag", etag.encode("latin-1")))
        if cache_control is None:
            raw.append((b"cache-control", self._cache_control))
        encoded = self._encode(raw, body, encoding, content_type, encoded_already, etag,
                               cached=not fresh)  # fmt: skip
        if key is not None and not fresh and "no-store" not in (cache_control or ""):
            self.memo.put(key, Memoised(raw, encoded, etag))  # /healthz changes
        if request.if_none_match and _matches(request.if_none_match, _first(raw, b"etag") or etag):
            await self._not_modified(send, raw)
            return
        await send({"type": "http.response.start", "status": status, "headers": list(raw)})
        await send({"type": "http.response.body", "body": b"" if head else encoded})

    def _encode(
        self, raw: list[tuple[bytes, bytes]], body: bytes, encoding: str | None,
        content_type: str, encoded_already: bool, etag: str | None, cached: bool = True,
    ) -> bytes:  # fmt: skip
        """The body in the coding the client takes; *raw* gets the headers that say so."""
        if (
            encoding
            and len(body) >= self.min_size
            and not encoded_already
            and any(t in content_type for t in _COMPRESSIBLE)
        ):
            key = etag or hashlib.blake2b(body, digest_size=16).hexdigest()
            if not cached:  # same ETag, new body (its timeStamp): compress afresh
                key = hashlib.blake2b(body, digest_size=16).hexdigest()
            body = self.cache.get(key, encoding, body)
            raw.append((b"content-encoding", encoding.encode("latin-1")))
            if etag:
                # A strong ETag names one representation: the encoded bytes get their own.
                tagged = f'"{etag.strip(chr(34))}-{encoding}"'.encode("latin-1")
                raw[:] = [(k, v) for k, v in raw if k != b"etag"] + [(b"etag", tagged)]
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
        return body


class ResponseHeadersMiddleware:
    """The headers every response gets, added in one place on the response start:

    - ``X-Data-Version`` (the version of the data every answer comes from), so a client
      or a cache can tell which data release it holds;
    - nosniff, no server banner and a referrer policy; on HTML, a Content-Security-Policy
      that keeps scripts, styles and frames to this origin and says who may frame the
      page: anyone for map pages (they are made to be embedded), nobody for the rest;
    - CORS: requests with an ``Origin`` header (and preflights) go through Starlette's
      CORSMiddleware; the others get the ``Vary: Origin`` it would add.
    """

    def __init__(self, app: ASGIApp, version: Callable[[], str | None],
                 cors: dict[str, Any]) -> None:  # fmt: skip
        self.app = app
        self.cors = CORSMiddleware(app, **cors)
        self.version = version
        self._versions: dict[str, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, adding the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        embeddable = path.startswith(EMBEDDABLE_PREFIXES) and not path.endswith("/embed")
        version = self.version()
        version_raw = None
        if version:
            version_raw = self._versions.get(version)
            if version_raw is None:
                version_raw = self._versions[version] = version.encode("latin-1", "replace")
        with_origin = any(k == b"origin" for k, _ in scope["headers"])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _response_headers(
                    message.get("headers", ()), version_raw, embeddable, not with_origin)
            await send(message)

        await (self.cors if with_origin else self.app)(scope, receive, with_headers)


#: Set on every response (replacing what the app sent); granian sends no banner when
#: the app sets ``server`` empty.
_ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"server", b""))
_ALWAYS_NAMES = frozenset(k for k, _ in _ALWAYS)
_REFERRER_POLICY = (b"referrer-policy", b"strict-origin-when-cross-origin")
_CSP = (b"default-src 'self'; script-src 'self' 'unsafe-inline'; "
        b"style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
        b"connect-src 'self'; frame-src 'self'; object-src 'none'; "
        b"base-uri 'none'; form-action 'self'")  # fmt: skip


def _response_headers(raw: Any, version: bytes | None, embeddable: bool,
                      vary_origin: bool) -> list[tuple[bytes, bytes]]:  # fmt: skip
    """A new header list: *raw* with the data version, the security headers and (with
    *vary_origin*) ``Origin`` added to Vary."""
    out: list[tuple[bytes, bytes]] = []
    vary: list[bytes] = []
    referrer = csp = frame_options = False
    html = False
    for item in raw:
        name = item[0]
        if name in _ALWAYS_NAMES:
            continue
        if vary_origin and name == b"vary":
            vary.append(item[1])
            continue
        if name == b"referrer-policy":
            referrer = True
        elif name == b"content-security-policy":
            csp = True
        elif name == b"x-frame-options":
            frame_options = True
        elif name == b"content-type" and item[1].startswith(b"text/html"):
            html = True
        out.append(item)
    if vary_origin:
        out.append((b"vary", b", ".join([*vary, b"Origin"])))
    if version is not None:
        out.append((b"x-data-version", version))
    out.extend(_ALWAYS)
    if not referrer:
        out.append(_REFERRER_POLICY)
    if html:
        # Map pages are made to be framed by any article, including a CMS preview in a
        # srcdoc or about:blank frame, which ``frame-ancestors *`` would refuse: for
        # them the directive is left out on purpose.
        if not csp:
            out.append((b"content-security-policy",
                        _CSP if embeddable else _CSP + b"; frame-ancestors 'none'"))  # fmt: skip
        if not embeddable and not frame_options:
            out.append((b"x-frame-options", b"DENY"))
    return out


#: Largest query string (414 beyond it) and largest single header / all headers (431).
MAX_QUERY_BYTES = 8192
MAX_HEADER_BYTES = 32768
MAX_HEADERS_TOTAL_BYTES = 65536


class RequestLimitsMiddleware:
    """Refuses oversized request lines (414) and headers (431) before any work is done,
    with a problem+json body that echoes nothing the client sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the sizes, then pass the request on."""
        if scope["type"] == "http":
            status = None
            if len(scope.get("query_string", b"")) + len(scope.get("raw_path") or b"") > \
                    MAX_QUERY_BYTES:
                status, title = 414, "URI too long"
            else:
                sizes = [len(k) + len(v) for k, v in scope.get("headers", [])]
                too_big = sizes and max(sizes) > MAX_HEADER_BYTES
                if too_big or sum(sizes) > MAX_HEADERS_TOTAL_BYTES:
                    status, title = 431, "Request header fields too large"
            if status is not None:
                body = orjson.dumps({
                    "type": "about:blank", "title": title, "status": status,
                    "detail": f"Request lines are limited to {MAX_QUERY_BYTES} bytes, headers "
                              f"to {MAX_HEADER_BYTES} each and {MAX_HEADERS_TOTAL_BYTES} in all.",
                    "code": "InvalidParameterValue"})  # fmt: skip
                headers = [(b"content-type", b"application/problem+json"),
                           (b"content-length", str(len(body)).encode()),
                           (b"cache-control", b"no-store"), (b"connection", b"close")]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class ForwardedMiddleware:
    """Believes X-Forwarded-For / X-Forwarded-Proto only from the configured proxies.

    From a trusted proxy, the client address becomes the nearest address in
    X-Forwarded-For that is not itself a trusted proxy, and the scheme the proxy's
    X-Forwarded-Proto; from anyone else both headers are ignored.
    """

    def __init__(self, app: ASGIApp, trusted: list[str] | None = None) -> None:
        self.app = app
        self.trusted = set(trusted or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the client and scheme when the peer is a trusted proxy."""
        client = scope.get("client")
        if scope["type"] == "http" and self.trusted and client and client[0] in self.trusted:
            headers = Headers(scope=scope)
            hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
            while hops and hops[-1] in self.trusted:
                hops.pop()
            scope = dict(scope)
            if hops:
                scope["client"] = (hops[-1][:64], 0)
            proto = headers.get("x-forwarded-proto", "").strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
        await self.app(scope, receive, send)


class PublicOriginMiddleware:
    """Makes every absolute URL the app builds use the configured public origin.

    Links, script sources, og:image and oEmbed URLs come from the request's base
    URL; behind a TLS proxy or with a hostile Host header that would be wrong or
    dangerous. With a public base URL set, the scope's scheme, host and path
    prefix are replaced by it before the app sees the request; with an allowed
    hosts list, other Host headers get 400.
    """

    def __init__(self, app: ASGIApp, public_base_url: str | None = None,
                 allowed_hosts: list[str] | None = None) -> None:  # fmt: skip
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts or []}
        self.origin: tuple[str, bytes, str, int | None] | None = None
        if public_base_url:
            parts = urlsplit(public_base_url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            self.origin = (parts.scheme, parts.netloc.encode("latin-1"),
                           parts.path.rstrip("/"), port)  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the Host header, then rewrite the origin the app sees."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.allowed:
            host = Headers(scope=scope).get("host", "").lower()
            if host not in self.allowed:
                body = orjson.dumps({"type": "about:blank", "title": "Host not allowed",
                                     "status": 400, "code": "InvalidParameterValue",
                                     "detail": "This service does not answer for that host."})
                await send({"type": "http.response.start", "status": 400, "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
                await send({"type": "http.response.body", "body": body})
                return
        if self.origin is not None:
            scheme, netloc, prefix, port = self.origin
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", netloc)]
            scope = {**scope, "scheme": scheme, "headers": headers, "root_path": prefix,
                     "server": (netloc.decode("latin-1").split(":")[0], port)}
        await self.app(scope, receive, send)


#: Pages meant to be embedded in other sites' articles (map pages, not their snippets).
EMBEDDABLE_PREFIXES = ("/maps/", "/static/")
