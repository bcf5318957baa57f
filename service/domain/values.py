"""Parsers of the plain values users type, shared by the API and the map flags."""

from __future__ import annotations

from service.domain.errors import InvalidParameterError

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def parse_bool(name: str, text: str) -> bool:
    """true/false (also 1/0, yes/no, on/off, any case); InvalidParameterError otherwise."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidParameterError(f"{name} must be true or false.")
