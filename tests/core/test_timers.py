"""Tests for core.timers: the Scheduler, driven by a FakeClock (and once by the real clock)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from astral import Observer
from astral.sun import sun
from croniter import croniter

from core import timers
from core.bus import callback
from core.clock import FakeClock, SystemClock
from core.timers import Scheduler, SunEvent

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
OSLO = ZoneInfo("Europe/Oslo")
AMS_LAT, AMS_LON = 52.3676, 4.9041
TROMSO_LAT, TROMSO_LON = 69.6492, 18.9553


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0
) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class Recorder:
    """A ``@callback`` action that records the fire times it was given."""

    def __init__(self) -> None:
        self.fired: list[datetime] = []

        @callback
        def action(when: datetime) -> None:
            self.fired.append(when)

        self.action = action


def run_until(clock: FakeClock, scheduler: Scheduler, end: datetime) -> None:
    """Step the fake clock from job to job up to ``end``, as real time would pass."""
    while True:
        due = [info.next_run for info in scheduler.jobs() if info.next_run is not None]
        if not due or min(due) > end:
            break
        clock.set(min(due))
    clock.set(end)


def make_scheduler(clock: FakeClock, *, tz: ZoneInfo = AMSTERDAM) -> Scheduler:
    return Scheduler(
        asyncio.get_running_loop(), tz=tz, latitude=AMS_LAT, longitude=AMS_LON, clock=clock
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc(2021, 6, 1, 12))


@pytest.fixture
async def scheduler(clock: FakeClock) -> AsyncIterator[Scheduler]:
    sched = make_scheduler(clock)
    yield sched
    sched.close()


# -- at ------------------------------------------------------------------------------------------


async def test_at_runs_once_at_its_time(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    when = clock.now() + timedelta(seconds=10)
    scheduler.at(when, rec.action, name="once")
    clock.advance(timedelta(seconds=9))
    assert rec.fired == []
    clock.advance(timedelta(seconds=1))
    assert rec.fired == [when]
    clock.advance(timedelta(hours=1))
    assert rec.fired == [when]
    assert scheduler.jobs() == []


async def test_at_in_the_past_runs_on_the_next_loop_iteration(
    clock: FakeClock, scheduler: Scheduler
) -> None:
    rec = Recorder()
    when = clock.now() - timedelta(minutes=1)
    scheduler.at(when, rec.action, name="late")
    assert rec.fired == []  # never inside at() itself
    await asyncio.sleep(0.01)
    assert rec.fired == [when]


async def test_at_rejects_naive_datetime(scheduler: Scheduler) -> None:
    with pytest.raises(ValueError, match="naive"):
        scheduler.at(datetime(2021, 6, 2, 12), Recorder().action, name="naive")


async def test_plain_function_action_is_rejected(clock: FakeClock, scheduler: Scheduler) -> None:
    def blocking(when: datetime) -> None:
        """Not marked @callback, so it could block the loop."""

    with pytest.raises(TypeError, match="plain"):
        scheduler.at(clock.now(), blocking, name="plain")


# -- every ---------------------------------------------------------------------------------------


async def test_every_has_no_drift(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    start = clock.now() + timedelta(seconds=10)
    scheduler.every(timedelta(seconds=10), rec.action, name="tick", start=start)
    for _ in range(50):
        # Each wake-up is 300 ms late; the schedule must not creep by that much each time.
        next_run = scheduler.jobs()[0].next_run
        assert next_run is not None
        clock.set(next_run + timedelta(milliseconds=300))
    assert rec.fired == [start + n * timedelta(seconds=10) for n in range(50)]
    assert scheduler.jobs()[0].next_run == start + 50 * timedelta(seconds=10)


async def test_every_without_start_first_runs_one_interval_from_now(
    clock: FakeClock, scheduler: Scheduler
) -> None:
    rec = Recorder()
    now = clock.now()
    scheduler.every(timedelta(minutes=5), rec.action, name="tick")
    assert scheduler.jobs()[0].next_run == now + timedelta(minutes=5)


async def test_every_skips_missed_slots_after_a_stall(
    clock: FakeClock, scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    start = clock.now() + timedelta(seconds=10)
    scheduler.every(timedelta(seconds=10), rec.action, name="tick", start=start)
    caplog.set_level(logging.DEBUG, logger="core.timers")
    clock.advance(timedelta(seconds=95))
    assert rec.fired == [start]  # once, not nine times
    assert scheduler.jobs()[0].next_run == start + timedelta(seconds=90)
    assert "missed" in caplog.text


async def test_every_rejects_non_positive_interval(scheduler: Scheduler) -> None:
    with pytest.raises(ValueError, match="positive"):
        scheduler.every(timedelta(0), Recorder().action, name="zero")


# -- daily ---------------------------------------------------------------------------------------


async def test_daily_job_runs_once_on_spring_forward_day() -> None:
    # Europe/Amsterdam, 2021-03-28: 02:00 CET -> 03:00 CEST; 02:30 does not exist that day.
    clock = FakeClock(utc(2021, 3, 27, 12))
    scheduler = make_scheduler(clock)
    rec = Recorder()
    scheduler.daily(time(2, 30), rec.action, name="nightly")
    run_until(clock, scheduler, utc(2021, 3, 29, 12))
    scheduler.close()
    assert rec.fired == [
        datetime(2021, 3, 28, 3, 30, tzinfo=AMSTERDAM),  # shifted forward by the one-hour gap
        datetime(2021, 3, 29, 2, 30, tzinfo=AMSTERDAM),
    ]


async def test_daily_job_runs_once_on_fall_back_day() -> None:
    # Europe/Amsterdam, 2021-10-31: 03:00 CEST -> 02:00 CET; 02:30 happens twice.
    clock = FakeClock(utc(2021, 10, 30, 12))
    scheduler = make_scheduler(clock)
    rec = Recorder()
    scheduler.daily(time(2, 30), rec.action, name="nightly")
    run_until(clock, scheduler, utc(2021, 11, 1, 12))
    scheduler.close()
    # 00:30 UTC is the first 02:30 (CEST); an ambiguous local time never compares equal across
    # zones (PEP 495), so the fall-back day is checked in UTC.
    assert rec.fired == [utc(2021, 10, 31, 0, 30), datetime(2021, 11, 1, 2, 30, tzinfo=AMSTERDAM)]


async def test_daily_time_is_local_wall_time(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    scheduler.daily(time(7, 0), rec.action, name="morning")
    assert scheduler.jobs()[0].next_run == datetime(2021, 6, 2, 7, 0, tzinfo=AMSTERDAM)


async def test_daily_rejects_aware_time(scheduler: Scheduler) -> None:
    with pytest.raises(ValueError, match="naive local time"):
        scheduler.daily(time(7, 0, tzinfo=UTC), Recorder().action, name="aware")


# -- cron ----------------------------------------------------------------------------------------


async def test_croniter_alone_gets_dst_wrong_so_the_scheduler_does_not_rely_on_it() -> None:
    # Pins why timers.py matches on naive wall time: croniter with aware datetimes moves a
    # 02:30 spring-forward run to 03:00 and runs a 02:30 fall-back job twice.
    spring = croniter("30 2 * * *", datetime(2021, 3, 27, 12, tzinfo=AMSTERDAM))
    assert spring.get_next(datetime) == datetime(2021, 3, 28, 3, 0, tzinfo=AMSTERDAM)
    autumn = croniter("30 2 * * *", datetime(2021, 10, 30, 12, tzinfo=AMSTERDAM))
    first, second = autumn.get_next(datetime), autumn.get_next(datetime)
    assert first.date() == second.date() == datetime(2021, 10, 31).date()


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (
            utc(2021, 3, 27, 12),
            utc(2021, 3, 29, 12),
            [
                datetime(2021, 3, 28, 3, 30, tzinfo=AMSTERDAM),
                datetime(2021, 3, 29, 2, 30, tzinfo=AMSTERDAM),
            ],
        ),
        (
            utc(2021, 10, 30, 12),
            utc(2021, 11, 1, 12),
            [utc(2021, 10, 31, 0, 30), datetime(2021, 11, 1, 2, 30, tzinfo=AMSTERDAM)],
        ),
    ],
    ids=["spring_forward", "fall_back"],
)
async def test_cron_fixed_time_job_runs_once_on_dst_change_days(
    start: datetime, end: datetime, expected: list[datetime]
) -> None:
    clock = FakeClock(start)
    scheduler = make_scheduler(clock)
    rec = Recorder()
    scheduler.cron("30 2 * * *", rec.action, name="nightly")
    run_until(clock, scheduler, end)
    scheduler.close()
    assert rec.fired == expected


@pytest.mark.parametrize(
    "start",
    [utc(2021, 3, 27, 22), utc(2021, 10, 30, 22)],
    ids=["spring_forward", "fall_back"],
)
@pytest.mark.parametrize("kind", ["cron", "time_pattern"])
async def test_every_15_minutes_across_dst_change(start: datetime, kind: str) -> None:
    clock = FakeClock(start)
    scheduler = make_scheduler(clock)
    rec = Recorder()
    if kind == "cron":
        scheduler.cron("*/15 * * * *", rec.action, name="quarter")
    else:
        scheduler.time_pattern(rec.action, name="quarter", minutes="/15")
    run_until(clock, scheduler, start + timedelta(hours=6))
    scheduler.close()
    # Real time keeps flowing through a DST change: exactly every 15 minutes, none twice, none
    # lost; the repeated hour on fall-back day is just another hour for an every-hour pattern.
    assert rec.fired == [start + n * timedelta(minutes=15) for n in range(1, 25)]


async def test_cron_pattern_for_one_hour_runs_once_in_repeated_hour() -> None:
    clock = FakeClock(utc(2021, 10, 30, 12))
    scheduler = make_scheduler(clock)
    rec = Recorder()
    scheduler.cron("*/30 2 * * *", rec.action, name="two_oclock")
    run_until(clock, scheduler, utc(2021, 10, 31, 12))
    scheduler.close()
    assert rec.fired == [utc(2021, 10, 31, 0, 0), utc(2021, 10, 31, 0, 30)]  # CEST pass only


async def test_cron_aliases(clock: FakeClock, scheduler: Scheduler) -> None:
    scheduler.cron("@hourly", Recorder().action, name="hourly")
    scheduler.cron("@daily", Recorder().action, name="daily")
    runs = {info.name: info.next_run for info in scheduler.jobs()}
    assert runs == {
        "hourly": utc(2021, 6, 1, 13),
        "daily": datetime(2021, 6, 2, 0, 0, tzinfo=AMSTERDAM),
    }


@pytest.mark.parametrize("pattern", ["61 * * * *", "* * *", "* * * * * *", "@sometimes", ""])
async def test_cron_invalid_pattern_raises_value_error_naming_it(
    scheduler: Scheduler, pattern: str
) -> None:
    with pytest.raises(ValueError, match="Invalid cron pattern") as excinfo:
        scheduler.cron(pattern, Recorder().action, name="bad")
    assert repr(pattern) in str(excinfo.value)


# -- time_pattern --------------------------------------------------------------------------------


async def test_time_pattern_every_five_minutes(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    clock.set(utc(2021, 6, 1, 12, 1, second=30))
    scheduler.time_pattern(rec.action, name="five", minutes="/5")
    run_until(clock, scheduler, utc(2021, 6, 1, 12, 16))
    assert rec.fired == [utc(2021, 6, 1, 12, 5), utc(2021, 6, 1, 12, 10), utc(2021, 6, 1, 12, 15)]


async def test_time_pattern_seconds_only_runs_every_matching_second(
    clock: FakeClock, scheduler: Scheduler
) -> None:
    rec = Recorder()
    scheduler.time_pattern(rec.action, name="thirty", seconds=30)
    run_until(clock, scheduler, utc(2021, 6, 1, 12, 2))
    assert rec.fired == [utc(2021, 6, 1, 12, 0, second=30), utc(2021, 6, 1, 12, 1, second=30)]


@pytest.mark.parametrize(
    ("units", "cron"),
    [
        ({"minutes": "/5"}, "*/5 * * * * 0"),
        ({"seconds": 30}, "* * * * * 30"),
        ({"hours": "/3", "minutes": "/20"}, "*/20 */3 * * * 0"),
        ({"hours": 7}, "0 7 * * * 0"),
        ({"hours": "*", "minutes": 59, "seconds": "/15"}, "59 * * * * */15"),
        ({"minutes": "/7", "seconds": "*"}, "*/7 * * * * *"),
        ({"hours": 23, "minutes": 59, "seconds": 59}, "59 23 * * * 59"),
    ],
)
@pytest.mark.parametrize(
    "start",
    [
        datetime(2021, 6, 1, 12, 0),
        datetime(2021, 6, 1, 12, 4, 59, 999_999),
        datetime(2021, 6, 1, 23, 59, 59),
        datetime(2021, 12, 31, 23, 59, 30, 5),
        datetime(2024, 2, 28, 6, 59, 59, 1),
    ],
)
def test_time_pattern_wall_times_are_croniters(
    units: dict[str, int | str], cron: str, start: datetime
) -> None:
    # croniter (seconds as a sixth field) is the reference the pattern walk replaced: the same
    # naive wall times, strictly after the start, for the next 400 runs.
    if "minutes" not in units and "hours" in units:
        units = {**units, "minutes": 0}
    if "seconds" not in units and ("minutes" in units or "hours" in units):
        units = {**units, "seconds": 0}
    walk = timers._PatternWalk(
        hours=timers.pattern_values(units.get("hours"), "hours"),
        minutes=timers.pattern_values(units.get("minutes"), "minutes"),
        seconds=timers.pattern_values(units.get("seconds"), "seconds"),
    )
    reference = croniter(cron, start)
    expected = [reference.get_next(datetime) for _ in range(400)]
    assert list(itertools.islice(walk.after(start), 400)) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (utc(2021, 3, 27, 12), [datetime(2021, 3, 28, 3, 30, tzinfo=AMSTERDAM)]),
        (utc(2021, 10, 30, 12), [utc(2021, 10, 31, 0, 30)]),
    ],
    ids=["spring_forward", "fall_back"],
)
async def test_time_pattern_at_a_dst_wall_time_runs_once(
    start: datetime, expected: list[datetime]
) -> None:
    # 02:30 does not exist on spring-forward day (run at 03:30) and happens twice on fall-back
    # day (run on the first pass only): the rule cron and daily jobs follow.
    clock = FakeClock(start)
    scheduler = make_scheduler(clock)
    rec = Recorder()
    scheduler.time_pattern(rec.action, name="half_two", hours=2, minutes=30)
    run_until(clock, scheduler, start + timedelta(hours=24))
    scheduler.close()
    assert rec.fired == expected


def test_time_pattern_does_not_load_croniter() -> None:
    # A site whose automations use time_pattern and no cron schedule keeps croniter (and
    # dateutil) out of memory; a cron schedule loads it.
    script = """
import asyncio, sys
from zoneinfo import ZoneInfo
from core.bus import callback
from core.timers import Scheduler

@callback
def action(when):
    pass

async def main():
    s = Scheduler(asyncio.get_running_loop(), tz=ZoneInfo("Europe/Amsterdam"), latitude=52.4,
                  longitude=4.9)
    s.time_pattern(action, name="t", minutes="/5")
    s.time_pattern(action, name="u", hours=2, minutes=30, seconds="*")
    print("croniter" in sys.modules, "dateutil" in sys.modules)
    s.cron("*/5 * * * *", action, name="c")
    print("croniter" in sys.modules)
    s.close()

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "False", "True"]


@pytest.mark.parametrize(
    "kwargs", [{}, {"minutes": 60}, {"hours": "/0"}, {"seconds": "every"}, {"hours": True}]
)
async def test_time_pattern_rejects_bad_units(
    scheduler: Scheduler, kwargs: dict[str, int | str]
) -> None:
    with pytest.raises(ValueError, match="bad"):
        scheduler.time_pattern(Recorder().action, name="bad", **kwargs)


# -- sun -----------------------------------------------------------------------------------------


async def test_sun_events_match_astral_for_amsterdam(scheduler: Scheduler) -> None:
    observer = Observer(AMS_LAT, AMS_LON, 0)
    day = datetime(2021, 6, 21, tzinfo=AMSTERDAM)
    expected = sun(observer, day.date(), tzinfo=AMSTERDAM)
    for event in SunEvent:
        found = scheduler.next_sun_event(event, day)
        assert found == expected[event.value].astimezone(UTC), event


async def test_sun_job_runs_at_event_plus_offset_each_day(
    clock: FakeClock, scheduler: Scheduler
) -> None:
    rec = Recorder()
    offset = timedelta(minutes=-30)
    scheduler.sun(SunEvent.sunset, rec.action, name="lights", offset=offset)
    run_until(clock, scheduler, utc(2021, 6, 4, 0))
    observer = Observer(AMS_LAT, AMS_LON, 0)
    assert rec.fired == [
        sun(observer, datetime(2021, 6, d).date(), tzinfo=AMSTERDAM)["sunset"].astimezone(UTC)
        + offset
        for d in (1, 2, 3)
    ]


async def test_sun_event_skipped_in_polar_night(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(datetime(2021, 12, 15, 12, tzinfo=OSLO))
    scheduler = Scheduler(
        asyncio.get_running_loop(),
        tz=OSLO,
        latitude=TROMSO_LAT,
        longitude=TROMSO_LON,
        clock=clock,
    )
    caplog.set_level(logging.DEBUG, logger="core.timers")
    rec = Recorder()
    scheduler.sun(SunEvent.sunrise, rec.action, name="sunrise")
    next_run = scheduler.jobs()[0].next_run
    assert next_run is not None
    # No sunrise in Tromsø from late November until mid-January.
    assert datetime(2022, 1, 10, tzinfo=OSLO) < next_run < datetime(2022, 1, 20, tzinfo=OSLO)
    observer = Observer(TROMSO_LAT, TROMSO_LON, 0)
    assert next_run == sun(observer, next_run.astimezone(OSLO).date(), tzinfo=OSLO)["sunrise"]
    assert "No sunrise" in caplog.text
    # Solar noon still happens every day.
    noon = scheduler.next_sun_event(SunEvent.noon, clock.now())
    assert noon is not None
    assert noon.astimezone(OSLO).date() == datetime(2021, 12, 16).date()
    run_until(clock, scheduler, datetime(2022, 1, 5, tzinfo=OSLO))
    assert rec.fired == []
    scheduler.close()


# -- cancelling, failures, tasks -----------------------------------------------------------------


async def test_cancel_is_idempotent(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    cancel = scheduler.every(timedelta(seconds=10), rec.action, name="tick")
    cancel()
    cancel()
    clock.advance(timedelta(minutes=1))
    assert rec.fired == []
    assert scheduler.jobs() == []
    done = scheduler.at(clock.now(), rec.action, name="once")
    clock.advance(timedelta(seconds=1))
    done()  # after a one-shot ran: still fine
    assert len(rec.fired) == 1


async def test_action_can_cancel_its_own_job(clock: FakeClock, scheduler: Scheduler) -> None:
    fired: list[datetime] = []

    @callback
    def once_only(when: datetime) -> None:
        fired.append(when)
        cancel()

    cancel = scheduler.every(timedelta(seconds=10), once_only, name="self_cancel")
    run_until(clock, scheduler, clock.now() + timedelta(minutes=1))
    assert len(fired) == 1


async def test_failing_job_is_logged_and_others_still_run(
    clock: FakeClock, scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()

    @callback
    def broken(when: datetime) -> None:
        raise RuntimeError("boom")

    async def broken_async(when: datetime) -> None:
        raise RuntimeError("async boom")

    when = clock.now() + timedelta(seconds=5)
    scheduler.at(when, broken, name="broken_sync")
    scheduler.at(when, broken_async, name="broken_async")
    scheduler.at(when, rec.action, name="healthy")
    scheduler.every(timedelta(seconds=5), broken, name="broken_every")
    await clock.advance_and_settle(timedelta(seconds=5))
    assert rec.fired == [when]
    assert "broken_sync" in caplog.text
    assert "broken_async" in caplog.text
    assert "boom" in caplog.text
    # The recurring job that raised is still scheduled.
    assert [info.name for info in scheduler.jobs()] == ["broken_every"]


async def test_coroutine_action_runs_as_named_task(clock: FakeClock, scheduler: Scheduler) -> None:
    seen: list[tuple[str, datetime]] = []

    async def action(when: datetime) -> None:
        await asyncio.sleep(0)
        task = asyncio.current_task()
        assert task is not None
        seen.append((task.get_name(), when))

    when = clock.now() + timedelta(seconds=1)
    scheduler.at(when, action, name="async_job")
    await clock.advance_and_settle(timedelta(seconds=1))
    assert seen == [("scheduler[async_job]", when)]


async def test_close_cancels_jobs_and_running_tasks(clock: FakeClock) -> None:
    scheduler = make_scheduler(clock)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(when: datetime) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    rec = Recorder()
    scheduler.at(clock.now(), slow, name="slow")
    scheduler.every(timedelta(seconds=1), rec.action, name="tick")
    await asyncio.wait_for(started.wait(), 1)
    scheduler.close()
    await asyncio.wait_for(cancelled.wait(), 1)
    clock.advance(timedelta(minutes=1))
    assert rec.fired == []
    assert scheduler.jobs() == []
    with pytest.raises(RuntimeError, match="closed"):
        scheduler.at(clock.now(), rec.action, name="late")


async def test_jobs_lists_names_and_next_runs(clock: FakeClock, scheduler: Scheduler) -> None:
    now = clock.now()
    scheduler.at(now + timedelta(hours=2), Recorder().action, name="later")
    scheduler.at(now + timedelta(hours=1), Recorder().action, name="sooner")
    infos = scheduler.jobs()
    assert [(info.name, info.kind, info.next_run) for info in infos] == [
        ("sooner", "at", now + timedelta(hours=1)),
        ("later", "at", now + timedelta(hours=2)),
    ]


async def test_clock_stepped_back_delays_jobs(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    when = clock.now() + timedelta(minutes=10)
    scheduler.at(when, rec.action, name="once")
    clock.advance(timedelta(hours=-1))
    clock.advance(timedelta(minutes=65))
    assert rec.fired == []
    clock.advance(timedelta(minutes=5))
    assert rec.fired == [when]


# -- the real loop timer -------------------------------------------------------------------------


async def test_real_clock_at_fires_after_short_delay() -> None:
    scheduler = Scheduler(
        asyncio.get_running_loop(), tz=AMSTERDAM, latitude=AMS_LAT, longitude=AMS_LON
    )
    fired = asyncio.Event()
    seen: list[tuple[datetime, datetime]] = []

    @callback
    def action(when: datetime) -> None:
        seen.append((when, datetime.now(UTC)))
        fired.set()

    when = SystemClock().now() + timedelta(milliseconds=50)
    scheduler.at(when, action, name="soon")
    await asyncio.wait_for(fired.wait(), 2)
    scheduler.close()
    ((scheduled, ran_at),) = seen
    assert scheduled == when
    assert ran_at >= when  # never early, even if the loop timer wakes slightly early


class SteppedClock:
    """A wall clock that can be stepped without telling anyone, like NTP on a board without RTC."""

    def __init__(self, start: datetime) -> None:
        self.value = start

    def now(self) -> datetime:
        return self.value

    def monotonic(self) -> float:
        return 0.0


async def test_silent_wall_clock_step_is_noticed_within_max_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Shrink the one-hour chunk so the test takes milliseconds; the mechanism is the same.
    monkeypatch.setattr(timers, "MAX_SLEEP", 0.02)
    clock = SteppedClock(utc(2021, 6, 1, 12))
    scheduler = Scheduler(
        asyncio.get_running_loop(),
        tz=AMSTERDAM,
        latitude=AMS_LAT,
        longitude=AMS_LON,
        clock=clock,
    )
    fired = asyncio.Event()
    when = clock.value + timedelta(hours=5)
    scheduler.at(when, callback(lambda _when: fired.set()), name="after_step")
    await asyncio.sleep(0.05)
    assert not fired.is_set()
    clock.value += timedelta(hours=5)  # the NTP step
    await asyncio.wait_for(fired.wait(), 1)
    scheduler.close()


async def test_fake_clock_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="Naive"):
        FakeClock(datetime(2021, 1, 1))
    clock = FakeClock(utc(2021, 1, 1))
    with pytest.raises(ValueError, match="Naive"):
        clock.set(datetime(2021, 1, 2))


async def test_fake_clock_unsubscribe_stops_notifications() -> None:
    clock = FakeClock(utc(2021, 1, 1))
    seen: list[datetime] = []
    unsubscribe = clock.subscribe(seen.append)
    clock.advance(timedelta(seconds=1))
    unsubscribe()
    unsubscribe()
    clock.advance(timedelta(seconds=1))
    assert seen == [utc(2021, 1, 1, 0, 0, second=1)]
    assert clock.monotonic() == 2.0


async def test_recurring_job_follows_a_clock_stepped_back() -> None:
    start = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    clock = FakeClock(start)
    scheduler = Scheduler(
        asyncio.get_running_loop(), tz=UTC, latitude=52.37, longitude=4.89, clock=clock
    )
    runs: list[datetime] = []
    scheduler.every(timedelta(minutes=5), callback(runs.append), name="poll")
    clock.set(start - timedelta(hours=1))
    clock.advance(timedelta(minutes=6))
    assert runs == [start - timedelta(minutes=55)]
    scheduler.close()
