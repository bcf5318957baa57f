"""Error classes and their RFC 9457 ``application/problem+json`` rendering.

Each error class carries its HTTP status and its OGC API exception ``code``;
``register_error_handlers`` installs the single set of handlers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

# The domain (catalog) raises these classes, so the module itself stays free of
# FastAPI; the handlers import the web framework only when they are registered.
if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.responses import Response

logger = logging.getLogger("service.errors")


class ServiceError(Exception):
    """Base of every error the service reports; 500 unless a subclass says otherwise."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "NoApplicableCode"
    title: ClassVar[str] = "Internal server error"
    slug: ClassVar[str] = "internal-error"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title


class InvalidParameterError(ServiceError):
    """A query or path parameter has a value the service cannot use."""

    status = 400
    code = "InvalidParameterValue"
    title = "Invalid parameter value"
    slug = "invalid-parameter"


class UnknownParameterError(InvalidParameterError):
    """A query parameter the endpoint does not define."""

    title = "Unknown query parameter"
    slug = "unknown-parameter"


class NotFoundError(ServiceError):
    """Nothing at this URL."""

    status = 404
    code = "NotFound"
    title = "Not found"
    slug = "not-found"


class CollectionNotFoundError(NotFoundError):
    """No collection with that id."""

    title = "Collection not found"
    slug = "collection-not-found"


class FeatureNotFoundError(NotFoundError):
    """No feature with that id in the collection."""

    title = "Feature not found"
    slug = "feature-not-found"


class BorderNotFoundError(NotFoundError):
    """No border between the countries named in the id."""

    title = "Border not found"
    slug = "border-not-found"


class PlaceNotFoundError(NotFoundError):
    """No place with that id."""

    title = "Place not found"
    slug = "place-not-found"


class MethodNotAllowedError(ServiceError):
    """The resource exists but not for this HTTP method."""

    status = 405
    code = "InvalidRequest"
    title = "Method not allowed"
    slug = "method-not-allowed"


class InternalError(ServiceError):
    """An unexpected failure; the client sees a generic detail, the log gets the traceback."""


GENERIC_500_DETAIL = "The server could not complete the request; the error has been logged."


def all_error_classes() -> list[type[ServiceError]]:
    """Every ServiceError class, base included (for docs and the shape test)."""
    seen: list[type[ServiceError]] = []
    stack: list[type[ServiceError]] = [ServiceError]
    while stack:
        cls = stack.pop(0)
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return seen


def problem_document(request: Request, error: ServiceError) -> dict[str, Any]:
    """The RFC 9457 body for *error*; ``type`` points at the problem list in /api.html."""
    return {
        "type": f"{request.base_url}api.html#problem-{error.slug}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        "instance": request.url.path,
    }


def _render(request: Request, error: ServiceError) -> Response:
    # Imported late: responses imports this module for the ServiceError types.
    from service.web.responses import problem_response

    return problem_response(request, problem_document(request, error))


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if exc.status >= 500:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        exc = InternalError(GENERIC_500_DETAIL)
    return _render(request, exc)


def _describe_validation_error(exc: Any) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "header")]
        name = ".".join(loc) or "request"
        parts.append(f"{name}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "Invalid request."


async def _validation_error(request: Request, exc: Exception) -> Response:
    from fastapi.exceptions import RequestValidationError

    assert isinstance(exc, RequestValidationError)
    return _render(request, InvalidParameterError(_describe_validation_error(exc)))


async def _http_error(request: Request, exc: Exception) -> Response:
    from starlette.exceptions import HTTPException as StarletteHTTPException

    assert isinstance(exc, StarletteHTTPException)
    error: ServiceError
    if exc.status_code == 404:
        error = NotFoundError(f"No resource at {request.url.path}. Start at / for the links.")
    elif exc.status_code == 405:
        error = MethodNotAllowedError(f"{request.method} is not supported here; use GET.")
    elif exc.status_code >= 500:
        return await _service_error(request, InternalError(GENERIC_500_DETAIL))
    else:
        error = InvalidParameterError(str(exc.detail))
    response = _render(request, error)
    response.status_code = exc.status_code
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _render(request, InternalError(GENERIC_500_DETAIL))


def register_error_handlers(app: FastAPI) -> None:
    """Install the problem+json handlers for every error the app can raise."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
