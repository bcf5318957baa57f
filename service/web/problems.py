"""Domain errors as RFC 9457 ``application/problem+json``: the one status table and
the handlers. Domain errors carry no HTTP status; ``PROBLEMS`` maps each class to
its status, OGC exception ``code``, title and anchor in /api.html.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from service.domain.errors import (
    AtlasError,
    BorderNotFoundError,
    BusyError,
    CollectionNotFoundError,
    FeatureNotFoundError,
    InvalidParameterError,
    NotFoundError,
    PlaceNotFoundError,
    StoreError,
)
from service.web.responses import NotAcceptableError

logger = logging.getLogger("service.web.problems")


@dataclass(frozen=True)
class Problem:
    """How one error class is reported: HTTP status, OGC code, title and anchor in /api.html."""

    status: int
    code: str
    title: str
    slug: str


class UnknownParameterError(InvalidParameterError):
    """A query parameter the endpoint does not define."""


class MethodNotAllowedError(AtlasError):
    """The resource exists but not for this HTTP method."""


class InternalError(AtlasError):
    """An unexpected failure; the client sees a generic detail, the log gets the traceback."""


#: The one table from error class to its HTTP rendering (most specific class first wins).
PROBLEMS: dict[type[AtlasError], Problem] = {
    AtlasError: Problem(500, "NoApplicableCode", "Internal server error", "internal-error"),
    InvalidParameterError: Problem(400, "InvalidParameterValue", "Invalid parameter value",
                                   "invalid-parameter"),
    UnknownParameterError: Problem(400, "InvalidParameterValue", "Unknown query parameter",
                                   "unknown-parameter"),
    NotFoundError: Problem(404, "NotFound", "Not found", "not-found"),
    CollectionNotFoundError: Problem(404, "NotFound", "Collection not found",
                                     "collection-not-found"),
    FeatureNotFoundError: Problem(404, "NotFound", "Feature not found", "feature-not-found"),
    BorderNotFoundError: Problem(404, "NotFound", "Border not found", "border-not-found"),
    PlaceNotFoundError: Problem(404, "NotFound", "Place not found", "place-not-found"),
    NotAcceptableError: Problem(406, "InvalidParameterValue", "Not acceptable",
                                "not-acceptable"),
    MethodNotAllowedError: Problem(405, "InvalidRequest", "Method not allowed",
                                   "method-not-allowed"),
    StoreError: Problem(503, "NoApplicableCode", "Data store unavailable", "store-unavailable"),
    BusyError: Problem(503, "NoApplicableCode", "Busy: try again shortly", "busy"),
    InternalError: Problem(500, "NoApplicableCode", "Internal server error", "internal-error"),
}  # fmt: skip


def problem_for(error: AtlasError | type[AtlasError]) -> Problem:
    """The Problem of the most specific class in the table that *error* is an instance of."""
    cls = error if isinstance(error, type) else type(error)
    for klass in cls.__mro__:
        if klass in PROBLEMS:
            return PROBLEMS[klass]  # type: ignore[index]
    return PROBLEMS[AtlasError]


GENERIC_500_DETAIL = "The server could not complete the request; the error has been logged."


def all_error_classes() -> list[type[AtlasError]]:
    """Every error class in the table (for docs and the shape test)."""
    return list(PROBLEMS)


def problem_document(request: Request, error: AtlasError) -> dict[str, Any]:
    """The RFC 9457 body for *error*; ``type`` points at the problem list in /api.html."""
    problem = problem_for(error)
    return {
        "type": f"{request.base_url}api.html#problem-{problem.slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": error.detail,
        "code": problem.code,
        "instance": request.url.path,
    }


def _render(request: Request, error: AtlasError, status: int | None = None) -> Response:
    from service.web.responses import problem_response  # responses imports this module

    response = problem_response(request, problem_document(request, error))
    if status is not None:
        response.status_code = status
    if response.status_code >= 500:
        # Never cached anywhere; the connection may be in a bad state: close it.
        response.headers["cache-control"] = "no-store"
        response.headers["connection"] = "close"
    return response


class UnexpectedErrorMiddleware:
    """Turns an unexpected exception into the generic 500 problem *inside* the other
    middleware, so that the answer still gets CORS, security and caching headers
    (Starlette's own last-resort handler sits outside all of them)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the app; on an exception before the response started, send the 500."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            response = await _unexpected_error(Request(scope), exc)
            await response(scope, receive, send)


async def _atlas_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AtlasError)
    problem = problem_for(exc)
    if problem.status >= 500 and not isinstance(exc, StoreError | BusyError):
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        exc = InternalError(GENERIC_500_DETAIL)
    elif isinstance(exc, StoreError):
        logger.error("%s %s: store unavailable: %s", request.method, request.url.path, exc)
    response = _render(request, exc)
    if isinstance(exc, BusyError):
        response.headers["retry-after"] = str(exc.retry_after_s)
    return response


def _describe_validation_error(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "header")]
        name = ".".join(loc) or "request"
        parts.append(f"{name}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "Invalid request."


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _render(request, InvalidParameterError(_describe_validation_error(exc)))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error: AtlasError
    if exc.status_code == 404:
        error = NotFoundError(f"No resource at {request.url.path}. Start at / for the links.")
    elif exc.status_code == 405:
        error = MethodNotAllowedError(f"{request.method} is not supported here; use GET.")
    elif exc.status_code >= 500:
        return await _atlas_error(request, InternalError(GENERIC_500_DETAIL))
    else:
        error = InvalidParameterError(str(exc.detail))
    response = _render(request, error, exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:  # the caching middleware answers HEAD wherever GET works
        allowed = [m.strip() for m in response.headers.get("allow", "GET").split(",")]
        response.headers["allow"] = ", ".join(allowed + ["HEAD"] * ("HEAD" not in allowed))
    return response


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _render(request, InternalError(GENERIC_500_DETAIL))


def register_error_handlers(app: FastAPI) -> None:
    """Install the problem+json handlers for every error the app can raise."""
    app.add_exception_handler(AtlasError, _atlas_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
