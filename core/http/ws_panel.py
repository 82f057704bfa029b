"""WebSocket commands the web panel needs beyond Home Assistant's basic set.

Users (admins only): ``config/auth/list``, ``config/auth/create``, ``config/auth/update``,
``config/auth/delete``.
For any user: ``edgewise/user_names`` (who changed what) and ``edgewise/integrations`` (each
integration's status and error). The history and statistics commands are the recorder's
(``integrations.recorder.api``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.auth import AuthError, Permission, Role
from core.auth.areas import area_aware

from .ws_commands import InvalidMessage, field, register_command
from .ws_messages import ERR_NOT_FOUND, error_message, result_message

if TYPE_CHECKING:
    from .websocket import Connection


@register_command("edgewise/integrations", Permission.READ)
@area_aware  # what is installed and whether it runs, not what it sees
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
@area_aware  # names only, to say who changed one of the user's entities
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
