"""Errors the domain and the stores raise. They carry no HTTP status: the web
layer maps each class to a status and an OGC exception code in one table
(``service.web.problems.PROBLEMS``)."""

from __future__ import annotations


class AtlasError(Exception):
    """Base of every error the service reports; ``detail`` is safe to show a client."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.__class__.__doc__ or "")
        self.detail = detail or (self.__class__.__doc__ or "").strip()


class InvalidParameterError(AtlasError):
    """A query or path parameter has a value the service cannot use."""


class NotFoundError(AtlasError):
    """Nothing at this URL."""


class CollectionNotFoundError(NotFoundError):
    """No collection with that id."""


class FeatureNotFoundError(NotFoundError):
    """No feature with that id in the collection."""


class BorderNotFoundError(NotFoundError):
    """No border between the countries named in the id."""


class PlaceNotFoundError(NotFoundError):
    """No place with that id."""


class StoreError(AtlasError):
    """The data store cannot answer (missing or corrupt file, unreachable database)."""


class BusyError(AtlasError):
    """The service is at its bound for expensive work; try again shortly."""

    def __init__(self, detail: str | None = None, retry_after_s: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s
