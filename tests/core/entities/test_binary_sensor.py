"""Tests of binary sensors: on, off and unknown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.entities.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from core.entity_platform import add_entities
from core.runtime import Runtime
from tests.core._entity_helpers import make_runtime


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path) as rt:
        yield rt


async def test_binary_sensor_state_follows_is_on(runtime: Runtime) -> None:
    door = BinarySensorEntity()
    door._attr_name = "Back door"
    door._attr_device_class = BinarySensorDeviceClass.DOOR
    await add_entities(runtime, "bacnet", [door])
    assert runtime.states.is_state("binary_sensor.back_door", "unknown")

    door._attr_is_on = True
    door.write_state()
    assert runtime.states.is_state("binary_sensor.back_door", "on")
    door._attr_is_on = False
    door.write_state()
    state = runtime.states.get("binary_sensor.back_door")
    assert state is not None
    assert state.state == "off"
    assert state.attributes["device_class"] == "door"
