"""Constants shared by the kernel and by integrations, grouped by family."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__version__: Final = "0.1.0"
#: The version Home Assistant clients see in ``auth_required`` and ``/api/config``.
HA_COMPAT_VERSION: Final = "2024.3.3"

# Events fired by the kernel.
EVENT_STATE_CHANGED: Final = "state_changed"
EVENT_STATE_REPORTED: Final = "state_reported"
EVENT_SERVICE_REGISTERED: Final = "service_registered"
EVENT_SERVICE_REMOVED: Final = "service_removed"
EVENT_CALL_SERVICE: Final = "call_service"
EVENT_EDGEWISE_START: Final = "edgewise_start"
EVENT_EDGEWISE_STARTED: Final = "edgewise_started"
EVENT_EDGEWISE_STOP: Final = "edgewise_stop"
EVENT_EDGEWISE_FINAL_WRITE: Final = "edgewise_final_write"
EVENT_EDGEWISE_CLOSE: Final = "edgewise_close"
EVENT_CORE_CONFIG_UPDATE: Final = "core_config_updated"
EVENT_ENTITY_REGISTRY_UPDATED: Final = "entity_registry_updated"
EVENT_DEVICE_REGISTRY_UPDATED: Final = "device_registry_updated"
EVENT_TIME_CHANGED: Final = "time_changed"
MATCH_ALL: Final = "*"

# Attributes with a meaning of their own.
ATTR_ENTITY_ID: Final = "entity_id"
ATTR_DEVICE_ID: Final = "device_id"
ATTR_AREA_ID: Final = "area_id"
ATTR_FRIENDLY_NAME: Final = "friendly_name"
ATTR_UNIT_OF_MEASUREMENT: Final = "unit_of_measurement"
ATTR_DEVICE_CLASS: Final = "device_class"
ATTR_STATE_CLASS: Final = "state_class"
ATTR_ICON: Final = "icon"
ATTR_ASSUMED_STATE: Final = "assumed_state"
ATTR_SUPPORTED_FEATURES: Final = "supported_features"
#: The moment (ISO 8601) an estimate is for, when that is not now (a NILM estimate lags its
#: meter): the panel shows "for 10:32" next to the state.
ATTR_PREDICTED_FOR: Final = "predicted_for"

# The special values a state may take.
STATE_ON: Final = "on"
STATE_OFF: Final = "off"
STATE_UNKNOWN: Final = "unknown"
STATE_UNAVAILABLE: Final = "unavailable"

#: The value of ``entity_id`` that targets every entity of the service's domain.
ENTITY_MATCH_ALL: Final = "all"
ENTITY_MATCH_NONE: Final = "none"

MAX_STATE_LENGTH: Final = 255

# Service names used by several domains.
SERVICE_TURN_ON: Final = "turn_on"
SERVICE_TURN_OFF: Final = "turn_off"
SERVICE_TOGGLE: Final = "toggle"
SERVICE_RELOAD: Final = "reload"

# Configuration keys of the core section.
CONF_CORE: Final = "edgewise"
CONF_CORE_ALIAS: Final = "homeassistant"
CONF_PLATFORM: Final = "platform"

# Defaults.
DEFAULT_HTTP_PORT: Final = 8123
DEFAULT_CONFIG_DIR_NAME: Final = "edgewise"


class CoreState(StrEnum):
    """The lifecycle stage the runtime is in."""

    NOT_RUNNING = "NOT_RUNNING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    FINAL_WRITE = "FINAL_WRITE"
    STOPPED = "STOPPED"


#: The domain of the kernel's own services (``homeassistant.turn_on``, ``homeassistant.restart``).
DOMAIN_HOMEASSISTANT: Final = "homeassistant"
#: The exit code of ``homeassistant.restart``: a supervisor (systemd ``Restart=on-failure``)
#: starts the process again, as Home Assistant's own exit code 100 asks.
RESTART_EXIT_CODE: Final = 100

#: The events the kernel fires, listed by ``GET /api/events`` even when nobody listens.
KERNEL_EVENTS: Final = (
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    EVENT_SERVICE_REGISTERED,
    EVENT_SERVICE_REMOVED,
    EVENT_CALL_SERVICE,
    EVENT_EDGEWISE_START,
    EVENT_EDGEWISE_STARTED,
    EVENT_EDGEWISE_STOP,
    EVENT_EDGEWISE_FINAL_WRITE,
    EVENT_EDGEWISE_CLOSE,
    EVENT_CORE_CONFIG_UPDATE,
    EVENT_ENTITY_REGISTRY_UPDATED,
    EVENT_DEVICE_REGISTRY_UPDATED,
    EVENT_TIME_CHANGED,
)
