"""Every word a map shows, in English, Russian and Belarusian: the page chrome, legend,
popups, captions and credits, and the names of countries, borders and places by language."""

from __future__ import annotations

import re
from typing import Any

from service.domain.frontier import Frontier

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
        "context_credit": "Made with Natural Earth; rivers: GSHHG (Wessel & Smith)",
        "method_context": "Regions: Natural Earth (public domain); lakes: OpenStreetMap "
        "contributors (ODbL); rivers: GSHHG, from the CIA World Data Bank II (LGPL).",
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
        "context_credit": "Сделано с Natural Earth; реки: GSHHG (Wessel & Smith)",
        "method_context": "Регионы: Natural Earth (общественное достояние); озёра: участники "
        "OpenStreetMap (ODbL); реки: GSHHG по CIA World Data Bank II (LGPL).",
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
        "context_credit": "Зроблена з Natural Earth; рэкі: GSHHG (Wessel & Smith)",
        "method_context": "Рэгіёны: Natural Earth (грамадскі набытак); азёры: удзельнікі "
        "OpenStreetMap (ODbL); рэкі: GSHHG паводле CIA World Data Bank II (LGPL).",
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


def format_km(value: float, lang: str) -> str:
    """Kilometres as *lang* writes them (1,239 or 1 239; 6.6 or 6,6)."""
    text = f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    return text.replace(",", "\u202f" if lang != "en" else ",").replace(
        ".", "," if lang != "en" else "."
    )


def format_int(value: int, lang: str) -> str:
    """A whole number with *lang*'s thousands separator."""
    return f"{value:,}".replace(",", "\u202f" if lang != "en" else ",")


#: Month names as a date writes them (Russian and Belarusian in the genitive: "20 ноября").
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря"),
    "be": ("студзеня", "лютага", "сакавіка", "красавіка", "мая", "чэрвеня", "ліпеня",
           "жніўня", "верасня", "кастрычніка", "лістапада", "снежня"),
}  # fmt: skip


def format_date(iso: str, lang: str) -> str:
    """A day (``YYYY-MM-DD``, or a timestamp that begins with one) as readers of *lang*
    write it: "20 November 2025", "20 ноября 2025 г.", "20 лістапада 2025 г." (with
    no-break spaces); text that is not such a day is returned as it is."""
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", iso)
    if not m or not 1 <= int(m.group(2)) <= 12:
        return iso
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    # no-break spaces: a caption wrapped (or cut) line by line keeps the day whole
    text = f"{day}\u00a0{_MONTHS[lang][month - 1]}\u00a0{year}"
    return text if lang == "en" else f"{text}\u00a0г."


#: A journalist's own lead-in ("Source: …", "Graphic: …", "Карта: …"): a few words
#: and a colon at the start of the text.
_OWN_LEAD_IN = re.compile(r"^[^:\n]{1,24}:\s")


def credit_label(word: str, text: str) -> str:
    """A saved map's source line or byline as shown: ``"Source: text"``, unless the
    journalist already began it with a lead-in of their own ("Source: …", "Graphic: …"),
    which is kept as written rather than doubled ("Source: Source: …")."""
    return text if _OWN_LEAD_IN.match(text) else f"{word}: {text}"
