"""Automations and scripts over the REST and WebSocket APIs, registered by their integrations.

REST: ``GET|POST|DELETE /api/config/automation/config/<id>`` (``automations.yaml``, then a
reload; registered by the automation integration) and the same for scripts at
``/api/config/script/config/<object_id>`` (``scripts.yaml``; by the script integration). Both
need an admin, as in Home Assistant: a configuration holds secrets such as webhook ids.

WebSocket (Home Assistant's, registered by whichever of the two integrations sets up first):
``execute_script`` and ``subscribe_trigger`` (admins: they can do anything a service can) and
``validate_config`` (any user).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from core.auth import Permission
from core.context import Context
from core.errors import EdgewiseError
from core.http import register_command, register_route
from core.http.view import RUNTIME, json_message, json_response, read_json_object
from core.http.websocket import Connection
from core.http.ws_commands import context_for, field
from core.http.ws_messages import (
    ERR_HOME_ASSISTANT_ERROR,
    ERR_INVALID_FORMAT,
    error_message,
    event_message,
    result_message,
)
from core.runtime import Runtime

_NOT_FOUND = "Resource not found"
_ENGINE_COMMANDS = ("execute_script", "subscribe_trigger", "validate_config")


def register_config_routes(runtime: Runtime, domain: str) -> None:
    """Add ``/api/config/<domain>/config/{item_id}`` (GET, POST, DELETE), admins only."""
    path = f"/api/config/{domain}/config/{{item_id}}"
    register_route(runtime, "GET", path, _get_item_config(domain), Permission.ADMIN)
    register_route(runtime, "POST", path, _save_item_config(domain), Permission.ADMIN)
    register_route(runtime, "DELETE", path, _delete_item_config(domain), Permission.ADMIN)


def register_engine_commands(runtime: Runtime) -> None:
    """Add ``execute_script``, ``subscribe_trigger`` and ``validate_config`` unless there."""
    if _ENGINE_COMMANDS[0] in runtime.api.commands:
        return  # the other integration of the engine registered them
    register_command(runtime, "execute_script", execute_script, Permission.ADMIN)
    register_command(runtime, "subscribe_trigger", subscribe_trigger, Permission.ADMIN)
    register_command(runtime, "validate_config", validate_config, Permission.READ)


Handler = Callable[[web.Request], Any]


def _get_item_config(domain: str) -> Handler:
    async def get_item_config(request: web.Request) -> web.StreamResponse:
        """``GET /api/config/<domain>/config/{id}``."""
        from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

        config = await api.get_config(request.app[RUNTIME], domain, request.match_info["item_id"])
        if config is None:
            return json_message(_NOT_FOUND, 404)
        return json_response(config)

    return get_item_config


def _save_item_config(domain: str) -> Handler:
    async def save_item_config(request: web.Request) -> web.StreamResponse:
        """``POST /api/config/<domain>/config/{id}``: write the entry and reload."""
        from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

        data = await read_json_object(
            request,
            invalid="Invalid JSON specified.",
            not_object="Message malformed: expected a dictionary",
        )
        if isinstance(data, web.Response):
            return data
        try:
            await api.save_config(request.app[RUNTIME], domain, request.match_info["item_id"], data)
        except KeyError:
            return json_message(f"The {domain} integration is not set up", 404)
        except EdgewiseError as err:
            return json_message(f"Message malformed: {err}", 400)
        return json_response({"result": "ok"})

    return save_item_config


def _delete_item_config(domain: str) -> Handler:
    async def delete_item_config(request: web.Request) -> web.StreamResponse:
        """``DELETE /api/config/<domain>/config/{id}``."""
        from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

        try:
            deleted = await api.delete_config(
                request.app[RUNTIME], domain, request.match_info["item_id"]
            )
        except KeyError:
            return json_message(f"The {domain} integration is not set up", 404)
        if not deleted:
            return json_message(_NOT_FOUND, 404)
        return json_response({"result": "ok"})

    return delete_item_config


async def execute_script(conn: Connection, msg: dict[str, Any]) -> None:
    """Run an action sequence; answer its context and response."""
    from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

    sequence = field(msg, "sequence", (list, dict))
    variables = field(msg, "variables", dict, None)
    context = context_for(conn)
    try:
        result = await api.execute_script(conn.runtime, sequence, variables, context)
    except EdgewiseError as err:
        conn.send(error_message(msg["id"], ERR_INVALID_FORMAT, str(err)))
        return
    if result.get("error"):
        conn.send(error_message(msg["id"], ERR_HOME_ASSISTANT_ERROR, str(result["error"])))
        return
    conn.send(
        result_message(msg["id"], {"context": context.as_dict(), "response": result["response"]})
    )


async def subscribe_trigger(conn: Connection, msg: dict[str, Any]) -> None:
    """Attach triggers; send an event each time one fires, until unsubscribed."""
    from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

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
        cancel = await api.subscribe_trigger(conn.runtime, trigger, on_trigger, variables)
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


def validate_config(conn: Connection, msg: dict[str, Any]) -> None:
    """Validate triggers, conditions and actions; say which are valid and why not."""
    from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

    given = {key: msg[key] for key in _VALIDATE_KEYS if key in msg}
    parts = {_VALIDATE_KEYS[key]: value for key, value in given.items()}
    checked = api.validate_config(conn.runtime, **parts)
    conn.send(result_message(msg["id"], {key: checked[_VALIDATE_KEYS[key]] for key in given}))
