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

The section is a list of blocks (a single block is accepted too); each block has ``sensor``
and/or ``binary_sensor`` lists. Every template is checked when the configuration is loaded; an
error names the file, line and key. Trigger-based blocks (``trigger:``) need the automation
engine's trigger platforms, which this version does not have yet: they are refused with a clear
error rather than silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import voluptuous as vol

from core import SensorDeviceClass, SensorStateClass, validators
from core.entities.binary_sensor import BinarySensorDeviceClass
from core.template import Template, is_template_string

from .const import (
    CONF_ATTRIBUTES,
    CONF_AVAILABILITY,
    CONF_BINARY_SENSOR,
    CONF_DELAY_OFF,
    CONF_DELAY_ON,
    CONF_DEVICE_CLASS,
    CONF_ICON,
    CONF_NAME,
    CONF_PICTURE,
    CONF_SENSOR,
    CONF_STATE,
    CONF_STATE_CLASS,
    CONF_TRIGGER,
    CONF_TRIGGERS,
    CONF_UNIQUE_ID,
    CONF_UNIT_OF_MEASUREMENT,
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


def _no_triggers(value: object) -> object:
    raise vol.Invalid(
        "trigger-based template entities are not supported yet: this version has no "
        "automation triggers; remove 'trigger:' to make the entities follow the states "
        "their templates read"
    )


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
    }
)
"""One item of a block's ``binary_sensor:`` list."""

BLOCK_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_UNIQUE_ID): validators.string,
        vol.Optional(CONF_SENSOR, default=[]): vol.All(validators.ensure_list, [SENSOR_SCHEMA]),
        vol.Optional(CONF_BINARY_SENSOR, default=[]): vol.All(
            validators.ensure_list, [BINARY_SENSOR_SCHEMA]
        ),
        vol.Optional(CONF_TRIGGER): _no_triggers,
        vol.Optional(CONF_TRIGGERS): _no_triggers,
    }
)
"""One block of the ``template:`` list."""


def _unique_id(block: dict[str, object], item: dict[str, object]) -> str | None:
    own = item.get(CONF_UNIQUE_ID)
    if own is None:
        return None
    prefix = block.get(CONF_UNIQUE_ID)
    return f"{prefix}_{own}" if prefix else str(own)


def _common(
    block: dict[str, object], item: dict[str, object], default_name: str
) -> dict[str, object]:
    name = item.get(CONF_NAME)
    return {
        "name": name if isinstance(name, Template) else Template(default_name),
        "state": item[CONF_STATE],
        "unique_id": _unique_id(block, item),
        "availability": item.get(CONF_AVAILABILITY),
        "icon": item.get(CONF_ICON),
        "picture": item.get(CONF_PICTURE),
        "attributes": dict(item[CONF_ATTRIBUTES]),  # type: ignore[call-overload]  # schema
    }


def _to_config(blocks: list[dict[str, object]]) -> TemplateConfig:
    sensors: list[SensorConfig] = []
    binary_sensors: list[BinarySensorConfig] = []
    for block in blocks:
        for item in block[CONF_SENSOR]:  # type: ignore[attr-defined]  # a list by the schema
            sensors.append(
                SensorConfig(
                    **_common(block, item, DEFAULT_SENSOR_NAME),  # type: ignore[arg-type]
                    unit_of_measurement=item.get(CONF_UNIT_OF_MEASUREMENT),
                    device_class=item.get(CONF_DEVICE_CLASS),
                    state_class=item.get(CONF_STATE_CLASS),
                )
            )
        for item in block[CONF_BINARY_SENSOR]:  # type: ignore[attr-defined]  # a list
            binary_sensors.append(
                BinarySensorConfig(
                    **_common(block, item, DEFAULT_BINARY_SENSOR_NAME),  # type: ignore[arg-type]
                    device_class=item.get(CONF_DEVICE_CLASS),
                    delay_on=item.get(CONF_DELAY_ON),
                    delay_off=item.get(CONF_DELAY_OFF),
                )
            )
    seen: set[tuple[str, str]] = set()
    for domain, configs in ((CONF_SENSOR, sensors), (CONF_BINARY_SENSOR, binary_sensors)):
        for config in configs:
            if config.unique_id is None:
                continue
            if (domain, config.unique_id) in seen:
                raise vol.Invalid(
                    f"unique_id '{config.unique_id}' is used by more than one template {domain}"
                )
            seen.add((domain, config.unique_id))
    return TemplateConfig(sensors=tuple(sensors), binary_sensors=tuple(binary_sensors))


CONFIG_SCHEMA = vol.All(validators.ensure_list, [BLOCK_SCHEMA], _to_config)
"""Validates the value under ``template:`` into a :class:`TemplateConfig`."""
