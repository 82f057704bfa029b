"""The backtest's cost estimate: the kWh and cost that actions on appliances would have moved,
priced with the tariff's past prices (a known TOU plan, or a price sensor's recorded states),
over a known recorded history."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from automations.backtest.run import backtest
from tests.automations.backtest.conftest import START, backtest_site, recorder_of
from tests.automations.backtest.test_replay import drive
from tests.automations.conftest import Site

# Europe/Amsterdam (the test header's zone) is UTC+2 on START's day: 12:00-13:00 local is
# 10:00-11:00 UTC, the peak.
PLAN = """
tariff:
  currency: EUR
  plan:
    name: Day peak
    day_sets:
      all_days:
        days: [mon, tue, wed, thu, fri, sat, sun, holiday]
        slots:
          - {start: "00:00", end: "12:00", price: 0.10, type: off_peak}
          - {start: "12:00", end: "13:00", price: 0.40, type: peak}
          - {start: "13:00", end: "24:00", price: 0.20, type: standard}
"""
PRICE_SENSOR = """
tariff:
  currency: EUR
  price_entity: sensor.spot_price
"""
APPLIANCES = """
automation: []
appliance:
  appliances:
    - name: Heater
      tier: shiftable
      power: 2000
      switch: switch.heater
      power_sensor: sensor.heater_power
    - name: Boiler
      tier: deferrable
      power: 3000
      switch: switch.boiler
"""
#: Sheds both appliances when the grid is busy.
SHED = {
    "alias": "Shed at peak",
    "triggers": [{"trigger": "state", "entity_id": "binary_sensor.grid_busy", "to": "on"}],
    "actions": [
        {"action": "switch.turn_off", "target": {"entity_id": ["switch.heater", "switch.boiler"]}}
    ],
}
#: Minute → recorded states (set at minute + 7 s). The heater draws 1800 W (its sensor) until
#: it is switched off at minute 50; the boiler runs all along. The grid is busy at minute 20.
SCRIPT = {
    0: [("switch.heater", "on"), ("sensor.heater_power", "1800"), ("switch.boiler", "on"),
        ("binary_sensor.grid_busy", "off")],
    20: [("binary_sensor.grid_busy", "on")],
    50: [("switch.heater", "off"), ("sensor.heater_power", "0")],
}  # fmt: skip
MODULES = ("integrations.appliance", "integrations.tariff")


def at(minute: int, second: int = 7) -> datetime:
    return START + timedelta(minutes=minute, seconds=second)


def hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


async def shed_report(site: Site, minutes: int) -> dict[str, Any]:
    await recorder_of(site).flush()
    return await backtest(site.runtime, SHED, start=START, end=START + timedelta(minutes=minutes))


async def test_load_shedding_moves_the_recorded_and_nominal_energy_at_the_plans_prices(
    cfg: Path,
) -> None:
    async with backtest_site(cfg, APPLIANCES + PLAN, integrations=MODULES) as site:
        await drive(site, SCRIPT, 90)
        report = await shed_report(site, 90)

    energy = report["energy"]
    assert energy["prices"] == "the TOU plan 'Day peak'"
    assert energy["currency"] == "EUR"
    heater, boiler = sorted(energy["actions"], key=lambda a: a["appliance"], reverse=True)
    # The heater: off from the action until its switch's recorded change, 1800 W less (its
    # power sensor's reading), all in the peak at 0.40.
    assert heater["time"] == at(20).isoformat()
    assert heater["until"] == at(50).isoformat()
    assert heater["to"] == "off"
    assert heater["drawn_from"] == "recorded readings of sensor.heater_power"
    assert heater["kwh"] == pytest.approx(-1.8 * hours(at(20), at(50)), abs=1e-6)
    assert heater["cost"] == pytest.approx(-1.8 * 0.5 * 0.40, abs=1e-6)
    # The boiler: no power sensor, nominal 3000 W; off until the end of the period, which
    # crosses from the peak (0.40 until 11:00 UTC) into the standard band (0.20).
    peak = hours(at(20), START + timedelta(hours=1))
    rest = hours(START + timedelta(hours=1), START + timedelta(minutes=90))
    assert boiler["until"] == (START + timedelta(minutes=90)).isoformat()
    assert boiler["drawn_from"] == "nominal 3000 W while switch.boiler was recorded on"
    assert boiler["kwh"] == pytest.approx(-3.0 * (peak + rest), abs=1e-6)
    assert boiler["cost"] == pytest.approx(-3.0 * (peak * 0.40 + rest * 0.20), abs=1e-6)
    assert energy["appliances"]["appliance.heater"]["cost"] == pytest.approx(heater["cost"])
    assert energy["total"]["kwh"] == pytest.approx(heater["kwh"] + boiler["kwh"], abs=1e-5)
    assert energy["total"]["cost"] == pytest.approx(heater["cost"] + boiler["cost"], abs=1e-5)
    assert energy["total"]["kwh_unpriced"] == 0
    assert "power sensor" in energy["method"]


async def test_recorded_spot_prices_price_the_moved_energy(cfg: Path) -> None:
    # The price sensor's recorded states are the prices: 0.30 until minute 40, then 0.05.
    script = {minute: [*SCRIPT.get(minute, [])] for minute in sorted({*SCRIPT, 0, 40})}
    script[0].append(("sensor.spot_price", "0.30"))
    script[40].append(("sensor.spot_price", "0.05"))
    async with backtest_site(cfg, APPLIANCES + PRICE_SENSOR, integrations=MODULES) as site:
        await drive(site, script, 60)
        report = await shed_report(site, 60)

    energy = report["energy"]
    assert energy["prices"] == "the recorded prices of sensor.spot_price"
    heater = next(a for a in energy["actions"] if a["appliance"] == "Heater")
    boiler = next(a for a in energy["actions"] if a["appliance"] == "Boiler")
    assert heater["cost"] == pytest.approx(
        -1.8 * (hours(at(20), at(40)) * 0.30 + hours(at(40), at(50)) * 0.05), abs=1e-6
    )
    end = START + timedelta(minutes=60)
    assert boiler["cost"] == pytest.approx(
        -3.0 * (hours(at(20), at(40)) * 0.30 + hours(at(40), end) * 0.05), abs=1e-6
    )


async def test_without_a_tariff_the_report_has_no_estimate(cfg: Path) -> None:
    async with backtest_site(cfg, APPLIANCES, integrations=("integrations.appliance",)) as site:
        await drive(site, SCRIPT, 30)
        report = await shed_report(site, 30)

    assert report["summary"]["actions"] == 1
    assert "energy" not in report
