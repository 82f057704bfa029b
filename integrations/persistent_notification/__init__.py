"""The ``persistent_notification`` integration: notifications for the panel, as services.

Always set up; it takes no options. Services, with Home Assistant's names and fields, and the
alarm fields as an Edgewise extension (Home Assistant's own calls work unchanged):

- ``persistent_notification.create``: ``message`` (required), ``title``, ``notification_id``,
  and ``severity`` (``info``, ``warning``, ``critical``; given, the notification is an alarm and
  survives a restart). Raising an active id again stacks on it (its ``count`` goes up, the newest
  title and message are shown); without an id, an active notification with the same title and
  message is stacked on. Operators and admins.
- ``persistent_notification.acknowledge``: ``notification_id`` (Edgewise): the caller and the
  time are recorded; it stays active until cleared. Operators and admins.
- ``persistent_notification.dismiss``: ``notification_id``: clears it into the history, with
  who and when. Operators and admins.
- ``persistent_notification.dismiss_all``.

An automation raises and clears an alarm by id::

    - action: persistent_notification.create
      data: {notification_id: house_power_high, severity: warning,
             title: House power high, message: "{{ states('sensor.house_meter_power') }} W"}
    - action: persistent_notification.dismiss
      data: {notification_id: house_power_high}

The notifications themselves are ``runtime.notifications`` (``core.notifications``); the panel
shows them through the WebSocket command ``persistent_notification/subscribe`` and the history
through ``persistent_notification/history``; viewers read both.
"""

from __future__ import annotations

import voluptuous as vol

from core import Manifest, Runtime, callback, hookimpl
from core import validators as cv
from core.notifications import Severity
from core.service_description import Field
from core.services import ServiceCall

DOMAIN = "persistent_notification"

CREATE_SCHEMA = vol.Schema(
    {
        vol.Required("message"): cv.string,
        vol.Optional("title"): cv.string,
        vol.Optional("notification_id"): cv.string,
        vol.Optional("severity"): vol.In([level.value for level in Severity]),
    }
)
DISMISS_SCHEMA = vol.Schema({vol.Required("notification_id"): cv.string})


@hookimpl
def edgewise_manifest() -> Manifest:
    """Always set up; no options."""
    return Manifest(
        domain=DOMAIN,
        name="Persistent notification",
        default=True,
        version="0.1.0",
        services=("create", "acknowledge", "dismiss", "dismiss_all"),
        documentation="https://www.home-assistant.io/integrations/persistent_notification/",
    )


@hookimpl
def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Register the four services."""
    notifications = runtime.notifications

    @callback
    def create(call: ServiceCall) -> None:
        notifications.create(
            call.data["message"],
            call.data.get("title"),
            call.data.get("notification_id"),
            call.data.get("severity"),
        )

    @callback
    def acknowledge(call: ServiceCall) -> None:
        notifications.acknowledge(call.data["notification_id"], call.context.user_id)

    @callback
    def dismiss(call: ServiceCall) -> None:
        notifications.dismiss(call.data["notification_id"], call.context.user_id)

    @callback
    def dismiss_all(call: ServiceCall) -> None:
        notifications.dismiss_all(call.context.user_id)

    services = runtime.services
    services.register(
        DOMAIN,
        "create",
        create,
        CREATE_SCHEMA,
        description="Show a notification in the panel.",
        fields={
            "message": Field(description="What the notification says.", example="Pump 2 tripped"),
            "title": Field(description="Its title.", example="Plant room"),
            "notification_id": Field(
                description="An id: creating with the id of another replaces it.",
                example="pump_2",
            ),
            "severity": Field(
                description="info, warning or critical (Edgewise): an alarm, kept across restarts.",
                example="warning",
            ),
        },
    )
    services.register(
        DOMAIN,
        "acknowledge",
        acknowledge,
        DISMISS_SCHEMA,
        description="Acknowledge a notification: seen, it stays until cleared.",
        fields={"notification_id": Field(description="The notification's id.", example="pump_2")},
    )
    services.register(
        DOMAIN,
        "dismiss",
        dismiss,
        DISMISS_SCHEMA,
        description="Clear a notification (it moves to the history).",
        fields={"notification_id": Field(description="The notification's id.", example="pump_2")},
    )
    services.register(
        DOMAIN, "dismiss_all", dismiss_all, vol.Schema({}), description="Clear every notification."
    )
