"""Past prices: a TOU plan at any past instant (DST days included) and a price entity's recorded
states and forecasts; a power profile priced across boundaries, with holes counted apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.errors import ServiceValidationError
from integrations.tariff.past import RecordedState, plan_prices, recorded_prices
from integrations.tariff.schema import CONFIG_SCHEMA
from tests.integrations._runtime import running

from .conftest import tariff_yaml
from .test_dynamic import nordpool
from .test_prices import MIDNIGHT

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


async def test_past_price_service_prices_an_instant_and_a_draw_and_refuses_bad_periods(
    tmp_path: Path,
) -> None:
    # Kolkata plan: 18:00-22:00 local at 10.0, 22:00-24:00 at 6.0; MIDNIGHT is local 00:00.
    now = MIDNIGHT + timedelta(days=3)
    async with running(tmp_path, tariff_yaml("Asia/Kolkata"), now) as runtime:

        async def past(data: dict[str, object]) -> dict[str, object]:
            response = await runtime.services.call(
                "tariff", "past_price", data, return_response=True
            )
            assert response is not None
            return response

        evening = MIDNIGHT + timedelta(hours=21)  # two days before "now"
        instant = await past({"at": evening.isoformat()})
        draw = await past(
            {"at": evening.isoformat(), "until": (evening + timedelta(hours=2)).isoformat(),
             "power": 1500}
        )  # fmt: skip
        with pytest.raises(ServiceValidationError, match="until must follow at"):
            await past({"at": evening.isoformat(), "until": evening.isoformat(), "power": 1})
        with pytest.raises(ServiceValidationError, match="longer than 31 days"):
            await past(
                {"at": (now - timedelta(days=40)).isoformat(), "until": now.isoformat(),
                 "power": 1}
            )  # fmt: skip
        with pytest.raises(ServiceValidationError, match="needs a UTC offset"):
            await past({"at": "2026-01-14T21:00:00"})  # no UTC offset

    assert instant["price"] == 10.0
    assert instant["source"] == "the TOU plan 'Kolkata TOU'"
    assert instant["currency"] == "INR"
    # 1.5 kW for an hour at 10.0 and an hour at 6.0.
    assert draw["kwh"] == pytest.approx(3.0)
    assert draw["cost"] == pytest.approx(1.5 * 10.0 + 1.5 * 6.0)
    assert draw["kwh_unpriced"] == 0
