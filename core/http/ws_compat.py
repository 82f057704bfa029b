"""WebSocket commands Home Assistant clients call on connecting, answered with what Edgewise has.

Edgewise has no config entries or config flows: each integration set up from
``configuration.yaml`` is shown as one entry (``source: "yaml"``, its id the domain), and no
flow is ever in progress. ``manifest/list`` lists the integrations' manifests,
``entity/source`` which integration provides each entity, ``search/related`` what an entity,
device or area is related to through the registries, and ``system_health/info`` (a
subscription, as in HA) the runtime's own health.
"""

from __future__ import annotations

import platform
import sys
from typing import TYPE_CHECKING, Any

from core.auth import Permission
from core.auth.area_view import area_view
from core.auth.areas import area_aware
from core.const import __version__
from core.integration import IntegrationStatus

from .ws_commands import InvalidMessage, field, register_command
from .ws_messages import ERR_NOT_FOUND, error_message, event_message, result_message

if TYPE_CHECKING:
    from core.plugins import LoadedIntegration

    from .websocket import Connection

#: How an integration's status reads as a Home Assistant config entry state.
_ENTRY_STATE = {
    IntegrationStatus.RUNNING: "loaded",
    IntegrationStatus.SETTING_UP: "setup_in_progress",
    IntegrationStatus.SETUP_ERROR: "setup_error",
    IntegrationStatus.CONFIG_ERROR: "setup_error",
    IntegrationStatus.DEPENDENCY_FAILED: "setup_error",
    IntegrationStatus.FAILED: "setup_error",
}


def _entry(loaded: LoadedIntegration, started: float) -> dict[str, Any]:
    """One set-up integration as a config entry of Home Assistant's ``config_entries/get``."""
    return {
        "entry_id": loaded.domain,
        "domain": loaded.domain,
        "title": loaded.manifest.name,
        "source": "yaml",
        "state": _ENTRY_STATE.get(loaded.status, "not_loaded"),
        "supports_options": False,
        "supports_remove_device": False,
        "supports_unload": False,
        "supports_reconfigure": False,
        "supported_subentry_types": {},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "disabled_by": None,
        "reason": loaded.error,
        "error_reason_translation_key": None,
        "error_reason_translation_placeholders": None,
        "num_subentries": 0,
        "created_at": started,
        "modified_at": started,
    }


def _configured(conn: Connection) -> list[LoadedIntegration]:
    """The integrations the site set up or tried to (not those merely installed)."""
    shown = {IntegrationStatus.NOT_CONFIGURED, IntegrationStatus.LOADED}
    return [
        loaded
        for _, loaded in sorted(conn.runtime.loader.integrations.items())
        if loaded.status not in shown
    ]


@register_command("config_entries/get", Permission.ADMIN)
def config_entries_get(conn: Connection, msg: dict[str, Any]) -> None:
    """Each configured integration as an entry; ``domain`` filters."""
    domain = field(msg, "domain", str, None)
    started = conn.runtime.started_at
    entries = [
        _entry(loaded, started)
        for loaded in _configured(conn)
        if domain is None or loaded.domain == domain
    ]
    conn.send(result_message(msg["id"], entries))


@register_command("config_entries/flow/progress", Permission.ADMIN)
def config_entries_flow_progress(conn: Connection, msg: dict[str, Any]) -> None:
    """No flow is ever in progress: integrations are set up from the configuration file."""
    conn.send(result_message(msg["id"], []))


@register_command("config_entries/subentries/list", Permission.ADMIN)
def config_entries_subentries_list(conn: Connection, msg: dict[str, Any]) -> None:
    """An entry has no sub-entries."""
    entry_id = field(msg, "entry_id", str)
    if conn.runtime.loader.get(entry_id) is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "Config entry not found"))
        return
    conn.send(result_message(msg["id"], []))


@register_command("manifest/list", Permission.READ)
@area_aware  # what is installed, not what it sees
def manifest_list(conn: Connection, msg: dict[str, Any]) -> None:
    """The manifests of the installed integrations (``integrations`` filters by domain)."""
    wanted = field(msg, "integrations", list, None)
    result = []
    for domain, loaded in sorted(conn.runtime.loader.integrations.items()):
        if wanted is not None and domain not in wanted:
            continue
        manifest = loaded.manifest
        result.append(
            {
                "domain": domain,
                "name": manifest.name,
                "version": manifest.version,
                "documentation": manifest.documentation,
                "dependencies": list(manifest.dependencies),
                "after_dependencies": list(manifest.after_dependencies),
                "codeowners": [],
                "requirements": [],
                "config_flow": False,
                "is_built_in": loaded.source.startswith(("integrations.", "automations.")),
                "integration_type": "hub",
            }
        )
    conn.send(result_message(msg["id"], result))


@register_command("entity/source", Permission.READ)
@area_aware
def entity_source(conn: Connection, msg: dict[str, Any]) -> None:
    """Which integration provides each registered entity (in the user's areas; ``entity_id``
    filters)."""
    wanted = field(msg, "entity_id", list, None)
    result = {
        entry.entity_id: {"domain": entry.platform, "custom_component": False}
        for entry in area_view(conn.runtime, conn.user).entity_registry.values()
        if wanted is None or entry.entity_id in wanted
    }
    conn.send(result_message(msg["id"], result))


_ITEM_TYPES = ("entity", "device", "area")


@register_command("search/related", Permission.READ)
def search_related(conn: Connection, msg: dict[str, Any]) -> None:
    """What an entity, device or area is related to through the registries."""
    item_type = field(msg, "item_type", str)
    item_id = field(msg, "item_id", str)
    if item_type not in _ITEM_TYPES:
        raise InvalidMessage(f"item_type must be one of {', '.join(_ITEM_TYPES)}")
    runtime = conn.runtime
    entities: set[str] = set()
    devices: set[str] = set()
    areas: set[str] = set()
    if item_type == "entity":
        entry = runtime.entity_registry.get(item_id)
        if entry is not None:
            if entry.device_id:
                devices.add(entry.device_id)
                device = runtime.device_registry.get(entry.device_id)
                if device is not None and device.area_id and not entry.area_id:
                    areas.add(device.area_id)
            if entry.area_id:
                areas.add(entry.area_id)
    elif item_type == "device":
        device = runtime.device_registry.get(item_id)
        if device is not None:
            entities.update(
                e.entity_id for e in runtime.entity_registry.entities_for_device(item_id)
            )
            if device.area_id:
                areas.add(device.area_id)
    else:
        entities.update(e.entity_id for e in runtime.entity_registry.entities_for_area(item_id))
        devices.update(d.id for d in runtime.device_registry.devices_for_area(item_id))
    result = {
        key: sorted(ids)
        for key, ids in (("entity", entities), ("device", devices), ("area", areas))
        if ids
    }
    conn.send(result_message(msg["id"], result))


@register_command("system_health/info", Permission.READ)
def system_health_info(conn: Connection, msg: dict[str, Any]) -> None:
    """The runtime's health, as HA sends it: an ``initial`` event, then ``finish``."""
    runtime = conn.runtime
    loader = runtime.loader
    running = [d for d, i in loader.integrations.items() if i.status is IntegrationStatus.RUNNING]
    failed = sorted(
        d for d, i in loader.integrations.items() if _ENTRY_STATE.get(i.status) == "setup_error"
    )
    info = {
        "version": __version__,
        "installation_type": "Edgewise",
        "python_version": sys.version.split()[0],
        "os_name": platform.system(),
        "arch": platform.machine(),
        "timezone": runtime.core.time_zone,
        "state": runtime.state.value,
        "integrations_running": len(running),
        "integrations_failed": failed,
    }
    msg_id = msg["id"]
    conn.send(result_message(msg_id))
    conn.send(event_message(msg_id, {"type": "initial", "data": {"homeassistant": {"info": info}}}))
    conn.send(event_message(msg_id, {"type": "finish"}))
