"""Tests of the area and device registries: matching, updates, cascades, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.const import EVENT_DEVICE_REGISTRY_UPDATED
from core.device_registry import EVENT_AREA_REGISTRY_UPDATED, format_mac
from tests.core._registries_helpers import RegistryRuntime, capture, delivered


@pytest.fixture
async def runtime(tmp_path: Path) -> RegistryRuntime:
    rt = RegistryRuntime(tmp_path)
    await rt.load()
    return rt


# --- areas -------------------------------------------------------------------------------------


async def test_area_id_is_the_slug_of_its_name(runtime: RegistryRuntime) -> None:
    areas = runtime.area_registry
    area = areas.create("Küche", icon="mdi:stove", aliases=["cooking"])
    assert area.id == "kuche"
    assert area.aliases == frozenset({"cooking"})
    assert areas.get("kuche") == area
    assert areas.get_by_name("KÜCHE") == area


async def test_duplicate_area_name_is_refused(runtime: RegistryRuntime) -> None:
    areas = runtime.area_registry
    areas.create("Living room")
    with pytest.raises(ValueError, match="Living room"):
        areas.create("living  ROOM")
    other = areas.create("Living-room!")  # another name with the same slug gets a suffix
    assert other.id == "living_room_2"
    with pytest.raises(ValueError, match="already exists"):
        areas.update(other.id, name="Living Room")


async def test_area_update_keeps_its_id_and_fires(runtime: RegistryRuntime) -> None:
    areas = runtime.area_registry
    events = capture(runtime, EVENT_AREA_REGISTRY_UPDATED)
    area = areas.create("Hall")
    renamed = areas.update(area.id, name="Entrance hall", aliases={"lobby"})
    assert areas.update(area.id, name="Entrance hall") is renamed
    await delivered()
    assert renamed.id == "hall"
    assert renamed.name == "Entrance hall"
    assert events == [
        {"action": "create", "area_id": "hall"},
        {"action": "update", "area_id": "hall"},
    ]


async def test_area_delete_clears_devices_and_entities(runtime: RegistryRuntime) -> None:
    devices, entities = runtime.device_registry, runtime.entity_registry
    device = devices.get_or_create(
        "shelly", identifiers={("shelly", "plug-1")}, suggested_area="Kitchen"
    )
    entry = entities.get_or_create("light", "hue", "l1")
    entities.update(entry.entity_id, area_id="kitchen")
    events = capture(runtime, EVENT_AREA_REGISTRY_UPDATED)

    runtime.area_registry.delete("kitchen")
    await delivered()

    assert runtime.area_registry.get("kitchen") is None
    assert devices.get(device.id).area_id is None  # type: ignore[union-attr]
    assert entities.get(entry.entity_id).area_id is None  # type: ignore[union-attr]
    assert events == [{"action": "remove", "area_id": "kitchen"}]
    with pytest.raises(KeyError):
        runtime.area_registry.delete("kitchen")


async def test_areas_persist_across_restart(runtime: RegistryRuntime) -> None:
    runtime.area_registry.create("Plant room", aliases=["b", "a"])
    restarted = await runtime.restart()
    area = restarted.area_registry.get("plant_room")
    assert area is not None
    assert area.aliases == frozenset({"a", "b"})


# --- devices -----------------------------------------------------------------------------------


async def test_device_is_created_once_per_identifier(runtime: RegistryRuntime) -> None:
    devices = runtime.device_registry
    events = capture(runtime, EVENT_DEVICE_REGISTRY_UPDATED)
    first = devices.get_or_create(
        "modbus", identifiers={("modbus", "meter-1")}, name="Meter", manufacturer="ABB"
    )
    again = devices.get_or_create("modbus", identifiers={("modbus", "meter-1")}, name="Meter")
    await delivered()
    assert again == first
    assert len(devices) == 1
    assert devices.get_device({("modbus", "meter-1")}) == first
    assert events == [{"action": "create", "device_id": first.id}]


async def test_device_matched_by_connection(runtime: RegistryRuntime) -> None:
    devices = runtime.device_registry
    first = devices.get_or_create(
        "shelly", identifiers={("shelly", "plug-1")}, connections={("mac", "AA-BB-CC-DD-EE-FF")}
    )
    again = devices.get_or_create(
        "shelly", identifiers={("shelly", "plug-1-new")}, connections={("mac", "aabbccddeeff")}
    )
    assert again.id == first.id
    assert again.identifiers == frozenset({("shelly", "plug-1"), ("shelly", "plug-1-new")})
    assert again.connections == frozenset({("mac", "aa:bb:cc:dd:ee:ff")})
    assert devices.get_device({("shelly", "plug-1-new")}) == again
    assert devices.get_device(connections={("mac", "AA:BB:CC:DD:EE:FF")}) == again


async def test_known_device_takes_changed_fields_and_reports_old_values(
    runtime: RegistryRuntime,
) -> None:
    devices = runtime.device_registry
    device = devices.get_or_create(
        "modbus", identifiers={("modbus", "m1")}, sw_version="1.0", model="X"
    )
    events = capture(runtime, EVENT_DEVICE_REGISTRY_UPDATED)
    updated = devices.get_or_create("modbus", identifiers={("modbus", "m1")}, sw_version="1.1")
    await delivered()
    assert updated.sw_version == "1.1"
    assert updated.model == "X"  # not given: kept
    assert events == [
        {"action": "update", "device_id": device.id, "changes": {"sw_version": "1.0"}}
    ]


async def test_suggested_area_applies_only_on_creation(runtime: RegistryRuntime) -> None:
    devices, areas = runtime.device_registry, runtime.area_registry
    areas.create("Plant Room")
    device = devices.get_or_create(
        "modbus", identifiers={("modbus", "c1")}, suggested_area="plant room"
    )
    assert device.area_id == "plant_room"
    assert len(areas) == 1  # found by name, not created again
    devices.update(device.id, area_id=None)
    again = devices.get_or_create("modbus", identifiers={("modbus", "c1")}, suggested_area="Roof")
    assert again.area_id is None
    assert areas.get_by_name("Roof") is None


async def test_via_device_is_resolved_to_its_id(runtime: RegistryRuntime) -> None:
    devices = runtime.device_registry
    hub = devices.get_or_create("knx", identifiers={("knx", "gateway")})
    child = devices.get_or_create(
        "knx", identifiers={("knx", "actuator")}, via_device=("knx", "gateway")
    )
    assert child.via_device_id == hub.id
    devices.remove(hub.id)
    assert devices.get(child.id).via_device_id is None  # type: ignore[union-attr]


async def test_device_without_identifiers_or_connections_is_refused(
    runtime: RegistryRuntime,
) -> None:
    with pytest.raises(ValueError, match="identifier"):
        runtime.device_registry.get_or_create("x", identifiers=set())


async def test_device_update_validates_area_and_disabled_by(runtime: RegistryRuntime) -> None:
    devices = runtime.device_registry
    device = devices.get_or_create("x", identifiers={("x", "1")})
    with pytest.raises(ValueError, match="Area nowhere"):
        devices.update(device.id, area_id="nowhere")
    with pytest.raises(ValueError, match="disabled_by"):
        devices.update(device.id, disabled_by="device")
    with pytest.raises(KeyError):
        devices.update("missing", name_by_user="x")
    assert devices.update(device.id, name_by_user="Mine").name_by_user == "Mine"


async def test_disabling_a_device_disables_its_entities_until_enabled(
    runtime: RegistryRuntime,
) -> None:
    devices, entities = runtime.device_registry, runtime.entity_registry
    device = devices.get_or_create("x", identifiers={("x", "1")})
    a = entities.get_or_create("switch", "x", "a", device_id=device.id)
    b = entities.get_or_create("switch", "x", "b", device_id=device.id, disabled_by="user")

    devices.update(device.id, disabled_by="user")
    assert entities.get(a.entity_id).disabled_by == "device"  # type: ignore[union-attr]
    assert entities.get(b.entity_id).disabled_by == "user"  # type: ignore[union-attr]

    devices.update(device.id, disabled_by=None)
    assert entities.get(a.entity_id).disabled_by is None  # type: ignore[union-attr]
    assert entities.get(b.entity_id).disabled_by == "user"  # type: ignore[union-attr]


async def test_device_remove_removes_its_entities(runtime: RegistryRuntime) -> None:
    devices, entities = runtime.device_registry, runtime.entity_registry
    device = devices.get_or_create("x", identifiers={("x", "1")})
    entry = entities.get_or_create("switch", "x", "a", device_id=device.id)
    other = entities.get_or_create("switch", "x", "b")
    events = capture(runtime, EVENT_DEVICE_REGISTRY_UPDATED)

    devices.remove(device.id)
    await delivered()

    assert devices.get(device.id) is None
    assert devices.get_device({("x", "1")}) is None
    assert entry.entity_id not in entities
    assert other.entity_id in entities
    assert events == [{"action": "remove", "device_id": device.id}]


async def test_devices_persist_across_restart(runtime: RegistryRuntime) -> None:
    devices = runtime.device_registry
    device = devices.get_or_create(
        "shelly",
        identifiers={("shelly", "plug-1")},
        connections={("mac", "aa:bb:cc:dd:ee:ff")},
        name="Plug",
        suggested_area="Kitchen",
    )
    restarted = await runtime.restart()
    loaded = restarted.device_registry.get(device.id)
    assert loaded == device
    assert restarted.device_registry.get_device(connections={("mac", "AABBCCDDEEFF")}) == device
    raw = json.loads((runtime.config_dir / ".storage" / "core.device_registry").read_text())
    assert raw["data"]["devices"][0]["identifiers"] == [["shelly", "plug-1"]]


@pytest.mark.parametrize(
    ("mac", "formatted"),
    [
        ("AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff"),
        ("aabbccddeeff", "aa:bb:cc:dd:ee:ff"),
        ("aabb.ccdd.eeff", "aa:bb:cc:dd:ee:ff"),
        ("Not-A-MAC", "not-a-mac"),
    ],
)
def test_format_mac(mac: str, formatted: str) -> None:
    assert format_mac(mac) == formatted
