"""Tests for core.schedules: persistent scheduled service calls and their catch-up on start."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.clock import FakeClock
from core.schedules import ScheduledJob, ScheduleStore
from core.timers import Scheduler

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0
) -> datetime:
    """An aware Europe/Amsterdam datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=AMSTERDAM)


class Runtime:
    """One run of the runtime: a scheduler, a store on ``path`` and the service calls it made."""

    def __init__(self, path: Path, clock: FakeClock) -> None:
        self.clock = clock
        self.scheduler = Scheduler(
            asyncio.get_running_loop(),
            tz=AMSTERDAM,
            latitude=52.37,
            longitude=4.90,
            clock=clock,
        )
        self.calls: list[tuple[str, str, datetime]] = []
        self.writes = 0
        self.store = ScheduleStore(path, self.scheduler, self._runner, executor=self._executor)

    async def _runner(self, job: ScheduledJob, when: datetime) -> None:
        self.calls.append((job.id, job.action, when))
        if job.data.get("fail"):
            raise RuntimeError("service failed")

    async def _executor(self, func: Callable[[], object]) -> object:
        if getattr(func, "func", None).__name__ == "_write_atomic":  # type: ignore[union-attr]
            self.writes += 1
        return await asyncio.get_running_loop().run_in_executor(None, func)

    async def settle(self) -> None:
        """Let started runs finish and pending writes land."""
        for _ in range(5):
            await asyncio.sleep(0)
        await self.store.flush()

    async def advance(self, delta: timedelta) -> None:
        """Move time forward job by job, as real time would pass, and settle."""
        end = self.clock.now() + delta
        while True:
            due = [i.next_run for i in self.scheduler.jobs() if i.next_run is not None]
            if not due or min(due) > end:
                break
            self.clock.set(min(due))
            await self.settle()
        self.clock.set(end)
        await self.settle()

    async def stop(self) -> None:
        await self.store.close()
        self.scheduler.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "schedules.json"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local(2024, 5, 1, 12))


def daily_job(job_id: str = "night", at: str = "06:00", **kwargs: object) -> ScheduledJob:
    return ScheduledJob(
        id=job_id,
        name=f"Job {job_id}",
        trigger={"daily": at},
        action="battery.charge",
        data={"power": 3000},
        target={"entity_id": ["battery.home"]},
        created_by="tariff",
        **kwargs,  # type: ignore[arg-type]
    )


def write_file(path: Path, jobs: list[dict[str, object]]) -> None:
    path.write_text(json.dumps({"version": 1, "jobs": jobs}), encoding="utf-8")


def stored(path: Path) -> dict[str, dict[str, object]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return {entry["id"]: entry for entry in document["jobs"]}


async def test_missing_file_is_an_empty_store(path: Path, clock: FakeClock) -> None:
    runtime = Runtime(path, clock)
    await runtime.store.load()
    assert runtime.store.list() == []
    assert not path.exists()  # noqa: ASYNC240 - a tiny file in tmp_path; blocking is harmless
    await runtime.stop()


async def test_daily_job_calls_its_service_and_persists_last_run(
    path: Path, clock: FakeClock
) -> None:
    runtime = Runtime(path, clock)
    await runtime.store.load()
    runtime.store.add(daily_job())
    await runtime.advance(timedelta(days=1))
    assert runtime.calls == [("night", "battery.charge", local(2024, 5, 2, 6))]
    job = runtime.store.get("night")
    assert job is not None
    assert job.last_run == local(2024, 5, 2, 6)
    assert stored(path)["night"]["last_run"] == "2024-05-02T04:00:00+00:00"
    await runtime.stop()


async def test_schedule_survives_restart(path: Path, clock: FakeClock) -> None:
    first = Runtime(path, clock)
    await first.store.load()
    added = [
        first.store.add(daily_job()),
        first.store.add(
            ScheduledJob(
                id="",
                name="Every quarter",
                trigger={"cron": "*/15 * * * *"},
                action="sensor.poll",
            )
        ),
        first.store.add(
            ScheduledJob(
                id="boost",
                name="Boost",
                trigger={"every": 600},
                action="climate.boost",
                enabled=False,
            )
        ),
    ]
    await first.stop()
    assert added[1].id  # an id was generated
    assert "start" in added[2].trigger  # the fixed-rate anchor is persisted

    second = Runtime(path, clock)
    await second.store.load()
    assert second.store.list() == added
    assert sorted(info.name for info in second.scheduler.jobs()) == sorted(
        [f"schedule[{added[0].id}]", f"schedule[{added[1].id}]"]  # the disabled one is not armed
    )
    await second.advance(timedelta(minutes=15))
    assert [call[0] for call in second.calls] == [added[1].id]
    await second.stop()


async def test_changes_in_one_tick_are_written_once(path: Path, clock: FakeClock) -> None:
    runtime = Runtime(path, clock)
    await runtime.store.load()
    for n in range(5):
        runtime.store.add(daily_job(f"job{n}"))
    runtime.store.update("job0", name="Renamed")
    runtime.store.remove("job4")
    await runtime.store.flush()
    assert runtime.writes == 1
    assert sorted(stored(path)) == ["job0", "job1", "job2", "job3"]
    assert stored(path)["job0"]["name"] == "Renamed"
    assert not path.with_name("schedules.json.tmp").exists()
    await runtime.stop()


async def test_missed_job_within_grace_runs_once_on_start(path: Path, clock: FakeClock) -> None:
    first = Runtime(path, clock)
    await first.store.load()
    first.store.add(daily_job(at="06:00"))
    first.store.add(
        ScheduledJob(
            id="poll",
            name="Poll",
            trigger={"every": 60, "start": local(2024, 5, 1, 12).isoformat()},
            action="sensor.poll",
        )
    )
    await first.advance(timedelta(minutes=2))
    await first.stop()
    assert [call[0] for call in first.calls] == ["poll", "poll"]

    # Down from 12:02 until 06:03:30 the next morning: the 06:00 run is 3.5 min late (grace
    # 5 min), and 'poll' missed over a thousand slots but must run only once, for the latest.
    clock.set(local(2024, 5, 2, 6, 3, second=30))
    second = Runtime(path, clock)
    await second.store.load()
    await second.settle()
    assert sorted(second.calls) == [
        ("night", "battery.charge", local(2024, 5, 2, 6)),
        ("poll", "sensor.poll", local(2024, 5, 2, 6, 3)),
    ]
    night = second.store.get("night")
    assert night is not None
    assert night.last_run == local(2024, 5, 2, 6)
    await second.advance(timedelta(seconds=30))
    assert second.calls[-1] == ("poll", "sensor.poll", local(2024, 5, 2, 6, 4))
    await second.stop()


async def test_missed_job_beyond_grace_is_skipped(
    path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    first = Runtime(path, clock)
    await first.store.load()
    first.store.add(daily_job(at="06:00", grace=300))
    await first.advance(timedelta(days=1))
    await first.stop()

    clock.set(local(2024, 5, 3, 6, 10))
    caplog.set_level(logging.INFO, logger="core.schedules")
    second = Runtime(path, clock)
    await second.store.load()
    await second.settle()
    assert second.calls == []
    assert "night" in caplog.text
    assert "missed its run" in caplog.text
    assert [info.next_run for info in second.scheduler.jobs()] == [local(2024, 5, 4, 6)]
    await second.stop()


async def test_job_that_never_ran_is_caught_up_from_its_creation(
    path: Path, clock: FakeClock
) -> None:
    first = Runtime(path, clock)
    await first.store.load()
    first.store.add(daily_job(at="12:30"))
    await first.stop()

    clock.set(local(2024, 5, 1, 12, 31))
    second = Runtime(path, clock)
    await second.store.load()
    await second.settle()
    assert second.calls == [("night", "battery.charge", local(2024, 5, 1, 12, 30))]
    await second.stop()


async def test_at_job_runs_once_and_is_removed(path: Path, clock: FakeClock) -> None:
    runtime = Runtime(path, clock)
    await runtime.store.load()
    runtime.store.add(
        ScheduledJob(
            id="once",
            name="Once",
            trigger={"at": local(2024, 5, 1, 13).isoformat()},
            action="light.turn_on",
        )
    )
    await runtime.advance(timedelta(hours=2))
    assert runtime.calls == [("once", "light.turn_on", local(2024, 5, 1, 13))]
    assert runtime.store.list() == []
    assert stored(path) == {}
    await runtime.stop()


@pytest.mark.parametrize(
    ("down_for", "runs"),
    [(timedelta(minutes=4), True), (timedelta(minutes=6), False)],
    ids=["within_grace", "beyond_grace"],
)
async def test_missed_at_job_runs_once_within_grace_and_is_removed_either_way(
    path: Path, clock: FakeClock, down_for: timedelta, runs: bool
) -> None:
    at = local(2024, 5, 1, 13)
    write_file(
        path,
        [
            {
                "id": "once",
                "name": "Once",
                "trigger": {"at": at.isoformat()},
                "action": "light.turn_on",
                "grace": 300,
            }
        ],
    )
    clock.set(at + down_for)
    runtime = Runtime(path, clock)
    await runtime.store.load()
    await runtime.settle()
    assert runtime.calls == ([("once", "light.turn_on", at)] if runs else [])
    assert runtime.store.list() == []
    assert stored(path) == {}
    await runtime.stop()


async def test_corrupt_schedule_file_is_moved_aside(
    path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path.write_text('{"version": 1, "jobs": [', encoding="utf-8")  # noqa: ASYNC240 - as above
    runtime = Runtime(path, clock)
    await runtime.store.load()
    assert runtime.store.list() == []
    aside = path.with_name("schedules.json.corrupt-20240501T100000")
    assert aside.read_text(encoding="utf-8") == '{"version": 1, "jobs": ['
    assert str(path) in caplog.text
    assert "corrupt" in caplog.text
    assert not path.exists()  # noqa: ASYNC240 - a tiny file in tmp_path; blocking is harmless
    runtime.store.add(daily_job())
    await runtime.stop()
    assert list(stored(path)) == ["night"]


async def test_invalid_job_is_skipped_others_load(
    path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    good = daily_job("good").as_dict()
    bad_cron = {**daily_job("bad_cron").as_dict(), "trigger": {"cron": "61 * * * *"}}
    no_action = {k: v for k, v in daily_job("no_action").as_dict().items() if k != "action"}
    naive_at = {**daily_job("naive").as_dict(), "trigger": {"at": "2024-05-01T13:00:00"}}
    write_file(path, [bad_cron, good, no_action, naive_at])

    runtime = Runtime(path, clock)
    await runtime.store.load()
    assert [job.id for job in runtime.store.list()] == ["good"]
    assert "bad_cron" in caplog.text
    assert "trigger.cron" in caplog.text
    assert "no_action" in caplog.text
    assert "action" in caplog.text
    assert "naive" in caplog.text
    assert "trigger.at" in caplog.text

    # Invalid entries are kept in the file so the user can fix them; nothing lost silently.
    runtime.store.add(daily_job("new"))
    await runtime.stop()
    assert sorted(stored(path)) == ["bad_cron", "good", "naive", "new", "no_action"]
    assert stored(path)["bad_cron"] == bad_cron


async def test_add_rejects_invalid_or_duplicate_jobs(path: Path, clock: FakeClock) -> None:
    runtime = Runtime(path, clock)
    await runtime.store.load()
    runtime.store.add(daily_job())
    with pytest.raises(ValueError, match="already exists"):
        runtime.store.add(daily_job())
    with pytest.raises(ValueError, match=r"trigger\.daily"):
        runtime.store.add(daily_job("late", at="25:00"))
    with pytest.raises(ValueError, match="action"):
        runtime.store.add(
            ScheduledJob(id="x", name="x", trigger={"cron": "@daily"}, action="not a service")
        )
    with pytest.raises(ValueError, match="trigger"):
        runtime.store.add(
            ScheduledJob(
                id="y", name="y", trigger={"daily": "06:00", "cron": "@daily"}, action="a.b"
            )
        )
    assert [job.id for job in runtime.store.list()] == ["night"]
    await runtime.stop()


async def test_update_rearms_the_job(path: Path, clock: FakeClock) -> None:
    runtime = Runtime(path, clock)
    await runtime.store.load()
    runtime.store.add(daily_job(at="13:00"))
    updated = runtime.store.update("night", trigger={"daily": "14:00"}, data={"power": 1500})
    assert updated.trigger == {"daily": "14:00:00"}
    await runtime.advance(timedelta(hours=3))
    assert runtime.calls == [("night", "battery.charge", local(2024, 5, 1, 14))]
    with pytest.raises(ValueError, match="id"):
        runtime.store.update("night", id="other")
    with pytest.raises(ValueError, match="colour"):
        runtime.store.update("night", colour="red")
    with pytest.raises(KeyError):
        runtime.store.update("missing", name="x")
    await runtime.stop()


async def test_remove_and_disable_stop_runs(path: Path, clock: FakeClock) -> None:
    runtime = Runtime(path, clock)
    await runtime.store.load()
    runtime.store.add(daily_job("removed", at="13:00"))
    runtime.store.add(daily_job("disabled", at="13:00"))
    runtime.store.remove("removed")
    runtime.store.update("disabled", enabled=False)
    await runtime.advance(timedelta(days=1))
    assert runtime.calls == []
    assert runtime.scheduler.jobs() == []
    with pytest.raises(KeyError):
        runtime.store.remove("removed")
    await runtime.stop()


async def test_failing_service_call_is_logged_and_recorded(
    path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = Runtime(path, clock)
    await runtime.store.load()
    runtime.store.add(daily_job(at="13:00"))
    runtime.store.update("night", data={"fail": True})
    await runtime.advance(timedelta(hours=2))
    assert len(runtime.calls) == 1
    assert "night" in caplog.text
    assert "service failed" in caplog.text
    job = runtime.store.get("night")
    assert job is not None
    assert job.last_run == local(2024, 5, 1, 13)  # not retried on every restart
    await runtime.stop()


async def test_job_round_trips_through_its_json_form() -> None:
    job = daily_job(last_run=datetime(2024, 5, 1, 4, tzinfo=UTC))
    again = ScheduledJob.from_dict(json.loads(json.dumps(job.as_dict())))
    assert again == ScheduledJob.from_dict(job.as_dict())
    assert again.trigger == {"daily": "06:00:00"}
    assert again.service == ("battery", "charge")
