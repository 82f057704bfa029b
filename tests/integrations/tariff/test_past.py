"""Past prices: a TOU plan at any past instant (DST days included) and a price entity's recorded
states and forecasts; a power profile priced across boundaries, with holes counted apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from integrations.tariff.past import RecordedState, plan_prices, recorded_prices
from integrations.tariff.schema import CONFIG_SCHEMA

from .test_dynamic import nordpool

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SLOTS = [
    {"start": "00:00", "end": "07:00", "price": 0.10, "type": "off_peak"},
    {"start": "07:00", "end": "21:00", "price": 0.25, "type": "standard"},
    {"start": "21:00", "end": "24:00", "price": 0.15, "type": "standard"},
]


def plan() -> object:
    config = CONFIG_SCHEMA(
        {"plan": {"name": "Home", "day_sets": {"all": {"days": ["mon", "tue", "wed", "thu",
         "fri", "sat", "sun"], "slots": SLOTS}}}}
    )  # fmt: skip
    return config.plan  # type: ignore[attr-defined]


def test_plan_prices_a_past_spring_forward_day_at_local_wall_times() -> None:
    # 2026-03-29: clocks go from 02:00 to 03:00 local; 07:00 local is 05:00 UTC that day.
    start = datetime(2026, 3, 28, 12, tzinfo=UTC)
    prices = plan_prices(plan(), start, start + timedelta(days=2), AMSTERDAM)  # type: ignore[arg-type]

    assert prices.source == "the TOU plan 'Home'"
    assert prices.price_at(datetime(2026, 3, 29, 4, 59, tzinfo=UTC)) == 0.10
    assert prices.price_at(datetime(2026, 3, 29, 5, 0, tzinfo=UTC)) == 0.25
    assert prices.price_at(datetime(2026, 3, 28, 5, 59, tzinfo=UTC)) == 0.10  # UTC+1 still
    assert prices.price_at(datetime(2026, 3, 28, 6, 0, tzinfo=UTC)) == 0.25
    # 1 kW from 04:30 to 05:30 UTC on the DST day: half an hour at each price.
    cost = prices.cost(
        [(datetime(2026, 3, 29, 4, 30, tzinfo=UTC), datetime(2026, 3, 29, 5, 30, tzinfo=UTC), 1000)]
    )
    assert cost.kwh == pytest.approx(1.0)
    assert cost.cost == pytest.approx(0.5 * 0.10 + 0.5 * 0.25)
    assert cost.kwh_unpriced == 0


def test_recorded_forecasts_win_over_states_and_later_publications_over_earlier() -> None:
    t0 = datetime(2026, 1, 15, tzinfo=UTC)
    first = nordpool(60, 24, t0)  # 0.10 + 0.01 * (hour % 7)
    later = [dict(entry, value=1.0) for entry in nordpool(15, 8, t0 + timedelta(hours=10))]
    states = [
        RecordedState(t0, "0.5", {"raw_today": first}),
        RecordedState(t0 + timedelta(hours=9), "0.7", {"raw_today": later}),
    ]
    prices = recorded_prices("sensor.nordpool", states, t0 + timedelta(days=2), UTC)

    assert prices.source == "the recorded prices of sensor.nordpool"
    assert prices.price_at(t0 + timedelta(hours=3, minutes=30)) == pytest.approx(0.13)
    assert prices.price_at(t0 + timedelta(hours=10, minutes=20)) == 1.0  # the later one
    assert prices.price_at(t0 + timedelta(hours=12, minutes=5)) == pytest.approx(0.15)
    # Past the forecasts (the second day): the last recorded state, 0.7.
    assert prices.price_at(t0 + timedelta(hours=30)) == 0.7


def test_states_alone_price_from_each_change_and_holes_count_apart() -> None:
    t0 = datetime(2026, 1, 15, tzinfo=UTC)
    states = [
        RecordedState(t0, "0.30", {}),
        # Hostile attributes: not a forecast; the state is not a number either.
        RecordedState(t0 + timedelta(hours=1), "unavailable", {"raw_today": "junk", "rates": [7]}),
        RecordedState(t0 + timedelta(hours=2), "0.05", {}),
    ]
    prices = recorded_prices("sensor.spot", states, t0 + timedelta(hours=4), UTC)
    # 2 kW over four hours: one hour at 0.30, one without a price, two at 0.05.
    cost = prices.cost([(t0, t0 + timedelta(hours=4), 2000)])

    assert prices.price_at(t0 + timedelta(minutes=90)) is None
    assert cost.kwh == pytest.approx(8.0)
    assert cost.kwh_unpriced == pytest.approx(2.0)
    assert cost.cost == pytest.approx(2 * 0.30 + 4 * 0.05)
    # Before the first recorded state nothing is known.
    assert prices.cost([(t0 - timedelta(hours=1), t0, 1000)]).kwh_unpriced == pytest.approx(1.0)
