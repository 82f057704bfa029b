"""The abbreviated keys of Home Assistant's MQTT discovery, and what they stand for.

Devices keep their discovery payloads short (``stat_t`` for ``state_topic``). These tables cover
the keys of the components Edgewise supports, the device and origin blocks, availability items,
and the device-based form (``cmps``, ``p``), following Home Assistant's MQTT documentation.
"""

from __future__ import annotations

from typing import Final

ABBREVIATIONS: Final[dict[str, str]] = {
    "act_t": "action_topic",
    "act_tpl": "action_template",
    "avty": "availability",
    "avty_mode": "availability_mode",
    "avty_t": "availability_topic",
    "avty_tpl": "availability_template",
    "cmd_t": "command_topic",
    "cmd_tpl": "command_template",
    "cmps": "components",
    "curr_temp_t": "current_temperature_topic",
    "curr_temp_tpl": "current_temperature_template",
    "def_ent_id": "default_entity_id",
    "dev": "device",
    "dev_cla": "device_class",
    "e": "encoding",
    "en": "enabled_by_default",
    "ent_cat": "entity_category",
    "ent_pic": "entity_picture",
    "exp_aft": "expire_after",
    "frc_upd": "force_update",
    "ic": "icon",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "max": "max",
    "max_temp": "max_temp",
    "min": "min",
    "min_temp": "min_temp",
    "mode_cmd_t": "mode_command_topic",
    "mode_cmd_tpl": "mode_command_template",
    "mode_stat_t": "mode_state_topic",
    "mode_stat_tpl": "mode_state_template",
    "modes": "modes",
    "name": "name",
    "o": "origin",
    "obj_id": "object_id",
    "off_dly": "off_delay",
    "ops": "options",
    "opt": "optimistic",
    "p": "platform",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "pl_prs": "payload_press",
    "pl_rst": "payload_reset",
    "pr_mode_cmd_t": "preset_mode_command_topic",
    "pr_modes": "preset_modes",
    "precision": "precision",
    "qos": "qos",
    "ret": "retain",
    "stat_cla": "state_class",
    "stat_off": "state_off",
    "stat_on": "state_on",
    "stat_t": "state_topic",
    "stat_tpl": "state_template",
    "stat_val_tpl": "state_value_template",
    "step": "step",
    "sug_dsp_prc": "suggested_display_precision",
    "t": "topic",
    "temp_cmd_t": "temperature_command_topic",
    "temp_cmd_tpl": "temperature_command_template",
    "temp_stat_t": "temperature_state_topic",
    "temp_stat_tpl": "temperature_state_template",
    "temp_unit": "temperature_unit",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}

DEVICE_ABBREVIATIONS: Final[dict[str, str]] = {
    "cns": "connections",
    "cu": "configuration_url",
    "hw": "hw_version",
    "ids": "identifiers",
    "mdl": "model",
    "mdl_id": "model_id",
    "mf": "manufacturer",
    "name": "name",
    "sa": "suggested_area",
    "sn": "serial_number",
    "sw": "sw_version",
    "via_device": "via_device",
}

ORIGIN_ABBREVIATIONS: Final[dict[str, str]] = {
    "name": "name",
    "sw": "sw_version",
    "url": "support_url",
}

#: Keys Home Assistant knows for other components or features that Edgewise ignores quietly
#: (anything else unknown is logged as a warning).
KNOWN_IGNORED: Final = frozenset(
    {
        "entity_picture",
        "json_attributes",
        "platform",
        "origin",
        "schema",
        "state_template",
        "state_value_template",
        "preset_mode_command_topic",
        "preset_modes",
        "last_reset_value_template",
        "supported_features",
        "fan_modes",
        "fan_mode_command_topic",
        "fan_mode_state_topic",
        "fan_mode_state_template",
        "swing_modes",
        "swing_mode_command_topic",
        "swing_mode_state_topic",
        "swing_mode_state_template",
        "temperature_high_command_topic",
        "temperature_low_command_topic",
        "temperature_high_state_topic",
        "temperature_low_state_topic",
        "power_command_topic",
        "command_off_template",
        "command_on_template",
        "on_command_type",
        "brightness_command_topic",
        "brightness_state_topic",
        "brightness_scale",
        "color_mode",
        "supported_color_modes",
    }
)


def expand(mapping: dict[str, object], table: dict[str, str]) -> dict[str, object]:
    """``mapping`` with abbreviated keys replaced by their full names (full names kept)."""
    return {table.get(key, key): value for key, value in mapping.items()}
