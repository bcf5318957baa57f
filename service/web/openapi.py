"""The OpenAPI description served at /api, expressed as OpenAPI 3.0 (OGC /conf/oas30).

FastAPI writes OpenAPI 3.1; the few 3.1-only constructs it uses are rewritten
to their 3.0 equivalents (nullable, example, boolean exclusive bounds).
"""

from __future__ import annotations

import copy
from typing import Any


def to_openapi_30(node: Any) -> Any:
    """A copy of an OpenAPI 3.1 document rewritten as OpenAPI 3.0.3 and completed
    (``describe``)."""
    out = _to_30(node)
    if isinstance(out, dict) and "paths" in out:
        out = describe(out)
    return out


def _to_30(node: Any) -> Any:
    """A copy of an OpenAPI 3.1 document (or part) rewritten as OpenAPI 3.0.3."""
    if isinstance(node, list):
        return [_to_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if out.get("openapi", "").startswith("3.1"):
        out["openapi"] = "3.0.3"
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            del out[key]
            if len(rest) == 1:
                out.update(rest[0] if "$ref" not in rest[0] else {"allOf": rest})
            else:
                out[key] = rest
            out["nullable"] = True
    if out.get("type") == "null":
        out.pop("type")
        out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[plain] = value
            out[bound] = True
    if isinstance(out.get("examples"), list):  # 3.1 schema examples; 3.0 has one example
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    return {key: _to_30(value) for key, value in out.items()}


# ------------------------------------------------------------------ what the document says
PROBLEM_JSON = "application/problem+json"
_PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
_ERROR_TEXT = {400: "Invalid or unknown parameter", 404: "Not found",
               406: "No acceptable representation", 500: "Internal error",
               503: "Data store unavailable"}  # fmt: skip
_ITEMS = "/collections/{collectionId}/items"

#: OGC API – Features Part 1 and Part 2 parameter components (style form, explode false).
PARAMETERS: dict[str, dict[str, Any]] = {
    "bbox": {
        "name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
        "description": "Only features that intersect the box: lower left corner, upper right "
        "corner (4 numbers, or 6 with heights), in CRS84 longitude/latitude unless `bbox-crs` "
        "names another CRS; west > east crosses the antimeridian.",
        "schema": {"type": "array", "minItems": 4, "maxItems": 6,
                   "items": {"type": "number"}},
    },
    "datetime": {
        "name": "datetime", "in": "query", "required": False, "style": "form",
        "explode": False,
        "description": "A date, date-time or interval (`2023-05-05`, `2023-01-01/..`, "
        "`../2024-12-31`): features with a date in it; features without dates are not "
        "dated and are not selected by a datetime.",
        "schema": {"type": "string"},
    },
    "limit": {
        "name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
        "description": "Items per page (default 100, at most 10,000; larger values are "
        "clamped). Clients such as QGIS page at 1,000.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 100},
    },
    "crs": {
        "name": "crs", "in": "query", "required": False, "style": "form", "explode": False,
        "description": "CRS of the coordinates in the response (default CRS84). EPSG:4326 "
        "is latitude, longitude; EPSG:3035 northing, easting.",
        "schema": {"type": "string", "format": "uri"},
    },
    "bbox-crs": {
        "name": "bbox-crs", "in": "query", "required": False, "style": "form",
        "explode": False, "description": "CRS of `bbox` (default CRS84).",
        "schema": {"type": "string", "format": "uri"},
    },
}  # fmt: skip


def _responses(op: dict[str, Any], path: str) -> None:
    """problem+json for every error; no 422 (invalid input is 400); 406 where JSON/HTML is
    negotiated; 404 where the path has an id."""
    responses = op.setdefault("responses", {})
    responses.pop("422", None)
    codes = {400, 500}
    if any(p.get("name") == "f" for p in op.get("parameters", [])):
        codes.add(406)
    if "{" in path:
        codes.add(404)
    if path.startswith(("/collections", "/places", "/borders", "/locate")):
        codes.add(503)
    for code in sorted(codes | {int(c) for c in responses if str(c)[0] in "45"}):
        entry = responses.setdefault(str(code), {"description": _ERROR_TEXT.get(code, "Error")})
        entry["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA},
                            "text/html": {"schema": {"type": "string"}}}  # fmt: skip
    ok = responses.get("200", {}).get("content", {})
    if ok and any(p.get("name") == "f" for p in op.get("parameters", [])):
        ok.setdefault("text/html", {})
    for media, spec in ok.items():
        if media.startswith("text/") or media.startswith("image/"):
            spec["schema"] = {"type": "string"}
        elif media.endswith("json") and spec.get("schema", {}).get("type") in ("string", None) \
                and "$ref" not in spec.get("schema", {}):
            spec["schema"] = {"type": "object"}  # a JSON document, not a string


def _geojson(kind: str) -> dict[str, Any]:
    if kind == "collection":
        return {"type": "object", "required": ["type", "features"], "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": _geojson("feature")},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
            "timeStamp": {"type": "string", "format": "date-time"},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}}
    return {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "geometry": {"type": "object", "nullable": True},
        "properties": {"type": "object", "nullable": True}}}


def _enum(op: dict[str, Any], name: str, values: list[str]) -> None:
    for param in op.get("parameters", []):
        if param.get("name") == name and "schema" in param:
            schema = param["schema"]
            schema.pop("anyOf", None)
            schema.update({"type": "string", "enum": values})


def describe(doc: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.0 document completed with what FastAPI cannot say: the OGC parameter
    components, problem+json errors, the shapes of GeoJSON answers, enumerations, and one
    items path per collection declaring its equality filters (GDAL and QGIS send a
    ``where`` clause to the server only for parameters declared on that path)."""
    from service.domain.collections import COLLECTION_IDS, QUERYABLES
    from service.maps.flags import DARK, LANGS, TILES
    from service.web.responses import F_VALUES, ITEMS_F_VALUES

    components = doc.setdefault("components", {})
    components.setdefault("parameters", {}).update(PARAMETERS)
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for path, ops in doc.get("paths", {}).items():
        for op in ops.values():
            items = path == _ITEMS
            # The components inline (GDAL 3.6 does not follow a parameter $ref: it would
            # miss the limit's maximum and page by 10).
            op["parameters"] = [
                copy.deepcopy(PARAMETERS[p["name"]])
                if p.get("name") in PARAMETERS and p.get("in") == "query" else p
                for p in op.get("parameters", [])
            ]  # fmt: skip
            _enum(op, "f", list(ITEMS_F_VALUES if items else F_VALUES)) \
                if not path.startswith(("/maps", "/oembed")) else None
            _enum(op, "filter-lang", ["cql2-text", "cql2-json"])
            _enum(op, "lang", list(LANGS))
            _enum(op, "dark", list(DARK))
            _enum(op, "tiles", list(TILES))
            _responses(op, path)
            content = op["responses"].get("200", {}).get("content", {})
            if "application/geo+json" in content and path.startswith("/collections"):
                content["application/geo+json"]["schema"] = _geojson(
                    "collection" if items else "feature")
            if items:
                content.update({"text/csv": {"schema": {"type": "string"}},
                                "application/x-ndjson": {"schema": {"type": "string"}},
                                "application/geo+json-seq": {"schema": {"type": "string"}}})
    template = doc.get("paths", {}).get(_ITEMS, {}).get("get")
    if template is not None:
        for cid in COLLECTION_IDS:
            op = copy.deepcopy(template)
            op["operationId"] = f"items_{cid}"
            op["summary"] = f"Features of {cid}"
            op["parameters"] = [p for p in op["parameters"] if p.get("name") != "collectionId"]
            for q in QUERYABLES.get(cid, ()):
                schema: dict[str, Any] = {"type": "string"}
                if q.type == "boolean":
                    schema = {"type": "string", "enum": ["true", "false"]}
                op["parameters"].append({"name": q.name, "in": "query", "required": False,
                                         "description": q.description, "schema": schema})
            doc["paths"][f"/collections/{cid}/items"] = {"get": op}
    return doc
