"""The saved map document: what a journalist's map shows and says, validated with limits.

A ``MapDocument`` is plain data (JSON in the repository, in exports and over the
API). Ids are checked against the data store and made canonical by
``canonical_document``; every text is stripped of control characters here and
escaped wherever it is shown (Jinja autoescape, ``textContent`` in the studio).
Coordinates are CRS84 degrees, lon/lat order.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from service.domain.errors import AtlasError, NotFoundError
from service.maps.strings import format_date
from service.store.base import FeatureStore
from service.studio.errors import SpecError

#: Limits (characters, items) a document must respect; the studio shows the same numbers.
MAX_ITEMS = 50  # per kind (borders, places, crossings, countries)
MAX_ANNOTATIONS = 50
MAX_ID = 80
LIMITS = {
    "title": 200,
    "dek": 140,
    "caption": 280,
    "source": 80,
    "byline": 60,
    "notes": 2000,
    "alt": 500,
    "annotation_text": 80,
    "annotation_note": 280,
}
#: The composed caption must fit the renderer's caption flag (service.maps.flags.MAX_CAPTION).
MAX_COMPOSED_CAPTION = 600
SIZES = {  # preset -> (PNG width, PNG height, iframe height in px)
    "article": (1200, 630, 640),
    "square": (1080, 1080, 720),
    "wide": (1280, 720, 600),
}
LANGS = ("en", "ru", "be")


def _clean(value: str) -> str:
    """Text without control or format characters (ZWJ kept), trimmed."""
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf") and ch != "\u200d" else ch
        for ch in value
    ).strip()


def _text(limit: int) -> Any:
    return Annotated[str, StringConstraints(max_length=limit)]


Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID, strip_whitespace=True)]
Lon = Annotated[float, Field(ge=-180, le=180, description="Longitude, degrees (CRS84).")]
Lat = Annotated[float, Field(ge=-90, le=90, description="Latitude, degrees (CRS84).")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _clean_text(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: _clean(v) if isinstance(v, str) and k != "type" else v
                    for k, v in data.items()}
        return data


class Items(_Strict):
    """Features from the data, by id (canonicalised on save)."""

    borders: list[Id] = Field(default_factory=list, max_length=MAX_ITEMS,
                              description="Border ids, e.g. BY-UA.")  # fmt: skip
    places: list[Id] = Field(default_factory=list, max_length=MAX_ITEMS,
                             description="Place ids, e.g. divin.")  # fmt: skip
    crossings: list[Id] = Field(default_factory=list, max_length=MAX_ITEMS,
                                description="Crossing ids.")  # fmt: skip
    countries: list[Id] = Field(default_factory=list, max_length=MAX_ITEMS,
                                description="Countries to highlight (alpha-2/3).")  # fmt: skip


class LabelAnnotation(_Strict):
    """A text label at a point."""

    type: Literal["label"] = "label"
    lon: Lon
    lat: Lat
    text: _text(LIMITS["annotation_text"]) = Field(min_length=1)  # type: ignore[valid-type]


class MarkerAnnotation(_Strict):
    """A marker with a short note."""

    type: Literal["marker"] = "marker"
    lon: Lon
    lat: Lat
    text: _text(LIMITS["annotation_text"]) = Field(min_length=1)  # type: ignore[valid-type]
    note: _text(LIMITS["annotation_note"]) = ""  # type: ignore[valid-type]


class Point(_Strict):
    """A position in CRS84 degrees."""

    lon: Lon
    lat: Lat


class LineAnnotation(_Strict):
    """A line, or an arrow, between two points."""

    type: Literal["line"] = "line"
    start: Point
    end: Point
    arrow: bool = False
    text: _text(LIMITS["annotation_text"]) = ""  # type: ignore[valid-type]


Annotation = Annotated[LabelAnnotation | MarkerAnnotation | LineAnnotation,
                       Field(discriminator="type")]  # fmt: skip


class MapDocument(_Strict):
    """A saved map: its content, its texts and how it is shown."""

    title: _text(LIMITS["title"]) = ""  # type: ignore[valid-type]
    dek: _text(LIMITS["dek"]) = ""  # type: ignore[valid-type]
    caption: _text(LIMITS["caption"]) = ""  # type: ignore[valid-type]
    source: _text(LIMITS["source"]) = ""  # type: ignore[valid-type]
    byline: _text(LIMITS["byline"]) = ""  # type: ignore[valid-type]
    notes: _text(LIMITS["notes"]) = Field("", description="Kept with the map; never shown.")  # type: ignore[valid-type]
    alt: _text(LIMITS["alt"]) = Field("", description="Alt text of the PNG and embed.")  # type: ignore[valid-type]
    lang: Literal["en", "ru", "be"] = "en"
    dark: Literal["auto", "true", "false"] = "auto"
    static: bool = False
    inset: bool = True
    size: Literal["article", "square", "wide"] = Field(
        "article", description="article: 1200×630 PNG; square: 1080×1080; wide: 16:9, 1280×720.")
    items: Items = Field(default_factory=Items)
    annotations: list[Annotation] = Field(default_factory=list, max_length=MAX_ANNOTATIONS)

    def canonical_json(self) -> bytes:
        """Stable JSON (sorted keys): what the repository stores and compares."""
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)

    def is_empty(self) -> bool:
        """True when the map shows nothing from the data."""
        return not any((self.items.borders, self.items.places, self.items.crossings,
                        self.items.countries))  # fmt: skip


def parse_document(raw: bytes | str | dict[str, Any]) -> MapDocument:
    """A MapDocument from stored JSON (already validated when it was saved)."""
    data = orjson.loads(raw) if isinstance(raw, bytes | str) else raw
    return MapDocument.model_validate(data)


async def canonical_document(store: FeatureStore, doc: MapDocument) -> MapDocument:
    """*doc* with every id checked against the data and made canonical (duplicates dropped).

    Raises SpecError naming the field (``items.places[1]``) for an id that does not exist.
    """
    frontier = store.frontier
    out: dict[str, list[str]] = {}
    for name in ("borders", "places", "crossings", "countries"):
        ids: list[str] = []
        for i, raw in enumerate(getattr(doc.items, name)):
            field = f"items.{name}[{i}]"
            try:
                if name == "borders":
                    ids.append(frontier.border_id(raw))
                elif name == "places":
                    ids.append((await store.place(raw)).id)
                elif name == "crossings":
                    ids.append(frontier.crossing(raw).id)
                else:
                    a2 = frontier.alpha2(raw)
                    if a2 is None or a2 not in frontier.countries:
                        raise NotFoundError(f"one of {', '.join(frontier.countries)}")
                    ids.append(a2)
            except AtlasError as exc:
                hint = f" ({exc.detail})" if isinstance(exc, NotFoundError) else ""
                raise SpecError(f"{field}: no such {name[:-1]} id {raw[:MAX_ID]!r}{hint[:200]}") \
                    from None
        out[name] = list(dict.fromkeys(ids))
    return doc.model_copy(update={"items": Items(**out)})


# ---------------------------------------------------------------- texts on the page
STRINGS_FILE = Path(__file__).resolve().parent / "strings.json"
#: The words a saved map's caption uses, from the studio's own en/ru/be strings.
UI = {lang: {"source": s["source_word"], "by": s["by_word"], "data_as_of": s["data_as_of"]}
      for lang, s in orjson.loads(STRINGS_FILE.read_bytes()).items()}


def composed_caption(doc: MapDocument, data_version: str, data_time: str) -> str:
    """The caption line a saved map shows: its caption and "Data as of".

    The dek, source line and byline have their own slots on the page and in the image
    (``service.maps.content.PageTexts``); "Data as of" names the data the version was
    drawn from. The notes are never shown.
    """
    ui = UI[doc.lang]
    parts = [doc.caption] if doc.caption else []
    # the day as readers write it; the data version's id is for machines (the API and
    # the X-Data-Version header carry it), not for a caption
    day = format_date(data_time, doc.lang)
    parts.append(f"{ui['data_as_of']} {day}" + ("" if day.endswith(".") else "."))
    text = " ".join(parts)
    if len(text) > MAX_COMPOSED_CAPTION:
        text = text[: MAX_COMPOSED_CAPTION - 1] + "…"
    return text
