"""Filter expressions (OGC API – Features Part 3, Basic CQL2 plus ``S_INTERSECTS``) as
typed records the stores translate to SQL.

``parse_filter`` reads CQL2 text or CQL2 JSON with pygeofilter's parsers and turns
its syntax tree into these records, checking every property against the
collection's queryables and every literal against the property's type, so a store
only ever sees well-typed expressions. Geometries are CRS84.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from service.domain.errors import InvalidParameterError

PropertyType = Literal["string", "number", "integer", "boolean"]
Scalar = str | int | float | bool


@dataclass(frozen=True)
class Property:
    """A feature property a filter or sort may name: its JSON type."""

    name: str
    type: PropertyType
    description: str = ""


@dataclass(frozen=True)
class Compare:
    """``property op value`` with op one of = <> < <= > >=."""

    prop: Property
    op: str
    value: Scalar


@dataclass(frozen=True)
class Like:
    """``property LIKE pattern``: ``%`` any characters, ``_`` one, ``\\`` escapes."""

    prop: Property
    pattern: str


@dataclass(frozen=True)
class In:
    """``property IN (values)``."""

    prop: Property
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class IsNull:
    """``property IS NULL`` (absent or null)."""

    prop: Property


@dataclass(frozen=True)
class Intersects:
    """``S_INTERSECTS(geometry, shape)``; *shape* in CRS84."""

    shape: BaseGeometry


@dataclass(frozen=True)
class Not:
    """Negation."""

    item: Expression


@dataclass(frozen=True)
class And:
    """Conjunction."""

    items: tuple[Expression, ...]


@dataclass(frozen=True)
class Or:
    """Disjunction."""

    items: tuple[Expression, ...]


Expression = Compare | Like | In | IsNull | Intersects | Not | And | Or

#: The name a filter uses for a feature's geometry.
GEOMETRY = "geometry"
_OPS = {"Equal": "=", "NotEqual": "<>", "LessThan": "<", "LessEqual": "<=",
        "GreaterThan": ">", "GreaterEqual": ">="}  # fmt: skip


class _Translator:
    def __init__(self, properties: dict[str, Property], spatial: bool) -> None:
        self.properties = properties
        self.spatial = spatial

    def prop(self, node: Any) -> Property:
        from pygeofilter import ast

        if not isinstance(node, ast.Attribute):
            raise InvalidParameterError(
                "filter: the left side of a comparison must be a property name; functions "
                "and arithmetic are not supported.")
        name = node.name
        if name not in self.properties:
            raise InvalidParameterError(
                f"filter: {name!r} is not a queryable of this collection; its queryables are "
                f"{', '.join(self.properties)} (see /queryables).")
        return self.properties[name]

    @staticmethod
    def literal(prop: Property, value: Any) -> Scalar:
        ok = {
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int | float) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
        }[prop.type]
        if not ok:
            raise InvalidParameterError(
                f"filter: {prop.name} is a {prop.type}; {value!r} is not.")
        return value

    def shape(self, node: Any) -> BaseGeometry:
        from pygeofilter import ast, values

        if isinstance(node, ast.Function) and node.name.lower() == "bbox":
            args = node.arguments
            if len(args) == 6:
                args = [args[0], args[1], args[3], args[4]]
            if len(args) != 4 or not all(isinstance(a, int | float) for a in args):
                raise InvalidParameterError("filter: BBOX takes 4 (or 6) numbers.")
            return shapely.box(*args)
        if isinstance(node, values.Envelope):
            # pygeofilter 0.4 fills (x1, x2, y1, y2) from a CQL2 JSON bbox positionally,
            # that is with [minx, miny, maxx, maxy].
            return shapely.box(node.x1, node.x2, node.y1, node.y2)
        if isinstance(node, values.Geometry):
            try:
                shape = shapely.from_geojson(orjson.dumps(node.geometry))
            except (shapely.errors.GEOSException, TypeError) as exc:
                raise InvalidParameterError(f"filter: not a geometry ({exc}).") from None
            if not shape.is_valid:
                shape = shapely.make_valid(shape)
            return shape
        raise InvalidParameterError("filter: S_INTERSECTS needs a geometry or BBOX literal.")

    def __call__(self, node: Any) -> Expression:
        from pygeofilter import ast

        name = type(node).__name__
        if isinstance(node, ast.And):
            return And((self(node.lhs), self(node.rhs)))
        if isinstance(node, ast.Or):
            return Or((self(node.lhs), self(node.rhs)))
        if isinstance(node, ast.Not):
            return Not(self(node.sub_node))
        if name in _OPS:
            prop = self.prop(node.lhs)
            if prop.type == "boolean" and _OPS[name] not in ("=", "<>"):
                raise InvalidParameterError(f"filter: {prop.name} is a boolean; compare it "
                                            "with = or <>.")  # fmt: skip
            return Compare(prop, _OPS[name], self.literal(prop, node.rhs))
        if isinstance(node, ast.Between):
            prop = self.prop(node.lhs)
            low, high = self.literal(prop, node.low), self.literal(prop, node.high)
            expr: Expression = And((Compare(prop, ">=", low), Compare(prop, "<=", high)))
            return Not(expr) if node.not_ else expr
        if isinstance(node, ast.Like):
            prop = self.prop(node.lhs)
            if prop.type != "string" or not isinstance(node.pattern, str):
                raise InvalidParameterError(f"filter: LIKE needs a string property and "
                                            f"pattern; {prop.name} is a {prop.type}.")
            like: Expression = Like(prop, node.pattern)
            return Not(like) if node.not_ else like
        if isinstance(node, ast.In):
            prop = self.prop(node.lhs)
            values = tuple(self.literal(prop, v) for v in node.sub_nodes)
            if not values:
                raise InvalidParameterError("filter: IN needs at least one value.")
            found: Expression = In(prop, values)
            return Not(found) if node.not_ else found
        if isinstance(node, ast.IsNull):
            null: Expression = IsNull(self.prop(node.lhs))
            return Not(null) if node.not_ else null
        if isinstance(node, ast.GeometryIntersects | ast.BBox):
            if not self.spatial:
                raise InvalidParameterError("filter: this collection has no geometries.")
            if isinstance(node, ast.BBox):
                lhs, shape = node.lhs, shapely.box(node.minx, node.miny, node.maxx, node.maxy)
            else:
                lhs, rhs = node.lhs, node.rhs
                if isinstance(lhs, ast.Attribute) is False and isinstance(rhs, ast.Attribute):
                    lhs, rhs = rhs, lhs
                shape = self.shape(rhs)
            if not (isinstance(lhs, ast.Attribute) and lhs.name == GEOMETRY):
                raise InvalidParameterError(f"filter: spatial operators apply to the "
                                            f"{GEOMETRY!r} property.")  # fmt: skip
            return Intersects(shape)
        if isinstance(node, bool):
            raise InvalidParameterError("filter: a bare boolean is not a condition here.")
        raise InvalidParameterError(
            f"filter: {name} is not supported; use comparisons, LIKE, IN, BETWEEN, IS NULL, "
            "AND/OR/NOT and S_INTERSECTS.")


def parse_filter(text: str, lang: str, properties: tuple[Property, ...],
                 spatial: bool = True) -> Expression:  # fmt: skip
    """A filter in *lang* (``cql2-text`` or ``cql2-json``) as an Expression over
    *properties*; InvalidParameterError for bad syntax, unknown properties or types."""
    from lark.exceptions import LarkError
    from pygeofilter.parsers.cql2_json import parse as parse_json
    from pygeofilter.parsers.cql2_text import parse as parse_text

    try:
        if lang == "cql2-json":
            try:
                document = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise InvalidParameterError(f"filter: not JSON ({exc}).") from None
            tree = parse_json(document)
        else:
            tree = parse_text(text)
    except InvalidParameterError:
        raise
    except (LarkError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InvalidParameterError(f"filter: not valid {lang} ({first}).") from None
    return _Translator({p.name: p for p in properties}, spatial)(tree)
