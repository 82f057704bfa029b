"""The registries over WebSocket, in Home Assistant's shapes (clients such as hass-client ask).

``config/entity_registry/list``, ``config/entity_registry/get``, ``config/device_registry/list``
and ``config/area_registry/list``; reading needs any user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.auth import Permission
from core.auth.area_view import area_view
from core.auth.areas import area_aware
from core.device_registry import AreaEntry, DeviceEntry
from core.entity_registry import RegistryEntry

from .ws_commands import field, register_command
from .ws_messages import ERR_NOT_FOUND, error_message, result_message

if TYPE_CHECKING:
    from .websocket import Connection


def entity_entry(entry: RegistryEntry) -> dict[str, Any]:
    """An entity registry entry as ``config/entity_registry/list`` shows it."""
    return {
        "entity_id": entry.entity_id,
        "id": entry.id,
        "unique_id": entry.unique_id,
        "platform": entry.platform,
        "config_entry_id": None,
        "device_id": entry.device_id,
        "area_id": entry.area_id,
        "name": entry.name,
        "original_name": entry.original_name,
        "icon": entry.icon,
        "disabled_by": entry.disabled_by,
        "hidden_by": entry.hidden_by,
        "entity_category": entry.entity_category,
        "has_entity_name": False,
        "labels": sorted(entry.labels),
        "options": {},
        "translation_key": None,
        "created_at": entry.created_at,
        "modified_at": entry.modified_at,
    }


def device_entry(entry: DeviceEntry) -> dict[str, Any]:
    """A device as ``config/device_registry/list`` shows it."""
    return {
        "id": entry.id,
        "integration": entry.integration,
        "config_entries": [],
        "connections": sorted([list(c) for c in entry.connections]),
        "identifiers": sorted([list(i) for i in entry.identifiers]),
        "manufacturer": entry.manufacturer,
        "model": entry.model,
        "name": entry.name,
        "name_by_user": entry.name_by_user,
        "sw_version": entry.sw_version,
        "hw_version": entry.hw_version,
        "serial_number": entry.serial_number,
        "area_id": entry.area_id,
        "via_device_id": entry.via_device_id,
        "configuration_url": entry.configuration_url,
        "disabled_by": entry.disabled_by,
        "entry_type": None,
        "labels": [],
        "created_at": entry.created_at,
        "modified_at": entry.modified_at,
    }


def area_entry(entry: AreaEntry) -> dict[str, Any]:
    """An area as ``config/area_registry/list`` shows it."""
    return {
        "area_id": entry.id,
        "name": entry.name,
        "icon": entry.icon,
        "aliases": sorted(entry.aliases),
        "floor_id": entry.floor_id,
        "picture": None,
        "labels": [],
    }


@register_command("config/entity_registry/list", Permission.READ)
@area_aware
def entity_registry_list(conn: Connection, msg: dict[str, Any]) -> None:
    """Every entity registry entry (in the user's areas)."""
    entries = area_view(conn.runtime, conn.user).entity_registry.values()
    conn.send(result_message(msg["id"], [entity_entry(e) for e in entries]))


@register_command("config/entity_registry/get", Permission.READ)
@area_aware
def entity_registry_get(conn: Connection, msg: dict[str, Any]) -> None:
    """One entry, with its device class and unit (not found outside the user's areas)."""
    entry = area_view(conn.runtime, conn.user).entity_registry.get(field(msg, "entity_id", str))
    if entry is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "Entity not found"))
        return
    result = entity_entry(entry)
    result.update(
        device_class=entry.device_class,
        original_device_class=entry.original_device_class,
        unit_of_measurement=entry.unit_of_measurement,
        aliases=[],
        capabilities=None,
    )
    conn.send(result_message(msg["id"], result))


@register_command("config/device_registry/list", Permission.READ)
@area_aware
def device_registry_list(conn: Connection, msg: dict[str, Any]) -> None:
    """Every device (in the user's areas, or with an entity there)."""
    devices = area_view(conn.runtime, conn.user).device_registry.values()
    conn.send(result_message(msg["id"], [device_entry(d) for d in devices]))


@register_command("config/area_registry/list", Permission.READ)
@area_aware
def area_registry_list(conn: Connection, msg: dict[str, Any]) -> None:
    """Every area (the user's own)."""
    areas = area_view(conn.runtime, conn.user).area_registry.values()
    conn.send(result_message(msg["id"], [area_entry(a) for a in areas]))
