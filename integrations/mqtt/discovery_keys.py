"""The keys Home Assistant's MQTT discovery knows, per component, and those it requires.

A discovery payload (abbreviations expanded, ``~`` substituted) may only use keys Home Assistant
knows for its component: anything else is a typo or a payload meant for another component, and
the payload is refused (``discovery.py`` logs the topic, the key and the component). Keys Home
Assistant knows but Edgewise does not implement (``entity_picture``, ``fan_modes``...) are
accepted and ignored. The sets follow Home Assistant's platform schemas for MQTT discovery
(``MQTT_ENTITY_COMMON_SCHEMA``, ``MQTT_RO_SCHEMA``/``MQTT_RW_SCHEMA`` and each platform's own
keys), for the components Edgewise supports.
"""

from __future__ import annotations

from typing import Final

#: Every entity's keys: availability, device, origin, identity, registry and JSON attributes.
#: ``platform`` and ``migrate_discovery`` belong to the discovery message itself; ``object_id``
#: was replaced by ``default_entity_id`` in Home Assistant but is still sent (Zigbee2MQTT).
_COMMON: Final = frozenset(
    {
        "availability",
        "availability_mode",
        "availability_template",
        "availability_topic",
        "default_entity_id",
        "device",
        "enabled_by_default",
        "encoding",
        "entity_category",
        "entity_picture",
        "group",
        "icon",
        "json_attributes_template",
        "json_attributes_topic",
        "migrate_discovery",
        "name",
        "object_id",
        "origin",
        "payload_available",
        "payload_not_available",
        "platform",
        "qos",
        "unique_id",
    }
)

#: Read-only entities: a state topic and its template.
_READ: Final = frozenset({"state_topic", "value_template"})

#: Entities that take commands (the state topic is optional for them).
_READ_WRITE: Final = frozenset({"command_topic", "optimistic", "retain", "state_topic"})

#: The keys of each component, beyond ``_COMMON``.
_COMPONENT_KEYS: Final[dict[str, frozenset[str]]] = {
    "sensor": _READ
    | {
        "device_class",
        "expire_after",
        "force_update",
        "last_reset_value_template",
        "options",
        "state_class",
        "suggested_display_precision",
        "unit_of_measurement",
    },
    "binary_sensor": _READ
    | {
        "device_class",
        "expire_after",
        "force_update",
        "off_delay",
        "payload_off",
        "payload_on",
    },
    "switch": _READ_WRITE
    | {
        "command_template",
        "device_class",
        "payload_off",
        "payload_on",
        "state_off",
        "state_on",
        "value_template",
    },
    "number": _READ_WRITE
    | {
        "command_template",
        "device_class",
        "max",
        "min",
        "mode",
        "payload_reset",
        "step",
        "unit_of_measurement",
        "value_template",
    },
    "select": _READ_WRITE | {"command_template", "options", "value_template"},
    "button": frozenset(
        {"command_template", "command_topic", "device_class", "payload_press", "retain"}
    ),
    "climate": frozenset(
        {
            "action_template",
            "action_topic",
            "current_humidity_template",
            "current_humidity_topic",
            "current_temperature_template",
            "current_temperature_topic",
            "fan_mode_command_template",
            "fan_mode_command_topic",
            "fan_mode_state_template",
            "fan_mode_state_topic",
            "fan_modes",
            "initial",
            "max_humidity",
            "max_temp",
            "min_humidity",
            "min_temp",
            "mode_command_template",
            "mode_command_topic",
            "mode_state_template",
            "mode_state_topic",
            "modes",
            "optimistic",
            "payload_off",
            "payload_on",
            "power_command_template",
            "power_command_topic",
            "precision",
            "preset_mode_command_template",
            "preset_mode_command_topic",
            "preset_mode_state_topic",
            "preset_mode_value_template",
            "preset_modes",
            "retain",
            "swing_horizontal_mode_command_template",
            "swing_horizontal_mode_command_topic",
            "swing_horizontal_mode_state_template",
            "swing_horizontal_mode_state_topic",
            "swing_horizontal_modes",
            "swing_mode_command_template",
            "swing_mode_command_topic",
            "swing_mode_state_template",
            "swing_mode_state_topic",
            "swing_modes",
            "target_humidity_command_template",
            "target_humidity_command_topic",
            "target_humidity_state_template",
            "target_humidity_state_topic",
            "temp_step",
            "temperature_command_template",
            "temperature_command_topic",
            "temperature_high_command_template",
            "temperature_high_command_topic",
            "temperature_high_state_template",
            "temperature_high_state_topic",
            "temperature_low_command_template",
            "temperature_low_command_topic",
            "temperature_low_state_template",
            "temperature_low_state_topic",
            "temperature_state_template",
            "temperature_state_topic",
            "temperature_unit",
            "value_template",
        }
    ),
}

#: The keys Home Assistant knows for each component.
KNOWN_KEYS: Final[dict[str, frozenset[str]]] = {
    component: _COMMON | keys for component, keys in _COMPONENT_KEYS.items()
}

#: The keys each component cannot do without.
REQUIRED_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "sensor": ("state_topic",),
    "binary_sensor": ("state_topic",),
    "switch": ("command_topic",),
    "number": ("command_topic",),
    "select": ("command_topic", "options"),
    "button": ("command_topic",),
    "climate": (),
}
