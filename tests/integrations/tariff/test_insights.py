"""Nightly aggregation against hand-computed costs, and the 15-minute notification checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integrations.tariff import INSIGHTS
from integrations.tariff.api import API
from tests.integrations._runtime import clock_of, running

from .conftest import tariff_yaml

MIDNIGHT = datetime(2026, 1, 14, 18, 30, tzinfo=UTC)  # 2026-01-15 00:00 in Kolkata
APPLIANCES = """\
  appliances:
    - {name: Dishwasher, tier: shiftable, power: 2000}
    - {name: Heater, tier: shiftable, power: 1000, power_sensor: sensor.heater_power}
"""


async def test_the_nightly_job_aggregates_each_appliance_day_from_energy_per_price_period(
    tmp_path: Path,
) -> None:
    yaml = tariff_yaml("Asia/Kolkata", extra="  carbon_intensity: 0.5\n", appliances=APPLIANCES)
    async with running(tmp_path, yaml, MIDNIGHT + timedelta(hours=5)) as runtime:
        clock = clock_of(runtime)
        await runtime.services.call(
            "appliance", "turn_on", target={"entity_id": "appliance.dishwasher"}
        )
        for _ in range(8):  # 05:00-07:00
            await clock.advance_and_settle(timedelta(minutes=15))
        await runtime.services.call(
            "appliance", "turn_off", target={"entity_id": "appliance.dishwasher"}
        )
        before = list(runtime.data[API].store.days)
        await clock.advance_and_settle(MIDNIGHT + timedelta(hours=24) - clock.now())
        await clock.advance_and_settle(timedelta(minutes=30))  # 00:30 the next day
        days = list(runtime.data[API].store.days)
        total = runtime.states.get("sensor.dishwasher_tariff_cost")
    assert before == []
    row = next(d for d in days if d["appliance"] == "appliance.dishwasher")
    # 05:00-06:00 at 5.0 and 06:00-07:00 at 7.0, 2 kW: 2 x 5 + 2 x 7 = 24.0.
    assert row["day"] == "2026-01-15"
    assert row["energy_kwh"] == pytest.approx(4.0)
    assert row["cost"] == pytest.approx(24.0)
    assert row["carbon_kg"] == pytest.approx(2.0)
    assert row["runtime_s"] == pytest.approx(7200)
    assert total is not None
    assert float(total.state) == pytest.approx(24.0)
    assert total.attributes["state_class"] == "total_increasing"


async def test_checks_warn_of_a_peak_soon_a_spike_and_a_low_prepaid_balance(tmp_path: Path) -> None:
    extra = "  notifications: {prepaid_balance: sensor.balance, balance_below: 100}\n"
    yaml = tariff_yaml("Asia/Kolkata", extra=extra, appliances=APPLIANCES)
    async with running(tmp_path, yaml, MIDNIGHT + timedelta(hours=17, minutes=40)) as runtime:
        insights = runtime.data[INSIGHTS]
        now = runtime.clock.now()
        runtime.states.set("sensor.heater_power", "100")
        runtime.states.set("sensor.balance", "250")
        await runtime.services.call(
            "appliance", "turn_on", target={"entity_id": "appliance.heater"}
        )
        first = insights.check(now)
        runtime.states.set("sensor.heater_power", "500")
        runtime.states.set("sensor.balance", "50")
        second = insights.check(now)
        peak_note = runtime.notifications.get("tariff_peak_soon")
    assert first == ["tariff_peak_soon"]
    assert second == ["tariff_peak_soon", "tariff_spike_appliance.heater", "tariff_prepaid_low"]
    assert peak_note is not None
    assert peak_note["message"] == "The peak starts in 20 min while Heater run."


async def test_today_so_far_is_costed_at_the_tariff_prices(tmp_path: Path) -> None:
    extra = "  autopilot: {enabled: false}\n"  # else it pauses the dishwasher at 18:00
    yaml = tariff_yaml("Asia/Kolkata", extra=extra, appliances=APPLIANCES)
    async with running(tmp_path, yaml, MIDNIGHT + timedelta(hours=17)) as runtime:
        clock = clock_of(runtime)
        await runtime.services.call(
            "appliance", "turn_on", target={"entity_id": "appliance.dishwasher"}
        )
        for _ in range(8):  # 17:00-19:00: an hour at 7.0, an hour at 10.0
            await clock.advance_and_settle(timedelta(minutes=15))
        today = runtime.data[API].receipts_view()["today"]
    row = next(r for r in today if r["appliance"] == "appliance.dishwasher")
    assert row["energy_kwh"] == pytest.approx(4.0)
    assert row["cost"] == pytest.approx(2 * 7.0 + 2 * 10.0)
