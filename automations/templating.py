"""Compile configuration values once into renderers, so a run renders only what is a template.

A static value (no Jinja syntax anywhere inside) compiles to a :class:`Value` whose ``render``
returns the value itself, with no copy and no template engine involved. Values that contain
templates compile into a tree that re-renders only the template leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from core import validators as cv
from core.template import Template, TemplateError
from core.yaml_loader import source_of

from .schema import is_template_string

if TYPE_CHECKING:
    from core.runtime import Runtime

Variables = Mapping[str, Any]

__all__ = [
    "RenderError",
    "TemplateError",
    "Value",
    "compile_template",
    "compile_value",
    "render_duration",
]


class RenderError(Exception):
    """A rendered value does not have the type its key needs (a delay that is not a duration)."""


class Value:
    """A compiled configuration value: ``render(variables)`` gives its value for one run."""

    __slots__ = ("_render", "is_static", "static")

    def __init__(
        self, static: Any = None, render: Callable[[Variables], Any] | None = None
    ) -> None:
        self.is_static = render is None
        self.static = static
        self._render = render

    def render(self, variables: Variables) -> Any:
        """The value for this run (the static value itself when there is no template)."""
        if self._render is None:
            return self.static
        return self._render(variables)


def compile_template(runtime: Runtime, source: str, name: str) -> Template:
    """A :class:`Template` bound to ``runtime``.

    Raises:
        vol.Invalid: the template has a syntax error.
    """
    template = Template(source, runtime, name=name)
    try:
        template.ensure_valid()
    except TemplateError as err:
        where = source_of(source)  # strings read from YAML know their file and line
        at = f" ({where})" if where is not None else ""
        raise vol.Invalid(f"invalid template in {name}{at}: {err}") from None
    return template


def compile_value(runtime: Runtime, value: Any, name: str, *, parse_result: bool = True) -> Value:
    """Compile ``value`` (a scalar, list or mapping, possibly holding templates)."""
    if is_template_string(value):
        tpl = compile_template(runtime, value, name)  # a str: kept as read (file, line)

        def render_template(variables: Variables) -> Any:
            return tpl.render(variables, parse_result=parse_result)

        return Value(render=render_template)
    if isinstance(value, Mapping):
        items = {k: compile_value(runtime, v, f"{name}.{k}") for k, v in value.items()}
        if all(item.is_static for item in items.values()):
            return Value(static=dict(value))
        keys = {k: compile_value(runtime, k, f"{name} key") for k in value}

        def render_mapping(variables: Variables) -> Any:
            return {keys[k].render(variables): v.render(variables) for k, v in items.items()}

        return Value(render=render_mapping)
    if isinstance(value, list):
        parts = [compile_value(runtime, v, f"{name}[{i}]") for i, v in enumerate(value)]
        if all(part.is_static for part in parts):
            return Value(static=list(value))

        def render_list(variables: Variables) -> Any:
            return [part.render(variables) for part in parts]

        return Value(render=render_list)
    return Value(static=value)


def render_duration(value: Value, variables: Variables, what: str) -> timedelta:
    """Render a duration value (seconds, ``HH:MM:SS``, mapping or timedelta).

    Raises:
        TemplateError: the template failed.
        RenderError: it did not give a duration.
    """
    raw = value.render(variables)
    if isinstance(raw, timedelta):
        return raw
    try:
        return cv.time_period(raw)
    except vol.Invalid as err:
        raise RenderError(f"{what}: {err}") from None
