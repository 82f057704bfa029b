"""The ``template:`` section: Home Assistant's modern template entities.

Example::

    # configuration.yaml
    template:
      - unique_id: plant            # optional prefix of the unique ids below
        sensor:
          - name: Average zone temperature
            unique_id: avg_zone_temp
            unit_of_measurement: °C
            device_class: temperature
            state_class: measurement
            state: >
              {{ expand('group.zones') | map(attribute='state')
                 | map('float', 0) | average | round(1) }}
            availability: "{{ has_value('sensor.zone_1') }}"
            attributes:
              zones: "{{ expand('group.zones') | count }}"
        binary_sensor:
          - name: Heating needed
            state: "{{ states('sensor.average_zone_temperature') | float(99) < 19 }}"
            delay_on: "00:05:00"
            delay_off: {minutes: 2}
            device_class: heat

The section is a list of blocks (a single block is accepted too, and ``template 2:`` sections
are joined); each block has ``sensor`` and/or ``binary_sensor`` lists. Every template is checked
when the configuration is loaded, entity by entity: an error names the file, line and key
(``template.0.sensor.1.state``), that entity is left out, and the others are set up.
A block with ``trigger:`` (and optional ``variables:``) makes trigger-based entities, as in Home
Assistant: their templates render when a trigger fires (with ``trigger`` among the variables),
not when the states they read change; a binary sensor there may have ``auto_off``. The triggers
are checked by the automation engine when they are attached, at start-up. ``condition:`` and
``action:`` in a block are refused with a clear error.

Entities created through the API (``item_schema``) are flat and JSON, like Home Assistant's
template helper: ``{"template_type": "sensor", "name": ..., "state": "{{ ... }}", ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import voluptuous as vol

from core import SensorDeviceClass, SensorStateClass, validators
from core.config import PartialSection
from core.entities.binary_sensor import BinarySensorDeviceClass
from core.template import Template, is_template_string

from .const import (
    CONF_ACTION,
    CONF_ACTIONS,
    CONF_ATTRIBUTES,
    CONF_AUTO_OFF,
    CONF_AVAILABILITY,
    CONF_BINARY_SENSOR,
    CONF_CONDITION,
    CONF_CONDITIONS,
    CONF_DELAY_OFF,
    CONF_DELAY_ON,
    CONF_DEVICE_CLASS,
    CONF_ICON,
    CONF_NAME,
    CONF_PICTURE,
    CONF_SENSOR,
    CONF_STATE,
    CONF_STATE_CLASS,
    CONF_TEMPLATE_TYPE,
    CONF_TRIGGER,
    CONF_TRIGGERS,
    CONF_UNIQUE_ID,
    CONF_UNIT_OF_MEASUREMENT,
    CONF_VARIABLES,
    DEFAULT_BINARY_SENSOR_NAME,
    DEFAULT_SENSOR_NAME,
)


@dataclass(frozen=True, slots=True)
class TemplateEntityConfig:
    """What every template entity has: a name, a state, and optional templates around it."""

    name: Template
    state: Template
    unique_id: str | None = None
    availability: Template | None = None
    icon: Template | None = None
    picture: Template | None = None
    attributes: dict[str, Template] = field(default_factory=dict)
    #: The triggers of a trigger-based entity (validated by the automation engine when they
    #: are attached); empty for an entity that follows the states its templates read.
    triggers: tuple[dict[str, Any], ...] = ()
    #: Variables of a trigger-based block, rendered at each firing (templates allowed).
    variables: dict[str, Any] = field(default_factory=dict)

    def templates(self) -> dict[str, Template]:
        """Every template of the entity by what it renders (``state``, ``attributes.x``...)."""
        found = {CONF_NAME: self.name, CONF_STATE: self.state}
        for key, template in (
            (CONF_AVAILABILITY, self.availability),
            (CONF_ICON, self.icon),
            (CONF_PICTURE, self.picture),
        ):
            if template is not None:
                found[key] = template
        for key, template in self.attributes.items():
            found[f"{CONF_ATTRIBUTES}.{key}"] = template
        return found


@dataclass(frozen=True, slots=True)
class SensorConfig(TemplateEntityConfig):
    """A template sensor."""

    unit_of_measurement: str | None = None
    device_class: SensorDeviceClass | None = None
    state_class: SensorStateClass | None = None


@dataclass(frozen=True, slots=True)
class BinarySensorConfig(TemplateEntityConfig):
    """A template binary sensor; a delay is a fixed period or a template that renders one."""

    device_class: BinarySensorDeviceClass | None = None
    delay_on: timedelta | Template | None = None
    delay_off: timedelta | Template | None = None
    #: Trigger-based only: turn off this long after turning on.
    auto_off: timedelta | None = None


@dataclass(frozen=True, slots=True)
class TemplateConfig:
    """The validated ``template:`` section: every entity of every block, in order."""

    sensors: tuple[SensorConfig, ...] = ()
    binary_sensors: tuple[BinarySensorConfig, ...] = ()


def _delay(value: object) -> timedelta | Template:
    """A ``delay_on``/``delay_off``: a time period, or a template that renders one."""
    if isinstance(value, str) and is_template_string(value):
        return validators.template(value)
    return validators.time_period(value)


def _not_supported(value: object) -> object:
    raise vol.Invalid(
        "conditions and actions in a template block are not supported yet; put them in an "
        "automation that sets an input helper, or template the condition into the state"
    )


def _triggers(value: object) -> list[dict[str, Any]]:
    """A list of trigger mappings; the automation engine checks each when it attaches them."""
    triggers: list[dict[str, Any]] = []
    for index, trigger in enumerate(validators.ensure_list(value)):
        if not isinstance(trigger, Mapping):
            raise vol.Invalid("expected a trigger mapping with 'trigger:' or 'platform:'", [index])
        if "platform" not in trigger and "trigger" not in trigger:
            raise vol.Invalid("a trigger needs 'trigger:' (or 'platform:')", [index])
        triggers.append(dict(trigger))
    return triggers


_COMMON = {
    vol.Optional(CONF_NAME): validators.template,
    vol.Optional(CONF_UNIQUE_ID): validators.string,
    vol.Required(CONF_STATE): validators.template,
    vol.Optional(CONF_AVAILABILITY): validators.template,
    vol.Optional(CONF_ICON): validators.template,
    vol.Optional(CONF_PICTURE): validators.template,
    vol.Optional(CONF_ATTRIBUTES, default={}): {validators.string: validators.template},
}

SENSOR_SCHEMA = vol.Schema(
    {
        **_COMMON,
        vol.Optional(CONF_UNIT_OF_MEASUREMENT): validators.string,
        vol.Optional(CONF_DEVICE_CLASS): vol.Coerce(SensorDeviceClass),
        vol.Optional(CONF_STATE_CLASS): vol.Coerce(SensorStateClass),
    }
)
"""One item of a block's ``sensor:`` list."""

BINARY_SENSOR_SCHEMA = vol.Schema(
    {
        **_COMMON,
        vol.Optional(CONF_DEVICE_CLASS): vol.Coerce(BinarySensorDeviceClass),
        vol.Optional(CONF_DELAY_ON): _delay,
        vol.Optional(CONF_DELAY_OFF): _delay,
        vol.Optional(CONF_AUTO_OFF): validators.time_period,
    }
)
"""One item of a block's ``binary_sensor:`` list."""

_BLOCK_KEYS_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_UNIQUE_ID): validators.string,
        vol.Optional(CONF_SENSOR): object,
        vol.Optional(CONF_BINARY_SENSOR): object,
        vol.Optional(CONF_TRIGGER): _triggers,
        vol.Optional(CONF_TRIGGERS): _triggers,
        vol.Optional(CONF_VARIABLES): {validators.string: validators.template_complex},
        vol.Optional(CONF_CONDITION): _not_supported,
        vol.Optional(CONF_CONDITIONS): _not_supported,
        vol.Optional(CONF_ACTION): _not_supported,
        vol.Optional(CONF_ACTIONS): _not_supported,
    }
)
"""The keys of one block of the ``template:`` list; its entities are validated one by one."""

_ITEM_SCHEMAS: dict[str, vol.Schema] = {
    CONF_SENSOR: SENSOR_SCHEMA,
    CONF_BINARY_SENSOR: BINARY_SENSOR_SCHEMA,
}


def _unique_id(prefix: object, item: dict[str, Any]) -> str | None:
    own = item.get(CONF_UNIQUE_ID)
    if own is None:
        return None
    return f"{prefix}_{own}" if prefix else str(own)


def _common(prefix: object, item: dict[str, Any], default_name: str) -> dict[str, Any]:
    name = item.get(CONF_NAME)
    return {
        "name": name if isinstance(name, Template) else Template(default_name),
        "state": item[CONF_STATE],
        "unique_id": _unique_id(prefix, item),
        "availability": item.get(CONF_AVAILABILITY),
        "icon": item.get(CONF_ICON),
        "picture": item.get(CONF_PICTURE),
        "attributes": dict(item.get(CONF_ATTRIBUTES, {})),
    }


def sensor_config(item: dict[str, Any], prefix: object = None) -> SensorConfig:
    """A ``SensorConfig`` from one validated ``sensor:`` item."""
    return SensorConfig(
        **_common(prefix, item, DEFAULT_SENSOR_NAME),
        unit_of_measurement=item.get(CONF_UNIT_OF_MEASUREMENT),
        device_class=item.get(CONF_DEVICE_CLASS),
        state_class=item.get(CONF_STATE_CLASS),
    )


def binary_sensor_config(item: dict[str, Any], prefix: object = None) -> BinarySensorConfig:
    """A ``BinarySensorConfig`` from one validated ``binary_sensor:`` item."""
    return BinarySensorConfig(
        **_common(prefix, item, DEFAULT_BINARY_SENSOR_NAME),
        device_class=item.get(CONF_DEVICE_CLASS),
        delay_on=item.get(CONF_DELAY_ON),
        delay_off=item.get(CONF_DELAY_OFF),
        auto_off=item.get(CONF_AUTO_OFF),
    )


def _prefixed(error: vol.Invalid, prefix: list[Any]) -> list[vol.Invalid]:
    inner = error.errors if isinstance(error, vol.MultipleInvalid) else [error]
    return [
        vol.Invalid(err.msg, [*prefix, *err.path], error_message=err.error_message) for err in inner
    ]


class _SingleBlock(list[Any]):
    """A section written as one block rather than a list: its error paths have no index."""


def _as_blocks(value: object) -> list[Any]:
    if isinstance(value, Mapping):
        return _SingleBlock([value])
    return validators.ensure_list(value)


def validate_section(value: object) -> PartialSection:
    """Validate the ``template:`` section entity by entity (``CONFIG_SCHEMA``).

    A wrong block key, or an entity with a wrong option, is reported with its path
    (``template.0.sensor.1.state``) and left out; every valid entity is kept. The value is a
    list of blocks, or a single block.
    """
    single = isinstance(value, _SingleBlock | Mapping)
    blocks = _as_blocks(value) if not isinstance(value, list) else value
    errors: list[vol.Invalid] = []
    sensors: list[SensorConfig] = []
    binary_sensors: list[BinarySensorConfig] = []
    seen: set[tuple[str, str]] = set()
    for index, block in enumerate(blocks):
        where: list[Any] = [] if single else [index]
        if not isinstance(block, Mapping):
            errors.append(vol.Invalid("expected a block with 'sensor' or 'binary_sensor'", where))
            continue
        try:
            keys = _BLOCK_KEYS_SCHEMA(dict(block))
        except vol.Invalid as err:
            errors.extend(_prefixed(err, where))
            continue
        prefix = block.get(CONF_UNIQUE_ID)
        triggers = tuple(keys.get(CONF_TRIGGER, []) + keys.get(CONF_TRIGGERS, []))
        variables = dict(keys.get(CONF_VARIABLES, {}))
        for domain, schema in _ITEM_SCHEMAS.items():
            for position, raw in enumerate(validators.ensure_list(block.get(domain))):
                path = [*where, domain, position]
                try:
                    item = schema(raw)
                except vol.Invalid as err:
                    errors.extend(_prefixed(err, path))
                    continue
                if CONF_AUTO_OFF in item and not triggers:
                    errors.append(
                        vol.Invalid(
                            "auto_off needs a trigger-based block (one with 'trigger:')",
                            [*path, CONF_AUTO_OFF],
                        )
                    )
                    continue
                config = (
                    sensor_config(item, prefix)
                    if domain == CONF_SENSOR
                    else binary_sensor_config(item, prefix)
                )
                if triggers:
                    config = replace(config, triggers=triggers, variables=variables)
                if config.unique_id is not None:
                    if (domain, config.unique_id) in seen:
                        errors.append(
                            vol.Invalid(
                                f"unique_id '{config.unique_id}' is used by more than one "
                                f"template {domain}; this one is left out",
                                [*path, CONF_UNIQUE_ID],
                            )
                        )
                        continue
                    seen.add((domain, config.unique_id))
                if isinstance(config, SensorConfig):
                    sensors.append(config)
                else:
                    binary_sensors.append(config)
    return PartialSection(
        TemplateConfig(sensors=tuple(sensors), binary_sensors=tuple(binary_sensors)),
        tuple(errors),
    )


CONFIG_SCHEMA = vol.All(_as_blocks, [object], validate_section)
"""Validates the value under ``template:`` into a ``PartialSection`` of a TemplateConfig.

A list schema (``[object]``) comes first so that ``template 2:`` sections are concatenated.
"""


# --- template entities created through the API ----------------------------------------------------


def _template_source(value: object) -> str:
    """A template string, checked, kept as text (stored items are JSON)."""
    return validators.template(value).source


def _delay_source(value: object) -> str | float:
    """A delay kept as JSON: a template's source, or seconds."""
    delay = _delay(value)
    return delay.source if isinstance(delay, Template) else delay.total_seconds()


_ITEM_COMMON = {
    vol.Required(CONF_NAME): validators.string,
    vol.Required(CONF_STATE): _template_source,
    vol.Optional(CONF_AVAILABILITY): _template_source,
    vol.Optional(CONF_ICON): _template_source,
    vol.Optional(CONF_PICTURE): _template_source,
    vol.Optional(CONF_ATTRIBUTES): {validators.string: _template_source},
}

_STORED_SENSOR_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_TEMPLATE_TYPE): CONF_SENSOR,
        **_ITEM_COMMON,
        vol.Optional(CONF_UNIT_OF_MEASUREMENT): validators.string,
        vol.Optional(CONF_DEVICE_CLASS): vol.All(vol.Coerce(SensorDeviceClass), str),
        vol.Optional(CONF_STATE_CLASS): vol.All(vol.Coerce(SensorStateClass), str),
    }
)

_STORED_BINARY_SENSOR_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_TEMPLATE_TYPE): CONF_BINARY_SENSOR,
        **_ITEM_COMMON,
        vol.Optional(CONF_DEVICE_CLASS): vol.All(vol.Coerce(BinarySensorDeviceClass), str),
        vol.Optional(CONF_DELAY_ON): _delay_source,
        vol.Optional(CONF_DELAY_OFF): _delay_source,
    }
)


def item_schema(value: object) -> dict[str, Any]:
    """Validate one template entity created through the API (as Home Assistant's template
    helper): ``template_type`` (``sensor`` or ``binary_sensor``), ``name``, ``state`` and the
    options of that type, all JSON (templates as text).

    Raises:
        vol.Invalid: a wrong type, option or template; the path names the field.
    """
    if not isinstance(value, Mapping):
        raise vol.Invalid("expected a mapping of options")
    kind = value.get(CONF_TEMPLATE_TYPE)
    if kind == CONF_SENSOR:
        return dict(_STORED_SENSOR_SCHEMA(dict(value)))
    if kind == CONF_BINARY_SENSOR:
        return dict(_STORED_BINARY_SENSOR_SCHEMA(dict(value)))
    raise vol.Invalid(
        f"template_type must be 'sensor' or 'binary_sensor', got {kind!r}", [CONF_TEMPLATE_TYPE]
    )


def stored_config(options: Mapping[str, Any]) -> SensorConfig | BinarySensorConfig:
    """The entity configuration of a stored item (validated by ``item_schema``)."""
    validated = (
        SENSOR_SCHEMA if options[CONF_TEMPLATE_TYPE] == CONF_SENSOR else BINARY_SENSOR_SCHEMA
    )({k: v for k, v in options.items() if k != CONF_TEMPLATE_TYPE})
    if options[CONF_TEMPLATE_TYPE] == CONF_SENSOR:
        return sensor_config(validated)
    return binary_sensor_config(validated)
