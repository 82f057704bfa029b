"""The ``persistent_notification`` integration: notifications for the panel, as services.

Always set up; it takes no options. Services, with Home Assistant's names and fields:

- ``persistent_notification.create``: ``message`` (required), ``title``, ``notification_id``
  (creating with an existing id replaces that notification);
- ``persistent_notification.dismiss``: ``notification_id``;
- ``persistent_notification.dismiss_all``.

The notifications themselves are ``runtime.notifications`` (``core.notifications``); the panel
shows them through the WebSocket command ``persistent_notification/subscribe``.
"""

from __future__ import annotations

import voluptuous as vol

from core import Manifest, Runtime, callback, hookimpl
from core import validators as cv
from core.service_description import Field
from core.services import ServiceCall

DOMAIN = "persistent_notification"

CREATE_SCHEMA = vol.Schema(
    {
        vol.Required("message"): cv.string,
        vol.Optional("title"): cv.string,
        vol.Optional("notification_id"): cv.string,
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
        services=("create", "dismiss", "dismiss_all"),
        documentation="https://www.home-assistant.io/integrations/persistent_notification/",
    )


@hookimpl
def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Register the three services."""
    notifications = runtime.notifications

    @callback
    def create(call: ServiceCall) -> None:
        notifications.create(
            call.data["message"], call.data.get("title"), call.data.get("notification_id")
        )

    @callback
    def dismiss(call: ServiceCall) -> None:
        notifications.dismiss(call.data["notification_id"])

    @callback
    def dismiss_all(call: ServiceCall) -> None:
        notifications.dismiss_all()

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
        },
    )
    services.register(
        DOMAIN,
        "dismiss",
        dismiss,
        DISMISS_SCHEMA,
        description="Remove a notification.",
        fields={"notification_id": Field(description="The notification's id.", example="pump_2")},
    )
    services.register(
        DOMAIN, "dismiss_all", dismiss_all, vol.Schema({}), description="Remove every notification."
    )
