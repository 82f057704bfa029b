"""Tests of climate: setpoint bounds, HVAC modes, turn on/off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.audit import audit_log
from core.entities.climate import ClimateEntity, HVACAction, HVACMode
from core.entity_platform import add_entities
from core.errors import ServiceValidationError
from core.runtime import Runtime
from tests.core._entity_helpers import make_runtime


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path) as rt:
        yield rt


class Zone(ClimateEntity):
    _attr_unique_id = "zone-1"
    _attr_name = "Zone 1"
    _attr_hvac_modes = (HVACMode.OFF, HVACMode.HEAT, HVACMode.COOL)
    _attr_min_temp = 16.0
    _attr_max_temp = 28.0

    def __init__(self) -> None:
        super().__init__()
        self._attr_hvac_mode = HVACMode.OFF
        self._attr_target_temperature = 21.0
        self._attr_current_temperature = 20.4
        self._attr_hvac_action = HVACAction.IDLE
        self.writes: list[tuple[str, object]] = []

    async def async_set_temperature(self, temperature: float) -> None:
        self.writes.append(("temperature", temperature))
        self._attr_target_temperature = temperature
        self.write_state()

    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        self.writes.append(("mode", hvac_mode))
        self._attr_hvac_mode = hvac_mode
        self.write_state()


async def test_climate_set_temperature_bounds_are_enforced(runtime: Runtime) -> None:
    zone = Zone()
    await add_entities(runtime, "bacnet", [zone])

    with pytest.raises(
        ServiceValidationError, match=r"temperature 35 for climate.zone_1 .* 16 to 28"
    ):
        await runtime.services.call(
            "climate", "set_temperature", {"entity_id": "climate.zone_1", "temperature": 35}
        )
    assert zone.writes == []

    await runtime.services.call(
        "climate",
        "set_temperature",
        {"entity_id": "climate.zone_1", "temperature": 22.5, "hvac_mode": "heat"},
    )
    assert zone.writes == [("mode", HVACMode.HEAT), ("temperature", 22.5)]
    state = runtime.states.get("climate.zone_1")
    assert state is not None
    assert state.state == "heat"
    assert state.attributes["temperature"] == 22.5
    assert state.attributes["current_temperature"] == 20.4
    assert state.attributes["hvac_modes"] == ["off", "heat", "cool"]
    assert state.attributes["min_temp"] == 16.0
    assert state.attributes["hvac_action"] == "idle"
    assert dict(audit_log(runtime).query()[0].params) == {"temperature": 22.5, "hvac_mode": "heat"}


async def test_climate_hvac_mode_must_be_supported(runtime: Runtime) -> None:
    zone = Zone()
    await add_entities(runtime, "bacnet", [zone])

    with pytest.raises(ServiceValidationError, match=r"'auto' is not a mode of climate\.zone_1"):
        await runtime.services.call(
            "climate", "set_hvac_mode", {"entity_id": "climate.zone_1", "hvac_mode": "auto"}
        )
    with pytest.raises(ServiceValidationError, match="hvac_mode"):
        await runtime.services.call(
            "climate", "set_hvac_mode", {"entity_id": "climate.zone_1", "hvac_mode": "blast"}
        )
    assert zone.writes == []


async def test_climate_turn_on_and_off(runtime: Runtime) -> None:
    zone = Zone()
    await add_entities(runtime, "bacnet", [zone])

    await runtime.services.call("climate", "turn_on", {"entity_id": "climate.zone_1"})
    assert runtime.states.is_state("climate.zone_1", "heat")
    await runtime.services.call("climate", "turn_off", {"entity_id": "climate.zone_1"})
    assert runtime.states.is_state("climate.zone_1", "off")
