"""Validating automation and script configuration: schemas with the plugins' platforms, blueprints,
services that must exist, and error messages that name the automation and the line to fix."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from core.config import humanize_invalid
from core.config_check import service_declared
from core.const import CoreState
from core.errors import EdgewiseError
from core.yaml_loader import source_of

from .blueprint import USE_BLUEPRINT, BlueprintError, apply_blueprint, load_blueprint
from .const import CONF_ALIAS, CONF_ID, CONF_USE_BLUEPRINT, DOMAIN_SCRIPT
from .schema import (
    Validator,
    action_schema,
    automation_schema,
    condition_schema,
    is_template_string,
    script_schema,
    trigger_schema,
)
from .script import Platforms

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)


class InvalidConfig(EdgewiseError):
    """One automation or script cannot be loaded; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Schemas:
    """The validators, built once per load with the plugin platforms of that moment."""

    trigger: Validator
    condition: Validator
    action: Validator
    automation: Validator
    script: Validator


def build_schemas(platforms: Platforms) -> Schemas:
    """Validators that know the plugin trigger and condition platforms."""
    trigger = trigger_schema({k: p.schema for k, p in platforms.triggers.items()})
    condition = condition_schema({k: p.schema for k, p in platforms.conditions.items()})
    action = action_schema(trigger, condition)
    return Schemas(
        trigger,
        condition,
        action,
        automation_schema(trigger, condition, action),
        script_schema(action),
    )


def describe(domain: str, raw: object, index: int | str) -> str:
    """How to name an item in messages: its id and alias, and where it is written."""
    parts = []
    if domain == DOMAIN_SCRIPT:
        parts.append(f"'{index}'")  # a script's object id (its key)
    if isinstance(raw, Mapping):
        if raw.get(CONF_ID) is not None:
            parts.append(f"id '{raw[CONF_ID]}'")
        if raw.get(CONF_ALIAS):
            parts.append(f"alias '{raw[CONF_ALIAS]}'")
    if not parts:
        parts.append(f"#{index}" if isinstance(index, int) else f"'{index}'")
    where = source_of(raw)
    text = f"{domain.capitalize()} {' '.join(parts)}"
    return f"{text} ({where})" if where is not None else text


def resolve_blueprint(
    runtime: Runtime, domain: str, raw: Mapping[str, Any], label: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Fill in ``use_blueprint`` (blocking file reads: run in the executor)."""
    if CONF_USE_BLUEPRINT not in raw:
        return dict(raw), None
    try:
        use = USE_BLUEPRINT(dict(raw[CONF_USE_BLUEPRINT] or {}))
    except vol.Invalid as err:
        raise InvalidConfig(f"{label}: use_blueprint: {err}") from None
    try:
        blueprint = load_blueprint(runtime.config_dir, domain, use["path"])
        return apply_blueprint(blueprint, use, raw, label)
    except BlueprintError as err:
        message = str(err)
        raise InvalidConfig(
            message if message.startswith(label) else f"{label}: {message}"
        ) from None


def unexpected_error(label: str, err: Exception) -> InvalidConfig:
    """The ``InvalidConfig`` for an error validating or compiling one item did not foresee.

    Loading catches every exception per item (one broken entry never stops the others): a
    ``RecursionError`` (a template or a structure nested too deeply) or a bug in a platform.
    """
    if isinstance(err, RecursionError):
        return InvalidConfig(f"{label} is not loaded: it is nested too deeply to load")
    _LOGGER.error("Unexpected error loading %s", label, exc_info=err)
    return InvalidConfig(f"{label} is not loaded: {type(err).__name__}: {err}")


def validate(
    validator: Validator, config: Mapping[str, Any], raw: object, label: str, domain: str
) -> dict[str, Any]:
    """Run ``validator``; a failure becomes ``InvalidConfig`` naming the item, line and key."""
    try:
        return validator(config)  # type: ignore[no-any-return]
    except vol.Invalid as err:
        issues = humanize_invalid(err, raw, domain=domain, source=source_of(raw))
        details = "; ".join(str(issue) for issue in issues)
        raise InvalidConfig(f"{label} is not loaded: {details}") from None


def iter_services(actions: list[dict[str, Any]]) -> Iterator[str]:
    """Every static service name in a validated action list, nested ones included."""
    for action in actions:
        kind = action.get("kind")
        if kind == "service" and not is_template_string(action["action"]):
            yield str(action["action"])
        for key in ("then", "else", "default", "sequence", "parallel"):
            nested = action.get(key)
            if isinstance(nested, list):
                yield from iter_services(nested)
        if kind == "choose":
            for option in action["choose"]:
                yield from iter_services(option["sequence"])
        if kind == "repeat":
            yield from iter_services(action["repeat"]["sequence"])


def service_exists(runtime: Runtime, name: str) -> bool:
    """Whether service ``name`` exists, or (check-config: nothing set up) will once set up."""
    domain, _, service = name.partition(".")
    if runtime.services.has(domain, service):
        return True
    return runtime.state is CoreState.NOT_RUNNING and service_declared(runtime, domain, service)


def check_services(runtime: Runtime, actions: list[dict[str, Any]], label: str) -> None:
    """Raise ``InvalidConfig`` when an action names a service that does not exist.

    The running runtime knows its services; check-config, which sets nothing up, checks against
    what the configured integrations declare (``core.config_check.service_declared``), so both
    refuse the same actions.
    """
    missing = sorted({name for name in iter_services(actions) if not service_exists(runtime, name)})
    if missing:
        raise InvalidConfig(f"{label} is not loaded: unknown action(s) {', '.join(missing)}")
