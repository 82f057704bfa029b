"""The commands of the WebSocket API, each with the permission it needs.

The kernel's modules declare their commands with ``kernel_command``; integrations add theirs
to one runtime with ``core.http.register_command`` (see ``core.http.registry``). A handler gets
the connection and the message (already checked to have an increasing ``id`` and a ``type``),
and answers with ``conn.send(result_message(...))``. A handler that is a coroutine function runs
as a task tied to the connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from core.auth import AuthError, Permission
from core.auth.areas import (
    area_aware,
    check_call_in_areas,
    event_visible,
    may_see,
    refused_outside_areas,
    visible_states,
)
from core.auth.const import SUBSCRIBE_ALLOWLIST
from core.bus import Event, EventOrigin, callback
from core.const import EVENT_STATE_CHANGED, MATCH_ALL
from core.context import Context
from core.errors import (
    EdgewiseError,
    ServiceNotFoundError,
    ServiceValidationError,
    Unauthorized,
)
from core.json import json_bytes
from core.notifications import Notification, UpdateType
from core.state import State

from .permissions import check_service_allowed
from .registry import Command, CommandHandler
from .rest import config_dict, services_json, states_body
from .ws_messages import (
    ERR_HOME_ASSISTANT_ERROR,
    ERR_INVALID_FORMAT,
    ERR_NOT_FOUND,
    ERR_SERVICE_VALIDATION_ERROR,
    ERR_UNAUTHORIZED,
    ERR_UNKNOWN_COMMAND,
    ERR_UNKNOWN_ERROR,
    EVENT_JSON,
    compressed_state,
    error_message,
    event_message,
    raw_event_message,
    raw_result_message,
    result_message,
    state_diff,
)

if TYPE_CHECKING:
    from core.auth.models import User

    from .websocket import Connection

_LOGGER = logging.getLogger(__name__)

#: The kernel's own commands, declared where they are written (``@kernel_command``); each
#: runtime's ``ApiRegistry`` starts with them. Integrations use ``core.http.register_command``.
KERNEL_COMMANDS: dict[str, Command] = {}


def kernel_command(
    command: str, permission: Permission
) -> Callable[[CommandHandler], CommandHandler]:
    """Declare one of the kernel's WebSocket commands; a decorator, for ``core.http`` modules.

    Raises:
        ValueError: another handler already has that command (one command, one handler).
    """

    def add(handler: CommandHandler) -> CommandHandler:
        if (known := KERNEL_COMMANDS.get(command)) is not None and known.handler is not handler:
            raise ValueError(f"WebSocket command {command!r} is already registered")
        KERNEL_COMMANDS[command] = Command(handler, permission)
        return handler

    return add


#: The kernel modules' name for ``kernel_command``.
register_command = kernel_command


def dispatch(conn: Connection, msg: dict[str, Any]) -> None:
    """Run the command ``msg`` asks for, or answer why not."""
    msg_id: int = msg["id"]
    entry = conn.runtime.api.commands.get(msg["type"])
    if entry is None:
        from .ws_collections import handle_collection_command  # noqa: PLC0415 - avoids a cycle

        if not handle_collection_command(conn, msg):
            conn.send(error_message(msg_id, ERR_UNKNOWN_COMMAND, "Unknown command."))
        return
    handler, permission = entry.handler, entry.permission
    if not conn.user.can(permission) or refused_outside_areas(conn.user, handler):
        conn.send(error_message(msg_id, ERR_UNAUTHORIZED, "Unauthorized"))
        return
    try:
        result = handler(conn, msg)
    except Exception as err:  # an isolation boundary: one command of one client
        _handle_error(conn, msg_id, err)
        return
    if result is not None:
        task = asyncio.get_running_loop().create_task(
            _guard(conn, msg_id, result), name=f"websocket.{msg['type']}"
        )
        conn.track_task(task)


async def _guard(conn: Connection, msg_id: int, coro: Coroutine[Any, Any, None]) -> None:
    try:
        await coro
    except Exception as err:  # an isolation boundary: one command of one client
        _handle_error(conn, msg_id, err)


def _handle_error(conn: Connection, msg_id: int, err: Exception) -> None:
    if isinstance(err, InvalidMessage):
        conn.send(error_message(msg_id, ERR_INVALID_FORMAT, str(err)))
    elif isinstance(err, Unauthorized):
        conn.send(error_message(msg_id, ERR_UNAUTHORIZED, str(err)))
    elif isinstance(err, ServiceNotFoundError):
        conn.send(
            error_message(msg_id, ERR_NOT_FOUND, f"Service {err.domain}.{err.service} not found.")
        )
    elif isinstance(err, ServiceValidationError):
        conn.send(error_message(msg_id, ERR_SERVICE_VALIDATION_ERROR, str(err)))
    elif isinstance(err, EdgewiseError):
        conn.send(error_message(msg_id, ERR_HOME_ASSISTANT_ERROR, str(err)))
    else:
        _LOGGER.error("Error handling WebSocket message %s", msg_id, exc_info=err)
        conn.send(error_message(msg_id, ERR_UNKNOWN_ERROR, "Unknown error"))


class InvalidMessage(ValueError):
    """A command's fields are missing or of the wrong type."""


def field(msg: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    """``msg[key]`` checked to be a ``kind``.

    Raises:
        InvalidMessage: it is missing (and has no default) or of another type.
    """
    if key not in msg or msg[key] is None:
        if default is ...:
            raise InvalidMessage(f"required key not provided @ data['{key}']")
        return default
    value = msg[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidMessage(
            f"expected {getattr(kind, '__name__', kind)} for dictionary value @ data['{key}']"
        )
    return value


def context_for(conn: Connection) -> Context:
    """A new context carrying the connection's user."""
    return Context(user_id=conn.user.id)


# --- basic ---------------------------------------------------------------------------------------


@register_command("ping", Permission.READ)
@area_aware
def ping(conn: Connection, msg: dict[str, Any]) -> None:
    """Answer ``pong``."""
    conn.send(b'{"id":%d,"type":"pong"}' % msg["id"])


@register_command("supported_features", Permission.READ)
@area_aware
def supported_features(conn: Connection, msg: dict[str, Any]) -> None:
    """Turn on the features the client supports (``coalesce_messages``)."""
    features = field(msg, "features", dict)
    conn.send(result_message(msg["id"]))
    conn.coalesce = bool(features.get("coalesce_messages"))


@register_command("get_states", Permission.READ)
@area_aware
def get_states(conn: Connection, msg: dict[str, Any]) -> None:
    """Every state (in the user's areas)."""
    states = visible_states(conn.runtime, conn.user, conn.runtime.states.all())
    conn.send(raw_result_message(msg["id"], states_body(states)))


@register_command("get_config", Permission.READ)
@area_aware
def get_config(conn: Connection, msg: dict[str, Any]) -> None:
    """The site configuration, as ``/api/config``."""
    conn.send(result_message(msg["id"], config_dict(conn.app)))


@register_command("get_services", Permission.READ)
@area_aware
def get_services(conn: Connection, msg: dict[str, Any]) -> None:
    """Every service, ``{domain: {service: description}}``."""
    result = {item["domain"]: item["services"] for item in services_json(conn.app)}
    conn.send(result_message(msg["id"], result))


@register_command("get_panels", Permission.READ)
@area_aware  # the pages, not their data: each page's commands apply the areas themselves
async def get_panels(conn: Connection, msg: dict[str, Any]) -> None:
    """The panel's pages: the overview, then what integrations add (``edgewise_panels``).

    Pages that need an admin are listed only to admins.
    """
    from .frontend import FRONTEND  # noqa: PLC0415 - frontend imports panels, which import us
    from .panels import panel_json, panels_of  # noqa: PLC0415

    result: dict[str, Any] = {
        "edgewise": {
            "component_name": "edgewise",
            "icon": "mdi:view-dashboard",
            "title": "Overview",
            "config": None,
            "url_path": "edgewise",
            "require_admin": False,
            "config_panel_domain": None,
            "module_url": None,
        }
    }
    frontend = conn.app.get(FRONTEND)
    for url_path, panel in panels_of(conn.runtime).items():
        if panel.require_admin and not conn.user.is_admin:
            continue
        version = None
        if frontend is not None and panel.static_dir is not None:
            version = (await frontend.panel_bundle(url_path, panel.static_dir)).version
        result[url_path] = panel_json(panel, version)
    conn.send(result_message(msg["id"], result))


# --- events --------------------------------------------------------------------------------------


@register_command("subscribe_events", Permission.READ)
@area_aware
def subscribe_events(conn: Connection, msg: dict[str, Any]) -> None:
    """Forward events of one type (all when none is given) until unsubscribed.

    Users who are not admins may subscribe only to the types of ``SUBSCRIBE_ALLOWLIST``. An
    area-limited user gets only the events ``core.auth.areas.event_visible`` lets through:
    ``state_changed`` of their entities, other events that name nothing outside their areas.
    """
    event_type = field(msg, "event_type", str, MATCH_ALL)
    user = conn.user
    if event_type not in SUBSCRIBE_ALLOWLIST and not user.is_admin:
        raise Unauthorized(f"Only admins may subscribe to {event_type!r} events")
    msg_id: int = msg["id"]
    send = conn.send
    cache = EVENT_JSON
    runtime = conn.runtime

    @callback
    def forward(event: Event[Any]) -> None:
        send(raw_event_message(msg_id, cache.get(event)))

    @callback
    def forward_in_areas(event: Event[Any]) -> None:
        if event_visible(runtime, user, event):
            send(raw_event_message(msg_id, cache.get(event)))

    listener = forward if user.areas is None else forward_in_areas
    conn.subscriptions[msg_id] = runtime.bus.listen(event_type, listener)
    send(result_message(msg_id))


@register_command("unsubscribe_events", Permission.READ)
@area_aware  # ends the user's own subscription
def unsubscribe_events(conn: Connection, msg: dict[str, Any]) -> None:
    """End a subscription (any kind, as in Home Assistant)."""
    subscription = field(msg, "subscription", int)
    cancel = conn.subscriptions.pop(subscription, None)
    if cancel is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "Subscription not found."))
        return
    cancel()
    conn.send(result_message(msg["id"]))


@register_command("persistent_notification/subscribe", Permission.READ)
@area_aware
def subscribe_notifications(conn: Connection, msg: dict[str, Any]) -> None:
    """Send the persistent notifications (``current``), then each change, until unsubscribed.

    Notifications belong to the whole site, not to an area: an area-limited user gets none
    (an empty ``current`` and no changes), since any of them may tell of another building.
    """
    msg_id: int = msg["id"]
    send = conn.send
    if conn.user.areas is not None:
        send(result_message(msg_id))
        send(event_message(msg_id, {"type": UpdateType.CURRENT.value, "notifications": {}}))
        conn.subscriptions[msg_id] = lambda: None
        return

    def forward(update: UpdateType, notifications: dict[str, Notification]) -> None:
        send(event_message(msg_id, {"type": update.value, "notifications": notifications}))

    send(result_message(msg_id))
    conn.subscriptions[msg_id] = conn.runtime.notifications.subscribe(forward)


@register_command("persistent_notification/history", Permission.READ)
@area_aware
def notification_history(conn: Connection, msg: dict[str, Any]) -> None:
    """The cleared notifications, the most recently cleared first (Edgewise).

    Empty for an area-limited user, as ``persistent_notification/subscribe`` is.
    """
    history = [] if conn.user.areas is not None else conn.runtime.notifications.history()
    conn.send(result_message(msg["id"], history))


@register_command("fire_event", Permission.ADMIN)
def fire_event(conn: Connection, msg: dict[str, Any]) -> None:
    """Fire an event."""
    event_type = field(msg, "event_type", str)
    data = field(msg, "event_data", dict, None)
    context = context_for(conn)
    conn.runtime.bus.fire(event_type, data, context, EventOrigin.remote)
    conn.send(result_message(msg["id"], {"context": context.as_dict()}))


# --- entities ------------------------------------------------------------------------------------


@register_command("subscribe_entities", Permission.READ)
@area_aware
def subscribe_entities(conn: Connection, msg: dict[str, Any]) -> None:
    """Send every state (of ``entity_ids`` when given) compressed, then the changes as diffs."""
    entity_ids = field(msg, "entity_ids", list, None)
    msg_id: int = msg["id"]
    runtime = conn.runtime
    send = conn.send
    wanted = None if entity_ids is None else {str(e).lower() for e in entity_ids}
    user = conn.user

    @callback
    def forward(event: Event[Any]) -> None:
        entity_id: str = event.data["entity_id"]
        if user.areas is not None and not may_see(runtime, user, entity_id):
            return
        old: State | None = event.data["old_state"]
        new: State | None = event.data["new_state"]
        if new is None:
            body: dict[str, Any] = {"r": [entity_id]}
        elif old is None:
            body = {"a": {entity_id: compressed_state(new)}}
        else:
            body = {"c": {entity_id: state_diff(old, new)}}
        send(raw_event_message(msg_id, json_bytes(body)))

    if wanted is None:
        cancel = runtime.bus.listen(EVENT_STATE_CHANGED, forward)
        states = runtime.states.all()
    else:
        cancel = runtime.states.track(wanted, forward)
        states = [s for e in wanted if (s := runtime.states.get(e)) is not None]
    conn.subscriptions[msg_id] = cancel
    states = visible_states(runtime, user, states)
    send(result_message(msg_id))
    send(event_message(msg_id, {"a": {s.entity_id: compressed_state(s) for s in states}}))


# --- services ------------------------------------------------------------------------------------


@register_command("call_service", Permission.CONTROL)
@area_aware
async def call_service(conn: Connection, msg: dict[str, Any]) -> None:
    """Call a service; the result carries the context (and the response when asked)."""
    domain = field(msg, "domain", str)
    service = field(msg, "service", str)
    data = field(msg, "service_data", dict, None)
    target = field(msg, "target", dict, None)
    return_response = bool(field(msg, "return_response", bool, False))
    check_service_allowed(conn.user, conn.runtime.services, domain, service)
    check_call_in_areas(conn.runtime, conn.user, domain, service, data=data, target=target)
    context = context_for(conn)
    response = await asyncio.shield(
        conn.runtime.services.call(
            domain, service, data, target=target, context=context, return_response=return_response
        )
    )
    result: dict[str, Any] = {"context": context.as_dict()}
    if return_response:
        result["response"] = response
    conn.send(result_message(msg["id"], result))


# --- auth ----------------------------------------------------------------------------------------


@register_command("auth/current_user", Permission.READ)
@area_aware
def current_user(conn: Connection, msg: dict[str, Any]) -> None:
    """Who the connection is authenticated as (with the areas they are limited to)."""
    user = conn.user
    conn.send(
        result_message(
            msg["id"],
            {
                "id": user.id,
                "name": user.name,
                "username": user.username,
                "role": user.role.value,
                "is_owner": user.is_owner,
                "is_admin": user.is_admin,
                # Edgewise's own: the areas the user is limited to (None: every area).
                "areas": None if user.areas is None else sorted(user.areas),
                "credentials": [{"auth_provider_type": "homeassistant", "auth_provider_id": None}],
                "mfa_modules": [],
            },
        )
    )


def _user_for(conn: Connection, msg: dict[str, Any]) -> User | None:
    """The user named by ``user_id`` (an admin may name anyone), the connection's own by default.

    Raises:
        Unauthorized: someone who is not an admin named another user.
    """
    user_id = field(msg, "user_id", str, None)
    if user_id is None or user_id == conn.user.id:
        return conn.user
    if not conn.user.is_admin or conn.user.areas is not None:
        raise Unauthorized("Only an admin not limited to areas may act for another user")
    return conn.auth.get_user(user_id)


@register_command("auth/long_lived_access_token", Permission.READ)
@area_aware  # an area-limited user acts only for themselves (``_user_for``)
async def long_lived_access_token(conn: Connection, msg: dict[str, Any]) -> None:
    """Create a long-lived access token; answer the token.

    For the connection's own user, or (admins only) for ``user_id``: a viewer's read-only token
    for a wall dashboard, say.
    """
    client_name = field(msg, "client_name", str)
    lifespan = field(msg, "lifespan", int, 3650)
    user = _user_for(conn, msg)
    if user is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "User not found"))
        return
    _, token = await conn.auth.create_long_lived_token(user, client_name, lifespan)
    conn.send(result_message(msg["id"], token))


@register_command("auth/refresh_tokens", Permission.READ)
@area_aware  # an area-limited user sees only their own
def refresh_tokens(conn: Connection, msg: dict[str, Any]) -> None:
    """The user's own grants (sessions and long-lived tokens); an admin may ask for ``user_id``'s
    or, with ``all_users``, everyone's (each with ``user_id``)."""
    if field(msg, "all_users", bool, False):
        if not conn.user.is_admin or conn.user.areas is not None:
            raise Unauthorized("Only an admin not limited to areas may list everyone's tokens")
        wanted = None
    else:
        user = _user_for(conn, msg)
        if user is None:
            conn.send(error_message(msg["id"], ERR_NOT_FOUND, "User not found"))
            return
        wanted = user.id
    grants = [
        {**t.as_dict(), "is_current": t.id == conn.grant.id}
        for t in conn.auth.data.tokens.values()
        if wanted is None or t.user_id == wanted
    ]
    conn.send(result_message(msg["id"], grants))


@register_command("auth/change_password", Permission.READ)
@area_aware  # one's own
async def change_password(conn: Connection, msg: dict[str, Any]) -> None:
    """Home Assistant's ``auth/change_password``: one's own, given the current one."""
    current = field(msg, "current_password", str)
    new = field(msg, "new_password", str)
    try:
        changed = await conn.auth.change_password(conn.user, current, new)
    except AuthError as err:
        raise InvalidMessage(str(err)) from None
    if not changed:
        conn.send(error_message(msg["id"], "invalid_current_password", "Invalid current password"))
        return
    conn.send(result_message(msg["id"]))


@register_command("config/auth_provider/homeassistant/admin_change_password", Permission.ADMIN)
async def admin_change_password(conn: Connection, msg: dict[str, Any]) -> None:
    """Home Assistant's admin reset of another user's password (no current password needed)."""
    user = conn.auth.get_user(field(msg, "user_id", str))
    if user is None:
        conn.send(error_message(msg["id"], "user_not_found", "User not found"))
        return
    try:
        await conn.auth.set_password(user, field(msg, "password", str))
    except AuthError as err:
        raise InvalidMessage(str(err)) from None
    conn.send(result_message(msg["id"]))


@register_command("auth/delete_refresh_token", Permission.READ)
@area_aware  # an area-limited user revokes only their own
async def delete_refresh_token(conn: Connection, msg: dict[str, Any]) -> None:
    """Revoke one of the user's own grants (an admin not limited to areas may revoke anyone's)."""
    token_id = field(msg, "refresh_token_id", str)
    grant = conn.auth.data.tokens.get(token_id)
    anyone = conn.user.is_admin and conn.user.areas is None
    if grant is None or (grant.user_id != conn.user.id and not anyone):
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "Refresh token not found."))
        return
    # Answer first: revoking the connection's own grant closes this connection.
    conn.send(result_message(msg["id"]))
    await conn.auth.revoke(token_id)
