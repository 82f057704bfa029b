"""Changing the registries over WebSocket, with Home Assistant's commands and result shapes.

``config/entity_registry/update`` (name, icon, area, hidden, disabled, a new entity id),
``config/entity_registry/remove``, ``config/area_registry/create|update|delete`` and
``config/device_registry/update`` (area, name given by the user) need ``ADMIN``;
``config/entity_registry/list_for_display`` (the compact list the panel reads) any user.
A value given as ``null`` clears the field; a key left out keeps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.auth import Permission
from core.auth.area_view import area_view
from core.auth.areas import area_aware
from core.entity import EntityCategory
from core.entity_registry import UNDEFINED, UndefinedType

from .ws_commands import InvalidMessage, field, register_command
from .ws_messages import ERR_NOT_FOUND, error_message, result_message
from .ws_registries import area_entry, device_entry, entity_entry

if TYPE_CHECKING:
    from .websocket import Connection

#: Home Assistant's codes for the entity categories in ``list_for_display``.
_CATEGORY_CODES = {EntityCategory.CONFIG.value: 0, EntityCategory.DIAGNOSTIC.value: 1}
ERR_INVALID_INFO = "invalid_info"


def optional_str(msg: dict[str, Any], key: str) -> str | UndefinedType | None:
    """``msg[key]``: UNDEFINED when absent, None when null, else a string.

    Raises:
        InvalidMessage: it is neither a string nor null.
    """
    if key not in msg:
        return UNDEFINED
    value = msg[key]
    if value is not None and not isinstance(value, str):
        raise InvalidMessage(f"expected str for dictionary value @ data['{key}']")
    return value


def optional_strings(msg: dict[str, Any], key: str) -> list[str] | UndefinedType:
    if key not in msg:
        return UNDEFINED
    value = msg[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidMessage(f"expected a list of str for dictionary value @ data['{key}']")
    return value


@register_command("config/entity_registry/update", Permission.ADMIN)
def entity_registry_update(conn: Connection, msg: dict[str, Any]) -> None:
    """Rename, move, hide, disable or re-id one entity; the entry as it is now."""
    registry = conn.runtime.entity_registry
    entity_id = field(msg, "entity_id", str)
    if registry.get(entity_id) is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "Entity not found"))
        return
    new_entity_id = field(msg, "new_entity_id", str, UNDEFINED)
    try:
        entry = registry.update(
            entity_id,
            new_entity_id=new_entity_id,
            name=optional_str(msg, "name"),
            icon=optional_str(msg, "icon"),
            area_id=optional_str(msg, "area_id"),
            device_class=optional_str(msg, "device_class"),
            disabled_by=optional_str(msg, "disabled_by"),
            hidden_by=optional_str(msg, "hidden_by"),
            labels=optional_strings(msg, "labels"),
        )
    except InvalidMessage:
        raise  # a malformed field: invalid_format, not invalid_info
    except ValueError as err:  # a taken id, another domain, an unknown area or choice
        conn.send(error_message(msg["id"], ERR_INVALID_INFO, str(err)))
        return
    result = entity_entry(entry)
    result.update(
        device_class=entry.device_class,
        original_device_class=entry.original_device_class,
        unit_of_measurement=entry.unit_of_measurement,
        aliases=[],
        capabilities=None,
    )
    conn.send(result_message(msg["id"], {"entity_entry": result}))


@register_command("config/entity_registry/remove", Permission.ADMIN)
def entity_registry_remove(conn: Connection, msg: dict[str, Any]) -> None:
    """Forget one entity (its integration may add it again)."""
    entity_id = field(msg, "entity_id", str)
    try:
        conn.runtime.entity_registry.remove(entity_id)
    except KeyError:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "Entity not found"))
        return
    conn.send(result_message(msg["id"]))


@register_command("config/entity_registry/list_for_display", Permission.READ)
@area_aware
def entity_registry_list_for_display(conn: Connection, msg: dict[str, Any]) -> None:
    """Every enabled entity (in the user's areas) in Home Assistant's compact form."""
    entities = []
    for entry in area_view(conn.runtime, conn.user).entity_registry.values():
        if entry.disabled:
            continue
        item: dict[str, Any] = {"ei": entry.entity_id, "pl": entry.platform}
        for key, value in (
            ("ai", entry.area_id),
            ("di", entry.device_id),
            ("en", entry.name),
            ("ic", entry.icon),
        ):
            if value is not None:
                item[key] = value
        if entry.labels:
            item["lb"] = sorted(entry.labels)
        if entry.hidden:
            item["hb"] = True
        if entry.entity_category is not None:
            item["ec"] = _CATEGORY_CODES[entry.entity_category]
        entities.append(item)
    categories = {code: name for name, code in _CATEGORY_CODES.items()}
    conn.send(result_message(msg["id"], {"entity_categories": categories, "entities": entities}))


@register_command("config/area_registry/create", Permission.ADMIN)
def area_registry_create(conn: Connection, msg: dict[str, Any]) -> None:
    """Create an area; its id is made from its name."""
    registry = conn.runtime.area_registry
    aliases = optional_strings(msg, "aliases")
    try:
        area = registry.create(
            field(msg, "name", str),
            icon=field(msg, "icon", str, None),
            aliases=() if isinstance(aliases, UndefinedType) else aliases,
        )
        floor_id = optional_str(msg, "floor_id")
        if isinstance(floor_id, str):
            area = registry.update(area.id, floor_id=floor_id)
    except InvalidMessage:
        raise  # a malformed field: invalid_format, not invalid_info
    except ValueError as err:  # the name is taken
        conn.send(error_message(msg["id"], ERR_INVALID_INFO, str(err)))
        return
    conn.send(result_message(msg["id"], area_entry(area)))


@register_command("config/area_registry/update", Permission.ADMIN)
def area_registry_update(conn: Connection, msg: dict[str, Any]) -> None:
    """Rename an area or change its icon, aliases or floor."""
    registry = conn.runtime.area_registry
    area_id = field(msg, "area_id", str)
    if registry.get(area_id) is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "Area not found"))
        return
    try:
        area = registry.update(
            area_id,
            name=field(msg, "name", str, UNDEFINED),
            icon=optional_str(msg, "icon"),
            aliases=optional_strings(msg, "aliases"),
            floor_id=optional_str(msg, "floor_id"),
        )
    except InvalidMessage:
        raise  # a malformed field: invalid_format, not invalid_info
    except ValueError as err:
        conn.send(error_message(msg["id"], ERR_INVALID_INFO, str(err)))
        return
    conn.send(result_message(msg["id"], area_entry(area)))


@register_command("config/area_registry/delete", Permission.ADMIN)
def area_registry_delete(conn: Connection, msg: dict[str, Any]) -> None:
    """Delete an area; its devices and entities are left in none."""
    try:
        conn.runtime.area_registry.delete(field(msg, "area_id", str))
    except KeyError:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "Area not found"))
        return
    conn.send(result_message(msg["id"], "success"))


@register_command("config/device_registry/update", Permission.ADMIN)
def device_registry_update(conn: Connection, msg: dict[str, Any]) -> None:
    """Put a device in an area, name it, or disable it."""
    registry = conn.runtime.device_registry
    device_id = field(msg, "device_id", str)
    if registry.get(device_id) is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "Device not found"))
        return
    try:
        device = registry.update(
            device_id,
            name_by_user=optional_str(msg, "name_by_user"),
            area_id=optional_str(msg, "area_id"),
            disabled_by=optional_str(msg, "disabled_by"),
        )
    except InvalidMessage:
        raise  # a malformed field: invalid_format, not invalid_info
    except ValueError as err:
        conn.send(error_message(msg["id"], ERR_INVALID_INFO, str(err)))
        return
    conn.send(result_message(msg["id"], device_entry(device)))
