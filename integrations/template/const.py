"""Constants of the ``template`` integration, with the keys Home Assistant's YAML uses."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "template"
NAME: Final = "Template"

CONF_SENSOR: Final = "sensor"
CONF_BINARY_SENSOR: Final = "binary_sensor"
CONF_TRIGGER: Final = "trigger"
CONF_TRIGGERS: Final = "triggers"
CONF_VARIABLES: Final = "variables"
CONF_CONDITION: Final = "condition"
CONF_CONDITIONS: Final = "conditions"
CONF_ACTION: Final = "action"
CONF_ACTIONS: Final = "actions"
CONF_AUTO_OFF: Final = "auto_off"
CONF_UNIQUE_ID: Final = "unique_id"
CONF_NAME: Final = "name"
CONF_STATE: Final = "state"
CONF_AVAILABILITY: Final = "availability"
CONF_ICON: Final = "icon"
CONF_PICTURE: Final = "picture"
CONF_ATTRIBUTES: Final = "attributes"
CONF_UNIT_OF_MEASUREMENT: Final = "unit_of_measurement"
CONF_DEVICE_CLASS: Final = "device_class"
CONF_STATE_CLASS: Final = "state_class"
CONF_DELAY_ON: Final = "delay_on"
CONF_DELAY_OFF: Final = "delay_off"
#: The kind of a template entity created through the API: ``sensor`` or ``binary_sensor``.
CONF_TEMPLATE_TYPE: Final = "template_type"

ATTR_ENTITY_PICTURE: Final = "entity_picture"

#: The name of an entity whose configuration gives none, as in Home Assistant.
DEFAULT_SENSOR_NAME: Final = "Template Sensor"
DEFAULT_BINARY_SENSOR_NAME: Final = "Template Binary Sensor"
