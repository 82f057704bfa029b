"""Constants of the BACnet integration, grouped by family."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DOMAIN: Final = "bacnet"
NAME: Final = "BACnet/IP"

# Keys of the ``bacnet:`` section.
CONF_LOCAL: Final = "local"
CONF_INSTANCE: Final = "instance"
CONF_NAME: Final = "name"
CONF_ADDRESS: Final = "address"
CONF_PORT: Final = "port"
CONF_BBMD: Final = "bbmd"
CONF_TTL: Final = "ttl"
CONF_TIMEOUT: Final = "timeout"
CONF_DEVICES: Final = "devices"
CONF_POINTS: Final = "points"
CONF_OBJECT: Final = "object"
CONF_UNIT: Final = "unit"
CONF_GROUP: Final = "group"
CONF_POLL_GROUPS: Final = "poll_groups"
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_COV: Final = "cov"
CONF_COV_LIFETIME: Final = "cov_lifetime"
CONF_PRIORITY: Final = "priority"
CONF_MIN_PRIORITY: Final = "min_priority"
CONF_MIN: Final = "min"
CONF_MAX: Final = "max"
CONF_STEP: Final = "step"
CONF_WRITABLE: Final = "writable"
CONF_PLATFORM: Final = "platform"
CONF_MAX_PER_REQUEST: Final = "max_per_request"
CONF_USE_RPM: Final = "use_rpm"
CONF_WRITE_INTERVAL: Final = "min_write_interval"
CONF_DEVICE_CLASS: Final = "device_class"
CONF_STATE_CLASS: Final = "state_class"

DEFAULT_LOCAL_INSTANCE: Final = 599999
DEFAULT_LOCAL_NAME: Final = "Edgewise"
DEFAULT_PORT: Final = 47808
DEFAULT_BBMD_TTL: Final = 900
DEFAULT_TIMEOUT: Final = 5.0
DEFAULT_GROUP: Final = "default"
DEFAULT_SCAN_INTERVAL: Final = 30.0
DEFAULT_COV_LIFETIME: Final = 300
DEFAULT_PRIORITY: Final = 8
#: The most urgent priority a write may use unless the configuration allows more (1 is most).
DEFAULT_MIN_PRIORITY: Final = 8
#: Properties per ReadPropertyMultiple request when the device's segmentation allows it.
DEFAULT_MAX_PER_REQUEST: Final = 100
DEFAULT_WRITE_INTERVAL: Final = 1.0
DEFAULT_DISCOVERY_TIMEOUT: Final = 3.0
#: How many write commands the persisted queue keeps.
WRITE_COMMANDS_KEPT: Final = 1000
#: How early (fraction of the lifetime) a COV subscription is renewed.
COV_RENEW_FRACTION: Final = 0.75

# Services.
SERVICE_DISCOVER: Final = "discover"
SERVICE_BROWSE_DEVICE: Final = "browse_device"
SERVICE_READ_PRIORITY_ARRAY: Final = "read_priority_array"
SERVICE_WRITE: Final = "write"
SERVICE_RELINQUISH: Final = "relinquish"
SERVICE_OVERRIDE: Final = "override"
SERVICE_CANCEL_OVERRIDE: Final = "cancel_override"
SERVICE_WRITE_COMMANDS: Final = "write_commands"
SERVICE_ADD_POINT: Final = "add_point"
SERVICE_REMOVE_POINT: Final = "remove_point"
SERVICE_POLL: Final = "poll"

# Attributes of point entities.
ATTR_OBJECT: Final = "object"
ATTR_DEVICE_INSTANCE: Final = "device_instance"
ATTR_STATUS_FLAGS: Final = "status_flags"
ATTR_PRIORITY_ARRAY: Final = "priority_array"
ATTR_ACTIVE_PRIORITY: Final = "active_priority"
ATTR_OVERRIDE_UNTIL: Final = "override_until"
ATTR_OBJECT_NAME: Final = "object_name"
ATTR_DESCRIPTION: Final = "description"
ATTR_SOURCE: Final = "source"

# Stores under .storage.
STORE_POINTS: Final = "bacnet.points"
STORE_WRITE_COMMANDS: Final = "bacnet.write_commands"
STORE_OVERRIDES: Final = "bacnet.overrides"


class CovMode(StrEnum):
    """Whether a point is read by change-of-value subscription, and how it is notified."""

    NONE = "none"
    CONFIRMED = "confirmed"
    UNCONFIRMED = "unconfirmed"


class Platform(StrEnum):
    """The entity domain a point becomes."""

    SENSOR = "sensor"
    BINARY_SENSOR = "binary_sensor"
    NUMBER = "number"
    SWITCH = "switch"
    SELECT = "select"


class CommandStatus(StrEnum):
    """Where a write command is in its life."""

    PENDING = "pending"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"


class Requester(StrEnum):
    """Who asked for a write, as the write-command queue records it."""

    USER = "user"
    AUTOMATION = "automation"
    API = "api"
    MQTT = "mqtt"
    OVERRIDE = "override"
    SYSTEM = "system"


#: Object types whose present value is analog, binary or multi-state.
ANALOG_TYPES: Final = frozenset({"analog-input", "analog-output", "analog-value"})
BINARY_TYPES: Final = frozenset({"binary-input", "binary-output", "binary-value"})
MULTISTATE_TYPES: Final = frozenset(
    {"multi-state-input", "multi-state-output", "multi-state-value"}
)
INPUT_TYPES: Final = frozenset({"analog-input", "binary-input", "multi-state-input"})
#: Object types the integration can make entities of.
POINT_TYPES: Final = ANALOG_TYPES | BINARY_TYPES | MULTISTATE_TYPES
#: Short names installers type, as other BACnet tools accept them.
OBJECT_TYPE_ALIASES: Final = {
    "ai": "analog-input",
    "ao": "analog-output",
    "av": "analog-value",
    "bi": "binary-input",
    "bo": "binary-output",
    "bv": "binary-value",
    "msi": "multi-state-input",
    "mso": "multi-state-output",
    "msv": "multi-state-value",
}

#: BACnet engineering units to the symbols Home Assistant users know; others keep BACnet's name.
UNIT_SYMBOLS: Final = {
    "degrees-celsius": "°C",
    "degrees-fahrenheit": "°F",
    "degrees-kelvin": "K",
    "percent": "%",
    "percent-relative-humidity": "%",
    "watts": "W",
    "kilowatts": "kW",
    "megawatts": "MW",
    "kilowatt-hours": "kWh",
    "watt-hours": "Wh",
    "volts": "V",
    "amperes": "A",
    "hertz": "Hz",
    "pascals": "Pa",
    "kilopascals": "kPa",
    "bars": "bar",
    "liters-per-second": "L/s",
    "cubic-meters-per-hour": "m³/h",
    "parts-per-million": "ppm",
    "revolutions-per-minute": "rpm",
    "seconds": "s",
    "minutes": "min",
    "hours": "h",
    "tons-refrigeration": "TR",
    "no-units": "",
}
