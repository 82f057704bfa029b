"""Automations and scripts over the APIs, through ``automations.api``.

REST: ``GET|POST|DELETE /api/config/automation/config/<id>`` (``automations.yaml``, then a
reload), the same for scripts at ``/api/config/script/config/<object_id>`` (``scripts.yaml``),
and the unauthenticated ``/api/webhook/<id>`` (``core.webhook``). WebSocket: ``execute_script``,
``subscribe_trigger``, ``validate_config``, ``trace/list``, ``trace/get``. Running actions or
attaching triggers needs an admin (they can do anything a service can); reading traces and
validating config needs any user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.auth import Permission
from core.context import Context
from core.errors import EdgewiseError

from .view import RUNTIME, json_message, json_response, read_json_object, requires
from .ws_commands import context_for, field, register_command
from .ws_messages import (
    ERR_HOME_ASSISTANT_ERROR,
    ERR_INVALID_FORMAT,
    error_message,
    event_message,
    result_message,
)

if TYPE_CHECKING:
    from .websocket import Connection

_NOT_FOUND = "Resource not found"


@requires(Permission.PUBLIC)
async def webhook(request: web.Request) -> web.StreamResponse:
    """``/api/webhook/{webhook_id}``: no token; the webhook's own rules apply."""
    from core.webhook import handle_webhook  # noqa: PLC0415 - core.webhook imports the runtime

    return await handle_webhook(request.app[RUNTIME], request.match_info["webhook_id"], request)


def _domain(request: web.Request) -> str:
    return request.match_info["domain"]


@requires(Permission.READ)
async def get_item_config(request: web.Request) -> web.StreamResponse:
    """``GET /api/config/{automation|script}/config/{id}``."""
    from automations import api as automations_api  # noqa: PLC0415 - it imports the runtime

    config = await automations_api.get_config(
        request.app[RUNTIME], _domain(request), request.match_info["item_id"]
    )
    if config is None:
        return json_message(_NOT_FOUND, 404)
    return json_response(config)


@requires(Permission.ADMIN)
async def save_item_config(request: web.Request) -> web.StreamResponse:
    """``POST /api/config/{automation|script}/config/{id}``: write the entry and reload."""
    from automations import api as automations_api  # noqa: PLC0415 - it imports the runtime

    data = await read_json_object(
        request,
        invalid="Invalid JSON specified.",
        not_object="Message malformed: expected a dictionary",
    )
    if isinstance(data, web.Response):
        return data
    domain = _domain(request)
    try:
        await automations_api.save_config(
            request.app[RUNTIME], domain, request.match_info["item_id"], data
        )
    except KeyError:
        return json_message(f"The {domain} integration is not set up", 404)
    except EdgewiseError as err:
        return json_message(f"Message malformed: {err}", 400)
    return json_response({"result": "ok"})


@requires(Permission.ADMIN)
async def delete_item_config(request: web.Request) -> web.StreamResponse:
    """``DELETE /api/config/{automation|script}/config/{id}``."""
    from automations import api as automations_api  # noqa: PLC0415 - it imports the runtime

    domain = _domain(request)
    try:
        deleted = await automations_api.delete_config(
            request.app[RUNTIME], domain, request.match_info["item_id"]
        )
    except KeyError:
        return json_message(f"The {domain} integration is not set up", 404)
    if not deleted:
        return json_message(_NOT_FOUND, 404)
    return json_response({"result": "ok"})


@register_command("execute_script", Permission.ADMIN)
async def execute_script(conn: Connection, msg: dict[str, Any]) -> None:
    """Run an action sequence; answer its context and response."""
    from automations import api as automations_api  # noqa: PLC0415 - it imports the runtime

    sequence = field(msg, "sequence", (list, dict))
    variables = field(msg, "variables", dict, None)
    context = context_for(conn)
    try:
        result = await automations_api.execute_script(conn.runtime, sequence, variables, context)
    except EdgewiseError as err:
        conn.send(error_message(msg["id"], ERR_INVALID_FORMAT, str(err)))
        return
    if result.get("error"):
        conn.send(error_message(msg["id"], ERR_HOME_ASSISTANT_ERROR, str(result["error"])))
        return
    conn.send(
        result_message(msg["id"], {"context": context.as_dict(), "response": result["response"]})
    )


@register_command("subscribe_trigger", Permission.ADMIN)
async def subscribe_trigger(conn: Connection, msg: dict[str, Any]) -> None:
    """Attach triggers; send an event each time one fires, until unsubscribed."""
    from automations import api as automations_api  # noqa: PLC0415 - it imports the runtime

    trigger = field(msg, "trigger", (list, dict))
    variables = field(msg, "variables", dict, None)
    msg_id: int = msg["id"]

    def on_trigger(data: dict[str, Any], context: Context | None) -> None:
        conn.send(
            event_message(
                msg_id,
                {"variables": data, "context": None if context is None else context.as_dict()},
            )
        )

    try:
        cancel = await automations_api.subscribe_trigger(
            conn.runtime, trigger, on_trigger, variables
        )
    except EdgewiseError as err:
        conn.send(error_message(msg_id, ERR_INVALID_FORMAT, str(err)))
        return
    conn.subscriptions[msg_id] = cancel
    conn.send(result_message(msg_id))


_VALIDATE_KEYS = {
    "trigger": "triggers",
    "triggers": "triggers",
    "condition": "conditions",
    "conditions": "conditions",
    "action": "actions",
    "actions": "actions",
}


@register_command("validate_config", Permission.READ)
def validate_config(conn: Connection, msg: dict[str, Any]) -> None:
    """Validate triggers, conditions and actions; say which are valid and why not."""
    from automations import api as automations_api  # noqa: PLC0415 - it imports the runtime

    given = {key: msg[key] for key in _VALIDATE_KEYS if key in msg}
    parts = {_VALIDATE_KEYS[key]: value for key, value in given.items()}
    checked = automations_api.validate_config(conn.runtime, **parts)
    conn.send(result_message(msg["id"], {key: checked[_VALIDATE_KEYS[key]] for key in given}))


def add_routes(app: web.Application) -> None:
    """Mount the webhook and automation configuration routes."""
    app.router.add_route("*", "/api/webhook/{webhook_id}", webhook)
    path = "/api/config/{domain:automation|script}/config/{item_id}"
    app.router.add_get(path, get_item_config)
    app.router.add_post(path, save_item_config)
    app.router.add_delete(path, delete_item_config)
