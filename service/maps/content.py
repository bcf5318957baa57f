"""Map pages built from the store's data: what each map shows, and its HTML page.

``resolve`` turns a ``MapSpec`` (what to show) into ``MapContent`` (simplified
geometries, labels, popups, legend, in one language); ``render_page`` turns
content plus ``MapFlags`` into one HTML page whose every asset is served by the
service itself (or inlined, for the command line). The static PNG renderer
(service.maps.png) draws the same ``MapContent``.

Escaping: all text reaches the page through an autoescaping Jinja template or
through JSON embedded with ``<``, ``>``, ``&`` and ``'`` escaped; the browser
script builds popups and labels with ``textContent`` only.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np
import shapely
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from service.domain.errors import InvalidParameterError, NotFoundError
from service.domain.frontier import Frontier
from service.domain.geometry import BBox
from service.domain.records import Feature, ItemsQuery
from service.maps.embed import PageText
from service.maps.flags import MapFlags
from service.store.base import FeatureStore

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

#: The map of the frontier: BY-RU, its checkpoints, Divin and the regional centres.
FRONTIER_BORDER = "BY-RU"
FRONTIER_PLACES = (
    "divin", "minsk", "brest", "grodno", "vitebsk", "mogilev", "gomel",
    "smolensk", "bryansk", "pskov",
)  # fmt: skip
MAX_CUSTOM_ITEMS = 200
#: Towns a locator map names around its place.
NEARBY_TOWNS = 4

DATA_ATTRIBUTION_HTML = (
    'Data © <a href="https://www.openstreetmap.org/copyright" target="_blank" '
    'rel="noopener">OpenStreetMap contributors</a> (ODbL), '
    '<a href="https://www.geonames.org/" target="_blank" rel="noopener">GeoNames</a> '
    '(<a href="https://creativecommons.org/licenses/by/4.0/" target="_blank" '
    'rel="noopener">CC BY 4.0</a>)'
)
_DATA_WORDS = {"en": ("Data", "OpenStreetMap contributors"),
               "ru": ("Данные", "участники OpenStreetMap"),
               "be": ("Даныя", "удзельнікі OpenStreetMap")}  # fmt: skip


def data_attribution_html(lang: str) -> str:
    """The data credit (OpenStreetMap, GeoNames) in *lang*, as HTML."""
    data, osm = _DATA_WORDS.get(lang, _DATA_WORDS["en"])
    return DATA_ATTRIBUTION_HTML.replace("Data ©", f"{data} ©", 1).replace(
        "OpenStreetMap contributors", osm, 1)


OSM_TILE_ATTRIBUTION = (
    'Tiles © <a href="https://www.openstreetmap.org/copyright" target="_blank" '
    'rel="noopener">OpenStreetMap</a>'
)
CARTO_TILE_ATTRIBUTION = (
    OSM_TILE_ATTRIBUTION + ', © <a href="https://carto.com/attributions" target="_blank" '
    'rel="noopener">CARTO</a>'
)

# ---------------------------------------------------------------- languages
UI: dict[str, dict[str, str]] = {
    "en": {
        "frontier_title": "The Belarus–Russia frontier",
        "border_title": "{name}",
        "place_title": "{name} and the nearest border",
        "custom_title": "Frontiers of Belarus",
        "legend": "Legend", "border": "Border", "focus_border": "{name}",
        "checkpoint": "Checkpoint", "place": "Place", "nearest": "Distance to the nearest border",
        "shown": "Places and crossings on this map", "noscript": "The interactive map needs "
        "JavaScript; the places and crossings it shows are listed here.",
        "measured": "{name}: {measured} km measured along our line (geodesic, WGS84); "
        "{cited} km cited ({source}).",
        "measured_only": "{name}: {measured} km measured along our line (geodesic, WGS84).",
        "frontier_dek": "Belarus resumed checks on people entering from Russia on 5 May 2023, "
        "in the six main road directions shown (1–6).",
        "alt": "Map of {what}. Shown: {items}.",
        "country": "Country", "kind": "Kind", "population": "Population",
        "road": "Road", "border_of": "Border", "precision": "Location precision",
        "method": "Located as", "since": "Dates", "km_to": "{km} km to the {border}",
        "capital": "capital", "city": "city", "town": "town", "village": "village",
        "zoom_hint": "Use Ctrl + scroll (⌘ + scroll) to zoom the map",
        "source": "Source", "embed": "Embed this map", "png": "Image (PNG)",
        "scale_note": "Lines simplified to {m} m for this view.",
    },
    "ru": {
        "frontier_title": "Граница Беларуси и России",
        "border_title": "{name}",
        "place_title": "{name} и ближайшая граница",
        "custom_title": "Границы Беларуси",
        "legend": "Условные обозначения", "border": "Граница", "focus_border": "{name}",
        "checkpoint": "Пункт пропуска", "place": "Населённый пункт",
        "nearest": "Расстояние до ближайшей границы",
        "shown": "Населённые пункты и пункты пропуска на карте",
        "noscript": "Для интерактивной карты нужен JavaScript; объекты карты перечислены здесь.",
        "measured": "{name}: {measured} км по нашей линии (геодезически, WGS84); "
        "по данным источника {cited} км ({source}).",
        "measured_only": "{name}: {measured} км по нашей линии (геодезически, WGS84).",
        "frontier_dek": "Беларусь возобновила проверки на въезде из России 5 мая 2023 года "
        "на шести основных автомобильных направлениях, показанных на карте (1–6).",
        "alt": "Карта: {what}. На карте: {items}.",
        "country": "Страна", "kind": "Тип", "population": "Население",
        "road": "Дорога", "border_of": "Граница", "precision": "Точность положения",
        "method": "Как определено", "since": "Даты", "km_to": "{km} км до границы: {border}",
        "capital": "столица", "city": "город", "town": "посёлок", "village": "деревня",
        "zoom_hint": "Масштаб: Ctrl + колесо мыши (⌘ + колесо)",
        "source": "Источник", "embed": "Встроить карту", "png": "Изображение (PNG)",
        "scale_note": "Линии упрощены до {m} м для этого масштаба.",
    },
    "be": {
        "frontier_title": "Мяжа Беларусі і Расіі",
        "border_title": "{name}",
        "place_title": "{name} і бліжэйшая мяжа",
        "custom_title": "Межы Беларусі",
        "legend": "Умоўныя абазначэнні", "border": "Мяжа", "focus_border": "{name}",
        "checkpoint": "Пункт пропуску", "place": "Населены пункт",
        "nearest": "Адлегласць да бліжэйшай мяжы",
        "shown": "Населеныя пункты і пункты пропуску на карце",
        "noscript": "Для інтэрактыўнай карты патрэбны JavaScript; аб'екты карты пералічаны тут.",
        "measured": "{name}: {measured} км па нашай лініі (геадэзічна, WGS84); "
        "паводле крыніцы {cited} км ({source}).",
        "measured_only": "{name}: {measured} км па нашай лініі (геадэзічна, WGS84).",
        "frontier_dek": "Беларусь аднавіла праверкі на ўездзе з Расіі 5 мая 2023 года "
        "на шасці асноўных аўтамабільных напрамках, паказаных на карце (1–6).",
        "alt": "Карта: {what}. На карце: {items}.",
        "country": "Краіна", "kind": "Тып", "population": "Насельніцтва",
        "road": "Дарога", "border_of": "Мяжа", "precision": "Дакладнасць становішча",
        "method": "Як вызначана", "since": "Даты", "km_to": "{km} км да мяжы: {border}",
        "capital": "сталіца", "city": "горад", "town": "пасёлак", "village": "вёска",
        "zoom_hint": "Маштаб: Ctrl + кола мышы (⌘ + кола)",
        "source": "Крыніца", "embed": "Уставіць карту", "png": "Выява (PNG)",
        "scale_note": "Лініі спрошчаны да {m} м для гэтага маштабу.",
    },
}  # fmt: skip

#: Strings of the page chrome, the legend, popups, the PNG and the captions.
UI_MORE: dict[str, dict[str, str]] = {
    "en": {
        "status_open": "open", "status_restricted": "restricted", "status_closed": "closed",
        "key_open": "Checkpoint, open", "key_restricted": "Checkpoint, restricted",
        "key_closed": "Checkpoint, closed", "key_halo": "Position uncertain (shaded area)",
        "status": "Status", "status_since": "since {date}", "who": "Who may cross",
        "approx": "Approximate position: within about {km} km",
        "as_of": "Data as of {date}", "method_link": "How this map was made",
        "method_measured": "Our line measures {measured} km ({name}; geodesic length on "
        "the WGS84 ellipsoid).",
        "method_simplified": "Lines are simplified to {m} m for this view.",
        "method_points": "Checkpoint positions are approximate where a shaded circle is drawn: "
        "it shows the stated precision of the position.",
        "cited": "The {name} is {cited} km long, according to {source}.",
        "measured_cap": "The {name} measures about {measured} km along our line.",
        "clipped_cap": "{name}: only the part within the map's area is shown ({measured} km).",
        "place_cap": "{place} lies {km} km from the {border}.",
        "reset": "Reset view", "zoom_in": "Zoom in", "zoom_out": "Zoom out",
        "fullscreen": "Full screen", "exit_fullscreen": "Exit full screen",
        "inset_hide": "Hide the overview map", "inset_show": "Show the overview map",
        "two_fingers": "Use two fingers to move the map", "key": "Checkpoints on this map",
        "timeline": "Timeline of the {name}", "svg": "Image (SVG)", "map_region": "Map",
        "scale_km": "km", "scale_m": "m", "by": "By",
        "studio": "Make your own map",
    },
    "ru": {
        "status_open": "открыт", "status_restricted": "ограничен", "status_closed": "закрыт",
        "key_open": "Пункт пропуска открыт", "key_restricted": "Пункт пропуска: ограничения",
        "key_closed": "Пункт пропуска закрыт",
        "key_halo": "Положение неточно (заштрихованная область)",
        "status": "Статус", "status_since": "с {date}", "who": "Кто может пересечь",
        "approx": "Приблизительное положение: в пределах около {km} км",
        "as_of": "Данные на {date}", "method_link": "Как сделана эта карта",
        "method_measured": "Длина нашей линии — {measured} км ({name}; геодезическая длина "
        "на эллипсоиде WGS84).",
        "method_simplified": "Линии упрощены до {m} м для этого масштаба.",
        "method_points": "Положение пунктов пропуска приблизительное там, где нарисован "
        "заштрихованный круг: он показывает заявленную точность.",
        "cited": "{name}: {cited} км, по данным: {source}.",
        "measured_cap": "{name}: около {measured} км по нашей линии.",
        "clipped_cap": "{name}: показана только часть в пределах карты ({measured} км).",
        "place_cap": "{place}: {km} км до границы ({border}).",
        "reset": "Исходный вид", "zoom_in": "Приблизить", "zoom_out": "Отдалить",
        "fullscreen": "Во весь экран", "exit_fullscreen": "Выйти из полноэкранного режима",
        "inset_hide": "Скрыть обзорную карту", "inset_show": "Показать обзорную карту",
        "two_fingers": "Перемещайте карту двумя пальцами", "key": "Пункты пропуска на карте",
        "timeline": "Хронология: {name}", "svg": "Изображение (SVG)", "map_region": "Карта",
        "scale_km": "км", "scale_m": "м", "by": "Автор",
        "studio": "Создать свою карту",
    },
    "be": {
        "status_open": "адкрыты", "status_restricted": "абмежаваны", "status_closed": "зачынены",
        "key_open": "Пункт пропуску адкрыты", "key_restricted": "Пункт пропуску: абмежаванні",
        "key_closed": "Пункт пропуску зачынены",
        "key_halo": "Становішча недакладнае (заштрыхаваная вобласць)",
        "status": "Статус", "status_since": "з {date}", "who": "Хто можа перасекчы",
        "approx": "Прыблізнае становішча: у межах каля {km} км",
        "as_of": "Даныя на {date}", "method_link": "Як зроблена гэтая карта",
        "method_measured": "Даўжыня нашай лініі — {measured} км ({name}; геадэзічная даўжыня "
        "на эліпсоідзе WGS84).",
        "method_simplified": "Лініі спрошчаны да {m} м для гэтага маштабу.",
        "method_points": "Становішча пунктаў пропуску прыблізнае там, дзе намаляваны "
        "заштрыхаваны круг: ён паказвае заяўленую дакладнасць.",
        "cited": "{name}: {cited} км, паводле: {source}.",
        "measured_cap": "{name}: каля {measured} км па нашай лініі.",
        "clipped_cap": "{name}: паказана толькі частка ў межах карты ({measured} км).",
        "place_cap": "{place}: {km} км да мяжы ({border}).",
        "reset": "Пачатковы выгляд", "zoom_in": "Наблізіць", "zoom_out": "Аддаліць",
        "fullscreen": "На ўвесь экран", "exit_fullscreen": "Выйсці з поўнаэкраннага рэжыму",
        "inset_hide": "Схаваць аглядную карту", "inset_show": "Паказаць аглядную карту",
        "two_fingers": "Перамяшчайце карту двума пальцамі", "key": "Пункты пропуску на карце",
        "timeline": "Храналогія: {name}", "svg": "Выява (SVG)", "map_region": "Карта",
        "scale_km": "км", "scale_m": "м", "by": "Аўтар",
        "studio": "Стварыць сваю мапу",
    },
}  # fmt: skip
for _lang, _strings in UI_MORE.items():
    UI[_lang].update(_strings)

COUNTRY_NAMES = {
    "ru": {"BY": "Беларусь", "RU": "Россия", "UA": "Украина", "PL": "Польша", "LT": "Литва",
           "LV": "Латвия", "EE": "Эстония", "SK": "Словакия", "SE": "Швеция"},
    "be": {"BY": "Беларусь", "RU": "Расія", "UA": "Украіна", "PL": "Польшча", "LT": "Літва",
           "LV": "Латвія", "EE": "Эстонія", "SK": "Славакія", "SE": "Швецыя"},
}  # fmt: skip
_NOT_RUSSIAN = set("іўєїґъѣљњјћђәөүҗңһ'’")


def country_name(frontier: Frontier, a2: str, lang: str) -> str:
    """A country's name in *lang* (English from the data)."""
    if lang in COUNTRY_NAMES and a2 in COUNTRY_NAMES[lang]:
        return COUNTRY_NAMES[lang][a2]
    return frontier.country_names.get(a2, a2)


def border_name(frontier: Frontier, border_id: str, lang: str) -> str:
    """``Belarus–Russia border`` in *lang*."""
    props = frontier.borders[border_id].properties
    if props.get(f"name_{lang}"):
        return str(props[f"name_{lang}"])
    if lang == "en":
        return str(props.get("name") or border_id)
    a, b = frontier.countries_of(border_id)[:2]
    word = UI[lang]["border"]
    return f"{word} {country_name(frontier, a, lang)} — {country_name(frontier, b, lang)}"


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def place_name(props: dict[str, Any], lang: str) -> str:
    """The name to label a place with: English, or the Cyrillic form for ru/be.

    ``name_local`` is the local form (Belarusian in Belarus, Russian in Russia);
    for Russian labels of Belarusian places the closest Cyrillic alternate
    name without Belarusian-only letters is used.
    """
    if props.get(f"name_{lang}"):  # curated per-language names (the data's name_en/ru/be)
        return str(props[f"name_{lang}"])
    name = str(props.get("name") or "")
    local = str(props.get("name_local") or "")
    if lang == "en" or not local:
        return name
    if lang == "be" or not (_NOT_RUSSIAN & set(local.lower())):
        return local
    candidates = [
        n for n in props.get("alternate_names") or []
        if re.fullmatch(r"[А-Яа-яЁё\- ]+", n) and not (_NOT_RUSSIAN & set(n.lower()))
    ]  # fmt: skip
    if not candidates:
        return local
    return min(candidates, key=lambda n: (_edit_distance(n.lower(), local.lower()), len(n)))


def _fmt_km(value: float, lang: str) -> str:
    text = f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    return text.replace(",", "\u202f" if lang != "en" else ",").replace(
        ".", "," if lang != "en" else "."
    )


def _fmt_int(value: int, lang: str) -> str:
    return f"{value:,}".replace(",", "\u202f" if lang != "en" else ",")


# ---------------------------------------------------------------- what to show
@dataclass(frozen=True)
class Annotation:
    """A journalist's own mark on a map (a saved map's annotation); hashable.

    ``kind`` is ``label`` (text at a point), ``marker`` (a pin whose note opens in a
    popup) or ``line`` (between two points, an arrow when ``arrow``). Points are
    (lon, lat) in CRS84 degrees. The texts are user text: escaped wherever shown.
    """

    kind: str
    points: tuple[tuple[float, float], ...]
    text: str = ""
    note: str = ""
    arrow: bool = False


@dataclass(frozen=True)
class PageTexts:
    """A saved map's own texts, each in its own slot of the page (and the image)."""

    dek: str = ""
    source: str = ""
    byline: str = ""
    alt: str = ""


@dataclass(frozen=True)
class MapSpec:
    """What a map shows; hashable (a cache key). Ids are canonical."""

    kind: str  # frontier | border | place | custom
    borders: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    crossings: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    focus: str | None = None  # the border or place the map is about
    annotations: tuple[Annotation, ...] = ()  # drawn over the data, in this order
    texts: PageTexts | None = None  # a saved map's dek, source, byline and alt text

    @property
    def path(self) -> str:
        """The URL path of this map (without query)."""
        if self.kind == "frontier":
            return "maps/frontier"
        if self.kind == "border":
            return f"maps/borders/{self.focus}"
        if self.kind == "place":
            return f"maps/places/{self.focus}"
        return "maps/custom"

    def query(self) -> dict[str, str]:
        """Query parameters that select the content (custom maps only)."""
        if self.kind != "custom":
            return {}
        out = {}
        for name in ("borders", "places", "crossings", "countries"):
            ids = getattr(self, name)
            if ids:
                out[name] = ",".join(ids)
        return out


async def frontier_spec(store: FeatureStore) -> MapSpec:
    """The Belarus–Russia frontier map."""
    crossings = tuple(c.id for c in store.frontier.crossings_on(FRONTIER_BORDER))
    places = []
    for pid in FRONTIER_PLACES:
        try:
            places.append((await store.place(pid)).id)
        except NotFoundError:
            continue
    return MapSpec("frontier", (FRONTIER_BORDER,), tuple(places), crossings, ("BY", "RU"),
                   FRONTIER_BORDER)  # fmt: skip


async def border_spec(store: FeatureStore, raw_id: str) -> MapSpec:
    """One border, its crossings and the largest places near it."""
    frontier = store.frontier
    border_id = frontier.border_id(raw_id)
    crossings = tuple(c.id for c in frontier.crossings_on(border_id))
    geom = frontier.borders[border_id].geometry
    candidates = await store.places_within(BBox(*geom.buffer(0.3).bounds))
    near = [p.id for p in candidates if geom.distance(Point(p.lon, p.lat)) < 0.3]
    return MapSpec("border", (border_id,), tuple(near[:10]), crossings,
                   tuple(frontier.countries_of(border_id)), border_id)  # fmt: skip


async def place_spec(store: FeatureStore, place_id: str) -> MapSpec:
    """A locator map: the place, its nearest border and the crossings near it."""
    frontier = store.frontier
    place = await _place(store, place_id)
    assert place.lonlat is not None
    lon, lat = place.lonlat
    nearest = frontier.nearest_border(lon, lat)
    near = [c.id for c in frontier.crossings_on(nearest.border)
            if c.geometry.distance(Point(lon, lat)) < 1.5]  # fmt: skip
    # Context: the largest towns around it (GeoNames, through the store), largest first.
    around = await store.places_within(BBox(lon - 0.7, lat - 0.45, lon + 0.7, lat + 0.45))
    towns = sorted((p for p in around if p.id != place.id and p.population >= 10_000),
                   key=lambda p: -p.population)[:NEARBY_TOWNS]  # fmt: skip
    return MapSpec("place", (nearest.border,), (place.id, *(t.id for t in towns)), tuple(near),
                   tuple(frontier.countries_of(nearest.border)), place.id)  # fmt: skip


async def _place(store: FeatureStore, raw_id: str) -> Feature:
    """A place by id; ids are lower case, so ``DIVIN`` finds ``divin``."""
    try:
        return await store.place(raw_id)
    except NotFoundError:
        if raw_id == raw_id.lower():
            raise
        return await store.place(raw_id.lower())


def _ids(raw: str | None, name: str) -> list[str]:
    if not raw:
        return []
    ids = [p.strip() for p in raw.split(",") if p.strip()]
    if len(ids) > MAX_CUSTOM_ITEMS:
        raise InvalidParameterError(f"{name}: at most {MAX_CUSTOM_ITEMS} ids.")
    return list(dict.fromkeys(ids))


async def custom_spec(
    store: FeatureStore,
    borders: str | None = None,
    places: str | None = None,
    crossings: str | None = None,
    countries: str | None = None,
) -> MapSpec:
    """Any borders, places, crossings and countries (comma-separated ids); 400/404 on bad ids."""
    frontier = store.frontier
    border_ids = [frontier.border_id(b) for b in _ids(borders, "borders")]
    place_ids = [(await _place(store, p)).id for p in _ids(places, "places")]
    crossing_ids = [frontier.crossing(c).id for c in _ids(crossings, "crossings")]
    country_ids = []
    for code in _ids(countries, "countries"):
        a2 = frontier.alpha2(code)
        if a2 is None or a2 not in frontier.countries:
            raise InvalidParameterError(
                f"countries: {code[:20]!r} is not one of {', '.join(frontier.countries)}."
            )
        country_ids.append(a2)
    if not (border_ids or place_ids or crossing_ids or country_ids):
        raise InvalidParameterError(
            "A custom map needs at least one of borders, places, crossings or countries "
            "(comma-separated ids), e.g. /maps/custom?borders=BY-UA&places=divin."
        )
    return MapSpec("custom", tuple(dict.fromkeys(border_ids)), tuple(dict.fromkeys(place_ids)),
                   tuple(crossing_ids), tuple(dict.fromkeys(country_ids)))  # fmt: skip


async def places_of(store: FeatureStore, spec: MapSpec) -> dict[str, Feature]:
    """The place features a map shows, by id."""
    return {pid: await store.place(pid) for pid in spec.places}


async def events_of(store: FeatureStore, spec: MapSpec, lang: str) -> list[tuple[str, str, str]]:
    """The timeline under a border map: (date, text in *lang*, source URL), oldest first."""
    if spec.kind not in ("frontier", "border") or not spec.focus:
        return []
    page = await store.items("events", ItemsQuery(filters={"border": spec.focus}, limit=100))
    out = []
    for f in page.features:
        props = f.properties
        text = props.get(f"title_{lang}") or props.get(f"description_{lang}")
        out.append((str(props.get("date") or ""), str(text or props.get("title_en") or ""),
                    str(props.get("source_url") or "")))  # fmt: skip
    return sorted(out)


def data_date(store: FeatureStore) -> str:
    """The day the data was built (YYYY-MM-DD), for "Data as of …"."""
    return str(store.info.data_time)[:10]


# ---------------------------------------------------------------- resolved content
@dataclass
class MapPoint:
    """A place or crossing as drawn: position (CRS84 degrees) and localised texts."""

    id: str
    kind: str  # capital | city | town | village | crossing
    lon: float
    lat: float
    name: str
    sub: str
    rows: list[tuple[str, str]]
    number: int | None = None
    label_side: str = "right"
    focus: bool = False
    rank: float = 0.0  # label priority: the focus, then the order of the spec
    status: str | None = None  # crossings: open | restricted | closed
    precision_m: float = 0.0  # crossings: stated uncertainty of the position, metres


@dataclass
class MapContent:
    """Everything a map shows, in one language, with geometries simplified for the view."""

    spec: MapSpec
    lang: str
    title: str
    dek: str
    caption: str
    alt: str
    countries: list[tuple[str, str, BaseGeometry, bool]]  # (a2, name, geometry, focus)
    borders: list[tuple[str, str, BaseGeometry, bool]]  # (id, name, geometry, focus)
    places: list[MapPoint]
    crossings: list[MapPoint]
    links: list[tuple[BaseGeometry, str]]  # dashed place → border lines with a label
    bounds: BBox
    simplify_m: float | None
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, text)
    sources: list[tuple[str, str]] = field(default_factory=list)  # (label, URL)
    method: list[str] = field(default_factory=list)  # "How this map was made" notes
    view_limit: BBox | None = None  # the reader may not pan or zoom out beyond it
    annotations: tuple[Annotation, ...] = ()  # the spec's own marks (user text)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (date, text, URL)
    data_as_of: str | None = None  # the data version's date, for "Data as of …"
    #: Land beyond the area our country polygons cover (Natural Earth 1:110m), so that a
    #: view wider than our data still shows land where land is: (id, geometry, focus).
    underlay: list[tuple[str, BaseGeometry, bool]] = field(default_factory=list)
    #: Country outlines as lines, without the straight edges where our data is cut off
    #: (made on demand: only the static images draw them).
    edges_of: Callable[[], BaseGeometry] | None = None
    #: The static images' limit: the basemap window within the land drawn (ours + underlay).
    image_limit: BBox | None = None


def _pick_level(frontier: Frontier, span_km: float) -> float | None:
    """The coarsest prepared level finer than 1/400 of the view span (~1 px at 1000 px)."""
    wanted = span_km * 1000 / 400
    prepared = frontier.simplify_levels_m
    levels = [lv for lv in prepared if lv <= wanted]
    if levels:
        return max(levels)
    return min(prepared) if prepared else None


def _span_km(bounds: BBox) -> float:
    mid = math.cos(math.radians((bounds.south + bounds.north) / 2))
    return max((bounds.east - bounds.west) * 111.32 * mid, (bounds.north - bounds.south) * 111.32)


def _pad(bounds: BBox, fraction: float, min_deg: float = 0.05) -> BBox:
    dx = max((bounds.east - bounds.west) * fraction, min_deg)
    dy = max((bounds.north - bounds.south) * fraction, min_deg)
    return BBox(bounds.west - dx, bounds.south - dy, bounds.east + dx, bounds.north + dy)


def _prune(geom: BaseGeometry, min_area: float) -> BaseGeometry:
    """Drop islands and lakes smaller than *min_area* square degrees."""
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        if not isinstance(poly, Polygon) or poly.area < min_area:
            continue
        holes = [ring for ring in poly.interiors if Polygon(ring).area >= min_area]
        parts.append(Polygon(poly.exterior, holes))
    return MultiPolygon(parts) if parts else geom


#: Basemap simplification tolerances (degrees); a view takes the finest one that
#: is at least its own, so that a handful of whole-country simplifications serve
#: every view and each is computed once.
BASEMAP_TOLERANCES_DEG = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.12)


@lru_cache(maxsize=len(BASEMAP_TOLERANCES_DEG))
def _simplified_countries(frontier: Frontier, tolerance_deg: float) -> tuple[BaseGeometry, ...]:
    """Every country pruned and simplified to *tolerance_deg* degrees (computed once)."""
    # A lake only a few tolerances wide would be drawn as a triangle: leave it out.
    min_area = (tolerance_deg * 12) ** 2
    geoms = [c.geometry for c in frontier.countries.values()]
    # Per-country simplification: the thin slivers it leaves between neighbours are
    # hidden under the country outline and the border lines drawn on top.
    simple = [shapely.simplify(_prune(g, min_area), tolerance_deg, preserve_topology=True)
              for g in geoms]
    return tuple(shapely.make_valid(g) if not g.is_valid else g for g in simple)


def basemap_tolerance(wanted_deg: float) -> float:
    """The pre-computed basemap tolerance for a view that wants *wanted_deg* degrees."""
    return max([t for t in BASEMAP_TOLERANCES_DEG if t <= wanted_deg] or
               [BASEMAP_TOLERANCES_DEG[0]])


@lru_cache(maxsize=64)
def _basemap(
    frontier: Frontier, window: BBox | None, tolerance_deg: float
) -> tuple[BaseGeometry, ...]:
    """Country polygons simplified to *tolerance_deg* degrees, clipped to *window*."""
    simple = _simplified_countries(frontier, basemap_tolerance(tolerance_deg))
    if window is not None:
        simple = tuple(shapely.clip_by_rect(g, *window) for g in simple)
    # Snap to a 0.001° grid (stays valid), then drop the float noise from the JSON.
    return tuple(_round(shapely.set_precision(g, 0.001), 3) for g in simple)


def warm_up(frontier: Frontier) -> None:
    """Compute what a first map page would wait for, so that no reader waits for it.

    The whole-country simplifications and the imports of folium and matplotlib.
    Run in a background thread at start-up.
    """
    for tolerance in BASEMAP_TOLERANCES_DEG:
        _simplified_countries(frontier, tolerance)
    europe_outline()  # the inset's Europe, decoded from TopoJSON once
    _land_beyond_data(frontier)
    for tolerance in BASEMAP_TOLERANCES_DEG:
        _edges_at(frontier, tolerance)
    import service.maps.html  # noqa: F401 - the imports themselves are the work
    import service.maps.png  # noqa: F401


def _round(geom: BaseGeometry, digits: int) -> BaseGeometry:
    return shapely.transform(geom, lambda a: np.round(a, digits))


def resolve(frontier: Frontier, places_by_id: Mapping[str, Feature], spec: MapSpec,
            lang: str) -> MapContent:  # fmt: skip
    """Geometries, labels, popups and texts for *spec* in *lang*.

    *places_by_id* holds the place features of the spec (``places_of``); the rest
    comes from the frontier's in-memory layers.
    """
    ui = UI[lang]

    def place_point(pid: str) -> tuple[float, float]:
        lonlat = places_by_id[pid].lonlat
        assert lonlat is not None
        return lonlat

    # The view: everything the map is about.
    parts: list[BaseGeometry] = []
    for bid in spec.borders if spec.kind != "place" else ():  # a locator map zooms on the place
        parts.append(frontier.borders[bid].geometry)
    for pid in spec.places:
        parts.append(Point(place_point(pid)))
    for cid in spec.crossings:
        parts.append(frontier.crossings[cid].geometry)
    if spec.kind == "custom" and not parts:
        for a2 in spec.countries:
            parts.append(frontier.countries[a2].geometry)
    for ann in spec.annotations:  # the journalist's own marks are in the view too
        parts.extend(Point(p) for p in ann.points)
    links: list[tuple[BaseGeometry, str]] = []
    nearest_rows: dict[str, tuple[str, str]] = {}
    for pid in spec.places:
        lon, lat = place_point(pid)
        nearest = frontier.nearest_border(lon, lat)
        text = ui["km_to"].format(km=_fmt_km(nearest.distance_km, lang),
                                  border=border_name(frontier, nearest.border, lang))  # fmt: skip
        nearest_rows[pid] = (ui["nearest"], text)
        if spec.kind == "place" and pid == spec.focus:
            end = (nearest.nearest_lon, nearest.nearest_lat)
            links.append((LineString([(lon, lat), end]), text))
            parts.append(Point(end))
    union = shapely.union_all([shapely.envelope(p) for p in parts])
    west, south, east, north = union.bounds
    bounds = BBox(west, south, east, north)
    if spec.kind == "place":
        bounds = _pad(bounds, 0.35, 0.25)
    elif bounds.east - bounds.west < 0.3 and bounds.north - bounds.south < 0.3:
        # A single point (or a tight cluster): a locator view about 60 km across.
        bounds = _pad(bounds, 0.2, 0.3)
    span = _span_km(bounds)
    level = _pick_level(frontier, span)
    # Basemap window: wide enough for any aspect ratio of the map at the fitted zoom.
    cx, cy = (bounds.west + bounds.east) / 2, (bounds.south + bounds.north) / 2
    w, h = bounds.east - bounds.west, bounds.north - bounds.south
    # Leaflet fits the view at a whole zoom level, so it may show up to twice the
    # bounds in each direction, and a phone's map is taller than it is wide.
    half_w, half_h = max(w, h * 2) * 1.5 + 0.5, max(h, w / 1.2) * 1.5 + 0.5
    window = BBox(cx - half_w, cy - half_h, cx + half_w, cy + half_h)
    # Country outlines are background: about two pixels of a 700-pixel-wide map.
    tolerance = round(min(max(span / 350 / 111.32, 0.001), 0.05), 4)
    basemap = _basemap(frontier, window, tolerance)

    countries = []
    for a2, geom in zip(frontier.countries, basemap, strict=True):
        if geom.is_empty:
            continue
        countries.append((a2, country_name(frontier, a2, lang), geom, a2 in spec.countries))

    # Borders of Belarus always give context; the map's own borders are emphasised.
    border_ids = [*spec.borders, *(b for b in frontier.borders_of("BY") if b not in spec.borders)]
    borders = []
    for bid in border_ids:
        geom = frontier.border(bid, level).geometry
        if window is not None:
            geom = geom.intersection(box(*window))
            if geom.is_empty:
                continue
        borders.append((bid, border_name(frontier, bid, lang), _round(geom, 4),
                        bid in spec.borders))

    places = []
    for pid in spec.places:
        props = places_by_id[pid].properties
        lon, lat = place_point(pid)
        name = place_name(props, lang)
        sub = str(props.get("name_local") or "")  # the local form, when it differs
        rows = [(ui["country"], country_name(frontier, str(props.get("country")), lang)),
                (ui["kind"], ui.get(str(props.get("kind")), str(props.get("kind") or "")))]
        if props.get("population"):
            rows.append((ui["population"], _fmt_int(int(props["population"]), lang)))
        rows.append(nearest_rows[pid])
        rows.append((ui["source"], str(props.get("source") or "GeoNames")))  # fmt: skip
        places.append(MapPoint(pid, str(props.get("kind") or "town"), lon, lat, name,
                               sub if sub != name else "", rows, focus=pid == spec.focus,
                               # the spec lists places most important first
                               rank=1e9 if pid == spec.focus
                               else float(len(spec.places) - len(places))))  # fmt: skip

    crossings = []
    for cid in spec.crossings:
        crossings.append(_crossing_point(frontier, cid, lang))

    _place_labels(places, crossings)

    focus_names = [b[1] for b in borders if b[3]]
    if spec.kind == "frontier":
        title = ui["frontier_title"]
    elif spec.kind == "border":
        title = ui["border_title"].format(name=focus_names[0])
    elif spec.kind == "place":
        title = ui["place_title"].format(name=places[0].name)
    else:
        title = ui["custom_title"]
    # Captions for readers: the cited figure with its source first; how we measured,
    # simplified and placed things goes to the method notes behind a link.
    caption_parts: list[str] = []
    method: list[str] = []
    sources: list[tuple[str, str]] = []
    if spec.kind == "place" and links:
        nearest = frontier.distances_to_borders(*place_point(spec.places[0]))[0]
        caption_parts.append(ui["place_cap"].format(
            place=places[0].name, km=_fmt_km(nearest.distance_km, lang),
            border=border_name(frontier, nearest.border, lang)))  # fmt: skip
    for bid in spec.borders:
        props = frontier.borders[bid].properties
        name = border_name(frontier, bid, lang)
        measured = _fmt_km(float(props["length_km"]), lang)
        if props.get("clipped"):
            caption_parts.append(ui["clipped_cap"].format(name=name, measured=measured))
        elif props.get("cited_length_km"):
            caption_parts.append(ui["cited"].format(
                name=name, cited=_fmt_km(float(props["cited_length_km"]), lang),
                source=_short_source(str(props.get("cited_source") or ""))))  # fmt: skip
            if url := _source_url(str(props.get("cited_source") or "")):
                sources.append((UI[lang]["source"], url))
            method.append(ui["method_measured"].format(measured=measured, name=name))
        else:
            caption_parts.append(ui["measured_cap"].format(name=name, measured=measured))
    if level:
        method.append(ui["method_simplified"].format(m=_fmt_int(int(level), lang)))
    if any(c.precision_m for c in crossings):
        method.append(ui["method_points"])
    dek = ui["frontier_dek"] if spec.kind == "frontier" else ""
    items = [p.name for p in places] + [f"{c.number}. {c.name}" for c in crossings]
    what = title if not focus_names else f"{title} ({', '.join(focus_names)})"
    alt = ui["alt"].format(what=what, items=", ".join(items) or "—")

    legend = []
    for _bid, name, _, focus in borders:
        if focus:
            legend.append(("fa-key-focus-border", name))
    legend.append(("fa-key-border", ui["border"]))
    for status in ("open", "restricted", "closed"):
        if any(c.status == status for c in crossings):
            legend.append((f"fa-key-crossing fa-key-{status}", ui[f"key_{status}"]))
    if any(c.precision_m for c in crossings):
        legend.append(("fa-key-halo", ui["key_halo"]))
    if places:
        legend.append(("fa-key-place", ui["place"]))
    limit = _view_limit(frontier, window)
    underlay = [(code, geom, code in spec.countries)
                for code, geom in land_beyond(frontier, window)]  # fmt: skip
    edge_tolerance = basemap_tolerance(tolerance)

    def edges() -> BaseGeometry:
        return country_edges(frontier, window, edge_tolerance)
    if spec.texts is not None:
        dek = spec.texts.dek or dek
        alt = spec.texts.alt or alt
    return MapContent(spec, lang, title, dek, " ".join(caption_parts), alt, countries, borders,
                      places, crossings, links, bounds, level, legend, sources,
                      method=method, view_limit=limit,
                      annotations=spec.annotations, underlay=underlay,
                      edges_of=edges, image_limit=_clip_box(window, EUROPE))  # fmt: skip


#: Crossing statuses the data uses, in the order of the legend.
STATUSES = ("open", "restricted", "closed")


def crossing_number(frontier: Frontier, crossing_id: str) -> int:
    """A crossing's number on every map: its place in the data (1-based), never per map."""
    return list(frontier.crossings).index(crossing_id) + 1


def _crossing_point(frontier: Frontier, cid: str, lang: str) -> MapPoint:
    """A crossing as drawn: name in *lang*, status, stable number and its popup rows."""
    ui = UI[lang]
    props = frontier.crossings[cid].properties
    lon, lat = frontier.crossings[cid].geometry.coords[0]
    # A Russian or Belarusian reader is better served by the other Cyrillic form than by
    # the English one when the data has no name in their language (it never guesses one).
    fallbacks = {"ru": ("name_ru", "name_be", "name_local"), "be": ("name_be", "name_ru",
                 "name_local")}.get(lang, (f"name_{lang}",))  # fmt: skip
    name = str(next((props[k] for k in fallbacks if props.get(k)), None)
               or props.get("name") or cid)
    sub = str(props.get("name_local") or "") if lang == "en" else ""
    status = str(props.get("status") or "open")
    status_text = ui.get(f"status_{status}", status)
    if props.get("status_since"):
        status_text += ", " + ui["status_since"].format(date=props["status_since"])
    rows = [(ui["status"], status_text)]
    who = props.get("who_may_cross" if lang == "en" else f"who_may_cross_{lang}")
    if who:  # the data's sentence in the reader's language (ru/be are translations of en)
        rows.append((ui["who"], str(who)))
    rows.append((ui["border_of"], border_name(frontier, str(props.get("border")), lang)))
    if props.get("road"):
        rows.append((ui["road"], str(props["road"])))
    precision = float(props.get("precision_m") or 0)
    if precision:
        rows.append((ui["precision"], ui["approx"].format(km=_fmt_km(precision / 1000, lang))))
    return MapPoint(cid, "crossing", lon, lat, name, sub if sub != name else "", rows,
                    number=crossing_number(frontier, cid), status=status,
                    precision_m=precision)  # fmt: skip


@lru_cache(maxsize=4)
def data_extent(frontier: Frontier) -> BBox:
    """The area the country polygons cover (CRS84 degrees): land is known only inside it."""
    bounds = [c.geometry.bounds for c in frontier.countries.values()]
    return BBox(min(b[0] for b in bounds), min(b[1] for b in bounds),
                max(b[2] for b in bounds), max(b[3] for b in bounds))  # fmt: skip


def _view_limit(frontier: Frontier, window: BBox) -> BBox:
    """The most a reader may see on the page: the basemap window inside the data's extent
    (the static images draw Natural Earth's land beyond it, ``MapContent.underlay``)."""
    e = data_extent(frontier)
    return BBox(max(window.west, e.west), max(window.south, e.south),
                min(window.east, e.east), min(window.north, e.north))  # fmt: skip


def _clip_box(a: BBox, b: BBox) -> BBox:
    return BBox(max(a.west, b.west), max(a.south, b.south),
                min(a.east, b.east), min(a.north, b.north))  # fmt: skip


def _short_source(text: str) -> str:
    """``Wikipedia, "Belarus–Russia border"`` from a cited_source with URL and details."""
    return re.split(r"\s*\(https?://|:\s", text, maxsplit=1)[0].strip() or text


def _source_url(text: str) -> str | None:
    match = re.search(r"https?://[^\s)]+", text)
    return match.group(0) if match else None


def _place_labels(places: list[MapPoint], crossings: list[MapPoint]) -> None:
    """Put each place label right or left of its dot, away from the nearest other point."""
    others = [(p.lon, p.lat) for p in places] + [(c.lon, c.lat) for c in crossings]
    for p in places:
        right = left = 0.0
        for lon, lat in others:
            if (lon, lat) == (p.lon, p.lat) or abs(lat - p.lat) > 0.35:
                continue
            dx = lon - p.lon
            if 0 < dx < 2.2:
                right += 1 / dx
            elif -2.2 < dx < 0:
                left += 1 / -dx
        p.label_side = "left" if right > left * 1.5 and right > 0.5 else "right"


# ---------------------------------------------------------------- page rendering
@dataclass(frozen=True)
class Asset:
    """A vendored (or own) file under service/static/, served at /static/<path>."""

    path: str
    kind: str  # js | css

    def url(self, static_base: str) -> str:
        """Its URL; own assets carry a content hash so they can be cached for a year."""
        if self.path.startswith("vendor/"):
            return f"{static_base}{self.path}"
        return f"{static_base}{self.path}?v={file_hash(self.path)}"


ASSETS = (
    Asset("vendor/leaflet@1.9.4/leaflet.css", "css"),
    Asset("vendor/leaflet.fullscreen@3.0.2/Control.FullScreen.css", "css"),
    Asset("vendor/leaflet-minimap@3.6.1/Control.MiniMap.min.css", "css"),
    Asset("atlas.css", "css"),
    Asset("vendor/leaflet@1.9.4/leaflet.js", "js"),
    Asset("vendor/leaflet.fullscreen@3.0.2/Control.FullScreen.js", "js"),
    Asset("vendor/leaflet-minimap@3.6.1/Control.MiniMap.min.js", "js"),
    Asset("atlas.js", "js"),
)


@lru_cache(maxsize=64)
def file_hash(path: str) -> str:
    """First 10 hex digits of the sha256 of a static file."""
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]


def _data_uri(match: re.Match[str], folder: Path) -> str:
    target = (folder / match.group(2)).resolve()
    if not target.is_file() or STATIC_DIR not in target.parents:
        return match.group(0)
    mime = "image/svg+xml" if target.suffix == ".svg" else "image/png"
    data = base64.b64encode(target.read_bytes()).decode()
    return f"url(data:{mime};base64,{data})"


@lru_cache(maxsize=16)
def inline_asset(path: str) -> str:
    """A static file's text for inlining; CSS images become data: URIs."""
    file = STATIC_DIR / path
    text = file.read_text(encoding="utf-8")
    if path.endswith(".css"):
        text = re.sub(r"url\((['\"]?)(?!data:|#)([^'\")]+)\1\)",
                      lambda m: _data_uri(m, file.parent), text)  # fmt: skip
        return text.replace("</style", "<\\/style")
    return text.replace("</script", "<\\/script")


@dataclass(frozen=True)
class TileSource:
    """A raster tile provider (URL template with {z}/{x}/{y}, optional {s} and {r})."""

    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 19


@dataclass(frozen=True)
class MapOptions:
    """Service-wide map settings (from Settings)."""

    tiles: dict[str, TileSource] = field(default_factory=dict)
    attribution_prefix: str = "Leaflet"
    attribution_prefix_url: str = "https://leafletjs.com"

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.tiles.items())), self.attribution_prefix,
                     self.attribution_prefix_url))  # fmt: skip


@dataclass(frozen=True)
class PageUrls:
    """Absolute URLs the page links to (or relative ones for a file from the CLI)."""

    page: str
    png: str | None
    oembed: str | None
    embed: str | None
    static_base: str
    home: str | None = None
    svg: str | None = None


def _safe_json(value: Any) -> str:
    """JSON safe inside a <script> element and an HTML attribute."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("'", "\\u0027").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )  # fmt: skip


def _feature(geom: BaseGeometry, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def _point_props(p: MapPoint) -> dict[str, Any]:
    props = {"id": p.id, "kind": p.kind, "name": p.name, "sub": p.sub,
             "rows": [list(r) for r in p.rows], "n": p.number, "side": p.label_side,
             "focus": p.focus, "ll": [round(p.lat, 5), round(p.lon, 5)],
             "rank": p.rank}  # fmt: skip
    if p.number:
        # crossings: the badge and the key name them, so places (regional centres,
        # capitals) keep their labels first; then the lower numbers
        props.update(status=p.status, prec=p.precision_m, rank=0.5 - p.number / 1000)
    return props


def annotation_json(a: Annotation) -> dict[str, Any]:
    """An annotation for the browser: points as [lat, lon] (texts set with textContent)."""
    return {"kind": a.kind, "ll": [[round(lat, 5), round(lon, 5)] for lon, lat in a.points],
            "text": a.text, "note": a.note, "arrow": a.arrow}  # fmt: skip


#: The UI strings the browser script needs.
BROWSER_UI = ("reset", "zoom_in", "zoom_out", "two_fingers", "scale_km", "scale_m",
              "inset_hide", "inset_show")  # fmt: skip


def browser_data(content: MapContent, flags: MapFlags, options: MapOptions) -> dict[str, Any]:
    """The JSON the browser script draws from."""
    prefix = ""
    if options.attribution_prefix:
        text = html.escape(options.attribution_prefix)
        url = html.escape(options.attribution_prefix_url)
        prefix = f'<a href="{url}" target="_blank" rel="noopener">{text}</a>' if url else text
    b = content.bounds
    return {
        "countries": [_feature(g, {"id": a2, "name": name, "focus": focus})
                      for a2, name, g, focus in content.countries],
        "countryLabels": _country_labels(content),
        "borders": [_feature(g, {"id": bid, "name": name, "focus": focus})
                    for bid, name, g, focus in content.borders],
        "links": [_feature(g, {"label": text}) for g, text in content.links],
        "annotations": [annotation_json(a) for a in content.annotations],
        "places": [_point_props(p) for p in content.places],
        "crossings": [_point_props(c) for c in content.crossings],
        "bounds": [[b.south, b.west], [b.north, b.east]],
        "labels": flags.labels,
        "static": flags.static,
        "tiles": flags.tiles != "none",
        "prefix": prefix,
        "attribution": data_attribution_html(content.lang),
        "zoomHint": UI[content.lang]["zoom_hint"],
        "ui": {k: UI[content.lang][k] for k in BROWSER_UI},
        "viewLimit": ([[content.view_limit.south, content.view_limit.west],
                       [content.view_limit.north, content.view_limit.east]]
                      if content.view_limit else None),
    }  # fmt: skip


#: Natural Earth 1:110m countries (world-atlas, public domain), vendored by tools/vendor_assets.py.
WORLD_110M = STATIC_DIR / "vendor" / "world-atlas@2.0.2" / "countries-110m.json"
#: The overview inset's extent (CRS84 degrees): Europe west of the Urals.
EUROPE = BBox(-12.0, 34.0, 48.0, 71.0)
#: ISO 3166-1 numeric → alpha-2, for the countries the inset may highlight.
_NUMERIC_A2 = {"112": "BY", "643": "RU", "804": "UA", "616": "PL", "440": "LT", "428": "LV",
               "233": "EE"}  # fmt: skip


def _topojson_geometries(doc: dict[str, Any], name: str) -> list[tuple[str, BaseGeometry]]:
    """(id, shapely geometry) of a quantised TopoJSON object (arcs delta-encoded)."""
    (sx, sy), (tx, ty) = doc["transform"]["scale"], doc["transform"]["translate"]
    arcs = []
    for arc in doc["arcs"]:
        xy = np.cumsum(np.asarray(arc, dtype=float), axis=0)
        arcs.append(np.column_stack([xy[:, 0] * sx + tx, xy[:, 1] * sy + ty]))

    def ring(indexes: list[int]) -> np.ndarray:
        parts = [arcs[i] if i >= 0 else arcs[~i][::-1] for i in indexes]
        return np.concatenate([parts[0]] + [q[1:] for q in parts[1:]])

    out = []
    for g in doc["objects"][name]["geometries"]:
        if g["type"] == "Polygon":
            polys = [g["arcs"]]
        elif g["type"] == "MultiPolygon":
            polys = g["arcs"]
        else:
            continue
        geom = MultiPolygon([Polygon(ring(p[0]), [ring(h) for h in p[1:]]) for p in polys])
        out.append((str(g.get("id") or ""), shapely.make_valid(geom)))
    return out


@lru_cache(maxsize=1)
def europe_countries() -> tuple[tuple[str, BaseGeometry], ...]:
    """Europe's countries at Natural Earth's 1:110m: (alpha-2 or numeric id, geometry)."""
    doc = json.loads(WORLD_110M.read_text(encoding="utf-8"))
    out = []
    for code, geom in _topojson_geometries(doc, "countries"):
        part = shapely.clip_by_rect(geom, *EUROPE)
        if not part.is_empty:
            out.append((_NUMERIC_A2.get(code, code), part))
    return tuple(out)


@lru_cache(maxsize=1)
def europe_outline() -> tuple[tuple[str, BaseGeometry], ...]:
    """Europe's countries for the inset locator: (alpha-2 or numeric id, clipped geometry)."""
    return tuple((code, _round(shapely.simplify(geom, 0.15, preserve_topology=True), 1))
                 for code, geom in europe_countries())  # ~1 px at 120 px; fmt: skip


@lru_cache(maxsize=1)
def _land_beyond_data(frontier: Frontier) -> tuple[tuple[str, BaseGeometry], ...]:
    """Europe's countries (1:110m) outside the box our country polygons cover."""
    inner = box(*data_extent(frontier))
    out = []
    for code, geom in europe_countries():
        part = shapely.make_valid(geom).difference(inner)
        if not part.is_empty and part.area > 0.01:
            out.append((code, _round(part, 3)))
    return tuple(out)


@lru_cache(maxsize=64)
def land_beyond(frontier: Frontier, window: BBox) -> tuple[tuple[str, BaseGeometry], ...]:
    """The land beyond our data within *window*: a coarse underlay (no straight edge of
    our data ever shows as a coast)."""
    out = []
    for code, geom in _land_beyond_data(frontier):
        part = shapely.clip_by_rect(geom, *window)
        if not part.is_empty:
            out.append((code, part))
    return tuple(out)


@lru_cache(maxsize=len(BASEMAP_TOLERANCES_DEG))
def _edges_at(frontier: Frontier, tolerance_deg: float) -> BaseGeometry:
    """Every country's outline at *tolerance_deg*, minus the straight lines where the data
    (ours, then Natural Earth's beyond it) is cut off."""
    cut = box(*data_extent(frontier)).exterior.buffer(1e-6)
    lines = [shapely.boundary(g) for g in _simplified_countries(frontier, tolerance_deg)]
    lines += [shapely.boundary(g) for _, g in _land_beyond_data(frontier)]
    return shapely.union_all(lines).difference(cut)


@lru_cache(maxsize=64)
def country_edges(frontier: Frontier, window: BBox, tolerance_deg: float) -> BaseGeometry:
    """Country outlines (lines) within *window*."""
    part = shapely.clip_by_rect(_edges_at(frontier, tolerance_deg), *window)
    return _round(shapely.set_precision(part, 0.001), 3)


def _country_labels(content: MapContent) -> list[dict[str, Any]]:
    """Country names with a few spots each (best first): the page takes the first free one."""
    view = box(*_pad(content.bounds, 0.02))
    out = []
    for a2, name, geom, _ in content.countries:
        spots = label_points(geom, view, most=5)
        if spots:
            lls = [[round(lat, 3), round(lon, 3)] for lon, lat in spots]
            out.append({"id": a2, "name": name, "ll": lls[0], "alt": lls[1:]})
    return out


def label_point(geom: BaseGeometry, bounds: BBox) -> list[float] | None:
    """Where to write a country's name: inside the part of it within the view."""
    view = box(*_pad(bounds, 0.02))
    part = geom.intersection(view)
    if part.is_empty or part.area < view.area * 0.04:
        return None
    polys = [g for g in getattr(part, "geoms", [part]) if isinstance(g, Polygon)]
    if not polys:
        return None
    point = polylabel(max(polys, key=lambda g: g.area), 0.02)
    return [round(point.y, 3), round(point.x, 3)]


def label_points(geom: BaseGeometry, view: BaseGeometry,
                 most: int = 12) -> list[tuple[float, float]]:
    """Candidate (lon, lat) spots for a country's name inside *view* (a lon/lat polygon),
    best first: the pole of inaccessibility of its largest part, then spots deepest inside."""
    part = geom.intersection(view)
    if part.is_empty or part.area < view.area * 0.03:
        return []
    polys = sorted((g for g in getattr(part, "geoms", [part]) if isinstance(g, Polygon)),
                   key=lambda g: -g.area)  # fmt: skip
    if not polys:
        return []
    best = polylabel(polys[0], 0.02)
    out = [(best.x, best.y)]
    span = max(view.bounds[2] - view.bounds[0], view.bounds[3] - view.bounds[1]) / 10
    west, south, east, north = polys[0].bounds
    grid = [Point(west + (east - west) * (i + 0.5) / 7, south + (north - south) * (j + 0.5) / 7)
            for i in range(7) for j in range(7)]  # fmt: skip
    inside = [(polys[0].exterior.distance(p), p) for p in grid if polys[0].contains(p)]
    inside.sort(key=lambda t: -t[0])
    out += [(p.x, p.y) for d, p in inside if d > 0.15 * span][: most - 1]
    return out


_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_page(
    frontier: Frontier,
    content: MapContent,
    flags: MapFlags,
    options: MapOptions,
    urls: PageUrls,
    inline_assets: bool = False,
) -> str:
    """The complete HTML page (assets linked from urls.static_base, or inlined)."""
    # Imported here, not at the top: folium (and pandas under it) take about a
    # second to import, which the service's start-up should not pay.
    from service.maps.html import build_map

    m = build_map(frontier, content, flags, options)
    figure = m.get_root()
    for child in figure._children.values():
        child.render()
    title = flags.title or content.title
    caption = flags.caption or content.caption
    theme = {"true": "dark", "false": "light"}.get(flags.dark, "auto")
    assets: list[dict[str, str]] = []
    for asset in ASSETS:
        if inline_assets:
            assets.append({"kind": asset.kind, "inline": Markup(inline_asset(asset.path))})
        else:
            assets.append({"kind": asset.kind, "url": asset.url(urls.static_base)})
    places = [{"n": None, "name": p.name, "sub": p.sub, "detail": p.rows[-2][1]}
              for p in content.places]  # fmt: skip
    items = places + [{"n": c.number, "name": c.name, "sub": c.sub, "detail": c.rows[0][1]}
                      for c in content.crossings]  # fmt: skip
    notes = [(a.text, a.note) for a in content.annotations if a.kind != "line" or a.text]
    ui = UI[content.lang]
    texts = content.spec.texts or PageTexts()
    focus = content.spec.focus
    timeline_title = ""
    if content.events and focus in frontier.borders:
        timeline_title = ui["timeline"].format(name=border_name(frontier, focus, content.lang))
    return _ENV.get_template("map_page.html").render(
        lang=content.lang,
        theme=theme,
        static=flags.static,
        title=title,
        dek=texts.dek or (content.dek if not flags.caption else ""),
        source=texts.source,
        byline=texts.byline,
        caption=caption,
        alt=content.alt,
        legend=content.legend,
        sources=content.sources,
        own_caption=bool(flags.caption),
        method=content.method,
        key=sorted(content.crossings, key=lambda c: c.number or 0),
        places=places,
        events=content.events,
        timeline_title=timeline_title,
        as_of=ui["as_of"].format(date=content.data_as_of) if content.data_as_of else "",
        items=items,
        notes=notes,
        ui=UI[content.lang],
        urls=urls,
        assets=assets,
        map_html=Markup(figure.html.render()),
        map_script=Markup(figure.script.render()),
        attribution=Markup(data_attribution_html(content.lang)),
        description=(caption or content.alt)[:300],
    )


def page_text(frontier: Frontier, content: MapContent, flags: MapFlags) -> PageText:
    """The text around the map on its page, for the embed's height without script."""

    ui = UI[content.lang]
    texts = content.spec.texts or PageTexts()
    caption = flags.caption or content.caption
    focus = content.spec.focus
    timeline_title = ""
    if content.events and focus in frontier.borders:
        timeline_title = ui["timeline"].format(name=border_name(frontier, focus, content.lang))
    credit = " · ".join([ui["as_of"], "Data © OpenStreetMap contributors (ODbL), GeoNames "
                         "(CC BY 4.0)", "Frontier Atlas", ui["embed"], ui["png"], ui["svg"],
                         ui["studio"]])  # fmt: skip
    return PageText(
        title=flags.title or content.title,
        dek=texts.dek or (content.dek if not flags.caption else ""),
        legend=tuple(text for _, text in content.legend),
        key=tuple(f"{c.name} ({ui['status_' + (c.status or 'open')]})"
                  for c in content.crossings),  # fmt: skip
        caption=caption + (" [Source]" * len(content.sources) if not flags.caption else ""),
        lines=int(bool(content.method) and not flags.caption) + int(bool(content.places))
        + int(bool(texts.source or texts.byline)),
        timeline_title=timeline_title,
        timeline=tuple(f"{d} {t} [{ui['source']}]" for d, t, _ in content.events),
        credit=credit,
    )


# ---------------------------------------------------------------- caching
class RenderCache:
    """A small thread-safe LRU of rendered pages/images keyed by normalised inputs."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = Lock()
        self.hits = self.misses = 0

    def peek(self, key: Any) -> Any | None:
        """The cached value for *key*, or None (never makes it)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        return None

    def get_or_make(self, key: Any, make: Callable[[], Any]) -> Any:
        """The cached value for *key*, made once."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        value = make()
        with self._lock:
            self.misses += 1
            self._items[key] = value
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value


def list_items(content: MapContent) -> Sequence[str]:
    """The names of the places and crossings shown (for tests and alt texts)."""
    return [p.name for p in content.places] + [c.name for c in content.crossings]
