"""The running integration: sensors stepping on the FakeClock, services, the trigger platform."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core import Context
from core.errors import ServiceValidationError
from core.trigger import TriggerInfo
from integrations.tariff.trigger import TariffTrigger
from tests.integrations._runtime import clock_of, running
from tests.integrations.tuya.conftest import state_becomes

from .conftest import tariff_yaml
from .test_dynamic import nordpool

# 2026-01-15 00:00 in Kolkata (UTC+05:30).
MIDNIGHT = datetime(2026, 1, 14, 18, 30, tzinfo=UTC)


def _state(runtime: Any, entity_id: str) -> str:
    state = runtime.states.get(entity_id)
    assert state is not None, entity_id
    return str(state.state)


async def test_sensors_step_through_a_whole_kolkata_day_at_the_slot_boundaries(
    tmp_path: Path,
) -> None:
    async with running(
        tmp_path, tariff_yaml("Asia/Kolkata"), MIDNIGHT + timedelta(hours=1)
    ) as runtime:
        clock = clock_of(runtime)
        seen: list[tuple[str, str, str]] = []
        for _ in range(24 * 4):
            seen.append(
                (
                    clock.now().isoformat(),
                    _state(runtime, "sensor.electricity_price"),
                    _state(runtime, "sensor.tariff_slot"),
                )
            )
            await clock.advance_and_settle(timedelta(minutes=15))
        next_peak = _state(runtime, "sensor.next_peak_start")
        cheapest = runtime.states.get("sensor.cheapest_3h_window")

    by_time = {when: (price, kind) for when, price, kind in seen}
    at = lambda h, m=0: (MIDNIGHT + timedelta(hours=h, minutes=m)).isoformat()  # noqa: E731
    assert by_time[at(5, 45)] == ("5.0", "off_peak")
    assert by_time[at(6)] == ("7.0", "standard")
    assert by_time[at(18)] == ("10.0", "peak")
    assert by_time[at(22)] == ("6.0", "standard")
    assert by_time[at(24)] == ("5.0", "off_peak")  # the next day, expanded at midnight
    assert next_peak == (MIDNIGHT + timedelta(days=1, hours=18)).isoformat()
    assert cheapest is not None
    assert cheapest.attributes["average_price"] == 5.0


async def test_cheapest_window_service_answers_blocks_with_cost(tmp_path: Path) -> None:
    async with running(
        tmp_path, tariff_yaml("Asia/Kolkata"), MIDNIGHT + timedelta(hours=12)
    ) as runtime:
        response = await runtime.services.call(
            "tariff",
            "cheapest_window",
            {
                "duration": "02:00:00",
                "deadline": (MIDNIGHT + timedelta(hours=23)).isoformat(),
                "power": 2000,
                "blocks": 2,
                "price_cap": 8,
            },
            return_response=True,
        )
        with pytest.raises(ServiceValidationError, match=r"deadline .* is in the past"):
            await runtime.services.call(
                "tariff",
                "cheapest_window",
                {"duration": "01:00:00", "deadline": MIDNIGHT.isoformat()},
                return_response=True,
            )
    assert response is not None
    # 22:00-23:00 at 6.0 is the only cheap stretch after 18:00; 12:00-... at 7.0: earliest 2 h
    # under the cap is 22:00-23:00 (1 h at 6) + 12:00-13:00 (1 h at 7) = 13 per kW.
    assert response["cost"] == pytest.approx(26.0)
    assert [b["start"] for b in response["blocks"]] == [
        (MIDNIGHT + timedelta(hours=12)).isoformat(),
        (MIDNIGHT + timedelta(hours=22)).isoformat(),
    ]


async def test_cost_preview_gives_now_cheapest_and_next_cheaper_with_savings(
    tmp_path: Path,
) -> None:
    async with running(
        tmp_path, tariff_yaml("Asia/Kolkata"), MIDNIGHT + timedelta(hours=19)
    ) as runtime:
        response = await runtime.services.call(
            "tariff",
            "cost_preview",
            {
                "profile": [{"minutes": 60, "watts": 1000}],
                "deadline": (MIDNIGHT + timedelta(hours=30)).isoformat(),
            },
            return_response=True,
        )
    assert response is not None
    options = response["options"]
    assert options["now"]["cost"] == pytest.approx(10.0)
    assert options["cheapest"]["cost"] == pytest.approx(5.0)
    assert options["cheapest"]["saving"] == pytest.approx(5.0)
    assert options["cheapest"]["start"] == (MIDNIGHT + timedelta(hours=24)).isoformat()
    assert options["next_cheaper"]["start"] == (MIDNIGHT + timedelta(hours=22)).isoformat()
    assert options["next_cheaper"]["saving"] == pytest.approx(4.0)


async def test_trigger_fires_on_peak_entry_exit_price_cross_and_before_peak(tmp_path: Path) -> None:
    platform = TariffTrigger()
    async with running(
        tmp_path, tariff_yaml("Asia/Kolkata"), MIDNIGHT + timedelta(hours=17)
    ) as runtime:
        fired: list[dict[str, Any]] = []

        def fire(payload: dict[str, Any], _context: Context | None) -> None:
            fired.append(payload)

        for config in (
            {"event": "slot_entered", "slot_type": "peak"},
            {"event": "slot_left", "slot_type": "peak"},
            {"event": "price_above", "value": 8},
            {"event": "before_peak", "minutes": 30},
        ):
            await platform.attach(
                runtime,
                platform.schema({"trigger": "tariff", **config}),
                fire,
                TriggerInfo("test"),
            )
        await clock_of(runtime).advance_and_settle(timedelta(hours=6))
    events = [(p["event"], p["time"]) for p in fired]
    at = lambda h, m=0: (MIDNIGHT + timedelta(hours=h, minutes=m)).isoformat()  # noqa: E731
    assert events == [
        ("before_peak", at(17, 30)),
        ("slot_entered", at(18)),
        ("price_above", at(18)),
        ("slot_left", at(22)),
    ]


async def test_a_price_entity_without_forecast_is_reported_on_the_price_sensor(
    tmp_path: Path,
) -> None:
    yaml = tariff_yaml("UTC", body="  price_entity: sensor.nordpool\n")
    async with running(tmp_path, yaml, datetime(2026, 1, 15, tzinfo=UTC)) as runtime:
        state = runtime.states.get("sensor.electricity_price")
        runtime.states.set(
            "sensor.nordpool",
            "0.1",
            {"raw_today": nordpool(15, 96, datetime(2026, 1, 15, tzinfo=UTC))},
        )
        await clock_of(runtime).advance_and_settle(timedelta(minutes=15))
        stepped = runtime.states.get("sensor.electricity_price")
    assert state is not None
    assert state.state == "unknown"
    assert state.attributes["problem"] == "sensor.nordpool does not exist"
    assert stepped is not None
    assert stepped.state == "0.11"
    assert stepped.attributes["resolution_minutes"] == 15


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 10**400])
async def test_a_forecast_price_of_nan_or_inf_is_a_named_hole_not_a_poisoned_window(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, bad: float
) -> None:
    # A price entity's attributes can carry a NaN or a number no float holds (a template, JSON
    # attributes): that entry is skipped and named, and the windows that do not touch it are
    # still found.
    yaml = tariff_yaml("UTC", body="  price_entity: sensor.nordpool\n")
    start = datetime(2026, 1, 15, tzinfo=UTC)
    async with running(tmp_path, yaml, start) as runtime:
        entries = nordpool(60, 24, start)
        entries[0]["value"] = bad
        entries[3]["value"] = bad
        runtime.states.set("sensor.nordpool", "0.1", {"raw_today": entries})
        await clock_of(runtime).advance_and_settle(timedelta(minutes=1))
        price = runtime.states.get("sensor.electricity_price")
        window = runtime.states.get("sensor.cheapest_3h_window")
    assert price is not None
    assert price.state == "unknown"
    assert window is not None
    assert window.state == "2026-01-15T07:00:00+00:00"
    assert window.attributes["average_price"] == pytest.approx(0.11)
    assert "raw_today[3].value: expected a finite number" in caplog.text


async def test_an_automation_with_a_tariff_trigger_runs_when_the_peak_starts(
    tmp_path: Path,
) -> None:
    automation = """\
automation:
  - alias: Peak warning
    triggers:
      - trigger: tariff
        event: slot_entered
        slot_type: peak
    actions:
      - event: peak_started
        event_data: {to: "{{ trigger.to_type }}"}
"""
    yaml = tariff_yaml("Asia/Kolkata") + automation
    async with running(tmp_path, yaml, MIDNIGHT + timedelta(hours=17)) as runtime:
        await state_becomes(runtime, "automation.peak_warning", "on")
        seen: list[dict[str, Any]] = []
        runtime.bus.listen("peak_started", lambda event: seen.append(dict(event.data)))
        await clock_of(runtime).advance_and_settle(timedelta(hours=1))
    assert seen == [{"to": "peak"}]


@pytest.mark.parametrize(
    ("tz", "midnight", "hours", "peak_utc"),
    [
        # London falls back on 2026-10-25: a 25-hour day; the 18:00 peak is at 18:00 UTC.
        (
            "Europe/London",
            datetime(2026, 10, 24, 23, tzinfo=UTC),
            25,
            datetime(2026, 10, 25, 18, tzinfo=UTC),
        ),
        # New York springs forward on 2026-03-08: a 23-hour day; 18:00 EDT is 22:00 UTC.
        (
            "America/New_York",
            datetime(2026, 3, 8, 5, tzinfo=UTC),
            23,
            datetime(2026, 3, 8, 22, tzinfo=UTC),
        ),
    ],
)
async def test_sensors_step_through_whole_dst_days(
    tmp_path: Path, tz: str, midnight: datetime, hours: int, peak_utc: datetime
) -> None:
    async with running(tmp_path, tariff_yaml(tz), midnight) as runtime:
        clock = clock_of(runtime)
        changes: list[tuple[str, str]] = []
        last = None
        for _ in range(hours * 4):
            kind = _state(runtime, "sensor.tariff_slot")
            if kind != last:
                changes.append((clock.now().isoformat(), kind))
                last = kind
            await clock.advance_and_settle(timedelta(minutes=15))
        end_kind = _state(runtime, "sensor.tariff_slot")
    # off_peak 00-06, standard 06-18, peak 18-22, standard 22-24, then the next day's off_peak.
    assert [kind for _, kind in changes] == ["off_peak", "standard", "peak", "standard"]
    assert changes[2][0] == peak_utc.isoformat()
    assert clock.now() == midnight + timedelta(hours=hours)
    assert end_kind == "off_peak"
