"""Constants of the automation engine: configuration keys, modes, defaults, event names."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DOMAIN_AUTOMATION: Final = "automation"
DOMAIN_SCRIPT: Final = "script"

CONF_ID: Final = "id"
CONF_ALIAS: Final = "alias"
CONF_DESCRIPTION: Final = "description"
CONF_MODE: Final = "mode"
CONF_MAX: Final = "max"
CONF_MAX_EXCEEDED: Final = "max_exceeded"
CONF_VARIABLES: Final = "variables"
CONF_TRIGGER_VARIABLES: Final = "trigger_variables"
CONF_TRACE: Final = "trace"
CONF_STORED_TRACES: Final = "stored_traces"
CONF_INITIAL_STATE: Final = "initial_state"
CONF_TRIGGERS: Final = "triggers"
CONF_CONDITIONS: Final = "conditions"
CONF_ACTIONS: Final = "actions"
CONF_USE_BLUEPRINT: Final = "use_blueprint"
CONF_ENABLED: Final = "enabled"
CONF_CONTINUE_ON_ERROR: Final = "continue_on_error"
CONF_FIELDS: Final = "fields"
CONF_SEQUENCE: Final = "sequence"
CONF_ICON: Final = "icon"

DEFAULT_MAX: Final = 10
DEFAULT_STORED_TRACES: Final = 5
#: The most iterations a ``repeat`` runs before it stops with an error.
REPEAT_LIMIT: Final = 10_000

EVENT_AUTOMATION_TRIGGERED: Final = "automation_triggered"
EVENT_AUTOMATION_RELOADED: Final = "automation_reloaded"
EVENT_SCRIPT_STARTED: Final = "script_started"

ATTR_LAST_TRIGGERED: Final = "last_triggered"
ATTR_CURRENT: Final = "current"
ATTR_MODE: Final = "mode"
ATTR_ID: Final = "id"
ATTR_FRIENDLY_NAME: Final = "friendly_name"

#: The file the automation editor (CRUD) reads and rewrites, in the configuration directory.
AUTOMATIONS_FILE: Final = "automations.yaml"
SCRIPTS_FILE: Final = "scripts.yaml"


class RunMode(StrEnum):
    """What happens when a running automation or script is started again."""

    SINGLE = "single"
    RESTART = "restart"
    QUEUED = "queued"
    PARALLEL = "parallel"


#: The log levels ``max_exceeded`` accepts, besides ``silent``.
LOG_LEVELS: Final = {
    "critical": 50,
    "fatal": 50,
    "error": 40,
    "warning": 30,
    "warn": 30,
    "info": 20,
    "debug": 10,
    "notset": 0,
}
