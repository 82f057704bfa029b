"""The appliance meter: left Riemann sums of power, today's figures restarting at local midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from integrations.appliance.accounting import Meter, Totals

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_power_holds_until_the_next_advance_and_is_priced() -> None:
    meter = Meter(UTC, price=0.25, intensity=0.3)
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    meter.advance(start)
    meter.power, meter.on = 2000.0, True
    meter.advance(start + timedelta(minutes=30))
    meter.power, meter.on = 0.0, False
    meter.advance(start + timedelta(hours=2))

    assert meter.total.energy == pytest.approx(1.0)
    assert meter.total.cost == pytest.approx(0.25)
    assert meter.total.carbon == pytest.approx(0.3)
    assert meter.total.runtime == pytest.approx(1800.0)


def test_today_restarts_at_local_midnight_and_totals_keep_growing() -> None:
    meter = Meter(AMSTERDAM, power=1000.0, on=True)
    before_midnight = datetime(2026, 1, 15, 22, 0, tzinfo=UTC)  # 23:00 in Amsterdam
    meter.advance(before_midnight)
    meter.advance(before_midnight + timedelta(minutes=50))
    today_before = meter.today.energy
    meter.advance(before_midnight + timedelta(hours=1, minutes=10))  # 00:10 the next day

    assert today_before == pytest.approx(50 / 60)
    assert meter.today.energy == pytest.approx(20 / 60)  # the crossing tick counts to the new day
    assert meter.total.energy == pytest.approx(70 / 60)


def test_a_clock_stepped_back_adds_nothing() -> None:
    meter = Meter(UTC, power=1000.0, on=True)
    now = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    meter.advance(now)
    meter.advance(now - timedelta(minutes=5))

    assert meter.total.energy == 0.0


def test_restored_totals_ignore_malformed_values() -> None:
    totals = Totals.from_dict({"energy": 3.5, "cost": "lots", "carbon": -1, "runtime": True})

    assert totals.as_dict() == {"energy": 3.5, "cost": 0.0, "carbon": 0.0, "runtime": 0.0}
