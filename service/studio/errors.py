"""Errors of saved maps. Like every domain error they carry no HTTP status: the web
layer's table (``service.web.routes.studio.STUDIO_PROBLEMS``) gives each one."""

from __future__ import annotations

from service.domain.errors import AtlasError, InvalidParameterError, NotFoundError


class SpecError(InvalidParameterError):
    """A map document field has a value the studio cannot use (the detail names the field)."""


class MapNotFoundError(NotFoundError):
    """No saved map (or version) with that id."""


class AuthenticationRequiredError(AtlasError):
    """This needs the map's edit token or an API key (``Authorization: Bearer …``)."""


class ForbiddenError(AtlasError):
    """The credentials sent do not open this map."""


class ConflictError(AtlasError):
    """The request conflicts with the map's current state."""


class PreconditionFailedError(AtlasError):
    """The map changed since the ETag sent in ``If-Match``."""


class PreconditionRequiredError(AtlasError):
    """Changing a map needs ``If-Match`` with its current ETag."""


class PayloadTooLargeError(AtlasError):
    """The request body is larger than the service accepts."""


class RateLimitedError(AtlasError):
    """Too many maps created from this address; try again later."""

    def __init__(self, detail: str | None = None, retry_after: int = 60) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
