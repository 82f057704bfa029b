"""Blueprints: reusable automations and scripts with ``!input`` placeholders, as in Home Assistant.

A blueprint file (``blueprints/automation/<path>.yaml`` in the configuration directory, or one
of those bundled with Edgewise in the repository's ``blueprints/``) has a ``blueprint:`` header and
a body in which ``!input NAME`` stands for a value the user gives::

    - id: hall_light
      use_blueprint:
        path: edgewise/motion_light.yaml
        input:
          motion_entity: binary_sensor.hall_motion
          light_target: {entity_id: light.hall}

Going beyond Home Assistant, each input is validated against its selector when the automation
loads (an entity selector with ``domain: light`` refuses ``sensor.x``, a number selector enforces
``min``/``max``); the error names the automation, the input and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import voluptuous as vol

from core import validators as cv
from core.errors import ConfigError
from core.state import valid_entity_id
from core.yaml_loader import Input, load_yaml

#: The blueprints bundled with Edgewise: ``blueprints/`` at the top of the checkout.
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "blueprints"
BLUEPRINTS_DIR = "blueprints"

_VERSION_RE = re.compile(r"^\d+\.\d+(\.\d+)?$")


class BlueprintError(Exception):
    """A blueprint cannot be used: missing, malformed, or an input that does not fit."""


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One declared input: its name, default and selector."""

    name: str
    label: str | None = None
    description: str | None = None
    default: Any = None
    has_default: bool = False
    selector: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Blueprint:
    """A loaded blueprint: its header and body (with ``Input`` placeholders)."""

    path: str
    name: str
    domain: str
    body: Mapping[str, Any]
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    description: str | None = None
    source_url: str | None = None
    author: str | None = None
    min_version: str | None = None


_SELECTOR = vol.Schema({str: vol.Any(dict, None)})

BLUEPRINT_HEADER = vol.Schema(
    {
        vol.Required("name"): cv.string,
        vol.Required("domain"): vol.In(("automation", "script")),
        vol.Optional("description"): cv.string,
        vol.Optional("source_url"): cv.string,
        vol.Optional("author"): cv.string,
        vol.Optional("min_version"): cv.string,
        vol.Optional("homeassistant"): {vol.Optional("min_version"): cv.string},
        vol.Optional("input", default=dict): vol.Any(dict, None),
    }
)


def _input_specs(inputs: Mapping[str, Any] | None) -> dict[str, InputSpec]:
    """Flatten inputs and sections (``{section: {name:, input: {...}}}``) into specs."""
    specs: dict[str, InputSpec] = {}
    for name, definition in (inputs or {}).items():
        if isinstance(definition, Mapping) and isinstance(definition.get("input"), Mapping):
            specs.update(_input_specs(definition["input"]))
            continue
        if definition is None:
            definition = {}  # noqa: PLW2901 - an input without options is an empty mapping
        if not isinstance(definition, Mapping):
            raise BlueprintError(f"input '{name}' must be a mapping")
        selector = definition.get("selector")
        if selector is not None:
            try:
                _SELECTOR(selector)
            except vol.Invalid as err:
                raise BlueprintError(f"input '{name}': invalid selector: {err}") from None
        specs[str(name)] = InputSpec(
            name=str(name),
            label=definition.get("name"),
            description=definition.get("description"),
            default=definition.get("default"),
            has_default="default" in definition,
            selector=selector,
        )
    return specs


def blueprint_file(config_dir: Path, domain: str, path: str) -> Path:
    """Where the blueprint ``path`` of ``domain`` lives: the site's own first, then bundled.

    Raises:
        BlueprintError: the path leaves the blueprint folder, or no such file exists.
    """
    if Path(path).is_absolute() or ".." in Path(path).parts:
        raise BlueprintError(f"blueprint path {path!r} must be relative, without '..'")
    for base in (config_dir / BLUEPRINTS_DIR / domain, BUNDLED_DIR / domain):
        candidate = base / path
        if candidate.is_file():
            return candidate
    raise BlueprintError(f"blueprint {domain}/{path} not found")


def load_blueprint(config_dir: Path, domain: str, path: str) -> Blueprint:
    """Load and check one blueprint file (blocking: run it in the executor).

    Raises:
        BlueprintError: missing file, bad YAML, a bad header, or the wrong domain.
    """
    file = blueprint_file(config_dir, domain, path)
    try:
        data = load_yaml(file, config_dir=file.parent)
    except ConfigError as err:
        raise BlueprintError(f"blueprint {domain}/{path}: {err}") from None
    if not isinstance(data, Mapping) or "blueprint" not in data:
        raise BlueprintError(f"blueprint {domain}/{path} has no 'blueprint:' section")
    try:
        header = BLUEPRINT_HEADER(dict(data["blueprint"] or {}))
    except vol.Invalid as err:
        raise BlueprintError(f"blueprint {domain}/{path}: {err}") from None
    if header["domain"] != domain:
        raise BlueprintError(
            f"blueprint {domain}/{path} is a {header['domain']} blueprint, not a {domain} one"
        )
    min_version = header.get("min_version") or (header.get("homeassistant") or {}).get(
        "min_version"
    )
    return Blueprint(
        path=path,
        name=header["name"],
        domain=domain,
        body={k: v for k, v in data.items() if k != "blueprint"},
        inputs=_input_specs(header.get("input")),
        description=header.get("description"),
        source_url=header.get("source_url"),
        author=header.get("author"),
        min_version=min_version,
    )


# --- selectors -----------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_entity(value: Any, options: Mapping[str, Any]) -> Any:
    multiple = bool(options.get("multiple"))
    items = _as_list(value) if multiple else [value]
    if not multiple and isinstance(value, list):
        raise vol.Invalid("expected one entity id, got a list")
    domains = options.get("domain")
    domains = set(_as_list(domains)) if domains else None
    filters = options.get("filter")
    if filters:
        for flt in _as_list(filters):
            if isinstance(flt, Mapping) and flt.get("domain"):
                domains = (domains or set()) | set(_as_list(flt["domain"]))
    for item in items:
        if not isinstance(item, str) or not valid_entity_id(item.lower()):
            raise vol.Invalid(f"{item!r} is not an entity id")
        if domains and item.partition(".")[0] not in domains:
            raise vol.Invalid(f"{item} is not of domain {', '.join(sorted(domains))}")
    return value


def _check_number(value: Any, options: Mapping[str, Any]) -> Any:
    if isinstance(value, bool):
        raise vol.Invalid(f"expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise vol.Invalid(f"expected a number, got {value!r}") from None
    low, high = options.get("min"), options.get("max")
    if low is not None and number < float(low):
        raise vol.Invalid(f"{value} is below the minimum {low}")
    if high is not None and number > float(high):
        raise vol.Invalid(f"{value} is above the maximum {high}")
    return value


def _check_boolean(value: Any, options: Mapping[str, Any]) -> Any:
    if not isinstance(value, bool):
        raise vol.Invalid(f"expected true or false, got {value!r}")
    return value


def _check_text(value: Any, options: Mapping[str, Any]) -> Any:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise vol.Invalid(f"expected text, got {type(value).__name__}")
    return value


def _check_select(value: Any, options: Mapping[str, Any]) -> Any:
    allowed = {
        str(o["value"]) if isinstance(o, Mapping) else str(o) for o in options.get("options", [])
    }
    if options.get("custom_value"):
        return value
    items = _as_list(value) if options.get("multiple") else [value]
    for item in items:
        if str(item) not in allowed:
            raise vol.Invalid(f"{item!r} is not one of {', '.join(sorted(allowed))}")
    return value


def _check_time(value: Any, options: Mapping[str, Any]) -> Any:
    if isinstance(value, dt_time):
        return value
    try:
        dt_time.fromisoformat(str(value))
    except ValueError:
        raise vol.Invalid(f"expected a time HH:MM[:SS], got {value!r}") from None
    return value


def _check_duration(value: Any, options: Mapping[str, Any]) -> Any:
    cv.time_period(value)
    return value


def _check_target(value: Any, options: Mapping[str, Any]) -> Any:
    if not isinstance(value, Mapping):
        raise vol.Invalid("expected a target mapping (entity_id, device_id, area_id)")
    unknown = set(value) - {"entity_id", "device_id", "area_id", "floor_id", "label_id"}
    if unknown:
        raise vol.Invalid(f"unknown target key(s): {', '.join(sorted(map(str, unknown)))}")
    entity_options = options.get("entity")
    if "entity_id" in value and isinstance(entity_options, Mapping | list):
        for opt in _as_list(entity_options):
            if isinstance(opt, Mapping):
                _check_entity(value["entity_id"], {**opt, "multiple": True})
    return value


def _check_list(value: Any, options: Mapping[str, Any]) -> Any:
    if not isinstance(value, list | Mapping):
        raise vol.Invalid(f"expected a list, got {type(value).__name__}")
    return value


_SELECTORS = {
    "entity": _check_entity,
    "number": _check_number,
    "boolean": _check_boolean,
    "text": _check_text,
    "select": _check_select,
    "time": _check_time,
    "duration": _check_duration,
    "target": _check_target,
    "action": _check_list,
    "condition": _check_list,
    "trigger": _check_list,
}


def check_input(spec: InputSpec, value: Any) -> None:
    """Validate one value against its input's selector.

    Raises:
        vol.Invalid: the value does not fit; the message says why.
    """
    if not spec.selector:
        return
    for kind, options in spec.selector.items():
        checker = _SELECTORS.get(kind)
        if checker is not None:
            checker(value, options or {})


# --- substitution --------------------------------------------------------------------------------


def substitute(value: Any, inputs: Mapping[str, Any]) -> Any:
    """A copy of ``value`` with every ``!input`` replaced by its value."""
    if isinstance(value, Input):
        return inputs[value.name]
    if isinstance(value, Mapping):
        return {substitute(k, inputs): substitute(v, inputs) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, inputs) for v in value]
    return value


def _used_inputs(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, Input):
        found.add(value.name)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _used_inputs(k, found)
            _used_inputs(v, found)
    elif isinstance(value, list):
        for v in value:
            _used_inputs(v, found)
    return found


USE_BLUEPRINT = vol.Schema(
    {vol.Required("path"): cv.string, vol.Optional("input", default=dict): vol.Any(dict, None)}
)


def apply_blueprint(
    blueprint: Blueprint, use: Mapping[str, Any], overrides: Mapping[str, Any], owner: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fill ``blueprint`` with the inputs of ``use_blueprint``.

    Args:
        blueprint: the loaded blueprint.
        use: the ``use_blueprint`` mapping (``path``, ``input``).
        overrides: other keys of the user's config (``id``, ``alias``...), which win over the body.
        owner: how to name the automation or script in errors (``automation 'hall_light'``).

    Returns:
        The filled configuration, and the inputs as given (for traces).

    Raises:
        BlueprintError: an input is missing, unknown or does not fit its selector.
    """
    given: dict[str, Any] = dict(use.get("input") or {})
    unknown = sorted(set(given) - set(blueprint.inputs))
    if unknown:
        raise BlueprintError(
            f"{owner}: blueprint {blueprint.path} has no input named {', '.join(unknown)}"
        )
    values: dict[str, Any] = {}
    for name, spec in blueprint.inputs.items():
        if name in given:
            value = given[name]
            try:
                check_input(spec, value)
            except vol.Invalid as err:
                raise BlueprintError(f"{owner}: blueprint input '{name}': {err.msg}") from None
            values[name] = value
        elif spec.has_default:
            values[name] = spec.default
    missing = sorted(_used_inputs(blueprint.body, set()) - set(values))
    if missing:
        raise BlueprintError(
            f"{owner}: blueprint {blueprint.path} is missing input(s) {', '.join(missing)}"
        )
    config = substitute(blueprint.body, values)
    config.update({k: v for k, v in overrides.items() if k != "use_blueprint"})
    return config, {"path": use["path"], "input": given}


def list_blueprints(config_dir: Path, domain: str) -> dict[str, dict[str, Any]]:
    """Every blueprint of ``domain`` (the site's and the bundled ones), by path (blocking).

    Returns:
        ``{path: {"metadata": {...}}}`` as Home Assistant's ``blueprint/list`` answers, or
        ``{path: {"error": message}}`` for a file that does not load.
    """
    found: dict[str, dict[str, Any]] = {}
    for base in (BUNDLED_DIR / domain, config_dir / BLUEPRINTS_DIR / domain):
        if not base.is_dir():
            continue
        for file in sorted(base.rglob("*.yaml")):
            path = file.relative_to(base).as_posix()
            try:
                blueprint = load_blueprint(config_dir, domain, path)
            except BlueprintError as err:
                found[path] = {"error": str(err)}
                continue
            found[path] = {
                "metadata": {
                    "name": blueprint.name,
                    "domain": blueprint.domain,
                    "description": blueprint.description,
                    "source_url": blueprint.source_url,
                    "author": blueprint.author,
                    "min_version": blueprint.min_version,
                    "input": {
                        name: {
                            k: v
                            for k, v in (
                                ("name", spec.label),
                                ("description", spec.description),
                                ("default", spec.default),
                                ("selector", spec.selector),
                            )
                            if v is not None
                        }
                        for name, spec in blueprint.inputs.items()
                    },
                }
            }
    return found
