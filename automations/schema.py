"""Voluptuous schemas for Home Assistant automation and script YAML: triggers, conditions, actions.

The schemas accept what Home Assistant accepts (old and new spellings: ``platform:``/``trigger:``,
``service:``/``action:``, ``trigger:``/``triggers:``...) and normalise it, so the compiler in
``triggers/``, ``conditions/`` and ``script.py`` reads one spelling only. Unknown keys are
errors. Template strings are kept as strings here and compiled by ``templating.py``.

Example::

    - id: hall_light
      alias: Hall light on motion
      triggers:
        - trigger: state
          entity_id: binary_sensor.hall_motion
          to: "on"
      conditions:
        - condition: sun
          after: sunset
      actions:
        - action: light.turn_on
          target: {entity_id: light.hall}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import time as dt_time
from datetime import timedelta
from typing import Any

import voluptuous as vol

from core import validators as cv

from .const import (
    CONF_ACTIONS,
    CONF_ALIAS,
    CONF_CONDITIONS,
    CONF_CONTINUE_ON_ERROR,
    CONF_DESCRIPTION,
    CONF_ENABLED,
    CONF_FIELDS,
    CONF_ICON,
    CONF_ID,
    CONF_INITIAL_STATE,
    CONF_MAX,
    CONF_MAX_EXCEEDED,
    CONF_MODE,
    CONF_SEQUENCE,
    CONF_STORED_TRACES,
    CONF_TRACE,
    CONF_TRIGGER_VARIABLES,
    CONF_TRIGGERS,
    CONF_USE_BLUEPRINT,
    CONF_VARIABLES,
    DEFAULT_MAX,
    DEFAULT_STORED_TRACES,
    LOG_LEVELS,
    RunMode,
)

_TEMPLATE_RE = re.compile(r"{%|{{|{#")
_SERVICE_RE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")

Validator = Callable[[Any], Any]


def is_template_string(value: object) -> bool:
    """Whether ``value`` is a string with Jinja syntax in it."""
    return isinstance(value, str) and _TEMPLATE_RE.search(value) is not None


def template(value: object) -> str:
    """Accept a template string (any string; a plain one renders as itself)."""
    if value is None or isinstance(value, list | dict):
        raise vol.Invalid(f"expected a template string, got {type(value).__name__}")
    # A string read from YAML is kept as it is: it knows its file and line, for errors.
    return value if isinstance(value, str) else str(value)


def _or_template(validator: Validator) -> Validator:
    """Accept ``validator``'s values, or a template string to render at run time."""

    def validate(value: object) -> Any:
        if is_template_string(value):
            return str(value)
        return validator(value)

    return validate


def time_period_template(value: object) -> timedelta | str | dict[str, Any]:
    """A duration, a template rendering to one, or a mapping whose values may be templates."""
    if is_template_string(value):
        return str(value)
    if isinstance(value, dict) and any(is_template_string(v) for v in value.values()):
        keys = {"days", "hours", "minutes", "seconds", "milliseconds"}
        if unknown := set(value) - keys:
            raise vol.Invalid(f"unknown time period key(s): {', '.join(map(str, unknown))}")
        return dict(value)
    return cv.time_period(value)


def entity_ids_or_template(value: object) -> list[str] | str:
    """Entity ids, or a template that renders to them."""
    if is_template_string(value):
        return str(value)
    return cv.entity_ids(value)


def state_values(value: object) -> list[str | None]:
    """A state (or list of states) to compare with; None matches anything. Numbers become text."""
    if value is None:
        return [None]
    items = value if isinstance(value, list) else [value]
    result: list[str | None] = []
    for item in items:
        if isinstance(item, bool):
            result.append("on" if item else "off")
        elif item is None:
            result.append(None)
        elif isinstance(item, str | int | float):
            result.append(str(item))
        else:
            raise vol.Invalid(f"expected a state string, got {type(item).__name__}")
    return result


def service_name(value: object) -> str:
    """``domain.service`` (or a template rendering to one)."""
    text = cv.string(value).strip()
    if is_template_string(text):
        return text
    text = text.lower()
    if not _SERVICE_RE.match(text):
        raise vol.Invalid(f"invalid action {text!r}, expected 'domain.service'")
    return text


def time_of_day(value: object) -> dt_time:
    """``HH:MM`` or ``HH:MM:SS``."""
    if isinstance(value, dt_time):
        return value
    # YAML 1.1 reads 07:00:00 without quotes as a sexagesimal integer (seconds).
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 86400:
        return dt_time(value // 3600, value % 3600 // 60, value % 60)
    text = cv.string(value).strip()
    try:
        return dt_time.fromisoformat(text)
    except ValueError:
        raise vol.Invalid(f"invalid time {text!r}, expected HH:MM or HH:MM:SS") from None


def time_or_entity(value: object) -> dt_time | str:
    """A time of day, or an ``input_datetime``/``sensor`` entity id whose state is one."""
    if isinstance(value, str) and "." in value and ":" not in value:
        return cv.entity_id(value)
    return time_of_day(value)


def number_or_entity(value: object) -> float | str:
    """A number, or an entity id whose state is one."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return cv.entity_id(value)
        except vol.Invalid:
            raise vol.Invalid("expected a number or an entity id (like sensor.outdoor)") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid(f"expected a number or an entity id, got {value!r}")
    return float(value)


def _max_exceeded(value: object) -> str:
    text = cv.string(value).lower()
    if text != "silent" and text not in LOG_LEVELS:
        raise vol.Invalid(f"invalid max_exceeded {text!r}, expected silent or a log level")
    return text


def _rename(old: str, new: str) -> Validator:
    """Move ``old`` to ``new`` (Home Assistant's older spelling of the same key)."""

    def validate(value: object) -> object:
        if isinstance(value, Mapping) and old in value:
            if new in value:
                raise vol.Invalid(f"use either '{old}' or '{new}', not both", [old])
            value = {(new if k == old else k): v for k, v in value.items()}
        return value

    return validate


def _list_of(validator: Validator) -> Validator:
    return vol.All(cv.ensure_list, [validator])


_BASE: dict[Any, Any] = {
    vol.Optional(CONF_ALIAS): cv.string,
    vol.Optional(CONF_ENABLED, default=True): _or_template(cv.boolean),
}

# --- triggers ------------------------------------------------------------------------------------
#
# Each trigger and condition platform (built-in ones in ``triggers/`` and ``conditions/``, one
# module each, or a plugin's) carries its own schema; what they share is here.

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: The keys every trigger may carry, handled by the engine: a built-in platform's schema starts
#: from these.
TRIGGER_BASE: dict[Any, Any] = {
    vol.Required("trigger"): cv.string,
    vol.Optional(CONF_ID): cv.string,
    vol.Optional(CONF_VARIABLES): dict,
    **_BASE,
}

#: The keys every condition may carry, handled by the engine.
CONDITION_BASE: dict[Any, Any] = {vol.Required("condition"): cv.string, **_BASE}

#: What the numeric_state trigger and condition share: the keys and "above or below".
NUMERIC_STATE_KEYS: dict[Any, Any] = {
    vol.Required("entity_id"): cv.entity_ids,
    vol.Optional("attribute"): cv.string,
    vol.Optional("above"): number_or_entity,
    vol.Optional("below"): number_or_entity,
    vol.Optional("value_template"): template,
}
ABOVE_OR_BELOW = vol.Any(
    vol.Schema({vol.Required("above"): object}, extra=vol.ALLOW_EXTRA),
    vol.Schema({vol.Required("below"): object}, extra=vol.ALLOW_EXTRA),
    msg="numeric_state needs 'above' or 'below'",
)


def trigger_schema(platforms: Mapping[str, Validator]) -> Validator:
    """The validator of one trigger; ``platforms`` are every platform's schema by name."""

    def validate(value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise vol.Invalid(f"expected a trigger mapping, got {type(value).__name__}")
        value = _rename("platform", "trigger")(value)
        assert isinstance(value, dict)  # noqa: S101 - _rename keeps mappings
        kind = value.get("trigger")
        if kind is None:
            raise vol.Invalid("trigger needs 'trigger' (or 'platform')", ["trigger"])
        schema = platforms.get(str(kind))
        if schema is None:
            raise vol.Invalid(
                f"unknown trigger platform {kind!r}; known: {', '.join(sorted(platforms))}",
                ["trigger"],
            )
        return schema(value)  # type: ignore[no-any-return]

    return validate


# --- conditions ----------------------------------------------------------------------------------


def condition_schema(platforms: Mapping[str, Validator]) -> Validator:
    """The validator of one condition, recursively (and/or/not); ``platforms`` are every
    condition platform's schema by name."""

    def validate(value: object) -> Any:
        if is_template_string(value):
            # ``value`` is a str (kept as read from YAML: its file and line name errors).
            return {"condition": "template", "value_template": value, CONF_ENABLED: True}
        if not isinstance(value, dict):
            raise vol.Invalid(f"expected a condition mapping or template, got {value!r}")
        if "condition" not in value:
            for short in ("and", "or", "not"):
                if short in value:
                    rest = {k: v for k, v in value.items() if k != short}
                    value = {**rest, "condition": short, "conditions": value[short]}
                    break
            else:
                raise vol.Invalid("condition needs 'condition'", ["condition"])
        kind = str(value["condition"])
        schema = groups.get(kind) or platforms.get(kind)
        if schema is None:
            known = sorted({*groups, *platforms})
            raise vol.Invalid(
                f"unknown condition {kind!r}; known: {', '.join(known)}", ["condition"]
            )
        return schema(value)

    nested = vol.Schema({**CONDITION_BASE, vol.Required("conditions"): _list_of(validate)})
    groups: dict[str, Validator] = {"and": nested, "or": nested, "not": nested}
    return validate


# --- actions -------------------------------------------------------------------------------------

_ACTION_BASE: dict[Any, Any] = {
    **_BASE,
    vol.Optional(CONF_CONTINUE_ON_ERROR, default=False): cv.boolean,
}


def action_schema(trigger: Validator, condition: Validator) -> Validator:
    """The validator of one action, recursively; ``trigger``/``condition`` validate those parts."""

    def sequence(value: object) -> list[dict[str, Any]]:
        return compiled_sequence(value)  # type: ignore[no-any-return]

    def action(value: object) -> Any:
        return validate(value)

    schemas: dict[str, Validator] = {
        "service": vol.Schema(
            {
                **_ACTION_BASE,
                vol.Required("action"): service_name,
                vol.Optional("target"): vol.Any(dict, template),
                vol.Optional("data"): vol.Any(dict, template),
                vol.Optional("entity_id"): entity_ids_or_template,
                vol.Optional("response_variable"): cv.string,
                vol.Optional("metadata"): dict,
            }
        ),
        "delay": vol.Schema({**_ACTION_BASE, vol.Required("delay"): time_period_template}),
        "wait_template": vol.Schema(
            {
                **_ACTION_BASE,
                vol.Required("wait_template"): template,
                vol.Optional("timeout"): time_period_template,
                vol.Optional("continue_on_timeout", default=True): cv.boolean,
            }
        ),
        "wait_for_trigger": vol.Schema(
            {
                **_ACTION_BASE,
                vol.Required("wait_for_trigger"): _list_of(trigger),
                vol.Optional("timeout"): time_period_template,
                vol.Optional("continue_on_timeout", default=True): cv.boolean,
            }
        ),
        "event": vol.Schema(
            {
                **_ACTION_BASE,
                vol.Required("event"): cv.string,
                vol.Optional("event_data"): dict,
            }
        ),
        "choose": vol.Schema(
            {
                **_ACTION_BASE,
                vol.Required("choose"): _list_of(
                    vol.Schema(
                        {
                            vol.Optional(CONF_ALIAS): cv.string,
                            vol.Required(CONF_CONDITIONS): _list_of(condition),
                            vol.Required(CONF_SEQUENCE): sequence,
                        }
                    )
                ),
                vol.Optional("default"): sequence,
            }
        ),
        "if": vol.Schema(
            {
                **_ACTION_BASE,
                vol.Required("if"): _list_of(condition),
                vol.Required("then"): sequence,
                vol.Optional("else"): sequence,
            }
        ),
        "repeat": vol.Schema(
            {
                **_ACTION_BASE,
                vol.Required("repeat"): vol.All(
                    vol.Schema(
                        {
                            vol.Exclusive("count", "repeat"): vol.Any(
                                vol.All(vol.Coerce(int), vol.Range(min=0)), template
                            ),
                            vol.Exclusive("while", "repeat"): _list_of(condition),
                            vol.Exclusive("until", "repeat"): _list_of(condition),
                            vol.Exclusive("for_each", "repeat"): vol.Any(list, template),
                            vol.Required(CONF_SEQUENCE): sequence,
                        }
                    ),
                    _one_repeat_kind,
                ),
            }
        ),
        "parallel": vol.Schema(
            {
                **_ACTION_BASE,
                vol.Required("parallel"): _list_of(_parallel_branch(action)),
            }
        ),
        "sequence": vol.Schema({**_ACTION_BASE, vol.Required("sequence"): sequence}),
        "variables": vol.Schema({**_ACTION_BASE, vol.Required("variables"): dict}),
        "stop": vol.Schema(
            {
                **_ACTION_BASE,
                vol.Required("stop"): vol.Any(cv.string, None),
                vol.Optional("response_variable"): cv.string,
                vol.Optional("error", default=False): cv.boolean,
            }
        ),
        "condition": condition,
    }

    def validate(value: object) -> Any:
        if is_template_string(value) and not isinstance(value, dict):
            # A bare template in a sequence is a template condition.
            return {"kind": "condition", **condition(value)}
        if not isinstance(value, dict):
            raise vol.Invalid(f"expected an action mapping, got {value!r}")
        if "scene" in value and "action" not in value and "service" not in value:
            # ``scene: scene.x`` is Home Assistant's shorthand for turning a scene on.
            rest = {k: v for k, v in value.items() if k != "scene"}
            value = {**rest, "action": "scene.turn_on", "target": {"entity_id": value["scene"]}}
        value = _rename("service_template", "service")(value)
        assert isinstance(value, dict)  # noqa: S101 - _rename keeps mappings
        value = _rename("service", "action")(value)
        assert isinstance(value, dict)  # noqa: S101 - _rename keeps mappings
        if "data_template" in value:
            value = _rename("data_template", "data")(value)
            assert isinstance(value, dict)  # noqa: S101
        if "event_data_template" in value:
            value = _rename("event_data_template", "event_data")(value)
            assert isinstance(value, dict)  # noqa: S101
        kind = _action_kind(value)
        result = dict(schemas[kind](value))
        result["kind"] = kind
        return result

    # Wrapped in a Schema, compiled once: a bare vol.All called directly builds (compiles) a
    # Schema for each of its validators on every call.
    compiled_sequence = vol.Schema(_list_of(validate))
    return validate


def _parallel_branch(action: Validator) -> Validator:
    def validate(value: object) -> Any:
        if isinstance(value, dict) and set(value) - {CONF_ALIAS} == {CONF_SEQUENCE}:
            return {"kind": "sequence", **action(value)}
        return action(value)

    return validate


def _one_repeat_kind(value: dict[str, Any]) -> dict[str, Any]:
    if not {"count", "while", "until", "for_each"} & set(value):
        raise vol.Invalid("repeat needs one of count, while, until, for_each")
    return value


_ACTION_KEYS = (
    ("action", "service"),
    ("delay", "delay"),
    ("wait_template", "wait_template"),
    ("wait_for_trigger", "wait_for_trigger"),
    ("event", "event"),
    ("choose", "choose"),
    ("if", "if"),
    ("repeat", "repeat"),
    ("parallel", "parallel"),
    ("sequence", "sequence"),
    ("variables", "variables"),
    ("stop", "stop"),
    ("condition", "condition"),
)


def _action_kind(value: Mapping[str, Any]) -> str:
    for key, kind in _ACTION_KEYS:
        if key in value:
            return kind
    raise vol.Invalid(
        "unknown action: expected one of action/service, delay, wait_template, "
        "wait_for_trigger, event, choose, if, repeat, parallel, sequence, variables, stop, "
        f"condition; got keys {', '.join(map(str, value))}"
    )


# --- automations and scripts ---------------------------------------------------------------------

_RUN_MODE: dict[Any, Any] = {
    vol.Optional(CONF_MODE, default=RunMode.SINGLE.value): vol.All(
        cv.string, vol.In([m.value for m in RunMode])
    ),
    vol.Optional(CONF_MAX, default=DEFAULT_MAX): vol.All(vol.Coerce(int), vol.Range(min=1)),
    vol.Optional(CONF_MAX_EXCEEDED, default="warning"): _max_exceeded,
    vol.Optional(CONF_VARIABLES, default=dict): dict,
    vol.Optional(CONF_TRACE, default=dict): vol.Schema(
        {
            vol.Optional(CONF_STORED_TRACES, default=DEFAULT_STORED_TRACES): vol.All(
                vol.Coerce(int), vol.Range(min=0)
            )
        }
    ),
}


def automation_schema(trigger: Validator, condition: Validator, action: Validator) -> Validator:
    """The validator of one automation (after blueprints are substituted)."""
    schema = vol.Schema(
        {
            vol.Optional(CONF_ID): cv.string,
            vol.Optional(CONF_ALIAS): cv.string,
            vol.Optional(CONF_DESCRIPTION): cv.string,
            vol.Optional(CONF_INITIAL_STATE): cv.boolean,
            vol.Optional("hide_entity"): cv.boolean,
            vol.Optional(CONF_TRIGGER_VARIABLES, default=dict): dict,
            vol.Required(CONF_TRIGGERS): _list_of(trigger),
            vol.Optional(CONF_CONDITIONS, default=list): _list_of(condition),
            vol.Required(CONF_ACTIONS): _list_of(action),
            vol.Optional(CONF_USE_BLUEPRINT): dict,
            **_RUN_MODE,
        }
    )

    def validate(value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise vol.Invalid(f"expected an automation mapping, got {type(value).__name__}")
        for old, new in (
            ("trigger", CONF_TRIGGERS),
            ("condition", CONF_CONDITIONS),
            ("action", CONF_ACTIONS),
        ):
            value = _rename(old, new)(value)
        result: dict[str, Any] = schema(value)
        return result

    return validate


def script_schema(action: Validator) -> Validator:
    """The validator of one script (the value under its object id in ``script:``)."""
    field = vol.Schema(
        {
            vol.Optional("name"): cv.string,
            vol.Optional("description"): cv.string,
            vol.Optional("example"): object,
            vol.Optional("default"): object,
            vol.Optional("required", default=False): cv.boolean,
            vol.Optional("advanced"): cv.boolean,
            vol.Optional("selector"): vol.Any(dict, None),
        }
    )
    return vol.Schema(
        {
            vol.Optional(CONF_ALIAS): cv.string,
            vol.Optional(CONF_DESCRIPTION): cv.string,
            vol.Optional(CONF_ICON): cv.string,
            vol.Optional(CONF_FIELDS, default=dict): {cv.string: vol.Any(field, None)},
            vol.Required(CONF_SEQUENCE): _list_of(action),
            vol.Optional(CONF_USE_BLUEPRINT): dict,
            **_RUN_MODE,
        }
    )


def section_list(value: object) -> list[Any]:
    """The ``automation:`` section: a list (or a lone mapping); an empty file gives nothing.

    Each item is validated later, one by one, so one broken automation keeps none of the others
    from loading.
    """
    if value is None or value == {}:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    raise vol.Invalid(f"expected a list of automations, got {type(value).__name__}")


AUTOMATION_SECTION = vol.All(section_list, [object])
"""The configuration schema of ``automation:`` (a list, so labelled sections concatenate)."""


def script_section(value: object) -> dict[str, Any]:
    """The ``script:`` section: a mapping of object id to script; items validated later."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise vol.Invalid(
            f"expected a mapping of script ids to scripts, got {type(value).__name__}"
        )
    for key in value:
        cv.slug(key)
    return dict(value)
