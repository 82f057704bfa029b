"""The entity keys of the ``mqtt:`` section, shared with discovery: Home Assistant's MQTT keys.

Example::

    mqtt:
      sensor:
        - name: Supply air temperature
          unique_id: ahu1_supply_temp
          state_topic: site/ahu1/supply_temp
          unit_of_measurement: °C
          device_class: temperature
          state_class: measurement
          expire_after: 300
          availability_topic: site/ahu1/status
      switch:
        - name: Pump 2
          state_topic: site/pump2/state
          command_topic: site/pump2/set
          payload_on: "1"
          payload_off: "0"
      climate:
        - name: Zone 3
          modes: [off, heat, cool]
          mode_command_topic: site/zone3/mode/set
          mode_state_topic: site/zone3/mode
          temperature_command_topic: site/zone3/setpoint/set
          temperature_state_topic: site/zone3/setpoint
          current_temperature_topic: site/zone3/temperature
          min_temp: 16
          max_temp: 28

Each entity's keys are validated into an :class:`EntityConfig` whose fields have the names of
the keys. Discovery payloads go through the same schemas after their abbreviations are expanded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

import voluptuous as vol

from core import DeviceInfo, EntityCategory, HVACMode, NumberMode, SensorStateClass, validators
from core.template import Template

from .const import (
    DEFAULT_ENCODING,
    DEFAULT_PAYLOAD_AVAILABLE,
    DEFAULT_PAYLOAD_NOT_AVAILABLE,
    DEFAULT_QOS,
)
from .topics import valid_publish_topic, valid_subscribe_topic

CONNECTION_DOMAIN: Final = "mqtt"

valid_qos = vol.All(vol.Coerce(int), vol.In([0, 1, 2], msg="qos must be 0, 1 or 2"))


@dataclass(frozen=True, slots=True)
class Availability:
    """One availability topic and the payloads that mean online and offline."""

    topic: str
    payload_available: str = DEFAULT_PAYLOAD_AVAILABLE
    payload_not_available: str = DEFAULT_PAYLOAD_NOT_AVAILABLE
    value_template: Template | None = None


@dataclass(frozen=True, slots=True)
class EntityConfig:
    """One MQTT entity, from YAML or from discovery; field names are Home Assistant's keys."""

    domain: str
    name: str | None = None
    unique_id: str | None = None
    object_id: str | None = None
    icon: str | None = None
    device_class: str | None = None
    entity_category: EntityCategory | None = None
    enabled_by_default: bool = True
    device: DeviceInfo | None = None
    availability: tuple[Availability, ...] = ()
    availability_mode: str = "latest"
    json_attributes_topic: str | None = None
    json_attributes_template: Template | None = None
    qos: int = DEFAULT_QOS
    retain: bool = False
    encoding: str = DEFAULT_ENCODING
    optimistic: bool | None = None
    state_topic: str | None = None
    command_topic: str | None = None
    value_template: Template | None = None
    command_template: Template | None = None
    # sensor
    unit_of_measurement: str | None = None
    state_class: SensorStateClass | None = None
    expire_after: int | None = None
    force_update: bool = False
    suggested_display_precision: int | None = None
    options: tuple[str, ...] | None = None
    # binary_sensor, switch
    payload_on: str = "ON"
    payload_off: str = "OFF"
    state_on: str | None = None
    state_off: str | None = None
    off_delay: int | None = None
    # number
    min: float = 1.0
    max: float = 100.0
    step: float = 1.0
    mode: NumberMode = NumberMode.AUTO
    payload_reset: str = "None"
    # button
    payload_press: str = "PRESS"
    # climate
    modes: tuple[HVACMode, ...] = ()
    mode_command_topic: str | None = None
    mode_command_template: Template | None = None
    mode_state_topic: str | None = None
    mode_state_template: Template | None = None
    temperature_command_topic: str | None = None
    temperature_command_template: Template | None = None
    temperature_state_topic: str | None = None
    temperature_state_template: Template | None = None
    current_temperature_topic: str | None = None
    current_temperature_template: Template | None = None
    action_topic: str | None = None
    action_template: Template | None = None
    min_temp: float = 7.0
    max_temp: float = 35.0
    temp_step: float = 0.5
    temperature_unit: str = "°C"
    #: The keys the entity was given, for diagnostics (``mqtt.dump`` and discovery logs).
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def subscribed_topics(self) -> list[str]:
        """Every topic the entity listens to."""
        topics = [
            self.state_topic,
            self.json_attributes_topic,
            self.mode_state_topic,
            self.temperature_state_topic,
            self.current_temperature_topic,
            self.action_topic,
        ]
        topics += [a.topic for a in self.availability]
        return [t for t in topics if t is not None]


_FIELD_NAMES: Final = frozenset(f.name for f in fields(EntityConfig))


def _connections(value: object) -> frozenset[tuple[str, str]]:
    pairs = set()
    for item in validators.ensure_list(value):
        if not (isinstance(item, list | tuple) and len(item) == 2):
            raise vol.Invalid(f"a connection is a [type, value] pair, got {item!r}")
        pairs.add((str(item[0]), str(item[1])))
    return frozenset(pairs)


def _identifiers(value: object) -> frozenset[tuple[str, str]]:
    return frozenset(
        (CONNECTION_DOMAIN, validators.string(item)) for item in validators.ensure_list(value)
    )


DEVICE_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("identifiers"): _identifiers,
        vol.Optional("connections"): _connections,
        vol.Optional("name"): vol.Any(None, validators.string),
        vol.Optional("manufacturer"): validators.string,
        vol.Optional("model"): validators.string,
        vol.Optional("model_id"): validators.string,
        vol.Optional("sw_version"): validators.string,
        vol.Optional("hw_version"): validators.string,
        vol.Optional("serial_number"): validators.string,
        vol.Optional("suggested_area"): validators.string,
        vol.Optional("configuration_url"): validators.string,
        vol.Optional("via_device"): validators.string,
    }
)


def _device(value: object) -> DeviceInfo:
    data = DEVICE_SCHEMA(value)
    if not data.get("identifiers") and not data.get("connections"):
        raise vol.Invalid("a device needs identifiers or connections")
    via = data.get("via_device")
    return DeviceInfo(
        identifiers=data.get("identifiers", frozenset()),
        connections=data.get("connections", frozenset()),
        name=data.get("name"),
        manufacturer=data.get("manufacturer"),
        model=data.get("model"),
        sw_version=data.get("sw_version"),
        hw_version=data.get("hw_version"),
        serial_number=data.get("serial_number"),
        suggested_area=data.get("suggested_area"),
        configuration_url=data.get("configuration_url"),
        via_device=(CONNECTION_DOMAIN, via) if via else None,
    )


def payload(value: object) -> str:
    """A payload option: text; numbers and booleans as Home Assistant writes them (``True``).

    Zigbee2MQTT announces ``payload_on: true`` and renders ``{{ value_json.occupancy }}``,
    which gives ``True``: both sides must agree on the text.
    """
    if isinstance(value, bool):
        return str(value)
    return validators.string(value)


def _template(value: object) -> Template:
    """A template option (``value_template``...): a ``Template`` without a runtime yet."""
    return validators.template(value)


AVAILABILITY_SCHEMA: Final = vol.Schema(
    {
        vol.Required("topic"): valid_subscribe_topic,
        vol.Optional("payload_available", default=DEFAULT_PAYLOAD_AVAILABLE): payload,
        vol.Optional("payload_not_available", default=DEFAULT_PAYLOAD_NOT_AVAILABLE): payload,
        vol.Optional("value_template"): _template,
    }
)

_BASE: Final[dict[Any, Any]] = {
    vol.Optional("name"): vol.Any(None, validators.string),
    vol.Optional("unique_id"): validators.string,
    vol.Optional("object_id"): validators.slug,
    vol.Optional("default_entity_id"): validators.entity_id,
    vol.Optional("icon"): validators.string,
    vol.Optional("entity_category"): vol.Coerce(EntityCategory),
    vol.Optional("enabled_by_default", default=True): validators.boolean,
    vol.Optional("device"): _device,
    vol.Optional("availability_topic"): valid_subscribe_topic,
    vol.Optional("payload_available", default=DEFAULT_PAYLOAD_AVAILABLE): payload,
    vol.Optional("payload_not_available", default=DEFAULT_PAYLOAD_NOT_AVAILABLE): payload,
    vol.Optional("availability_template"): _template,
    vol.Optional("availability"): vol.All(validators.ensure_list, [AVAILABILITY_SCHEMA]),
    vol.Optional("availability_mode", default="latest"): vol.In(["all", "any", "latest"]),
    vol.Optional("json_attributes_topic"): valid_subscribe_topic,
    vol.Optional("json_attributes_template"): _template,
    vol.Optional("qos", default=DEFAULT_QOS): valid_qos,
    vol.Optional("encoding", default=DEFAULT_ENCODING): vol.Any("", validators.string),
}

# Voluptuous markers compare by key, so a dict keeps the first marker of a key: each schema
# below says itself whether state_topic and command_topic are Required or Optional.
_STATE: Final[dict[Any, Any]] = {
    vol.Optional("value_template"): _template,
}

_COMMAND: Final[dict[Any, Any]] = {
    vol.Optional("command_template"): _template,
    vol.Optional("retain", default=False): validators.boolean,
    vol.Optional("optimistic"): validators.boolean,
}

_EXPIRE: Final[dict[Any, Any]] = {
    vol.Optional("expire_after"): vol.All(vol.Coerce(int), vol.Range(min=0)),
    vol.Optional("force_update", default=False): validators.boolean,
}

SENSOR_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        **_STATE,
        **_EXPIRE,
        vol.Required("state_topic"): valid_subscribe_topic,
        vol.Optional("device_class"): validators.string,
        vol.Optional("unit_of_measurement"): vol.Any(None, validators.string),
        vol.Optional("state_class"): vol.Coerce(SensorStateClass),
        vol.Optional("suggested_display_precision"): vol.All(vol.Coerce(int), vol.Range(min=0)),
        vol.Optional("options"): vol.All(validators.ensure_list, [validators.string]),
    }
)

BINARY_SENSOR_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        **_STATE,
        **_EXPIRE,
        vol.Required("state_topic"): valid_subscribe_topic,
        vol.Optional("device_class"): validators.string,
        vol.Optional("payload_on", default="ON"): payload,
        vol.Optional("payload_off", default="OFF"): payload,
        vol.Optional("off_delay"): vol.All(vol.Coerce(int), vol.Range(min=0)),
    }
)

SWITCH_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        **_STATE,
        **_COMMAND,
        vol.Optional("state_topic"): valid_subscribe_topic,
        vol.Optional("command_topic"): valid_publish_topic,
        vol.Optional("device_class"): vol.In(["outlet", "switch"]),
        vol.Optional("payload_on", default="ON"): payload,
        vol.Optional("payload_off", default="OFF"): payload,
        vol.Optional("state_on"): payload,
        vol.Optional("state_off"): payload,
    }
)

NUMBER_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        **_STATE,
        **_COMMAND,
        vol.Optional("state_topic"): valid_subscribe_topic,
        vol.Required("command_topic"): valid_publish_topic,
        vol.Optional("device_class"): validators.string,
        vol.Optional("unit_of_measurement"): vol.Any(None, validators.string),
        vol.Optional("min", default=1.0): vol.Coerce(float),
        vol.Optional("max", default=100.0): vol.Coerce(float),
        vol.Optional("step", default=1.0): vol.All(vol.Coerce(float), vol.Range(min=1e-9)),
        vol.Optional("mode", default=NumberMode.AUTO): vol.Coerce(NumberMode),
        vol.Optional("payload_reset", default="None"): payload,
    }
)

SELECT_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        **_STATE,
        **_COMMAND,
        vol.Optional("state_topic"): valid_subscribe_topic,
        vol.Required("command_topic"): valid_publish_topic,
        vol.Required("options"): vol.All(
            validators.ensure_list, [validators.string], vol.Length(min=1)
        ),
    }
)

BUTTON_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        **_COMMAND,
        vol.Required("command_topic"): valid_publish_topic,
        vol.Optional("device_class"): vol.In(["identify", "restart", "update"]),
        vol.Optional("payload_press", default="PRESS"): payload,
    }
)

_DEFAULT_MODES: Final = ["auto", "off", "cool", "heat", "dry", "fan_only"]

CLIMATE_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        vol.Optional("retain", default=False): validators.boolean,
        vol.Optional("optimistic"): validators.boolean,
        vol.Optional("modes", default=_DEFAULT_MODES): vol.All(
            validators.ensure_list, [vol.Coerce(HVACMode)]
        ),
        vol.Optional("mode_command_topic"): valid_publish_topic,
        vol.Optional("mode_command_template"): _template,
        vol.Optional("mode_state_topic"): valid_subscribe_topic,
        vol.Optional("mode_state_template"): _template,
        vol.Optional("temperature_command_topic"): valid_publish_topic,
        vol.Optional("temperature_command_template"): _template,
        vol.Optional("temperature_state_topic"): valid_subscribe_topic,
        vol.Optional("temperature_state_template"): _template,
        vol.Optional("current_temperature_topic"): valid_subscribe_topic,
        vol.Optional("current_temperature_template"): _template,
        vol.Optional("action_topic"): valid_subscribe_topic,
        vol.Optional("action_template"): _template,
        vol.Optional("min_temp", default=7.0): vol.Coerce(float),
        vol.Optional("max_temp", default=35.0): vol.Coerce(float),
        vol.Optional("temp_step", default=0.5): vol.All(vol.Coerce(float), vol.Range(min=1e-9)),
        vol.Optional("precision"): vol.Coerce(float),
        vol.Optional("temperature_unit", default="C"): vol.In(["C", "F"]),
        vol.Optional("value_template"): _template,
    }
)


def _finish(domain: str, schema: vol.Schema) -> Callable[[object], EntityConfig]:
    """Validate with ``schema``, check what one key cannot, and build the EntityConfig."""

    def validate(value: object) -> EntityConfig:
        data: dict[str, Any] = dict(schema(value))
        source = dict(value) if isinstance(value, Mapping) else {}
        availability = [
            Availability(
                a["topic"],
                a["payload_available"],
                a["payload_not_available"],
                a.get("value_template"),
            )
            for a in data.pop("availability", [])
        ]
        topic = data.pop("availability_topic", None)
        available = data.pop("payload_available")
        not_available = data.pop("payload_not_available")
        template = data.pop("availability_template", None)
        if topic is not None:
            availability.insert(0, Availability(topic, available, not_available, template))
        if (default_entity_id := data.pop("default_entity_id", None)) is not None:
            data.setdefault("object_id", default_entity_id.partition(".")[2])
        data.pop("precision", None)
        if domain == "number" and data["min"] >= data["max"]:
            raise vol.Invalid(f"min ({data['min']:g}) must be less than max ({data['max']:g})")
        if domain == "climate":
            if data["min_temp"] >= data["max_temp"]:
                raise vol.Invalid("min_temp must be less than max_temp")
            data["temperature_unit"] = "°F" if data["temperature_unit"] == "F" else "°C"
            data["modes"] = tuple(data["modes"])
        if "options" in data:
            data["options"] = tuple(data["options"])
        if domain == "select" and data.get("state_topic") is None:
            data.setdefault("optimistic", True)
        unknown = set(data) - _FIELD_NAMES
        if unknown:  # a schema key without a field is a bug here, not a user error
            raise vol.Invalid(f"unsupported option(s): {', '.join(sorted(unknown))}")
        return EntityConfig(domain=domain, availability=tuple(availability), source=source, **data)

    return validate


#: The schema of each entity domain, by domain; each returns an EntityConfig.
PLATFORM_SCHEMAS: Final[dict[str, Callable[[object], EntityConfig]]] = {
    "sensor": _finish("sensor", SENSOR_SCHEMA),
    "binary_sensor": _finish("binary_sensor", BINARY_SENSOR_SCHEMA),
    "switch": _finish("switch", SWITCH_SCHEMA),
    "number": _finish("number", NUMBER_SCHEMA),
    "select": _finish("select", SELECT_SCHEMA),
    "button": _finish("button", BUTTON_SCHEMA),
    "climate": _finish("climate", CLIMATE_SCHEMA),
}
