"""``timer`` in a real Runtime on a FakeClock: services, events, attributes, restarts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import FakeClock
from core.errors import ServiceValidationError
from core.runtime import Runtime
from tests._helpers import settle
from tests.integrations._runtime import clock_of, write_config
from tests.integrations.helpers.conftest import HEADER, START, EventLog, Site, attrs_of, state_of

YAML = """\
timer:
  hallway:
    name: Hallway
    duration: "00:05:00"
    restore: true
  plain:
    duration: 90
"""

EVENTS = (
    "timer.started",
    "timer.restarted",
    "timer.paused",
    "timer.cancelled",
    "timer.changed",
    "timer.finished",
)
HALLWAY = {"entity_id": "timer.hallway"}


async def call(runtime: Runtime, service: str, **data: object) -> None:
    await runtime.services.call("timer", service, {**HALLWAY, **data})
    await settle(runtime)


async def test_idle_attributes(site: Site) -> None:
    async with site(YAML) as runtime:
        assert state_of(runtime, "timer.hallway") == "idle"
        assert attrs_of(runtime, "timer.hallway") == {
            "duration": "0:05:00",
            "restore": True,
            "editable": False,
            "friendly_name": "Hallway",
        }
        assert attrs_of(runtime, "timer.plain") == {"duration": "0:01:30", "editable": False}


async def test_start_runs_to_finished_on_the_clock(site: Site) -> None:
    async with site(YAML) as runtime:
        log = EventLog(runtime, *EVENTS)
        await call(runtime, "start")
        assert state_of(runtime, "timer.hallway") == "active"
        attrs = attrs_of(runtime, "timer.hallway")
        assert attrs["remaining"] == "0:05:00"
        assert attrs["finishes_at"] == (START + timedelta(minutes=5)).isoformat()
        await clock_of(runtime).advance_and_settle(timedelta(minutes=4, seconds=59))
        assert state_of(runtime, "timer.hallway") == "active"
        await clock_of(runtime).advance_and_settle(timedelta(seconds=1))
        await settle(runtime)
        assert state_of(runtime, "timer.hallway") == "idle"
        assert "finishes_at" not in attrs_of(runtime, "timer.hallway")
        assert log.types() == ["timer.started", "timer.finished"]
        finished = log.events[-1].data
        assert finished == {
            "entity_id": "timer.hallway",
            "finished_at": (START + timedelta(minutes=5)).isoformat(),
        }


async def test_pause_resume_restart_cancel_finish(site: Site) -> None:
    async with site(YAML) as runtime:
        log = EventLog(runtime, *EVENTS)
        clock = clock_of(runtime)
        await call(runtime, "start", duration="00:10:00")
        assert attrs_of(runtime, "timer.hallway")["duration"] == "0:10:00"
        await clock.advance_and_settle(timedelta(minutes=3))
        await call(runtime, "pause")
        assert state_of(runtime, "timer.hallway") == "paused"
        assert attrs_of(runtime, "timer.hallway")["remaining"] == "0:07:00"
        assert "finishes_at" not in attrs_of(runtime, "timer.hallway")
        await clock.advance_and_settle(timedelta(hours=1))
        assert state_of(runtime, "timer.hallway") == "paused"
        await call(runtime, "start")  # resumes with the remaining time
        assert (
            attrs_of(runtime, "timer.hallway")["finishes_at"]
            == (START + timedelta(hours=1, minutes=10)).isoformat()
        )
        await call(runtime, "start")  # restarts with this run's duration
        assert attrs_of(runtime, "timer.hallway")["remaining"] == "0:10:00"
        await call(runtime, "cancel")
        assert state_of(runtime, "timer.hallway") == "idle"
        assert attrs_of(runtime, "timer.hallway")["duration"] == "0:05:00"  # back to configured
        await call(runtime, "start")
        await call(runtime, "finish")
        assert state_of(runtime, "timer.hallway") == "idle"
        assert log.types() == [
            "timer.started",
            "timer.paused",
            "timer.restarted",
            "timer.restarted",
            "timer.cancelled",
            "timer.started",
            "timer.finished",
        ]
        # Nothing more happens when the old end comes: the job went with the finish.
        await clock.advance_and_settle(timedelta(hours=2))
        assert log.types()[-1] == "timer.finished"
        assert len(log.events) == 7


async def test_change_adds_and_removes_time_within_the_duration(site: Site) -> None:
    async with site(YAML) as runtime:
        log = EventLog(runtime, *EVENTS)
        clock = clock_of(runtime)
        with pytest.raises(ServiceValidationError, match="only an active timer"):
            await call(runtime, "change", duration=30)
        await call(runtime, "start")
        await clock.advance_and_settle(timedelta(minutes=2))
        await call(runtime, "change", duration=60)
        assert attrs_of(runtime, "timer.hallway")["remaining"] == "0:04:00"
        with pytest.raises(ServiceValidationError, match="more than its duration 0:05:00"):
            await call(runtime, "change", duration=120)
        await call(runtime, "change", duration="-00:03:00")
        assert (
            attrs_of(runtime, "timer.hallway")["finishes_at"]
            == (START + timedelta(minutes=3)).isoformat()
        )
        await clock.advance_and_settle(timedelta(minutes=1))
        await settle(runtime)
        assert state_of(runtime, "timer.hallway") == "idle"
        assert log.types() == ["timer.started", "timer.changed", "timer.changed", "timer.finished"]


async def test_active_timer_survives_a_restart_and_finishes(site: Site) -> None:
    async with site(YAML) as runtime:
        await call(runtime, "start")
        await runtime.services.call("timer", "start", {"entity_id": "timer.plain"})
        await clock_of(runtime).advance_and_settle(timedelta(minutes=1))
    async with site(YAML, START + timedelta(minutes=2)) as runtime:
        log = EventLog(runtime, *EVENTS)
        assert state_of(runtime, "timer.hallway") == "active"
        assert attrs_of(runtime, "timer.hallway")["remaining"] == "0:03:00"
        assert (
            attrs_of(runtime, "timer.hallway")["finishes_at"]
            == (START + timedelta(minutes=5)).isoformat()
        )
        # Without restore, a timer starts idle.
        assert state_of(runtime, "timer.plain") == "idle"
        await clock_of(runtime).advance_and_settle(timedelta(minutes=3))
        await settle(runtime)
        assert state_of(runtime, "timer.hallway") == "idle"
        assert log.types() == ["timer.finished"]


async def test_timer_due_while_down_finishes_at_start(site: Site, tmp_path: Path) -> None:
    async with site(YAML) as runtime:
        await call(runtime, "start")
    write_config(tmp_path, HEADER + YAML)
    runtime = Runtime(tmp_path, clock=FakeClock(START + timedelta(hours=3)))
    # Listening before start-up, as an automation loaded early would.
    log = EventLog(runtime, *EVENTS)
    try:
        await runtime.start()
        await settle(runtime)
        assert state_of(runtime, "timer.hallway") == "idle"
        assert "finishes_at" not in attrs_of(runtime, "timer.hallway")
        assert [e.data for e in log.events] == [
            {
                "entity_id": "timer.hallway",
                "finished_at": (START + timedelta(minutes=5)).isoformat(),
            }
        ]
        await clock_of(runtime).advance_and_settle(timedelta(minutes=10))
        assert len(log.events) == 1
    finally:
        await runtime.stop()


async def test_paused_timer_survives_a_restart(site: Site) -> None:
    async with site(YAML) as runtime:
        await call(runtime, "start")
        await clock_of(runtime).advance_and_settle(timedelta(minutes=1, seconds=30))
        await call(runtime, "pause")
    async with site(YAML, START + timedelta(days=1)) as runtime:
        assert state_of(runtime, "timer.hallway") == "paused"
        assert attrs_of(runtime, "timer.hallway")["remaining"] == "0:03:30"
        await call(runtime, "start")
        assert (
            attrs_of(runtime, "timer.hallway")["finishes_at"]
            == (START + timedelta(days=1, minutes=3, seconds=30)).isoformat()
        )
