"""Exact schedules: fired by the kernel's persistent schedules, through the appliance pipeline,
across restarts, missed runs, DST days and bad requests; receipts against hand-computed costs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from core.runtime import Runtime
from integrations.appliance.api import CONTROL_LOG
from integrations.appliance.const import Source
from integrations.tariff import SCHEDULES
from integrations.tariff.api import API
from integrations.tariff.schedules import ScheduleError
from tests.integrations._runtime import clock_of, running, write_config

from .conftest import tariff_yaml

APPLIANCES = """\
  appliances:
    - {name: Dishwasher, area: Kitchen, tier: shiftable, power: 2000}
"""
# 2026-01-15 00:00 in Kolkata.
MIDNIGHT = datetime(2026, 1, 14, 18, 30, tzinfo=UTC)


def _yaml(tz: str = "Asia/Kolkata") -> str:
    return tariff_yaml(tz, appliances=APPLIANCES)


def _api(runtime: Runtime) -> Any:
    return runtime.data[API]


def _state(runtime: Runtime, entity_id: str = "appliance.dishwasher") -> Any:
    state = runtime.states.get(entity_id)
    assert state is not None
    return state


async def test_a_one_shot_schedule_runs_through_the_pipeline_and_writes_a_receipt(
    tmp_path: Path,
) -> None:
    # Asked at 19:00 (peak, 10.0); scheduled for 01:00-03:00 (off-peak, 5.0).
    async with running(tmp_path, _yaml(), MIDNIGHT + timedelta(hours=19)) as runtime:
        clock = clock_of(runtime)
        control: list[Any] = []
        runtime.data[CONTROL_LOG].subscribe(control.append)
        spec = _api(runtime).create(
            {
                "appliance": "appliance.dishwasher",
                "kind": "once",
                "start": "2026-01-16T01:00:00",
                "duration": "02:00:00",
            },
            "user-1",
        )
        scheduled = _state(runtime)
        await clock.advance_and_settle(timedelta(hours=6))  # 01:00 the next day
        running_state = _state(runtime)
        await clock.advance_and_settle(timedelta(hours=2))
        after = _state(runtime)
        log = list(runtime.data[API].store.log)
        receipts = list(runtime.data[API].store.receipts)
    assert spec["baseline_price"] == pytest.approx(10.0)  # 19:00-21:00, peak
    assert scheduled.state == "scheduled"
    assert scheduled.attributes["planned_start"] == (MIDNIGHT + timedelta(hours=25)).isoformat()
    assert running_state.state == "running"
    assert after.state == "off"
    assert [(e["action"], e["result"], e["lateness_ms"]) for e in log] == [
        ("turn_on", "ok", 0.0),
        ("turn_off", "ok", 0.0),
    ]
    assert [(e.action, e.source) for e in control] == [
        ("turn_on", Source.SCHEDULE),
        ("turn_off", Source.SCHEDULE),
    ]
    (receipt,) = receipts
    # 2 kW for 2 h at 5.0 = 20.0; asked at 19:00: 19-21 at 10.0 = 40.0 -> saving 20.0.
    assert receipt["energy_kwh"] == pytest.approx(4.0)
    assert receipt["cost"] == pytest.approx(20.0)
    assert receipt["saving"] == pytest.approx(20.0)
    assert receipt["planned_start"] == (MIDNIGHT + timedelta(hours=25)).isoformat()


async def test_restart_before_during_and_after_a_run(tmp_path: Path) -> None:
    start = MIDNIGHT + timedelta(hours=12)
    yaml = _yaml()
    write_config(tmp_path, yaml)
    clock = FakeClock(start)

    async def boot() -> Runtime:
        runtime = Runtime(tmp_path, clock=clock)
        await runtime.start()
        return runtime

    runtime = await boot()
    _api(runtime).create(
        {
            "appliance": "appliance.dishwasher",
            "kind": "once",
            "start": (start + timedelta(hours=1)).isoformat(),
            "duration": "01:00:00",
        },
        None,
    )
    await runtime.stop()  # before the run
    runtime = await boot()
    assert _state(runtime).state == "scheduled"
    await clock.advance_and_settle(timedelta(minutes=60))  # 13:00, the start
    await clock.advance_and_settle(timedelta(minutes=30))  # 13:30, mid-run
    assert _state(runtime).state == "running"
    await runtime.stop()  # during the run
    clock.advance(timedelta(hours=2))  # down past the end (15:30)
    runtime = await boot()
    await clock.advance_and_settle(timedelta(seconds=1))
    state = _state(runtime)
    log = list(_api(runtime).store.log)
    receipts = list(_api(runtime).store.receipts)
    await runtime.stop()  # after the run
    runtime = await boot()
    await clock.advance_and_settle(timedelta(hours=1))
    log_after = list(_api(runtime).store.log)
    await runtime.stop()
    assert state.state == "off"
    assert [(e["action"], e["result"]) for e in log] == [("turn_on", "ok"), ("turn_off", "ok")]
    assert log[1]["lateness_ms"] == pytest.approx(90 * 60 * 1000, abs=2000)
    # Metered while up: 13:00-13:30 (0.5 h x 2 kW x 7.0 = 7.0), plus the second before the
    # end was made up after the restart; the downtime is not billed.
    assert receipts[0]["energy_kwh"] == pytest.approx(1.0 + 2.0 / 3600)
    assert receipts[0]["cost"] == pytest.approx(7.0 + 14.0 / 3600)
    assert len(log_after) == 2  # nothing ran twice


RUN = {
    "appliance": "appliance.dishwasher",
    "source": "schedule",
    "actual_start": "2026-01-15T00:00:00+00:00",
    "last_time": "2026-01-15T00:00:00+00:00",
    "last_power": 2000.0,
    "energy": 1.0,
    "cost": 7.0,
    "priced_energy": 1.0,
}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"log": 5}, "log is not a list"),
        ({"receipts": {"a": 1}}, "receipts is not a list"),
        ({"days": 3}, "days is not a list"),
        ({"paused": [1]}, "paused is not a mapping"),
        ({"open_runs": {"r": {"energy": 1}}}, "open run r is incomplete"),
        ({"open_runs": {"r": {**RUN, "energy": "lots"}}}, "open run r is incomplete"),
        ({"open_runs": {"r": {**RUN, "cost": float("inf")}}}, "open run r is incomplete"),
        ({"open_runs": {"r": {**RUN, "runtime": [1]}}}, "open run r is incomplete"),
    ],
)
async def test_a_tariff_store_of_the_wrong_shape_is_named_and_the_tariff_still_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, data: dict[str, Any], named: str
) -> None:
    # .storage/tariff is JSON (a hand edit, a bad copy): a section of the wrong type, or an
    # open run without what metering reads, used to stop the tariff's set-up.
    (tmp_path / ".storage").mkdir()
    receipt = {"id": "r0", "appliance": "appliance.dishwasher", "energy_kwh": 1.0}
    (tmp_path / ".storage" / "tariff").write_text(
        json.dumps(
            {"version": 1, "key": "tariff", "data": {"receipts": [receipt], **data}},
            allow_nan=True,
        )
    )
    async with running(tmp_path, _yaml(), MIDNIGHT + timedelta(hours=12)) as runtime:
        schedules = runtime.data.get(SCHEDULES)
        assert schedules is not None
        _api(runtime).create(
            {
                "appliance": "appliance.dishwasher",
                "kind": "once",
                "start": (MIDNIGHT + timedelta(hours=13)).isoformat(),
                "duration": "01:00:00",
            },
            None,
        )
        assert _state(runtime).state == "scheduled"
        assert "r" not in schedules.runs.store.open_runs
        receipts = list(schedules.runs.store.receipts)

    assert named in caplog.text
    assert receipts == ([] if "receipts" in data else [receipt])


async def test_a_daily_run_missed_beyond_grace_is_logged_missed_and_within_grace_runs_once(
    tmp_path: Path,
) -> None:
    start = MIDNIGHT + timedelta(hours=10)
    write_config(tmp_path, _yaml())
    clock = FakeClock(start)
    runtime = Runtime(tmp_path, clock=clock)
    await runtime.start()
    _api(runtime).create(
        {
            "appliance": "appliance.dishwasher",
            "kind": "daily",
            "start": "11:00",
            "duration": "00:30:00",
            "grace": 600,
        },
        None,
    )
    await runtime.stop()
    clock.advance(timedelta(hours=2))  # 12:00: an hour late, grace 10 min -> missed
    runtime = await boot_and_settle(tmp_path, clock)
    missed = list(_api(runtime).store.log)
    await runtime.stop()
    clock.set(MIDNIGHT + timedelta(days=1, hours=11, minutes=5))  # 5 min late -> within grace
    runtime = await boot_and_settle(tmp_path, clock)
    caught = list(_api(runtime).store.log)
    state = _state(runtime)
    await runtime.stop()
    assert [(e["result"], e["planned"]) for e in missed] == [
        ("missed", (MIDNIGHT + timedelta(hours=11)).isoformat())
    ]
    assert [(e["result"], e["planned"]) for e in caught[1:]] == [
        ("ok", (MIDNIGHT + timedelta(days=1, hours=11)).isoformat())
    ]
    assert state.state == "running"


async def boot_and_settle(config_dir: Path, clock: FakeClock) -> Runtime:
    """Start a runtime and let catch-up runs happen."""
    runtime = Runtime(config_dir, clock=clock)
    await runtime.start()
    await clock.advance_and_settle(timedelta(seconds=1))
    return runtime


@pytest.mark.parametrize(
    ("tz", "day", "wall", "expected_utc"),
    [
        # New York, spring forward 2026-03-08 02:00 -> 03:00: 02:30 runs once, at 03:30 EDT.
        (
            "America/New_York",
            datetime(2026, 3, 8, 5, tzinfo=UTC),
            "02:30",
            [datetime(2026, 3, 8, 7, 30, tzinfo=UTC), datetime(2026, 3, 9, 6, 30, tzinfo=UTC)],
        ),
        # London, fall back 2026-10-25 02:00 -> 01:00: 01:30 runs once, on its first pass.
        (
            "Europe/London",
            datetime(2026, 10, 24, 23, tzinfo=UTC),
            "01:30",
            [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 26, 1, 30, tzinfo=UTC)],
        ),
    ],
)
async def test_daily_schedules_on_dst_days_run_once_at_the_kernel_rule(
    tmp_path: Path, tz: str, day: datetime, wall: str, expected_utc: list[datetime]
) -> None:
    async with running(tmp_path, _yaml(tz), day) as runtime:
        _api(runtime).create(
            {
                "appliance": "appliance.dishwasher",
                "kind": "daily",
                "start": wall,
                "duration": "00:15:00",
            },
            None,
        )
        clock = clock_of(runtime)
        for _ in range(2 * 24 * 4):
            await clock.advance_and_settle(timedelta(minutes=15))
        log = list(_api(runtime).store.log)
    starts = [e["planned"] for e in log if e["action"] == "turn_on"]
    assert starts == [when.isoformat() for when in expected_utc]


async def test_finish_by_runs_in_the_cheapest_slots_and_replans_when_prices_arrive(
    tmp_path: Path,
) -> None:
    yaml = tariff_yaml("UTC", body="  price_entity: sensor.nordpool\n", appliances=APPLIANCES)
    t0 = datetime(2026, 1, 15, tzinfo=UTC)
    prices = [
        {
            "start": t0 + timedelta(hours=h),
            "end": t0 + timedelta(hours=h + 1),
            "value": 0.3 - 0.01 * h,
        }
        for h in range(12)
    ]
    async with running(tmp_path, yaml, t0) as runtime:
        runtime.states.set("sensor.nordpool", "0.3", {"raw_today": prices})
        await clock_of(runtime).advance_and_settle(timedelta(seconds=1))
        spec = _api(runtime).create(
            {
                "appliance": "appliance.dishwasher",
                "kind": "finish_by",
                "deadline": (t0 + timedelta(hours=12)).isoformat(),
                "duration": "01:00:00",
            },
            None,
        )
        first_plan = list(spec["plan"])
        cheap = [*prices[:3], {**prices[3], "value": 0.01}, *prices[4:]]
        runtime.states.set("sensor.nordpool", "0.3", {"raw_today": cheap})
        await clock_of(runtime).advance_and_settle(timedelta(seconds=1))
        replanned = list(spec["plan"])
        clock = clock_of(runtime)
        for hour in (1, 2, 3, 4, 5):
            await clock.advance_and_settle(t0 + timedelta(hours=hour) - clock.now())
        receipts = list(_api(runtime).store.receipts)
    assert first_plan == [
        [(t0 + timedelta(hours=11)).isoformat(), (t0 + timedelta(hours=12)).isoformat()]
    ]
    assert replanned == [
        [(t0 + timedelta(hours=3)).isoformat(), (t0 + timedelta(hours=4)).isoformat()]
    ]
    assert receipts[0]["cost"] == pytest.approx(2.0 * 0.01)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {"kind": "once", "start": "2026-01-15T10:00:00+05:30", "duration": "01:00:00"},
            "start: the start .* is in the past",
        ),
        (
            {"kind": "finish_by", "deadline": "2026-01-15T13:30:00+05:30", "duration": "02:00:00"},
            "deadline: the deadline .* is less than 2:00:00 away",
        ),
        ({"kind": "once", "start": "2026-01-16T10:00:00"}, "give end or duration"),
        ({"kind": "daily", "start": "25:00", "duration": "01:00:00"}, "expected a local time"),
        ({"kind": "weekdays", "start": "07:00", "duration": "01:00:00"}, "weekdays needs the days"),
    ],
)
async def test_bad_schedule_requests_are_refused_naming_the_field(
    tmp_path: Path, request_: dict[str, Any], message: str
) -> None:
    async with running(tmp_path, _yaml(), MIDNIGHT + timedelta(hours=12)) as runtime:
        with pytest.raises(ScheduleError, match=message):
            _api(runtime).create({"appliance": "appliance.dishwasher", **request_}, None)


@pytest.mark.parametrize(
    ("local", "message"),
    [
        ("2026-03-08T02:30:00", "does not exist in America/New_York"),
        ("2026-11-01T01:30:00", "happens twice in America/New_York"),
    ],
)
async def test_nonexistent_and_repeated_local_times_are_refused(
    tmp_path: Path, local: str, message: str
) -> None:
    async with running(
        tmp_path, _yaml("America/New_York"), datetime(2026, 3, 1, tzinfo=UTC)
    ) as runtime:
        with pytest.raises(ScheduleError, match=message):
            _api(runtime).create(
                {
                    "appliance": "appliance.dishwasher",
                    "kind": "once",
                    "start": local,
                    "duration": "00:30:00",
                },
                None,
            )


async def test_deleting_a_running_schedule_leaves_the_appliance_and_writes_the_receipt(
    tmp_path: Path,
) -> None:
    start = MIDNIGHT + timedelta(hours=12)
    async with running(tmp_path, _yaml(), start) as runtime:
        clock = clock_of(runtime)
        spec = _api(runtime).create(
            {
                "appliance": "appliance.dishwasher",
                "kind": "once",
                "start": (start + timedelta(hours=1)).isoformat(),
                "duration": "02:00:00",
            },
            None,
        )
        await clock.advance_and_settle(timedelta(hours=1))
        await clock.advance_and_settle(timedelta(minutes=30))
        _api(runtime).delete({"schedule_id": spec["id"]})
        await clock.advance_and_settle(timedelta(hours=2))
        state = _state(runtime)
        receipts = list(_api(runtime).store.receipts)
        jobs = runtime.data[API].schedules.jobs.list()
    assert state.state == "running"  # the user's to switch off now
    assert jobs == []
    (receipt,) = receipts
    assert receipt["energy_kwh"] == pytest.approx(1.0)  # 30 min at 2 kW
    assert receipt["cost"] == pytest.approx(7.0)
