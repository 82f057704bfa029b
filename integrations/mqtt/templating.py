"""Templates in MQTT options: ``value_template``, ``command_template``, ``payload_template``...

They are ``core.template.Template`` objects, rendered with Home Assistant's MQTT variables:
``value`` (the payload as text) and ``value_json`` (the payload parsed as JSON, when it is JSON).
A template that raises gives a ``TemplateRenderError`` naming the option and the entity; the
callers log it and keep the previous state.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from core import validators

if TYPE_CHECKING:
    from core import Runtime


class TemplateRenderError(Exception):
    """A template of an MQTT option failed to render."""


def _template_validator() -> Any:
    return getattr(validators, "template", None)


def templates_available() -> bool:
    """Whether this build has ``core.template`` (the templates branch)."""
    return _template_validator() is not None


def template_validator(value: object) -> Any:
    """Validate a template option into a ``core.template.Template``.

    Raises:
        vol.Invalid: a syntax error, or a build without templates.
    """
    validate = _template_validator()
    if validate is None:
        raise vol.Invalid("templates need core/template.py, which this build does not have")
    return validate(value)


def bind(template: Any, runtime: Runtime) -> Any:
    """Give a template built by a validator its runtime (for ``states()`` and friends)."""
    if template is not None and getattr(template, "runtime", None) is None:
        template.runtime = runtime
    return template


def payload_variables(payload: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``value`` and, when the payload is JSON, ``value_json``; plus ``extra``."""
    variables: dict[str, Any] = {"value": payload}
    with contextlib.suppress(ValueError):
        variables["value_json"] = json.loads(payload)
    if extra:
        variables.update(extra)
    return variables


def render(
    template: Any,
    variables: Mapping[str, Any],
    *,
    what: str,
    parse_result: bool = False,
) -> Any:
    """Render ``template``; ``what`` names it in the error (``sensor.x value_template``).

    Raises:
        TemplateRenderError: the template raised while rendering.
    """
    try:
        return template.render(variables, parse_result=parse_result)
    except Exception as err:  # TemplateError, and whatever a sandboxed template may raise
        raise TemplateRenderError(f"{what}: {err}") from err


def template_module() -> Any:
    """``core.template``; only call it when ``templates_available()``."""
    return importlib.import_module("core.template")
