"""WebSocket commands the web panel needs beyond Home Assistant's basic set.

Users (admins only): ``config/auth/list``, ``config/auth/create``, ``config/auth/update``,
``config/auth/delete``.
For any user: ``edgewise/user_names`` (who changed what), ``edgewise/integrations`` (each
integration's status and error), ``history/downsampled`` (a chart's worth of history) and
``recorder/statistics_during_period`` (long-term statistics of meters).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.auth import AuthError, Permission, Role
from core.state import valid_entity_id

from .ws_commands import InvalidMessage, context_for, field, register_command
from .ws_messages import ERR_NOT_FOUND, error_message, result_message

if TYPE_CHECKING:
    from .websocket import Connection

#: Most points a downsampled history may ask for.
MAX_POINTS = 2000


@register_command("edgewise/integrations", Permission.READ)
def integrations(conn: Connection, msg: dict[str, Any]) -> None:
    """Every installed integration: its status and, when it failed, why."""
    result = [
        {
            "domain": domain,
            "name": loaded.manifest.name,
            "status": loaded.status.value,
            "error": loaded.error,
            "version": loaded.manifest.version,
            "documentation": loaded.manifest.documentation,
        }
        for domain, loaded in sorted(conn.runtime.loader.integrations.items())
    ]
    conn.send(result_message(msg["id"], result))


# --- users ---------------------------------------------------------------------------------------


@register_command("edgewise/user_names", Permission.READ)
def user_names(conn: Connection, msg: dict[str, Any]) -> None:
    """``{user_id: name}`` of every user, to say who changed something."""
    names = {user.id: user.name for user in conn.auth.data.users.values()}
    conn.send(result_message(msg["id"], names))


@register_command("config/auth/list", Permission.ADMIN)
def auth_list(conn: Connection, msg: dict[str, Any]) -> None:
    """Every user (no password hashes)."""
    users = [user.as_dict() for user in conn.auth.data.users.values()]
    conn.send(result_message(msg["id"], users))


def _role(msg: dict[str, Any], default: Role | None) -> Role | None:
    value = field(msg, "role", str, None)
    if value is None:
        return default
    try:
        return Role(value)
    except ValueError:
        raise InvalidMessage(
            f"value must be one of {[r.value for r in Role]} @ data['role']"
        ) from None


@register_command("config/auth/create", Permission.ADMIN)
async def auth_create(conn: Connection, msg: dict[str, Any]) -> None:
    """Create a user: ``username``, ``password``, optional ``name`` and ``role``."""
    username = field(msg, "username", str)
    password = field(msg, "password", str)
    name = field(msg, "name", str, None)
    role = _role(msg, Role.VIEWER) or Role.VIEWER
    try:
        user = await conn.auth.create_user(username, password, name=name, role=role)
    except AuthError as err:
        raise InvalidMessage(str(err)) from None
    conn.send(result_message(msg["id"], {"user": user.as_dict()}))


@register_command("config/auth/update", Permission.ADMIN)
async def auth_update(conn: Connection, msg: dict[str, Any]) -> None:
    """Change a user's ``name``, ``role`` or ``is_active`` (never the owner's role)."""
    user = conn.auth.get_user(field(msg, "user_id", str))
    if user is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "User not found"))
        return
    role = _role(msg, None)
    active = field(msg, "is_active", bool, None)
    demoted = (role is not None and role is not Role.ADMIN) or active is False
    if user.is_owner and demoted:
        raise InvalidMessage("The owner stays an active admin")
    if user.id == conn.user.id and demoted:
        raise InvalidMessage("You cannot take away your own admin rights")
    if (name := field(msg, "name", str, None)) is not None:
        user.name = name
    if role is not None:
        user.role = role
    if active is not None:
        user.is_active = active
    await conn.auth.save()
    conn.send(result_message(msg["id"], {"user": user.as_dict()}))


@register_command("config/auth/delete", Permission.ADMIN)
async def auth_delete(conn: Connection, msg: dict[str, Any]) -> None:
    """Delete a user and its grants (not the owner, not yourself)."""
    user = conn.auth.get_user(field(msg, "user_id", str))
    if user is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "User not found"))
        return
    if user.is_owner or user.id == conn.user.id:
        raise InvalidMessage("The owner and yourself cannot be deleted")
    conn.auth.data.remove_user(user.id)
    await conn.auth.save()
    conn.send(result_message(msg["id"]))


# --- history and statistics ----------------------------------------------------------------------


def _time(msg: dict[str, Any], key: str, default: datetime) -> datetime:
    text = field(msg, key, str, None)
    if text is None:
        return default
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidMessage(f"invalid datetime @ data['{key}']") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@register_command("history/downsampled", Permission.READ)
async def history_downsampled(conn: Connection, msg: dict[str, Any]) -> None:
    """History of ``entity_ids`` from ``start_time`` to ``end_time`` in at most ``points`` items.

    Numbers come as buckets (``t``, ``mean``, ``min``, ``max``, ``count``), other states as
    changes (``t``, ``state``); see ``integrations.recorder.history.get_downsampled``.
    """
    entity_ids = [str(e).lower() for e in field(msg, "entity_ids", list)]
    if not entity_ids or not all(valid_entity_id(e) for e in entity_ids):
        raise InvalidMessage("expected a non-empty list of entity ids @ data['entity_ids']")
    now = datetime.now(UTC)
    end = _time(msg, "end_time", now)
    start = _time(msg, "start_time", end - timedelta(days=1))
    points = field(msg, "points", int, 300)
    if not 1 <= points <= MAX_POINTS or end <= start:
        raise InvalidMessage(f"need 1 <= points <= {MAX_POINTS} and end_time after start_time")
    from integrations.recorder.core import RECORDER  # noqa: PLC0415 - only with a recorder
    from integrations.recorder.history import get_downsampled  # noqa: PLC0415

    recorder = conn.runtime.data.get(RECORDER)
    if recorder is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "The recorder is not set up"))
        return
    await recorder.flush()
    result = await get_downsampled(recorder, entity_ids, start, end, points)
    conn.send(result_message(msg["id"], result))


@register_command("recorder/statistics_during_period", Permission.READ)
async def statistics_during_period(conn: Connection, msg: dict[str, Any]) -> None:
    """Long-term statistics, as Home Assistant's command (answered by ``recorder.get_statistics``).

    Takes ``statistic_ids``, ``start_time``, optional ``end_time``, ``period`` and ``types``;
    answers ``{statistic_id: [rows]}``.
    """
    if not conn.runtime.services.has("recorder", "get_statistics"):
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "The recorder is not set up"))
        return
    data: dict[str, Any] = {
        key: msg[key]
        for key in ("statistic_ids", "start_time", "end_time", "period", "types", "units")
        if key in msg
    }
    response = await conn.runtime.services.call(
        "recorder", "get_statistics", data, context=context_for(conn), return_response=True
    )
    statistics = response.get("statistics", {}) if isinstance(response, dict) else {}
    conn.send(result_message(msg["id"], statistics))
