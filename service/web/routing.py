"""``AtlasRoute``: FastAPI routes whose usual requests skip FastAPI's generic parameter solver.

FastAPI resolves an endpoint's dependencies and validates each query parameter with
pydantic on every request; for the API's cheap endpoints that costs more than the
answer itself. An ``AtlasRoute`` is declared like any FastAPI route (so the OpenAPI
document is the same) and, when it is built, turns its dependency tree into a plain
plan: which dependency to call with which parameters, each parameter read from the
query or path and converted by a small converter.

The plan only takes values it is sure pydantic would accept with the same result
(plain decimal numbers within their bounds, strings within their lengths, one of a
Literal's values). Anything else (a bad or unusual value, dependency overrides, a
parameter kind the plan does not know) goes to FastAPI's own handler, which gives
the usual answer, 400 problem+json included. Dependencies are called in FastAPI's
order, each once per request (FastAPI's dependency cache), so the errors they raise
are the same too.
"""

from __future__ import annotations

import contextvars
import inspect
import math
import re
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import annotated_types
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from starlette.requests import Request
from starlette.responses import Response

#: Numbers the plan converts itself; any other spelling (``1e3``, ``+1``, ``.5``, ``nan``,
#: ``1_000``) goes to pydantic.
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,20})?")


class _Fallback(Exception):  # noqa: N818 - control flow, never leaves this module
    """The plan cannot take this request: FastAPI's handler answers it."""


_FALLBACK = _Fallback()
_MISSING = object()


def _converter(annotation: Any, metadata: list[Any]) -> Callable[[str], Any] | None:
    """A function from the raw text to the value pydantic would give (or _Fallback);
    None when the annotation or a constraint is one the plan does not handle."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        annotation = args[0] if args[1] is type(None) else args[1]  # X | None
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    checks: list[Callable[[Any], bool]] = []
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            checks.append(lambda v, b=item.ge: v >= b)
        elif isinstance(item, annotated_types.Gt):
            checks.append(lambda v, b=item.gt: v > b)
        elif isinstance(item, annotated_types.Le):
            checks.append(lambda v, b=item.le: v <= b)
        elif isinstance(item, annotated_types.Lt):
            checks.append(lambda v, b=item.lt: v < b)
        elif isinstance(item, annotated_types.MinLen):
            checks.append(lambda v, n=item.min_length: len(v) >= n)
        elif isinstance(item, annotated_types.MaxLen):
            checks.append(lambda v, n=item.max_length: len(v) <= n)
        else:
            return None
    if annotation is str:
        parse: Callable[[str], Any] = str
    elif annotation is int:
        def parse(text: str) -> Any:
            if _INT.fullmatch(text) is None:
                raise _FALLBACK
            return int(text)
    elif annotation is float:
        def parse(text: str) -> Any:
            if _FLOAT.fullmatch(text) is None:
                raise _FALLBACK
            value = float(text)
            if not math.isfinite(value):
                raise _FALLBACK
            return value
    elif origin is typing.Literal and all(isinstance(a, str) for a in args):
        values = frozenset(args)

        def parse(text: str) -> Any:
            if text not in values:
                raise _FALLBACK
            return text
    else:
        return None
    if not checks:
        return parse

    def checked(text: str) -> Any:
        value = parse(text)
        for check in checks:
            if not check(value):
                raise _FALLBACK
        return value

    return checked


@dataclass(frozen=True)
class _Param:
    """One query or path parameter: where to read it and how to convert it."""

    name: str
    alias: str
    in_path: bool
    default: Any
    convert: Callable[[str], Any]


@dataclass(frozen=True)
class _Step:
    """One dependant (a dependency or the endpoint): its sub-dependencies (argument
    name and step), its parameters and where the request goes."""

    call: Callable[..., Awaitable[Any]]
    dependencies: tuple[tuple[str, _Step], ...]
    params: tuple[_Param, ...]
    request_name: str | None


def _plan(dependant: Dependant) -> _Step | None:
    """The plan for *dependant*, or None when some part of it needs FastAPI's solver."""
    call = dependant.call
    if (
        call is None
        or not inspect.iscoroutinefunction(call)
        or dependant.header_params or dependant.cookie_params or dependant.body_params
        or dependant.websocket_param_name or dependant.http_connection_param_name
        or dependant.response_param_name or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name or dependant.own_oauth_scopes
        or not dependant.use_cache or getattr(dependant, "concurrency", None) is not None
    ):  # fmt: skip
        return None
    params = []
    for field, in_path in [(f, False) for f in dependant.query_params] + \
            [(f, True) for f in dependant.path_params]:  # fmt: skip
        info = field.field_info
        convert = _converter(info.annotation, list(info.metadata))
        if convert is None:
            return None
        default = _MISSING if info.is_required() else info.default
        params.append(_Param(field.name, field.alias, in_path, default, convert))
    dependencies = []
    for sub in dependant.dependencies:
        step = _plan(sub)
        if step is None:
            return None
        dependencies.append((sub.name, step))
    return _Step(call, tuple(dependencies), tuple(params), dependant.request_param_name)


async def _solve(step: _Step, request: Request, query: Any, cache: dict[Any, Any]) -> Any:
    """Call *step* with its dependencies' values and its converted parameters."""
    values: dict[str, Any] = {}
    for name, sub in step.dependencies:
        value = cache.get(sub.call, _MISSING)
        if value is _MISSING:
            value = cache[sub.call] = await _solve(sub, request, query, cache)
        if name is not None:
            values[name] = value
    for param in step.params:
        text = (request.path_params if param.in_path else query).get(param.alias)
        if text is None:
            if param.default is _MISSING:
                raise _FALLBACK
            values[param.name] = param.default
        else:
            values[param.name] = param.convert(text)
    if step.request_name is not None:
        values[step.request_name] = request
    return await step.call(**values)


def _effective_dependant(route: fastapi_routing.APIRoute) -> Dependant:
    """The dependant FastAPI builds this route's handler from: with an included router's
    and the app's dependencies when the route is being included (FastAPI's hook)."""
    var: contextvars.ContextVar[Any] | None = getattr(
        fastapi_routing, "_effective_route_context_var", None)
    context = var.get() if var is not None else None
    if context is not None and getattr(context, "original_route", None) is route:
        return context.dependant
    return route.dependant


class AtlasRoute(fastapi_routing.APIRoute):
    """An APIRoute whose handler solves plain requests with a precomputed plan."""

    #: True once a handler with a plan was built (routes that need FastAPI's solver
    #: for every request stay False).
    planned = False

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        """FastAPI's handler, fronted by the plan when the whole route fits one."""
        generic = super().get_route_handler()
        returns = inspect.signature(self.endpoint).return_annotation
        if isinstance(returns, str):
            returns = typing.get_type_hints(self.endpoint).get("return")
        plan = _plan(_effective_dependant(self))
        if plan is None or not (inspect.isclass(returns) and issubclass(returns, Response)):
            return generic
        self.planned = True
        overrides = self.dependency_overrides_provider

        async def handler(request: Request) -> Response:
            if overrides is not None and getattr(overrides, "dependency_overrides", None):
                return await generic(request)
            try:
                response = await _solve(plan, request, request.query_params, {})
            except _Fallback:
                return await generic(request)
            assert isinstance(response, Response)
            return response

        return handler

