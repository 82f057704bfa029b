"""Tests of the entity registry: stable ids, renames, removal memory, persistence, events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.const import EVENT_ENTITY_REGISTRY_UPDATED
from core.entity_registry import UNDEFINED, EntityRegistry, UndefinedType, slugify
from core.errors import InvalidEntityIdError
from tests.core._registries_helpers import RegistryRuntime, capture, delivered


@pytest.fixture
async def runtime(tmp_path: Path) -> RegistryRuntime:
    rt = RegistryRuntime(tmp_path)
    await rt.load()
    return rt


def registry(runtime: RegistryRuntime) -> EntityRegistry:
    return runtime.entity_registry


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Küche Temperatur", "kuche_temperatur"),
        ("  Living -- Room!! ", "living_room"),
        ("CO₂ level", "co2_level"),
        ("___", "unnamed"),
        ("", "unnamed"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_undefined_is_a_singleton_of_its_type() -> None:
    assert isinstance(UNDEFINED, UndefinedType)
    assert UndefinedType._singleton is UNDEFINED


async def test_entity_id_comes_from_the_suggested_object_id(runtime: RegistryRuntime) -> None:
    entry = registry(runtime).get_or_create(
        "sensor", "modbus", "plant-1-temp", suggested_object_id="Plant Room Temperature"
    )
    assert entry.entity_id == "sensor.plant_room_temperature"
    assert entry.platform == "modbus"
    assert entry.domain == "sensor"
    assert len(entry.id) == 26  # a ULID
    assert entry.created_at > 0


async def test_entity_id_without_suggestion_uses_platform_and_unique_id(
    runtime: RegistryRuntime,
) -> None:
    entry = registry(runtime).get_or_create("switch", "shelly", "ABC-123")
    assert entry.entity_id == "switch.shelly_abc_123"


async def test_generated_id_avoids_registered_ids_and_existing_states(
    runtime: RegistryRuntime,
) -> None:
    reg = registry(runtime)
    runtime.states.set("sensor.power_2", "1")
    first = reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    second = reg.get_or_create("sensor", "meter", "b", suggested_object_id="Power")
    assert (first.entity_id, second.entity_id) == ("sensor.power", "sensor.power_3")


async def test_same_unique_id_returns_the_same_entry(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    first = reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    again = reg.get_or_create("sensor", "meter", "a", suggested_object_id="Something else")
    assert again == first
    assert reg.get_entity_id("sensor", "meter", "a") == "sensor.power"
    assert reg.get_entity_id("sensor", "other", "a") is None
    assert len(reg) == 1
    assert "sensor.power" in reg


async def test_entity_id_is_stable_across_restart(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    entry = reg.get_or_create(
        "sensor", "meter", "a", suggested_object_id="Power", unit_of_measurement="W"
    )
    reg.update(entry.entity_id, labels={"energy", "plant"}, name="Main power")

    restarted = await runtime.restart()
    reloaded = registry(restarted).get_or_create("sensor", "meter", "a")
    assert reloaded.entity_id == "sensor.power"
    assert reloaded.id == entry.id
    assert reloaded.labels == frozenset({"energy", "plant"})
    assert reloaded.name == "Main power"

    raw = json.loads((runtime.config_dir / ".storage" / "core.entity_registry").read_text())
    assert raw["key"] == "core.entity_registry"
    assert raw["data"]["entities"][0]["labels"] == ["energy", "plant"]


async def test_integration_fields_are_refreshed_but_user_fields_kept(
    runtime: RegistryRuntime,
) -> None:
    reg = registry(runtime)
    entry = reg.get_or_create("sensor", "meter", "a", original_name="Power", disabled_by=None)
    reg.update(entry.entity_id, name="Mine", disabled_by="user")
    refreshed = reg.get_or_create(
        "sensor", "meter", "a", original_name="Active power", unit_of_measurement="kW"
    )
    assert refreshed.original_name == "Active power"
    assert refreshed.unit_of_measurement == "kW"
    assert refreshed.name == "Mine"
    assert refreshed.disabled_by == "user"
    assert refreshed.disabled


async def test_rename_keeps_unique_id_mapping(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    entry = reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    events = capture(runtime, EVENT_ENTITY_REGISTRY_UPDATED)

    renamed = reg.update("sensor.power", new_entity_id="sensor.main_power")
    await delivered()

    assert renamed.entity_id == "sensor.main_power"
    assert renamed.id == entry.id
    assert reg.get("sensor.power") is None
    assert reg.get_entity_id("sensor", "meter", "a") == "sensor.main_power"
    assert reg.get_or_create("sensor", "meter", "a").entity_id == "sensor.main_power"
    assert events == [
        {
            "action": "update",
            "entity_id": "sensor.main_power",
            "old_entity_id": "sensor.power",
            "changes": {"entity_id": "sensor.power"},
        }
    ]
    restarted = await runtime.restart()
    assert registry(restarted).get_entity_id("sensor", "meter", "a") == "sensor.main_power"


async def test_rename_to_taken_id_is_refused(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    reg.get_or_create("sensor", "meter", "b", suggested_object_id="Energy")
    runtime.states.set("sensor.someone_elses", "1")

    with pytest.raises(ValueError, match=r"sensor\.energy"):
        reg.update("sensor.power", new_entity_id="sensor.energy")
    with pytest.raises(ValueError, match=r"sensor\.someone_elses"):
        reg.update("sensor.power", new_entity_id="sensor.someone_elses")
    assert reg.get_entity_id("sensor", "meter", "a") == "sensor.power"


async def test_rename_to_invalid_or_other_domain_is_refused(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    with pytest.raises(InvalidEntityIdError):
        reg.update("sensor.power", new_entity_id="sensor.Bad Name")
    with pytest.raises(ValueError, match="domain"):
        reg.update("sensor.power", new_entity_id="switch.power")


async def test_update_fires_changes_with_old_values(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    runtime.area_registry.create("Plant room")
    events = capture(runtime, EVENT_ENTITY_REGISTRY_UPDATED)

    updated = reg.update("sensor.power", name="Main", area_id="plant_room", icon=UNDEFINED)
    unchanged = reg.update("sensor.power", name="Main")
    await delivered()

    assert unchanged is updated
    assert updated.modified_at >= updated.created_at
    assert events == [
        {
            "action": "update",
            "entity_id": "sensor.power",
            "changes": {"name": None, "area_id": None},
        }
    ]


async def test_update_refuses_unknown_choices_and_references(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    with pytest.raises(ValueError, match="disabled_by"):
        reg.update("sensor.power", disabled_by="someone")
    with pytest.raises(ValueError, match="hidden_by"):
        reg.update("sensor.power", hidden_by="someone")
    with pytest.raises(ValueError, match="Area nowhere"):
        reg.update("sensor.power", area_id="nowhere")
    with pytest.raises(ValueError, match="Device nothing"):
        reg.update("sensor.power", device_id="nothing")
    with pytest.raises(KeyError):
        reg.update("sensor.unknown", name="x")


async def test_create_and_remove_fire_events(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    events = capture(runtime, EVENT_ENTITY_REGISTRY_UPDATED)
    reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    reg.remove("sensor.power")
    await delivered()
    assert events == [
        {"action": "create", "entity_id": "sensor.power"},
        {"action": "remove", "entity_id": "sensor.power"},
    ]
    assert len(reg) == 0
    with pytest.raises(KeyError):
        reg.remove("sensor.power")


async def test_recreated_entity_gets_its_old_entity_id(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    entry = reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    reg.update("sensor.power", new_entity_id="sensor.main_power")
    reg.remove("sensor.main_power")

    restarted = await runtime.restart()
    again = registry(restarted).get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    assert again.entity_id == "sensor.main_power"
    assert again.id == entry.id


async def test_recreated_entity_gets_a_new_id_when_its_old_one_was_taken(
    runtime: RegistryRuntime,
) -> None:
    reg = registry(runtime)
    reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    reg.remove("sensor.power")
    reg.get_or_create("sensor", "meter", "b", suggested_object_id="Power")
    again = reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    assert again.entity_id == "sensor.power_2"


async def test_entities_for_device_area_and_label(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    kitchen = runtime.area_registry.create("Kitchen")
    hall = runtime.area_registry.create("Hall")
    device = runtime.device_registry.get_or_create(
        "shelly", identifiers={("shelly", "plug-1")}, suggested_area="Kitchen"
    )
    on_device = reg.get_or_create("switch", "shelly", "p1", device_id=device.id)
    moved = reg.get_or_create("sensor", "shelly", "p1-power", device_id=device.id)
    reg.update(moved.entity_id, area_id=hall.id, labels=["energy"])
    loose = reg.get_or_create("light", "hue", "l1")
    reg.update(loose.entity_id, area_id=kitchen.id)

    assert {e.entity_id for e in reg.entities_for_device(device.id)} == {
        on_device.entity_id,
        moved.entity_id,
    }
    assert {e.entity_id for e in reg.entities_for_area(kitchen.id)} == {
        on_device.entity_id,
        loose.entity_id,
    }
    assert [e.entity_id for e in reg.entities_for_area(hall.id)] == [moved.entity_id]
    assert [e.entity_id for e in reg.entities_for_label("energy")] == [moved.entity_id]


async def test_malformed_entries_are_skipped_on_load(tmp_path: Path) -> None:
    path = tmp_path / ".storage" / "core.entity_registry"
    path.parent.mkdir(parents=True)
    good = {"entity_id": "sensor.ok", "unique_id": "1", "platform": "x", "domain": "sensor"}
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "minor_version": 1,
                "key": "core.entity_registry",
                "data": {
                    "entities": [
                        {**good, "id": "01", "future_field": 1},
                        {**good, "entity_id": "Not Valid", "unique_id": "2", "id": "02"},
                        {"entity_id": "sensor.half"},
                    ]
                },
            }
        )
    )
    rt = RegistryRuntime(tmp_path)
    await rt.load()
    assert [e.entity_id for e in rt.entity_registry.values()] == ["sensor.ok"]


async def test_labels_given_as_one_string_are_refused(runtime: RegistryRuntime) -> None:
    reg = registry(runtime)
    reg.get_or_create("sensor", "meter", "a", suggested_object_id="Power")
    with pytest.raises(TypeError, match="labels"):
        reg.update("sensor.power", labels="energy")


async def test_a_non_ascii_name_gives_a_transliterated_entity_id(
    runtime: RegistryRuntime,
) -> None:
    reg = registry(runtime)
    kitchen = reg.get_or_create("sensor", "meter", "k", suggested_object_id="客厅 温度")
    street = reg.get_or_create("sensor", "meter", "s", suggested_object_id="Straße Zähler")
    assert kitchen.entity_id == "sensor.ke_ting_wen_du"
    assert street.entity_id == "sensor.strasse_zahler"
