"""The simulator in a real Runtime, found through the real entry point, driven by a FakeClock."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.audit import audit_log
from core.errors import ServiceValidationError
from core.integration import IntegrationStatus
from core.runtime import Runtime
from core.state import State
from tests.integrations._runtime import clock_of
from tests.integrations._runtime import running as run_on_fake_clock

CONFIG = """\
edgewise:
  latitude: 52.3731
  longitude: 4.8922
  elevation: 0
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
simulator:
  seed: 7
"""

#: 14:00 on a Wednesday in Amsterdam.
START = datetime(2024, 7, 3, 12, 0, tzinfo=UTC)


def running(config_dir: Path, yaml: str = CONFIG) -> AbstractAsyncContextManager[Runtime]:
    """A started Runtime at ``START`` on a FakeClock, with the simulator configured."""
    return run_on_fake_clock(config_dir, yaml, START)


def state(runtime: Runtime, entity_id: str) -> State:
    found = runtime.states.get(entity_id)
    assert found is not None, entity_id
    return found


async def test_default_site_entities_appear_with_classes_and_units(tmp_path: Path) -> None:
    async with running(tmp_path) as runtime:
        loaded = runtime.loader.get("simulator")
        assert loaded is not None
        assert loaded.status is IntegrationStatus.RUNNING
        expected = {
            "sensor.zone_1_temperature": ("temperature", "measurement", "°C"),
            "sensor.main_meter_power": ("power", "measurement", "kW"),
            "sensor.main_meter_energy": ("energy", "total_increasing", "kWh"),
            "sensor.chiller_1_power": ("power", "measurement", "kW"),
            "sensor.ahu_cooling_load": ("power", "measurement", "kW"),
            "sensor.house_meter_power": ("power", "measurement", "W"),
            "sensor.house_meter_energy": ("energy", "total_increasing", "kWh"),
            "sensor.dishwasher_energy": ("energy", "total_increasing", "kWh"),
            "sensor.simulator_outdoor_temperature": ("temperature", "measurement", "°C"),
        }
        for entity_id, (device_class, state_class, unit) in expected.items():
            attrs = state(runtime, entity_id).attributes
            assert attrs["device_class"] == device_class, entity_id
            assert attrs["state_class"] == state_class, entity_id
            assert attrs["unit_of_measurement"] == unit, entity_id
        assert state(runtime, "sensor.chiller_1_efficiency").attributes["unit_of_measurement"] == (
            "kW/ton"
        )
        for n in (1, 2, 3):
            climate = state(runtime, f"climate.zone_{n}")
            assert climate.state == "auto"
            assert climate.attributes["hvac_modes"] == ["off", "heat", "cool", "auto"]
            assert (climate.attributes["min_temp"], climate.attributes["max_temp"]) == (16, 28)
        setpoint = state(runtime, "number.ahu_supply_air_setpoint")
        assert (setpoint.attributes["min"], setpoint.attributes["max"]) == (10, 20)
        for kind in ("dishwasher", "washing_machine", "ev_charger", "heat_pump", "fridge"):
            assert state(runtime, f"switch.{kind}_plug").state == "on"
            assert state(runtime, f"switch.{kind}_plug").attributes["device_class"] == "outlet"
        for entity_id in ("switch.ahu_fan", "switch.chiller_1_enable", "switch.chiller_3_enable"):
            assert state(runtime, entity_id).state == "on"
        zone = runtime.entity_registry.get("climate.zone_1")
        assert zone is not None
        assert zone.device_id is not None
        device = runtime.device_registry.get(zone.device_id)
        assert device is not None
        assert device.name == "Zone 1"


async def test_advancing_the_clock_changes_states(tmp_path: Path) -> None:
    async with running(tmp_path) as runtime:
        before = state(runtime, "sensor.main_meter_energy").state
        temperature = state(runtime, "sensor.zone_1_temperature").state
        await clock_of(runtime).advance_and_settle(timedelta(seconds=10))
        await clock_of(runtime).advance_and_settle(timedelta(seconds=10))
        assert float(state(runtime, "sensor.main_meter_energy").state) > float(before)
        assert state(runtime, "sensor.zone_1_temperature").state != temperature
        sim_time = datetime.fromisoformat(state(runtime, "sensor.simulator_time").state)
        assert sim_time == START + timedelta(seconds=20)


async def test_plug_off_drops_power_and_house_meter_and_is_audited(tmp_path: Path) -> None:
    async with running(tmp_path) as runtime:
        # The washing machine's plug turned on starts a cycle: ~2 kW of heating after filling.
        await runtime.services.call(
            "switch", "turn_off", target={"entity_id": "switch.washing_machine_plug"}
        )
        await runtime.services.call(
            "switch", "turn_on", target={"entity_id": "switch.washing_machine_plug"}
        )
        await clock_of(runtime).advance_and_settle(timedelta(minutes=6))
        power = float(state(runtime, "sensor.washing_machine_power").state)
        assert power > 1000
        house = float(state(runtime, "sensor.house_meter_power").state)

        await runtime.services.call(
            "switch", "turn_off", target={"entity_id": "switch.washing_machine_plug"}
        )
        assert state(runtime, "switch.washing_machine_plug").state == "off"
        assert float(state(runtime, "sensor.washing_machine_power").state) == 0.0
        assert float(state(runtime, "sensor.house_meter_power").state) == pytest.approx(
            house - power, abs=0.2
        )
        records = audit_log(runtime).query("switch.washing_machine_plug")
        assert [r.action for r in records][:3] == [
            "switch.turn_off",
            "switch.turn_on",
            "switch.turn_off",
        ]
        assert all(r.outcome == "ok" for r in records)


async def test_number_out_of_bounds_is_refused_and_in_bounds_is_taken(tmp_path: Path) -> None:
    async with running(tmp_path) as runtime:
        with pytest.raises(ServiceValidationError, match="outside its range 10 to 20"):
            await runtime.services.call(
                "number",
                "set_value",
                {"value": 25},
                target={"entity_id": "number.ahu_supply_air_setpoint"},
            )
        assert state(runtime, "number.ahu_supply_air_setpoint").state == "13.0"
        await runtime.services.call(
            "number",
            "set_value",
            {"value": 15},
            target={"entity_id": "number.ahu_supply_air_setpoint"},
        )
        assert state(runtime, "number.ahu_supply_air_setpoint").state == "15.0"
        await clock_of(runtime).advance_and_settle(timedelta(seconds=10))
        assert float(state(runtime, "sensor.ahu_supply_air_temperature").state) >= 14.9
        assert audit_log(runtime).query("number.ahu_supply_air_setpoint")[0].params == {"value": 15}


async def test_climate_setpoint_and_mode_are_bounded_and_audited(tmp_path: Path) -> None:
    async with running(tmp_path) as runtime:
        with pytest.raises(ServiceValidationError):
            await runtime.services.call(
                "climate", "set_temperature", {"temperature": 30},
                target={"entity_id": "climate.zone_2"},
            )  # fmt: skip
        await runtime.services.call(
            "climate", "set_temperature", {"temperature": 24, "hvac_mode": "off"},
            target={"entity_id": "climate.zone_2"},
        )  # fmt: skip
        zone = state(runtime, "climate.zone_2")
        assert zone.state == "off"
        assert zone.attributes["temperature"] == 24
        assert zone.attributes["hvac_action"] == "off"
        assert audit_log(runtime).query("climate.zone_2")[0].action == "climate.set_temperature"


async def test_speed_60_makes_an_hour_pass_in_a_minute(tmp_path: Path) -> None:
    yaml = CONFIG.replace("  seed: 7\n", "  seed: 7\n  speed: 60\n")
    async with running(tmp_path, yaml) as runtime:
        for _ in range(6):
            await clock_of(runtime).advance_and_settle(timedelta(seconds=10))
        sim_time = datetime.fromisoformat(state(runtime, "sensor.simulator_time").state)
        assert sim_time == START + timedelta(hours=1)


async def test_stop_cancels_the_step_job_and_removes_the_entities(tmp_path: Path) -> None:
    async with running(tmp_path) as runtime:
        scheduler = runtime.scheduler
        assert scheduler is not None
        assert "simulator.step" in {job.name for job in scheduler.jobs()}
        await runtime.loader.call("simulator", "edgewise_stop", runtime=runtime)
        assert "simulator.step" not in {job.name for job in scheduler.jobs()}
        assert runtime.states.get("sensor.house_meter_power") is None


async def test_meter_totals_carry_on_after_a_restart(tmp_path: Path) -> None:
    totals = ("sensor.main_meter_energy", "sensor.house_meter_energy", "sensor.fridge_energy")
    async with running(tmp_path) as runtime:
        for _ in range(3):
            await clock_of(runtime).advance_and_settle(timedelta(minutes=10))
        before = {entity_id: float(state(runtime, entity_id).state) for entity_id in totals}
    assert all(value > 0 for value in before.values()), before
    async with running(tmp_path) as runtime:
        after = {entity_id: float(state(runtime, entity_id).state) for entity_id in totals}
        assert after == pytest.approx(before, abs=1e-3)
        await clock_of(runtime).advance_and_settle(timedelta(minutes=10))
        for entity_id in totals[:2]:  # the meters count on (a fridge may be cycled off)
            assert float(state(runtime, entity_id).state) > before[entity_id], entity_id
