"""The OpenAPI description served at /api, expressed as OpenAPI 3.0 (OGC /conf/oas30).

FastAPI writes OpenAPI 3.1; the few 3.1-only constructs it uses are rewritten
to their 3.0 equivalents (nullable, example, boolean exclusive bounds).
"""

from __future__ import annotations

from typing import Any


def to_openapi_30(node: Any) -> Any:
    """A copy of an OpenAPI 3.1 document (or part) rewritten as OpenAPI 3.0.3."""
    if isinstance(node, list):
        return [to_openapi_30(item) for item in node]
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
    return {key: to_openapi_30(value) for key, value in out.items()}
