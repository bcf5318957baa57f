"""What a map shows (``MapSpec``) for each kind of map, from the URL's ids: the frontier,
a border, a place's locator map, or any custom selection; and the data around it (places,
events, the data's date) fetched through the store."""

from __future__ import annotations

from dataclasses import dataclass

import shapely
from shapely.geometry import Point

from service.domain.errors import InvalidParameterError, NotFoundError
from service.domain.geometry import BBox
from service.domain.records import Feature, ItemsQuery
from service.store.base import FeatureStore

#: The map of the frontier: BY-RU, its checkpoints, Divin and the regional centres.
FRONTIER_BORDER = "BY-RU"
FRONTIER_PLACES = (
    "divin", "minsk", "brest", "grodno", "vitebsk", "mogilev", "gomel",
    "smolensk", "bryansk", "pskov",
)  # fmt: skip
MAX_CUSTOM_ITEMS = 200
#: A border map names its largest places within this distance of the line (degrees).
BORDER_PLACES_DEG = 0.7
BORDER_PLACES = 8
#: Towns a locator map names around its place.
NEARBY_TOWNS = 4


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
    # (the line's bounds widened: buffering the full-resolution line took seconds)
    west, south, east, north = geom.bounds
    d = BORDER_PLACES_DEG
    candidates = await store.places_within(BBox(west - d, south - d, east + d, north + d))
    # The largest places near it: regional centres before the small towns on the line.
    # (one vectorised test against the coarsest prepared line: this runs on every request)
    coarse = frontier.border(border_id, max(frontier.simplify_levels_m or [0]) or None).geometry
    points = shapely.points([p.lon for p in candidates], [p.lat for p in candidates])
    close = shapely.dwithin(points, coarse, BORDER_PLACES_DEG) if candidates else []
    near = sorted((p for p, ok in zip(candidates, close, strict=True) if ok),
                  key=lambda p: -p.population)  # fmt: skip
    chosen: list = []
    for p in near:  # a city's districts (GeoNames lists them as places) give way to the city
        if all(abs(p.lon - q.lon) > 0.15 or abs(p.lat - q.lat) > 0.1 for q in chosen):
            chosen.append(p)
    return MapSpec("border", (border_id,), tuple(p.id for p in chosen[:BORDER_PLACES]), crossings,
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
