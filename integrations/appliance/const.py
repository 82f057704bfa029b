"""Constants of the ``appliance`` integration."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DOMAIN: Final = "appliance"
NAME: Final = "Appliances"

CONF_APPLIANCES: Final = "appliances"
CONF_NAME: Final = "name"
CONF_AREA: Final = "area"
CONF_TIER: Final = "tier"
CONF_POWER: Final = "power"
CONF_SWITCH: Final = "switch"
CONF_POWER_SENSOR: Final = "power_sensor"
CONF_RUNNING_THRESHOLD: Final = "running_threshold"
CONF_PRICE: Final = "price"
CONF_CURRENCY: Final = "currency"
CONF_CARBON_INTENSITY: Final = "carbon_intensity"
CONF_CARBON_SENSOR: Final = "carbon_sensor"

SERVICE_TURN_ON: Final = "turn_on"
SERVICE_TURN_OFF: Final = "turn_off"
SERVICE_TOGGLE: Final = "toggle"
SERVICE_RUN_FOR: Final = "run_for"
SERVICE_SET_ECO_MODE: Final = "set_eco_mode"
SERVICE_CANCEL_SCHEDULE: Final = "cancel_schedule"

ATTR_DURATION: Final = "duration"
ATTR_START: Final = "start"
ATTR_ECO_MODE: Final = "eco_mode"

#: Draw above which an appliance that is on counts as running, W.
DEFAULT_RUNNING_THRESHOLD: Final = 5.0
#: How often energy, cost and runtime are brought up to date when nothing changes.
ACCOUNTING_INTERVAL_S: Final = 60.0
#: Control-log entries kept in memory (the recorder's table keeps the long history).
MEMORY_LOG_SIZE: Final = 1000
#: Most entries one query returns.
MAX_QUERY_LIMIT: Final = 1000
#: Contexts remembered as coming from an automation, a schedule, the autopilot or the assistant.
CONTEXT_SOURCES_KEPT: Final = 2048
#: How long the control log waits for the recorder's database before it stays in memory, s.
STORE_OPEN_TIMEOUT: Final = 30.0
#: The table the control log is kept in, in the recorder's database.
TABLE_CONTROL_LOG: Final = "appliance_control_log"


class Tier(StrEnum):
    """How much an appliance may be moved in time."""

    ESSENTIAL = "essential"
    SHIFTABLE = "shiftable"
    DEFERRABLE = "deferrable"


class ApplianceState(StrEnum):
    """What a person needs to know about an appliance."""

    OFF = "off"
    ON = "on"
    RUNNING = "running"
    SCHEDULED = "scheduled"


class Source(StrEnum):
    """Who or what asked for an action."""

    USER = "user"
    AUTOMATION = "automation"
    SCHEDULE = "schedule"
    AUTOPILOT = "autopilot"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class Result(StrEnum):
    """What became of an action."""

    OK = "ok"
    ERROR = "error"
