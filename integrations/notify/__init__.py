"""The ``notify`` integration: the ``notify.*`` services automations send messages with.

Always set up; it takes no options. ``notify.persistent_notification`` (``message``, ``title``,
``data.notification_id``, and Edgewise's ``data.severity``), as in Home Assistant, shows the
message in the panel (see ``persistent_notification`` for ids, severities and stacking).
Integrations that can reach people (MQTT, a mail relay) add their own ``notify.<name>`` services.
"""

from __future__ import annotations

import voluptuous as vol

from core import Manifest, Runtime, callback, hookimpl
from core import validators as cv
from core.notifications import Severity
from core.services import ServiceCall

DOMAIN = "notify"

PERSISTENT_NOTIFICATION_SCHEMA = vol.Schema(
    {
        vol.Required("message"): cv.string,
        vol.Optional("title"): cv.string,
        vol.Optional("data"): vol.Schema(
            {
                vol.Optional("notification_id"): cv.string,
                vol.Optional("severity"): vol.In([level.value for level in Severity]),
            }
        ),
    }
)


@hookimpl
def edgewise_manifest() -> Manifest:
    """Always set up; no options."""
    return Manifest(
        domain=DOMAIN,
        name="Notifications",
        default=True,
        version="0.1.0",
        documentation="https://www.home-assistant.io/integrations/notify/",
    )


@hookimpl
def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Register ``notify.persistent_notification``."""

    @callback
    def persistent_notification(call: ServiceCall) -> None:
        data = call.data.get("data") or {}
        runtime.notifications.create(
            call.data["message"],
            call.data.get("title"),
            data.get("notification_id"),
            data.get("severity"),
        )

    runtime.services.register(
        DOMAIN,
        "persistent_notification",
        persistent_notification,
        PERSISTENT_NOTIFICATION_SCHEMA,
        description="Show a message in the panel's notifications.",
    )
