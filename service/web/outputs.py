"""How features are written out: in the requested CRS, with selected properties or without
geometry, as GeoJSON, newline-delimited GeoJSON or CSV.

The stores hand out each feature's finished CRS84 GeoJSON bytes; when the request
asks for nothing else those bytes go out untouched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from service.domain import crs


@dataclass(frozen=True)
class FeatureShape:
    """What a response does to each stored feature: its CRS (URI), the properties it keeps
    (None: all) and whether it drops the geometry."""

    crs: str = crs.CRS84
    properties: tuple[str, ...] | None = None
    skip_geometry: bool = False

    @property
    def unchanged(self) -> bool:
        """True when the stored bytes can be sent as they are."""
        return self.crs == crs.CRS84 and self.properties is None and not self.skip_geometry


def shape_feature(doc: dict[str, Any], shape: FeatureShape,
                  mapper: Callable[[np.ndarray], np.ndarray] | None) -> dict[str, Any]:  # fmt: skip
    """A GeoJSON feature dict (CRS84) reshaped as *shape* asks (*mapper* from
    ``crs.coordinate_mapper(shape.crs)``)."""
    if shape.skip_geometry:
        doc["geometry"] = None
    elif mapper is not None:
        doc["geometry"] = crs.transform_geometry(doc.get("geometry"), mapper)
    if shape.properties is not None:
        props = doc.get("properties") or {}
        doc["properties"] = {k: props[k] for k in shape.properties if k in props}
    return doc


def shaped_bodies(bodies: Iterable[bytes], shape: FeatureShape) -> list[bytes]:
    """The GeoJSON bytes of each feature, reshaped as *shape* asks."""
    if shape.unchanged:
        return list(bodies)
    mapper = None if shape.skip_geometry else crs.coordinate_mapper(shape.crs)
    return [orjson.dumps(shape_feature(orjson.loads(b), shape, mapper)) for b in bodies]


def content_crs(shape: FeatureShape) -> dict[str, str]:
    """The ``Content-Crs`` header of a GeoJSON response (OGC API – Features Part 2)."""
    return {"Content-Crs": f"<{shape.crs}>"}


def ndjson(bodies: Iterable[bytes]) -> bytes:
    """Newline-delimited GeoJSON: one feature per line (RFC 8142 record separators are
    not used: every line is a complete JSON text)."""
    return b"".join(b + b"\n" for b in bodies)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return value


def to_csv(docs: list[dict[str, Any]], columns: Iterable[str] | None = None) -> bytes:
    """Features as CSV (UTF-8): ``id``, the geometry as WKT (``geometry``, omitted when
    every feature has none), then one column per property in order of appearance; lists
    and objects as JSON text."""
    import shapely

    names: list[str] = list(columns) if columns is not None else []
    if columns is None:
        seen: set[str] = set()
        for doc in docs:
            for key in doc.get("properties") or {}:
                if key not in seen:
                    seen.add(key)
                    names.append(key)
    with_geometry = any(doc.get("geometry") for doc in docs)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", *(["geometry"] if with_geometry else []), *names])
    for doc in docs:
        geom = doc.get("geometry")
        wkt = shapely.to_wkt(shapely.from_geojson(orjson.dumps(geom)), rounding_precision=-1) \
            if geom else ""
        props = doc.get("properties") or {}
        writer.writerow([doc.get("id", ""), *([wkt] if with_geometry else []),
                         *(_cell(props.get(k)) for k in names)])  # fmt: skip
    return out.getvalue().encode("utf-8")
