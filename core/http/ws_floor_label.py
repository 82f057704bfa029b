"""The floor and label registries over WebSocket, with Home Assistant's commands and shapes.

``config/floor_registry/list|create|update|delete`` and
``config/label_registry/list|create|update|delete``: listing needs any user, changes ``ADMIN``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.auth import Permission
from core.auth.areas import area_aware
from core.entity_registry import UNDEFINED

from .ws_commands import InvalidMessage, field, register_command
from .ws_messages import ERR_NOT_FOUND, error_message, result_message
from .ws_registry_writes import ERR_INVALID_INFO, optional_str, optional_strings

if TYPE_CHECKING:
    from core.floor_label_registry import FloorRegistry, LabelRegistry

    from .websocket import Connection


def _level(msg: dict[str, Any]) -> Any:
    if "level" not in msg:
        return UNDEFINED
    level = msg["level"]
    if level is not None and (not isinstance(level, int) or isinstance(level, bool)):
        raise InvalidMessage("expected int for dictionary value @ data['level']")
    return level


def _floor_fields(msg: dict[str, Any]) -> dict[str, Any]:
    return {
        "icon": optional_str(msg, "icon"),
        "level": _level(msg),
        "aliases": optional_strings(msg, "aliases"),
    }


def _label_fields(msg: dict[str, Any]) -> dict[str, Any]:
    return {key: optional_str(msg, key) for key in ("icon", "color", "description")}


def _write(
    conn: Connection,
    msg: dict[str, Any],
    registry: FloorRegistry | LabelRegistry,
    id_key: str,
    fields: dict[str, Any],
) -> None:
    """Create (no id in the message) or update one entry; answer with it."""
    try:
        if id_key in msg:
            entry_id = field(msg, id_key, str)
            if registry.get(entry_id) is None:
                conn.send(error_message(msg["id"], ERR_NOT_FOUND, f"{id_key} not found"))
                return
            entry = registry.update(entry_id, field(msg, "name", str, UNDEFINED), **fields)
        else:
            entry = registry.create(field(msg, "name", str), **fields)
    except InvalidMessage:
        raise  # a malformed field: invalid_format, not invalid_info
    except ValueError as err:  # an empty or taken name
        conn.send(error_message(msg["id"], ERR_INVALID_INFO, str(err)))
        return
    conn.send(result_message(msg["id"], entry.as_dict()))


def _delete(
    conn: Connection, msg: dict[str, Any], registry: FloorRegistry | LabelRegistry, id_key: str
) -> None:
    try:
        registry.delete(field(msg, id_key, str))
    except KeyError:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, f"{id_key} not found"))
        return
    conn.send(result_message(msg["id"], "success"))


@register_command("config/floor_registry/list", Permission.READ)
@area_aware
def floor_registry_list(conn: Connection, msg: dict[str, Any]) -> None:
    """Every floor (for an area-limited user, the floors of their areas)."""
    floors = conn.runtime.floor_registry.values()
    if (areas := conn.user.areas) is not None:
        theirs = {a.floor_id for a in conn.runtime.area_registry.values() if a.id in areas}
        floors = [f for f in floors if f.floor_id in theirs]
    conn.send(result_message(msg["id"], [f.as_dict() for f in floors]))


@register_command("config/floor_registry/create", Permission.ADMIN)
def floor_registry_create(conn: Connection, msg: dict[str, Any]) -> None:
    """Create a floor; its id is made from its name."""
    msg.pop("floor_id", None)
    _write(conn, msg, conn.runtime.floor_registry, "floor_id", _floor_fields(msg))


@register_command("config/floor_registry/update", Permission.ADMIN)
def floor_registry_update(conn: Connection, msg: dict[str, Any]) -> None:
    """Rename a floor or change its icon, level or aliases."""
    field(msg, "floor_id", str)
    _write(conn, msg, conn.runtime.floor_registry, "floor_id", _floor_fields(msg))


@register_command("config/floor_registry/delete", Permission.ADMIN)
def floor_registry_delete(conn: Connection, msg: dict[str, Any]) -> None:
    """Delete a floor; its areas are left on none."""
    _delete(conn, msg, conn.runtime.floor_registry, "floor_id")


@register_command("config/label_registry/list", Permission.READ)
@area_aware  # names and colours, shared by every area; no entity in them
def label_registry_list(conn: Connection, msg: dict[str, Any]) -> None:
    """Every label."""
    labels = conn.runtime.label_registry.values()
    conn.send(result_message(msg["id"], [label.as_dict() for label in labels]))


@register_command("config/label_registry/create", Permission.ADMIN)
def label_registry_create(conn: Connection, msg: dict[str, Any]) -> None:
    """Create a label; its id is made from its name."""
    msg.pop("label_id", None)
    _write(conn, msg, conn.runtime.label_registry, "label_id", _label_fields(msg))


@register_command("config/label_registry/update", Permission.ADMIN)
def label_registry_update(conn: Connection, msg: dict[str, Any]) -> None:
    """Rename a label or change its icon, color or description."""
    field(msg, "label_id", str)
    _write(conn, msg, conn.runtime.label_registry, "label_id", _label_fields(msg))


@register_command("config/label_registry/delete", Permission.ADMIN)
def label_registry_delete(conn: Connection, msg: dict[str, Any]) -> None:
    """Delete a label; the entities carrying it no longer do."""
    _delete(conn, msg, conn.runtime.label_registry, "label_id")
