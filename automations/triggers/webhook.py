"""``trigger: webhook``: a request to ``/api/webhook/<webhook_id>``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from automations.schema import TRIGGER_BASE
from core import validators as cv
from core.limits import loads_json
from core.trigger import TriggerFire, TriggerInfo
from core.webhook import register_webhook

from .common import Detach, Variables

if TYPE_CHECKING:
    from core.runtime import Runtime


WEBHOOK_TRIGGER = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("webhook_id"): cv.string,
        vol.Optional("allowed_methods", default=["POST", "PUT"]): vol.All(
            cv.ensure_list, [vol.All(cv.string, vol.Upper, vol.In(("GET", "HEAD", "POST", "PUT")))]
        ),
        vol.Optional("local_only", default=True): cv.boolean,
    }
)


def attach_webhook(
    runtime: Runtime, config: dict[str, Any], fire: TriggerFire, variables: Variables
) -> Detach:
    """``trigger: webhook``: a POST/PUT (by default) to ``/api/webhook/<webhook_id>``."""
    webhook_id: str = config["webhook_id"]

    async def handle(
        _runtime: Runtime, hook_id: str, request: web.Request
    ) -> web.StreamResponse | None:
        payload: dict[str, Any] = {
            "webhook_id": hook_id,
            "query": dict(request.query),
            "description": "webhook",
        }
        body = await request.text()
        if request.content_type == "application/json" or body[:1] in ("{", "["):
            try:
                payload["json"] = loads_json(body, "webhook body") if body else {}
            except ValueError:
                payload["data"] = body
        elif body:
            payload["data"] = dict(await request.post()) if request.body_exists else body
            if not payload["data"]:
                payload["data"] = body
        fire(payload, None)
        return None

    return register_webhook(
        runtime,
        webhook_id,
        handle,
        local_only=config["local_only"],
        allowed_methods=config["allowed_methods"],
    )


class WebhookTrigger:
    """The ``webhook`` trigger platform."""

    schema = WEBHOOK_TRIGGER

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Detach:
        """Attach one trigger (see ``TriggerPlatform.attach``)."""
        return attach_webhook(runtime, config, fire, info.variables)


PLATFORM = WebhookTrigger()
