"""Energy from a plug's power sensor rather than the nameplate."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import ServiceValidationError
from tests.integrations._runtime import clock_of
from tests.integrations.tuya.conftest import state_becomes

from .conftest import site, site_yaml


async def test_a_plug_appliance_counts_energy_from_its_power_sensor(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(3.3, dps={"1": True, "19": 10000, "20": 2300})  # 1000 W
    appliances = """\
  price: 0.5
  appliances:
    - {name: Kettle, power: 2000, switch: switch.kettle_plug,
       power_sensor: sensor.kettle_plug_power}
"""
    async with site(tmp_path, site_yaml(appliances, tuya_port=double.port)) as runtime:
        await state_becomes(runtime, "appliance.kettle", "running")
        await clock_of(runtime).advance_and_settle(timedelta(minutes=30))
        state = runtime.states.get("appliance.kettle")

    assert state is not None
    assert state.attributes["energy_today"] == pytest.approx(0.5)  # measured, not nameplate
    assert state.attributes["cost_today"] == pytest.approx(0.25)


async def test_carbon_follows_a_grid_intensity_sensor_in_grams_per_kwh(tmp_path: Path) -> None:
    appliances = """\
  carbon_sensor: sensor.grid_intensity
  appliances:
    - {name: Heater, power: 1000}
"""
    async with site(tmp_path, site_yaml(appliances)) as runtime:
        runtime.states.set("sensor.grid_intensity", "400", {"unit_of_measurement": "g/kWh"})
        await runtime.services.call(
            "appliance", "turn_on", target={"entity_id": "appliance.heater"}
        )
        await clock_of(runtime).advance_and_settle(timedelta(hours=1))
        runtime.states.set("sensor.grid_intensity", "100", {"unit_of_measurement": "g/kWh"})
        await clock_of(runtime).advance_and_settle(timedelta(0))  # the change is delivered
        await clock_of(runtime).advance_and_settle(timedelta(hours=1))
        state = runtime.states.get("appliance.heater")

    assert state is not None
    assert state.attributes["energy_today"] == pytest.approx(2.0)
    assert state.attributes["carbon_today"] == pytest.approx(0.5)  # 1 kWh x 0.4 + 1 kWh x 0.1


async def test_run_for_refuses_a_start_without_a_time_zone(tmp_path: Path) -> None:
    async with site(
        tmp_path, site_yaml("  appliances:\n    - {name: Heater, power: 1000}\n")
    ) as rt:
        with pytest.raises(ServiceValidationError, match="time zone"):
            await rt.services.call(
                "appliance",
                "run_for",
                {"duration": "00:10:00", "start": "2026-01-15T22:00:00"},
                target={"entity_id": "appliance.heater"},
            )


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e400"])
async def test_a_sensor_reading_nan_or_inf_does_not_poison_the_totals(
    tmp_path: Path, bad: str
) -> None:
    # A template or MQTT sensor can read "nan" or "inf" for a moment: that reading counts as
    # no reading (the nameplate power, the configured intensity), and the day's totals stay
    # numbers once it reads a number again.
    appliances = """\
  price: 0.5
  carbon_intensity: 0.2
  carbon_sensor: sensor.grid_intensity
  appliances:
    - {name: Heater, power: 1000, switch: switch.heater_plug,
       power_sensor: sensor.heater_plug_power}
"""
    async with site(tmp_path, site_yaml(appliances)) as runtime:
        runtime.states.set("switch.heater_plug", "on")
        runtime.states.set("sensor.heater_plug_power", bad, {"unit_of_measurement": "W"})
        runtime.states.set("sensor.grid_intensity", bad, {"unit_of_measurement": "g/kWh"})
        await clock_of(runtime).advance_and_settle(timedelta(0))
        await clock_of(runtime).advance_and_settle(timedelta(hours=1))
        runtime.states.set("sensor.heater_plug_power", "500", {"unit_of_measurement": "W"})
        runtime.states.set("sensor.grid_intensity", "100", {"unit_of_measurement": "g/kWh"})
        await clock_of(runtime).advance_and_settle(timedelta(0))
        await clock_of(runtime).advance_and_settle(timedelta(hours=1))
        state = runtime.states.get("appliance.heater")

    assert state is not None
    # First hour at the nameplate (1 kWh) and the configured 0.2 kg/kWh, second from the sensors.
    assert state.attributes["energy_today"] == pytest.approx(1.5)
    assert state.attributes["cost_today"] == pytest.approx(0.75)
    assert state.attributes["carbon_today"] == pytest.approx(0.2 + 0.05)


@pytest.mark.parametrize("bad", ["Infinity", "1e400", "NaN", "1" + "0" * 400])
async def test_a_restored_total_of_inf_in_the_stored_file_reads_as_zero(
    tmp_path: Path, bad: str
) -> None:
    # .storage/core.restore_state is JSON that Python reads with Infinity, NaN, 1e400 and
    # integers no float holds (a hand edit, a bad copy): a total that is not a finite number
    # reads as zero, as a negative or text one does, and the other totals come back.
    appliances = """\
  price: 0.5
  appliances:
    - {name: Heater, power: 1000, switch: switch.heater_plug}
"""
    async with site(tmp_path, site_yaml(appliances)) as runtime:
        runtime.states.set("switch.heater_plug", "on")
        await clock_of(runtime).advance_and_settle(timedelta(0))
        await clock_of(runtime).advance_and_settle(timedelta(hours=1))
    path = tmp_path / ".storage" / "core.restore_state"
    doc = json.loads(path.read_text())
    (entry,) = [e for e in doc["data"]["states"] if e["state"]["entity_id"] == "appliance.heater"]
    assert entry["extra_data"]["total"]["energy"] == pytest.approx(1.0)
    entry["extra_data"]["total"]["energy"] = "BAD"
    path.write_text(json.dumps(doc).replace('"BAD"', bad))

    async with site(tmp_path, site_yaml(appliances)) as runtime:
        energy = runtime.states.get("sensor.heater_energy")
        cost = runtime.states.get("sensor.heater_cost")

    assert energy is not None
    assert energy.state == "0.0"
    assert cost is not None
    assert float(cost.state) == pytest.approx(0.5)
