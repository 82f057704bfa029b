"""Floors and labels: ids from names, unique names, deletes that clear references, storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.runtime import Runtime
from tests.automations.conftest import site


async def test_deleting_a_floor_takes_its_areas_off_it_and_a_label_off_its_entities(
    tmp_path: Path,
) -> None:
    async with site(tmp_path, "") as s:
        runtime = s.runtime
        floor = runtime.floor_registry.create("Ground floor", level=0)
        assert (floor.floor_id, floor.level) == ("ground_floor", 0)
        with pytest.raises(ValueError, match="already exists"):
            runtime.floor_registry.create("ground FLOOR")
        area = runtime.area_registry.create("Kitchen")
        runtime.area_registry.update(area.id, floor_id=floor.floor_id)
        label = runtime.label_registry.create("Energy", color="green")
        entry = runtime.entity_registry.get_or_create("switch", "test", "pump-1")
        runtime.entity_registry.update(entry.entity_id, labels=[label.label_id, "other"])

        runtime.floor_registry.delete(floor.floor_id)
        runtime.label_registry.delete(label.label_id)

        assert runtime.area_registry.get(area.id).floor_id is None
        assert runtime.entity_registry.get(entry.entity_id).labels == {"other"}
        assert runtime.floor_registry.values() == []


async def test_floors_and_labels_survive_a_restart(tmp_path: Path) -> None:
    async with site(tmp_path, "") as s:
        s.runtime.floor_registry.create("Roof", icon="mdi:home-roof", aliases=["Attic"])
        s.runtime.label_registry.create("Critical", description="Alarms")
    runtime = Runtime(tmp_path)
    await runtime.floor_registry.load()
    await runtime.label_registry.load()
    [roof] = runtime.floor_registry.values()
    assert (roof.floor_id, roof.icon, roof.aliases) == ("roof", "mdi:home-roof", {"Attic"})
    [critical] = runtime.label_registry.values()
    assert (critical.label_id, critical.description) == ("critical", "Alarms")
