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
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import brotli
import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.web.responses import quality_list

#: A response header (removed here) by which a route says its body must not be replayed
#: from the memo, such as a FeatureCollection whose ``timeStamp`` is the response time.
NO_MEMO_HEADER = "x-atlas-no-memo"
_COMPRESSIBLE = ("json", "html", "text/", "javascript", "xml", "svg")


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


def _memo_key(scope: Scope, headers: Headers) -> tuple[Any, ...]:
    return (scope.get("scheme"), headers.get("host"), scope.get("root_path", ""), scope["path"],
            scope.get("query_string", b""), headers.get("accept", ""),
            choose_encoding(headers.get("accept-encoding", "")))


class HttpCachingMiddleware:
    """Adds ETag/Cache-Control/Vary, answers If-None-Match with 304, compresses bodies.

    Successful GET responses are memoised whole (see ResponseMemo), so a repeated
    request is answered without running the application.
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer GET responses and send them with caching headers, compressed if asked."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        head = scope["method"] == "HEAD"
        # An authorised answer is that client's alone: never kept, never served from the memo.
        key = None if "authorization" in request_headers else _memo_key(scope, request_headers)
        hit = self.memo.get(key) if key is not None else None
        if hit is not None:
            await self._replay(hit, request_headers, send, head)
            return
        # HEAD is answered as GET without the body (routes are declared for GET only);
        # files must come as body messages we can hash, not as a zero-copy path send.
        extensions = {k: v for k, v in scope.get("extensions", {}).items()
                      if k != "http.response.pathsend"}  # fmt: skip
        # Range requests are not offered: every answer is one whole body, hashed and
        # compressed as such (a Range header is ignored, as HTTP allows).
        raw_headers = [(k, v) for k, v in scope["headers"] if k != b"range"]
        scope = {**scope, "method": "GET", "extensions": extensions, "headers": raw_headers}
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._send(start, b"".join(chunks), request_headers, send, head, key)
                return
            await send(message)

        await self.app(scope, receive, capture)

    async def _replay(
        self,
        hit: Memoised,
        request_headers: Headers,
        send: Send,
        head: bool,
    ) -> None:
        if_none_match = request_headers.get("if-none-match")
        if if_none_match and _matches(if_none_match,
                                      Headers(raw=hit.raw_headers).get("etag", hit.etag)):
            await self._not_modified(send, MutableHeaders(raw=list(hit.raw_headers)))
            return
        await send({"type": "http.response.start", "status": 200, "headers": hit.raw_headers})
        await send({"type": "http.response.body", "body": b"" if head else hit.body})

    @staticmethod
    async def _not_modified(send: Send, headers: MutableHeaders) -> None:
        for name in ("content-length", "content-type", "content-encoding"):
            if name in headers:
                del headers[name]
        await send({"type": "http.response.start", "status": 304, "headers": headers.raw})
        await send({"type": "http.response.body", "body": b""})

    async def _send(
        self,
        start: dict[str, Any],
        body: bytes,
        request_headers: Headers,
        send: Send,
        head: bool,
        key: tuple[Any, ...],
    ) -> None:
        status = start["status"]
        headers = MutableHeaders(raw=list(start.get("headers", [])))
        if "accept-ranges" in headers:
            del headers["accept-ranges"]
        vary = {v.strip() for v in headers.get("vary", "").split(",") if v.strip()}
        vary |= {"Accept", "Accept-Encoding"}
        headers["vary"] = ", ".join(sorted(vary))
        if status != 200:
            headers.setdefault("cache-control", "no-store")
            await self._emit(send, status, headers, body, request_headers, None, head)
            return
        etag = headers.get("etag")
        if etag is None:
            etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
            headers["etag"] = etag
        headers.setdefault("cache-control", f"public, max-age={self.max_age}")
        fresh = NO_MEMO_HEADER in headers  # the body holds the time of the response
        if fresh:
            del headers[NO_MEMO_HEADER]
        encoded, final = self._encode(headers, body, request_headers, etag, cached=not fresh)
        if "no-store" not in headers.get("cache-control", "") and not fresh and key is not None:
            self.memo.put(key, Memoised(final.raw, encoded, etag))  # /healthz changes
        if_none_match = request_headers.get("if-none-match")
        if if_none_match and _matches(if_none_match, final["etag"]):
            await self._not_modified(send, final)
            return
        await send({"type": "http.response.start", "status": status, "headers": final.raw})
        await send({"type": "http.response.body", "body": b"" if head else encoded})

    def _encode(
        self, headers: MutableHeaders, body: bytes, request_headers: Headers, etag: str | None,
        cached: bool = True,
    ) -> tuple[bytes, MutableHeaders]:
        """The body in the coding the client takes, and the headers that say so."""
        headers = MutableHeaders(raw=list(headers.raw))
        content_type = headers.get("content-type", "")
        encoding = choose_encoding(request_headers.get("accept-encoding", ""))
        if (
            encoding
            and len(body) >= self.min_size
            and "content-encoding" not in headers
            and any(t in content_type for t in _COMPRESSIBLE)
        ):
            key = etag or hashlib.blake2b(body, digest_size=16).hexdigest()
            if not cached:  # same ETag, new body (its timeStamp): compress afresh
                key = hashlib.blake2b(body, digest_size=16).hexdigest()
            body = self.cache.get(key, encoding, body)
            headers["content-encoding"] = encoding
            if etag:
                # A strong ETag names one representation: the encoded bytes get their own.
                headers["etag"] = f'"{etag.strip(chr(34))}-{encoding}"'
        headers["content-length"] = str(len(body))
        return body, headers

    async def _emit(
        self,
        send: Send,
        status: int,
        headers: MutableHeaders,
        body: bytes,
        request_headers: Headers,
        etag: str | None,
        head: bool = False,
    ) -> None:
        body, headers = self._encode(headers, body, request_headers, etag)
        await send({"type": "http.response.start", "status": status, "headers": headers.raw})
        await send({"type": "http.response.body", "body": b"" if head else body})


class DataVersionMiddleware:
    """Adds ``X-Data-Version`` (the version of the data every answer comes from) to every
    response, so a client or a cache can tell which data release it holds."""

    def __init__(self, app: Any, version: Callable[[], str | None]) -> None:
        self.app = app
        self.version = version

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass through, adding the header to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        version = self.version()

        async def send_with_version(message: Any) -> None:
            if message["type"] == "http.response.start" and version:
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-data-version", version.encode("latin-1", "replace"))]
            await send(message)

        await self.app(scope, receive, send_with_version)


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


class SecurityHeadersMiddleware:
    """nosniff and a referrer policy on every response; on HTML, a Content-Security-Policy
    that keeps scripts, styles and frames to this origin and says who may frame the page:
    anyone for map pages (they are made to be embedded), nobody for the rest."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        embeddable = path.startswith(EMBEDDABLE_PREFIXES) and not path.endswith("/embed")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-content-type-options"] = "nosniff"
                headers["server"] = ""  # granian sends no banner when the app sets it empty
                headers.setdefault("referrer-policy", "strict-origin-when-cross-origin")
                if headers.get("content-type", "").startswith("text/html"):
                    # Map pages are made to be framed by any article, including a CMS
                    # preview in a srcdoc or about:blank frame, which ``frame-ancestors *``
                    # would refuse: for them the directive is left out on purpose.
                    ancestors = "" if embeddable else "; frame-ancestors 'none'"
                    headers.setdefault("content-security-policy", (
                        "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                        "style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
                        "connect-src 'self'; frame-src 'self'; object-src 'none'; "
                        f"base-uri 'none'; form-action 'self'{ancestors}"))
                    if not embeddable:
                        headers.setdefault("x-frame-options", "DENY")
            await send(message)

        await self.app(scope, receive, with_headers)
