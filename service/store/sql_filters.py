"""Filter expressions and sort keys as SQL, for both backends.

The feature's stored GeoJSON is the column every property is read from (SQLite's
``json_extract``, PostgreSQL's ``jsonb``), so any queryable can be filtered and
sorted in the database without extra columns. Both dialects compare strings
bytewise (UTF-8 / ``COLLATE "C"``), sort nulls first ascending and last
descending, and read a missing property as NULL, so they select and order alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shapely

from service.domain.expressions import (
    And,
    Compare,
    Expression,
    In,
    Intersects,
    IsNull,
    Like,
    Not,
    Or,
    Property,
)
from service.domain.records import SortKey


class Dialect:
    """How one backend spells properties, LIKE and S_INTERSECTS; *param* adds a bound
    parameter and returns its placeholder."""

    def __init__(self, param: Callable[[Any], str]) -> None:
        self.param = param

    def prop(self, prop: Property) -> str:
        """The SQL value of a property (alias f)."""
        raise NotImplementedError

    def value(self, prop: Property, value: Any) -> str:
        """A literal compared with *prop*."""
        return self.param(value)

    def like(self, prop: Property, pattern: str) -> str:
        """CQL2 LIKE: ``%`` any run of characters, ``_`` one character, ``\\`` escapes."""
        raise NotImplementedError

    def intersects(self, shape: Any) -> str:
        """The feature's geometry intersects *shape* (CRS84)."""
        raise NotImplementedError

    def order(self, key: SortKey) -> str:
        """One ORDER BY term."""
        return f"{self.prop(key.prop)} {'DESC' if key.descending else 'ASC'}"


def where_sql(expr: Expression, d: Dialect) -> str:
    """*expr* as a SQL condition."""
    if isinstance(expr, And):
        return "(" + " AND ".join(where_sql(e, d) for e in expr.items) + ")"
    if isinstance(expr, Or):
        return "(" + " OR ".join(where_sql(e, d) for e in expr.items) + ")"
    if isinstance(expr, Not):
        return f"(NOT {where_sql(expr.item, d)})"
    if isinstance(expr, Compare):
        return f"({d.prop(expr.prop)} {expr.op} {d.value(expr.prop, expr.value)})"
    if isinstance(expr, In):
        values = ", ".join(d.value(expr.prop, v) for v in expr.values)
        return f"({d.prop(expr.prop)} IN ({values}))"
    if isinstance(expr, IsNull):
        return f"({d.prop(expr.prop)} IS NULL)"
    if isinstance(expr, Like):
        return d.like(expr.prop, expr.pattern)
    if isinstance(expr, Intersects):
        return d.intersects(expr.shape)
    raise TypeError(f"not an expression: {expr!r}")


def glob_pattern(pattern: str) -> str:
    """A CQL2 LIKE pattern as an SQLite GLOB pattern (case-sensitive, like CQL2's LIKE)."""
    out, escaped = [], False
    for ch in pattern:
        if escaped:
            out.append(f"[{ch}]" if ch in "*?[" else ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    if escaped:
        out.append("[\\]")
    return "".join(out)


class SQLiteDialect(Dialect):
    """The embedded store: ``json_extract`` on the stored body; S_INTERSECTS through the
    R*Tree and the ``atlas_intersects`` function the store registers."""

    def prop(self, prop: Property) -> str:
        """``json_extract`` of the property (booleans read as 1/0)."""
        return f"json_extract(CAST(f.body AS TEXT), '$.properties.{prop.name}')"

    def value(self, prop: Property, value: Any) -> str:
        """Booleans as 1/0, as json_extract returns them."""
        return self.param(int(value) if isinstance(value, bool) else value)

    def like(self, prop: Property, pattern: str) -> str:
        """GLOB, which is case-sensitive (SQLite's LIKE is not)."""
        return f"({self.prop(prop)} GLOB {self.param(glob_pattern(pattern))})"

    def intersects(self, shape: Any) -> str:
        """R*Tree candidates, then the exact test."""
        w, s, e, n = shape.bounds
        return (f"(f.fid IN (SELECT fid FROM feature_rtree WHERE west <= {self.param(e)} "
                f"AND east >= {self.param(w)} AND south <= {self.param(n)} "
                f"AND north >= {self.param(s)}) AND atlas_intersects("
                f"{self.param(shapely.to_wkb(shape))}, f.coll, f.id, f.lon, f.lat, f.body))")


class PostgisDialect(Dialect):
    """The PostGIS store: ``jsonb`` of the stored body; ST_Intersects on the geometry."""

    _CAST = {"string": 'text COLLATE "C"', "number": "float8", "integer": "float8",
             "boolean": "boolean"}  # fmt: skip

    def prop(self, prop: Property) -> str:
        """The property as text, cast to its type."""
        raw = f"(convert_from(f.body, 'UTF8')::jsonb #>> '{{properties,{prop.name}}}')"
        if prop.type == "string":
            return f'({raw} COLLATE "C")'
        return f"({raw})::{self._CAST[prop.type]}"

    def value(self, prop: Property, value: Any) -> str:
        """A typed parameter."""
        cast = {"string": "text", "number": "float8", "integer": "float8",
                "boolean": "boolean"}[prop.type]  # fmt: skip
        return f"{self.param(value)}::{cast}"

    def like(self, prop: Property, pattern: str) -> str:
        """LIKE (case-sensitive, backslash escapes, as CQL2's)."""
        return f"({self.prop(prop)} LIKE {self.param(pattern)}::text)"

    def intersects(self, shape: Any) -> str:
        """ST_Intersects with the shape as WKB."""
        return (f"(f.geom IS NOT NULL AND ST_Intersects(f.geom, "
                f"ST_GeomFromWKB({self.param(shapely.to_wkb(shape))}, 4326)))")

    def order(self, key: SortKey) -> str:
        """Nulls first ascending, last descending: as SQLite orders them."""
        return (f"{self.prop(key.prop)} "
                f"{'DESC NULLS LAST' if key.descending else 'ASC NULLS FIRST'}")
