"""The assistant's WebSocket commands and REST routes.

WebSocket (the panel's chat drawer):

- ``assistant/chat`` ``{text, session_id?}``: answers ``result`` ``{session_id}`` at once, then
  events as the answer is generated: ``delta`` (text), ``tool`` (a tool being run),
  ``confirmation`` (an action the user must confirm), ``draft`` (an automation to save),
  ``done`` (text, tool_calls, usage, today's tokens and the daily limit,
  waiting_for_confirmation) or ``error`` (message).
- ``assistant/sessions``, ``assistant/session`` ``{session_id}``, ``assistant/session/delete``.
- ``assistant/confirm`` / ``assistant/cancel`` ``{confirmation_id}``: ``result`` (status,
  summary, ``continues``); when the action came from the chat its outcome becomes the
  ``tool_result`` of the model's ``tool_use`` and, ``continues`` being true, the model's next
  answer follows as events, as for ``assistant/chat``.
- ``assistant/save_draft`` ``{draft_id}`` (admins: it writes ``automations.yaml``).
- ``assistant/usage``: the user's tokens and cost today.

REST: ``POST /api/assistant/chat`` ``{text, session_id?}`` answers the whole turn as JSON;
``GET /api/assistant/sessions``; ``POST /api/assistant/confirm`` ``{confirmation_id,
confirmed?}`` (false cancels) answers the outcome and the model's next answer.

Commands and routes are registered per runtime (``core.http.register_command`` and
``register_route``) and removed when the integration stops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core import RuntimeKey
from core.auth import Permission, User
from core.auth.areas import area_aware
from core.errors import Unauthorized
from core.http import register_command, register_route
from core.http.view import current_user, json_response, read_json_object
from core.http.ws_commands import InvalidMessage, field
from core.http.ws_messages import ERR_NOT_FOUND, error_message, event_message, result_message

from .assistant import Assistant, AssistantUnavailable
from .mcp_server import register_mcp
from .store import SessionNotFound
from .tools import ToolError

if TYPE_CHECKING:
    from core.http.websocket import Connection
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

ASSISTANT: RuntimeKey[Assistant] = RuntimeKey("assistant")

ROUTE_CHAT = "/api/assistant/chat"
ROUTE_SESSIONS = "/api/assistant/sessions"
ROUTE_CONFIRM = "/api/assistant/confirm"


def _assistant(runtime: Runtime) -> Assistant:
    assistant = runtime.data.get(ASSISTANT)
    if assistant is None:
        raise ToolError("The assistant is not configured")
    return assistant


@area_aware  # the tools keep to the user's areas
async def _ws_chat(conn: Connection, msg: dict[str, Any]) -> None:
    assistant = _assistant(conn.runtime)
    text = field(msg, "text", str)
    session_id = field(msg, "session_id", str, None)
    msg_id = msg["id"]
    answered = False

    def emit(event: dict[str, Any]) -> None:
        nonlocal answered
        if event["type"] == "session" and not answered:
            answered = True
            conn.send(result_message(msg_id, {"session_id": event["session_id"]}))
            return
        conn.send(event_message(msg_id, event))

    try:
        await assistant.chat(conn.user, text, session_id, emit)
    except (AssistantUnavailable, SessionNotFound, ValueError) as err:
        message = f"No session {session_id}" if isinstance(err, SessionNotFound) else str(err)
        if answered:
            conn.send(event_message(msg_id, {"type": "error", "message": message}))
        else:
            conn.send(
                error_message(
                    msg_id,
                    ERR_NOT_FOUND if isinstance(err, SessionNotFound) else "assistant_unavailable",
                    message,
                )
            )


@area_aware  # the tools keep to the user's areas
async def _ws_sessions(conn: Connection, msg: dict[str, Any]) -> None:
    assistant = _assistant(conn.runtime)
    sessions = await conn.runtime.run_in_executor(assistant.store.list_sessions, conn.user.id)
    conn.send(result_message(msg["id"], {"sessions": sessions}))


@area_aware  # the tools keep to the user's areas
async def _ws_session(conn: Connection, msg: dict[str, Any]) -> None:
    assistant = _assistant(conn.runtime)
    session_id = field(msg, "session_id", str)
    try:
        messages = await conn.runtime.run_in_executor(
            assistant.store.messages, conn.user.id, session_id
        )
    except SessionNotFound:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, f"No session {session_id}"))
        return
    conn.send(result_message(msg["id"], {"session_id": session_id, "messages": messages}))


@area_aware  # the tools keep to the user's areas
async def _ws_delete(conn: Connection, msg: dict[str, Any]) -> None:
    assistant = _assistant(conn.runtime)
    session_id = field(msg, "session_id", str)
    try:
        await conn.runtime.run_in_executor(assistant.store.delete_session, conn.user.id, session_id)
    except SessionNotFound:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, f"No session {session_id}"))
        return
    conn.send(result_message(msg["id"]))


async def _ws_settle(conn: Connection, msg: dict[str, Any], *, confirmed: bool) -> None:
    """Confirm or cancel; the outcome, then the model's next answer streamed as events."""
    assistant = _assistant(conn.runtime)
    msg_id = msg["id"]
    outcome, session_id = await assistant.settle(
        conn.user, field(msg, "confirmation_id", str), confirmed=confirmed
    )
    conn.send(result_message(msg_id, {**outcome, "continues": session_id is not None}))
    if session_id is None:
        return

    def emit(event: dict[str, Any]) -> None:
        if event["type"] != "session":
            conn.send(event_message(msg_id, event))

    try:
        await assistant.continue_turn(conn.user, session_id, emit)
    except (AssistantUnavailable, SessionNotFound, ToolError) as err:
        conn.send(event_message(msg_id, {"type": "error", "message": str(err)}))


@area_aware  # the tools keep to the user's areas
async def _ws_confirm(conn: Connection, msg: dict[str, Any]) -> None:
    await _ws_settle(conn, msg, confirmed=True)


@area_aware  # the tools keep to the user's areas
async def _ws_cancel(conn: Connection, msg: dict[str, Any]) -> None:
    await _ws_settle(conn, msg, confirmed=False)


@area_aware  # the tools keep to the user's areas
async def _ws_save_draft(conn: Connection, msg: dict[str, Any]) -> None:
    from automations.api import save_automation_config  # noqa: PLC0415 - only when saving

    assistant = _assistant(conn.runtime)
    draft_id = field(msg, "draft_id", str)
    draft = assistant.drafts.get(draft_id)
    if draft is None or draft[0] != conn.user.id:
        raise InvalidMessage(f"No draft {draft_id}")
    config = dict(draft[1])
    automation_id = str(config.pop("id"))
    await save_automation_config(conn.runtime, automation_id, config)
    del assistant.drafts[draft_id]
    conn.send(result_message(msg["id"], {"automation_id": automation_id}))


@area_aware  # the tools keep to the user's areas
async def _ws_usage(conn: Connection, msg: dict[str, Any]) -> None:
    assistant = _assistant(conn.runtime)
    usage, turns = await conn.runtime.run_in_executor(
        assistant.store.usage,
        conn.user.id,
        assistant._day(),  # noqa: SLF001 - same package
    )
    conn.send(
        result_message(
            msg["id"],
            {**usage.as_dict(), "turns": turns, "limit": assistant.config.tokens_per_day},
        )
    )


def _commands() -> dict[str, tuple[Callable[..., Any], Permission]]:
    return {
        "assistant/chat": (_ws_chat, Permission.READ),
        "assistant/sessions": (_ws_sessions, Permission.READ),
        "assistant/session": (_ws_session, Permission.READ),
        "assistant/session/delete": (_ws_delete, Permission.READ),
        "assistant/confirm": (_ws_confirm, Permission.READ),
        "assistant/cancel": (_ws_cancel, Permission.READ),
        "assistant/save_draft": (_ws_save_draft, Permission.ADMIN),
        "assistant/usage": (_ws_usage, Permission.READ),
    }


# --- REST ----------------------------------------------------------------------------------------


@area_aware  # the tools keep to the user's areas
async def _rest_chat(request: web.Request) -> web.StreamResponse:
    from core.http.view import RUNTIME  # noqa: PLC0415 - app key

    runtime = request.app[RUNTIME]
    assistant = _assistant(runtime)
    body = await read_json_object(request, invalid="Invalid JSON", not_object="Expected an object")
    if isinstance(body, web.Response):
        return body
    text, session_id = body.get("text"), body.get("session_id")
    if not isinstance(text, str) or (session_id is not None and not isinstance(session_id, str)):
        return json_response({"message": "text (string) is required; session_id is a string"}, 400)
    events: list[dict[str, Any]] = []
    user: User = current_user(request)
    try:
        result = await assistant.chat(user, text, session_id, events.append)
    except AssistantUnavailable as err:
        return json_response({"message": str(err)}, 503)
    except SessionNotFound:
        return json_response({"message": f"No session {session_id}"}, 404)
    except ValueError as err:
        return json_response({"message": str(err)}, 400)
    return json_response(
        {
            "session_id": result.session_id,
            "text": result.text,
            "tool_calls": result.tool_calls,
            "usage": result.usage.as_dict(),
            "confirmations": [e for e in events if e["type"] == "confirmation"],
            "drafts": [e for e in events if e["type"] == "draft"],
        }
    )


@area_aware  # the tools keep to the user's areas
async def _rest_sessions(request: web.Request) -> web.StreamResponse:
    from core.http.view import RUNTIME  # noqa: PLC0415 - app key

    runtime = request.app[RUNTIME]
    assistant = _assistant(runtime)
    sessions = await runtime.run_in_executor(
        assistant.store.list_sessions, current_user(request).id
    )
    return json_response({"sessions": sessions})


@area_aware  # the tools keep to the user's areas
async def _rest_confirm(request: web.Request) -> web.StreamResponse:
    from core.http.view import RUNTIME  # noqa: PLC0415 - app key

    runtime = request.app[RUNTIME]
    assistant = _assistant(runtime)
    body = await read_json_object(request, invalid="Invalid JSON", not_object="Expected an object")
    if isinstance(body, web.Response):
        return body
    confirmation_id, confirmed = body.get("confirmation_id"), body.get("confirmed", True)
    if not isinstance(confirmation_id, str) or not isinstance(confirmed, bool):
        return json_response(
            {"message": "confirmation_id (string) is required; confirmed is true or false"}, 400
        )
    user = current_user(request)
    try:
        outcome, session_id = await assistant.settle(user, confirmation_id, confirmed=confirmed)
    except Unauthorized as err:
        return json_response({"message": str(err)}, 403)
    except ToolError as err:
        return json_response({"message": str(err)}, 404)
    if session_id is not None:  # the conversation goes on: the model's next answer
        try:
            turn = await assistant.continue_turn(user, session_id)
            outcome = {**outcome, "session_id": session_id, "answer": turn.text}
        except (AssistantUnavailable, SessionNotFound, ToolError) as err:
            outcome = {**outcome, "session_id": session_id, "answer_error": str(err)}
    return json_response(outcome)


def register_api(runtime: Runtime, assistant: Assistant) -> Callable[[], None]:
    """Register the commands and routes; returns the function that removes the routes."""
    runtime.data[ASSISTANT] = assistant
    removers = [
        register_command(runtime, command, handler, permission)
        for command, (handler, permission) in _commands().items()
    ]
    removers += [
        register_route(runtime, "POST", ROUTE_CHAT, _rest_chat, Permission.READ),
        register_route(runtime, "GET", ROUTE_SESSIONS, _rest_sessions, Permission.READ),
        register_route(runtime, "POST", ROUTE_CONFIRM, _rest_confirm, Permission.READ),
        register_mcp(runtime, assistant.mcp),
    ]

    def remove() -> None:
        for remover in removers:
            remover()
        if ASSISTANT in runtime.data:
            del runtime.data[ASSISTANT]

    return remove
