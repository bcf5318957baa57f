"""URL flags of the map pages (Datawrapper-style), parsed and validated.

Every map page, PNG and embed snippet takes the same flags; a bad value is an
InvalidParameterError (400 problem+json). The parsed ``MapFlags`` is frozen and
hashable: it is the cache key of rendered pages and images.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from service.domain.errors import InvalidParameterError
from service.domain.values import parse_bool

LANGS = ("en", "ru", "be")
TILES = ("none", "osm", "light", "dark")
DARK = ("auto", "true", "false")
FLAG_NAMES = ("title", "caption", "lang", "dark", "static", "tiles", "inset", "labels")
#: Query parameters pym.js adds to a child page's URL; accepted and ignored.
PYM_PARAMS = ("childId", "initialWidth", "parentTitle", "parentUrl")
MAX_TITLE = 200
MAX_CAPTION = 600
#: Bounds of the PNG size in pixels (both width and height).
#: (320 px: below it labels and caption are unreadable.)
MIN_PX, MAX_PX = 320, 2400
#: Largest image area: memory and CPU grow with it (a 2400 × 2400 PNG took seconds).
MAX_PIXELS = 2400 * 1600
DEFAULT_PNG_SIZE = (1200, 630)  # the usual og:image size



@dataclass(frozen=True)
class MapFlags:
    """Normalised flags; ``None`` title/caption means the map's own default text."""

    title: str | None = None
    caption: str | None = None
    lang: str = "en"
    dark: str = "auto"
    static: bool = False
    tiles: str = "none"
    inset: bool = True
    labels: bool = True

    def query(self, default_tiles: str = "none") -> dict[str, str]:
        """The flags that differ from the defaults, as query parameters (sorted, stable)."""
        base = MapFlags(tiles=default_tiles)
        out: dict[str, str] = {}
        for name, value in asdict(self).items():
            if value == getattr(base, name) or value is None:
                continue
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return dict(sorted(out.items()))

    def with_tiles(self, tiles: str) -> MapFlags:
        """A copy with other tiles."""
        return replace(self, tiles=tiles)




def _choice(name: str, text: str, choices: tuple[str, ...]) -> str:
    value = text.strip().lower()
    if value not in choices:
        raise InvalidParameterError(f"{name} must be one of {', '.join(choices)}.")
    return value


def clean_text(name: str, text: str, limit: int) -> str | None:
    """Trimmed text without control characters; None when empty; 400 when too long."""
    value = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\u200d" else ch
        for ch in text
    ).strip()
    if len(value) > limit:
        raise InvalidParameterError(f"{name} must be at most {limit} characters.")
    return value or None


def parse_flags(
    raw: Mapping[str, str | None], default_tiles: str = "none", tiles_allowed: bool = True
) -> MapFlags:
    """MapFlags from query values (absent or None = default); 400 on any invalid value."""

    def get(name: str) -> str | None:
        value = raw.get(name)
        return None if value is None else str(value)

    flags = MapFlags(tiles=default_tiles)
    values: dict[str, object] = {}
    if (text := get("title")) is not None:
        values["title"] = clean_text("title", text, MAX_TITLE)
    if (text := get("caption")) is not None:
        values["caption"] = clean_text("caption", text, MAX_CAPTION)
    if (text := get("lang")) is not None:
        values["lang"] = _choice("lang", text, LANGS)
    if (text := get("dark")) is not None:
        values["dark"] = _choice("dark", text, DARK)
    if (text := get("tiles")) is not None:
        values["tiles"] = _choice("tiles", text, TILES)
    for name in ("static", "inset", "labels"):
        if (text := get(name)) is not None:
            values[name] = parse_bool(name, text)
    flags = replace(flags, **values)  # type: ignore[arg-type]
    if not tiles_allowed and flags.tiles != "none":
        flags = flags.with_tiles("none")
    return flags


def parse_size(width: str | int | None, height: str | int | None) -> tuple[int, int]:
    """PNG width and height in pixels, each within MIN_PX..MAX_PX; 400 otherwise."""
    size = []
    for name, value, default in (
        ("width", width, DEFAULT_PNG_SIZE[0]),
        ("height", height, DEFAULT_PNG_SIZE[1]),
    ):
        if value is None:
            size.append(default)
            continue
        try:
            number = int(str(value).strip())
        except ValueError:
            raise InvalidParameterError(f"{name} must be a whole number of pixels.") from None
        if not MIN_PX <= number <= MAX_PX:
            raise InvalidParameterError(f"{name} must be between {MIN_PX} and {MAX_PX} pixels.")
        size.append(number)
    if size[0] * size[1] > MAX_PIXELS:
        raise InvalidParameterError(
            f"width × height must be at most {MAX_PIXELS:,} pixels (e.g. 2400 × 1600)."
        )
    return size[0], size[1]
