"""Templates in MQTT options: ``value_template``, ``command_template``, ``payload_template``...

They are ``core.template.Template`` objects, rendered with Home Assistant's MQTT variables:
``value`` (the payload as text) and ``value_json`` (the payload parsed as JSON, when it is JSON).
A template that raises gives a ``TemplateRenderError`` naming the option and the entity; the
callers log it and keep the previous state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson

from core import validators
from core.limits import check_data
from core.template import Template

if TYPE_CHECKING:
    from core import Runtime


class TemplateRenderError(Exception):
    """A template of an MQTT option failed to render."""


def template_validator(value: object) -> Template:
    """Validate a template option into a ``Template`` (syntax errors as ``vol.Invalid``)."""
    return validators.template(value)


def bind(template: Template | None, runtime: Runtime) -> Template | None:
    """Give a template built by a validator its runtime (for ``states()`` and friends)."""
    if template is not None and template.runtime is None:
        template.runtime = runtime
    return template


#: The last payload parsed for ``value_json`` and what it gave (``_NOT_JSON`` when not JSON).
_last_parsed: tuple[str, Any] = ("", None)
_NOT_JSON: Final = object()


def _parse_json(payload: str) -> Any:
    """``payload`` parsed as JSON, or ``_NOT_JSON``; the last payload is remembered.

    Zigbee2MQTT and Tasmota send one JSON object per device on one topic, and every entity of
    the device renders its own ``value_template`` from it: the object is parsed once for all of
    them. Sharing it is safe because templates run in an immutable sandbox.
    """
    global _last_parsed
    last_payload, last_value = _last_parsed
    if payload == last_payload and payload:
        return last_value
    try:
        value = orjson.loads(payload)
        check_data(value, "MQTT payload")
    except ValueError:  # not JSON, or past core.limits: the template sees `value` only
        value = _NOT_JSON
    _last_parsed = (payload, value)
    return value


def payload_variables(payload: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``value`` and, when the payload is JSON, ``value_json``; plus ``extra``."""
    variables: dict[str, Any] = {"value": payload}
    if (parsed := _parse_json(payload)) is not _NOT_JSON:
        variables["value_json"] = parsed
    if extra:
        variables.update(extra)
    return variables


def render(
    template: Template,
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
