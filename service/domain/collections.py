"""The collections the service knows: titles, declared filters, time spans, filter values.

Pure functions over GeoJSON feature dicts, shared by every store's build step so
that all backends index exactly the same values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from service.domain.expressions import Property
from service.domain.records import Queryable

#: The collections, in the order the API lists them; the first three are small and
#: kept in memory by every backend (``SMALL_COLLECTIONS``).
COLLECTION_IDS = ("borders", "countries", "places", "crossings", "events")
SMALL_COLLECTIONS = ("borders", "countries", "crossings")

TITLES = {
    "borders": ("Borders", "Land borders of Belarus and its neighbours, measured geodesically."),
    "countries": ("Countries", "Land polygons (lakes as holes) clipped to 19–40°E, 49–58.5°N."),
    "places": ("Places", "Cities, towns and villages (GeoNames) with Latin and Cyrillic names."),
    "crossings": ("Crossings", "Border checkpoints of Belarus, with the dates of their changes."),
    "events": ("Events", "A sourced timeline of the frontier regime: dates, borders, sources."),
}

QUERYABLES: dict[str, tuple[Queryable, ...]] = {
    "borders": (
        Queryable("country", "string", "alpha-2 or alpha-3 code of either country",
                  "countries", many=True),
        Queryable("clipped", "boolean", "true if the line is cut at the map window", "clipped"),
    ),
    "countries": (
        Queryable("iso_a2", "string", "ISO 3166-1 alpha-2 code", "iso_a2"),
        Queryable("iso_a3", "string", "ISO 3166-1 alpha-3 code", "iso_a3"),
    ),
    "places": (
        Queryable("country", "string", "alpha-2 or alpha-3 country code", "country"),
        Queryable("kind", "string", "capital, city, town or village", "kind"),
        Queryable("near_belarus_frontier", "boolean", "close to a frontier of Belarus",
                  "near_belarus_frontier"),
    ),
    "crossings": (
        Queryable("border", "string", "border id, e.g. BY-RU (any order, alpha-2 or -3)",
                  "border"),
        Queryable("kind", "string", "road or rail", "kind"),
        Queryable("road", "string", "road number, e.g. M1/E30", "road"),
    ),
    "events": (
        Queryable("border", "string", "border id the event concerns, e.g. BY-RU", "borders",
                  many=True),
    ),
}  # fmt: skip


def _props(*specs: str) -> tuple[Property, ...]:
    """Properties from ``name:type`` specs (type string unless given)."""
    out = []
    for spec in specs:
        name, _, kind = spec.partition(":")
        out.append(Property(name, kind or "string"))  # type: ignore[arg-type]
    return tuple(out)


_NAMES = ("name", "name_en", "name_ru", "name_be")
#: The scalar properties of each collection that ``filter`` and ``sortby`` may name
#: (OGC API – Features Part 3 queryables), with their JSON types.
PROPERTIES: dict[str, tuple[Property, ...]] = {
    "borders": _props(*_NAMES, "length_km:number", "cited_length_km:number", "cited_source",
                      "clipped:boolean", "source", "rings:integer", "deviation_pct:number"),
    "countries": _props("iso_a2", "iso_a3", "name", "name_local", "clipped:boolean", "source"),
    "places": _props(*_NAMES, "name_local", "country", "population:integer", "kind",
                     "near_belarus_frontier:boolean", "geonames_id:integer", "source"),
    "crossings": _props(*_NAMES, "name_local", "border", "road", "kind", "status",
                        "status_since", "who_may_cross", "precision_m:integer",
                        "location_method"),
    "events": _props("date", "end_date", "title_en", "source_url", "source_title"),
}  # fmt: skip
#: Collections whose features have no geometry (no spatial filter, no ``geometry`` queryable).
WITHOUT_GEOMETRY = frozenset({"events"})


def properties_of(collection_id: str) -> tuple[Property, ...]:
    """The queryable (filterable, sortable) properties of a collection."""
    return PROPERTIES.get(collection_id, ())


def title_of(collection_id: str) -> tuple[str, str]:
    """Title and description of a collection."""
    return TITLES.get(collection_id, (collection_id.title(), ""))


def filter_key(value: Any) -> str:
    """The normalised text a filter value is indexed and compared as."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).casefold()


def filter_values(collection_id: str, properties: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(queryable name, normalised value) pairs a feature matches."""
    for q in QUERYABLES.get(collection_id, ()):
        raw = properties.get(q.prop)
        values = (raw or []) if q.many else [raw]
        for value in values:
            if value is not None:
                yield q.name, filter_key(value)


def date_span(value: str) -> tuple[datetime, datetime] | None:
    """A ``YYYY-MM-DD`` or ``YYYY-MM`` value as the [start, end) span it denotes (UTC)."""
    try:
        if len(value) == 7:
            start = datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC)
            end = (start + timedelta(days=32)).replace(day=1)
            return start, end
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def time_spans(properties: Mapping[str, Any]) -> list[tuple[datetime, datetime]]:
    """The [start, end) spans a feature's dates denote: each value of ``dates`` (crossings),
    or ``date`` to ``end_date`` (events)."""
    spans = []
    dates = properties.get("dates")
    if isinstance(dates, Mapping):
        spans = [s for v in dates.values() if isinstance(v, str) and (s := date_span(v))]
    start = properties.get("date")
    if isinstance(start, str) and (first := date_span(start)):
        end = properties.get("end_date")
        last = date_span(end) if isinstance(end, str) else None
        spans.append((first[0], last[1] if last else first[1]))
    return spans


def iso(moment: datetime) -> str:
    """RFC 3339 UTC with a Z, to the second, in one fixed width: the stores compare these
    strings, so every value must sort as its time does (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
