"""Dynamic prices: Nord Pool and Octopus shapes at 15 and 60 minutes, holes, bad entities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.tariff.const import SlotType
from integrations.tariff.dynamic import ForecastError, read_forecast

T0 = datetime(2026, 1, 15, tzinfo=UTC)


def nordpool(step_minutes: int, count: int, start: datetime = T0) -> list[dict[str, object]]:
    """Nord Pool ``raw_today`` entries (datetimes, as the component publishes them)."""
    step = timedelta(minutes=step_minutes)
    return [
        {"start": start + i * step, "end": start + (i + 1) * step, "value": 0.10 + 0.01 * (i % 7)}
        for i in range(count)
    ]


def octopus(step_minutes: int, count: int) -> list[dict[str, object]]:
    """Octopus rates (ISO strings)."""
    step = timedelta(minutes=step_minutes)
    return [
        {
            "start": (T0 + i * step).isoformat(),
            "end": (T0 + (i + 1) * step).isoformat(),
            "value_inc_vat": 0.2 + 0.05 * (i % 3),
        }
        for i in range(count)
    ]


@pytest.mark.parametrize("minutes", [15, 60])
def test_nordpool_raw_today_and_tomorrow_at_each_resolution(minutes: int) -> None:
    per_day = 24 * 60 // minutes
    attrs = {
        "raw_today": nordpool(minutes, per_day),
        "raw_tomorrow": nordpool(minutes, per_day, T0 + timedelta(days=1)),
    }
    forecast = read_forecast("sensor.nordpool", attrs, UTC)
    assert len(forecast.timeline) == 2 * per_day
    assert forecast.timeline.resolution == timedelta(minutes=minutes)
    assert not forecast.mixed
    assert not forecast.problems
    assert forecast.timeline.at(T0 + timedelta(minutes=minutes)).price == pytest.approx(0.11)


@pytest.mark.parametrize("minutes", [15, 60])
def test_octopus_rates_with_value_inc_vat(minutes: int) -> None:
    forecast = read_forecast("event.octopus_rates", {"rates": octopus(minutes, 8)}, UTC)
    kinds = [s.kind for s in forecast.timeline.segments]
    assert kinds[:3] == [SlotType.OFF_PEAK, SlotType.STANDARD, SlotType.PEAK]


def test_mixed_resolutions_use_the_finest_and_say_so() -> None:
    attrs = {
        "raw_today": nordpool(60, 24),
        "raw_tomorrow": nordpool(15, 96, T0 + timedelta(days=1)),
    }
    forecast = read_forecast("sensor.nordpool", attrs, UTC)
    assert forecast.mixed
    assert forecast.timeline.resolution == timedelta(minutes=15)


def test_an_unpublished_value_leaves_a_hole_and_bad_entries_are_named() -> None:
    entries = nordpool(60, 4)
    entries[1] = {**entries[1], "value": None}
    entries[2] = {**entries[2], "value": "dear"}
    forecast = read_forecast("sensor.nordpool", {"raw_today": entries}, UTC)
    holes = forecast.timeline.holes(T0, T0 + timedelta(hours=4))
    assert [(h.start, h.end) for h in holes] == [(T0 + timedelta(hours=1), T0 + timedelta(hours=3))]
    assert forecast.problems == ("raw_today[2].value: expected a number, got 'dear'",)


def test_an_entity_without_a_forecast_is_refused_by_name() -> None:
    with pytest.raises(ForecastError, match=r"sensor.price has no price forecast: expected one of"):
        read_forecast("sensor.price", {"unit": "EUR/kWh"}, UTC)
