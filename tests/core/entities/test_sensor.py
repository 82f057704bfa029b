"""Tests of sensors: rounding, units, state classes, enum options."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.entities.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from core.entity_platform import add_entities
from core.runtime import Runtime
from tests.core._entity_helpers import make_runtime


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path) as rt:
        yield rt


class EnergyMeter(SensorEntity):
    _attr_unique_id = "meter-energy"
    _attr_name = "Energy"
    _attr_device_class = SensorDeviceClass.ENERGY
    _attr_native_unit_of_measurement = "kWh"
    _attr_state_class = SensorStateClass.TOTAL
    _attr_suggested_display_precision = 2
    _attr_last_reset = datetime(2024, 6, 1, tzinfo=UTC)
    _attr_native_value = 1234.56789


async def test_sensor_rounds_to_display_precision_with_unit_and_state_class(
    runtime: Runtime,
) -> None:
    await add_entities(runtime, "modbus", [EnergyMeter()])

    state = runtime.states.get("sensor.energy")
    assert state is not None
    assert state.state == "1234.57"
    assert state.attributes["unit_of_measurement"] == "kWh"
    assert state.attributes["device_class"] == "energy"
    assert state.attributes["state_class"] == "total"
    assert state.attributes["last_reset"] == "2024-06-01T00:00:00+00:00"


async def test_enum_sensor_lists_its_options(runtime: Runtime) -> None:
    mode = SensorEntity()
    mode._attr_name = "Inverter mode"
    mode._attr_device_class = SensorDeviceClass.ENUM
    mode._attr_options = ["grid", "battery", "off"]
    mode._attr_native_value = "battery"
    await add_entities(runtime, "modbus", [mode])

    state = runtime.states.get("sensor.inverter_mode")
    assert state is not None
    assert state.state == "battery"
    assert state.attributes["options"] == ["grid", "battery", "off"]
