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
from typing import Any

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.responses import quality_list

_COMPRESSIBLE = ("json", "html", "text/", "javascript", "xml", "svg")


def choose_encoding(accept_encoding: str) -> str | None:
    """``br`` if the client takes it, else ``gzip``, else None (identity)."""
    accepted = dict(quality_list(accept_encoding))
    for name in ("br", "gzip"):
        if accepted.get(name, accepted.get("*", 0.0)) > 0:
            return name
    return None


def _matches(if_none_match: str, etag: str) -> bool:
    base = etag.strip('"')
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/").strip('"')
        if tag in (base, f"{base}-br", f"{base}-gzip"):
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


class HttpCachingMiddleware:
    """Adds ETag/Cache-Control/Vary, answers If-None-Match with 304, compresses bodies."""

    def __init__(
        self, app: ASGIApp, max_age: int = 3600, min_size: int = 1024, cache_bytes: int = 64 << 20
    ) -> None:
        self.app = app
        self.max_age = max_age
        self.min_size = min_size
        self.cache = CompressedCache(cache_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer GET responses and send them with caching headers, compressed if asked."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        head = scope["method"] == "HEAD"
        # HEAD is answered as GET without the body (routes are declared for GET only);
        # files must come as body messages we can hash, not as a zero-copy path send.
        extensions = {k: v for k, v in scope.get("extensions", {}).items()
                      if k != "http.response.pathsend"}  # fmt: skip
        scope = {**scope, "method": "GET", "extensions": extensions}
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._send(start, b"".join(chunks), request_headers, send, head)
                return
            await send(message)

        await self.app(scope, receive, capture)

    async def _send(
        self,
        start: dict[str, Any],
        body: bytes,
        request_headers: Headers,
        send: Send,
        head: bool = False,
    ) -> None:
        status = start["status"]
        headers = MutableHeaders(raw=list(start.get("headers", [])))
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
        if_none_match = request_headers.get("if-none-match")
        if if_none_match and _matches(if_none_match, etag):
            for name in ("content-length", "content-type", "content-encoding"):
                if name in headers:
                    del headers[name]
            await send({"type": "http.response.start", "status": 304, "headers": headers.raw})
            await send({"type": "http.response.body", "body": b""})
            return
        await self._emit(send, status, headers, body, request_headers, etag, head)

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
        content_type = headers.get("content-type", "")
        encoding = choose_encoding(request_headers.get("accept-encoding", ""))
        if (
            encoding
            and len(body) >= self.min_size
            and "content-encoding" not in headers
            and any(t in content_type for t in _COMPRESSIBLE)
        ):
            key = etag or hashlib.blake2b(body, digest_size=16).hexdigest()
            body = self.cache.get(key, encoding, body)
            headers["content-encoding"] = encoding
            if etag:
                # A strong ETag names one representation: the encoded bytes get their own.
                headers["etag"] = f'"{etag.strip(chr(34))}-{encoding}"'
        headers["content-length"] = str(len(body))
        await send({"type": "http.response.start", "status": status, "headers": headers.raw})
        await send({"type": "http.response.body", "body": b"" if head else body})
