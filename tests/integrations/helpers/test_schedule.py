"""``schedule`` on a FakeClock: edges on the scheduler, data, next_event, DST days."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.runtime import Runtime
from tests.integrations._runtime import clock_of
from tests.integrations.helpers.conftest import START, Site, attrs_of, state_of

AMS = ZoneInfo("Europe/Amsterdam")

YAML = """\
schedule:
  office:
    name: Office hours
    monday:
      - from: "13:00"
        to: "18:00:00"
      - from: "07:30:00"
        to: "12:00:00"
        data:
          setpoint: 21
          mode: comfort
    sunday:
      - from: "22:00"
        to: "24:00"
"""


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[misc]


async def move_to(runtime: Runtime, when: datetime) -> None:
    clock = clock_of(runtime)
    await clock.advance_and_settle(when - clock.now())


async def test_state_data_and_next_event_follow_the_edges(site: Site) -> None:
    # START is Monday 2024-06-03, 10:00 in Amsterdam.
    async with site(YAML) as runtime:
        assert state_of(runtime, "schedule.office") == "on"
        assert attrs_of(runtime, "schedule.office") == {
            "next_event": local(2024, 6, 3, 12, 0).isoformat(),
            "setpoint": 21,
            "mode": "comfort",
            "editable": False,
            "friendly_name": "Office hours",
        }
        await move_to(runtime, local(2024, 6, 3, 11, 59, 59))
        assert state_of(runtime, "schedule.office") == "on"
        await move_to(runtime, local(2024, 6, 3, 12, 0))
        assert state_of(runtime, "schedule.office") == "off"
        attrs = attrs_of(runtime, "schedule.office")
        assert "setpoint" not in attrs
        assert attrs["next_event"] == local(2024, 6, 3, 13, 0).isoformat()
        await move_to(runtime, local(2024, 6, 3, 13, 0))
        assert state_of(runtime, "schedule.office") == "on"
        assert "setpoint" not in attrs_of(runtime, "schedule.office")
        await move_to(runtime, local(2024, 6, 3, 18, 0))
        assert state_of(runtime, "schedule.office") == "off"
        # The next edge is next Sunday evening.
        assert attrs_of(runtime, "schedule.office")["next_event"] == (
            local(2024, 6, 9, 22, 0).isoformat()
        )


async def test_block_to_midnight_and_a_jump_over_several_edges(site: Site) -> None:
    async with site(YAML) as runtime:
        await move_to(runtime, local(2024, 6, 9, 23, 0))  # one jump over a week of edges
        assert state_of(runtime, "schedule.office") == "on"
        assert attrs_of(runtime, "schedule.office")["next_event"] == (
            local(2024, 6, 10, 0, 0).isoformat()
        )
        await move_to(runtime, local(2024, 6, 10, 0, 0))
        assert state_of(runtime, "schedule.office") == "off"
        assert attrs_of(runtime, "schedule.office")["next_event"] == (
            local(2024, 6, 10, 7, 30).isoformat()
        )


DST_YAML = """\
schedule:
  night:
    name: Night
    sunday:
      - from: "01:30"
        to: "02:30"
      - from: "02:45"
        to: "04:00"
"""


async def test_spring_forward_moves_edges_in_the_gap_forward(site: Site) -> None:
    # 2024-03-31, Amsterdam: 02:00 CET becomes 03:00 CEST; 02:30 and 02:45 do not exist.
    start = datetime(2024, 3, 30, 23, 0, tzinfo=UTC)  # 00:00 CET
    async with site(DST_YAML, start) as runtime:
        assert state_of(runtime, "schedule.night") == "off"
        assert attrs_of(runtime, "schedule.night")["next_event"] == "2024-03-31T01:30:00+01:00"
        await move_to(runtime, datetime(2024, 3, 31, 0, 30, tzinfo=UTC))  # 01:30 CET
        assert state_of(runtime, "schedule.night") == "on"
        # 02:30 is past the gap by its length: 03:30 CEST, an hour of real time later.
        assert attrs_of(runtime, "schedule.night")["next_event"] == "2024-03-31T03:30:00+02:00"
        await move_to(runtime, datetime(2024, 3, 31, 1, 29, tzinfo=UTC))
        assert state_of(runtime, "schedule.night") == "on"
        await move_to(runtime, datetime(2024, 3, 31, 1, 30, tzinfo=UTC))  # 03:30 CEST
        assert state_of(runtime, "schedule.night") == "off"
        assert attrs_of(runtime, "schedule.night")["next_event"] == "2024-03-31T03:45:00+02:00"
        await move_to(runtime, datetime(2024, 3, 31, 1, 45, tzinfo=UTC))
        assert state_of(runtime, "schedule.night") == "on"
        await move_to(runtime, datetime(2024, 3, 31, 2, 0, tzinfo=UTC))  # 04:00 CEST
        assert state_of(runtime, "schedule.night") == "off"


async def test_fall_back_uses_the_first_of_the_repeated_hour(site: Site) -> None:
    # 2024-10-27, Amsterdam: 03:00 CEST becomes 02:00 CET; 02:00-03:00 happens twice.
    start = datetime(2024, 10, 26, 22, 0, tzinfo=UTC)  # 00:00 CEST
    async with site(DST_YAML, start) as runtime:
        await move_to(runtime, datetime(2024, 10, 26, 23, 30, tzinfo=UTC))  # 01:30 CEST
        assert state_of(runtime, "schedule.night") == "on"
        assert attrs_of(runtime, "schedule.night")["next_event"] == "2024-10-27T02:30:00+02:00"
        await move_to(runtime, datetime(2024, 10, 27, 0, 30, tzinfo=UTC))  # 02:30 CEST
        assert state_of(runtime, "schedule.night") == "off"
        await move_to(runtime, datetime(2024, 10, 27, 0, 45, tzinfo=UTC))  # 02:45 CEST
        assert state_of(runtime, "schedule.night") == "on"
        # On until 04:00 CET, through the repeated hour: 2 h 15 min of real time.
        await move_to(runtime, datetime(2024, 10, 27, 2, 59, tzinfo=UTC))
        assert state_of(runtime, "schedule.night") == "on"
        await move_to(runtime, datetime(2024, 10, 27, 3, 0, tzinfo=UTC))  # 04:00 CET
        assert state_of(runtime, "schedule.night") == "off"
        assert attrs_of(runtime, "schedule.night")["next_event"] == "2024-11-03T01:30:00+01:00"


async def test_get_schedule_returns_the_blocks(site: Site) -> None:
    async with site(YAML) as runtime:
        response = await runtime.services.call(
            "schedule",
            "get_schedule",
            {"entity_id": "schedule.office"},
            return_response=True,
        )
        assert response is not None
        office = response["schedule.office"]
        assert office["monday"] == [
            {"from": "07:30:00", "to": "12:00:00", "data": {"setpoint": 21, "mode": "comfort"}},
            {"from": "13:00:00", "to": "18:00:00"},
        ]
        assert office["sunday"] == [{"from": "22:00:00", "to": "24:00:00"}]
        assert office["tuesday"] == []


async def test_overlapping_and_reversed_blocks_are_reported(site: Site) -> None:
    yaml = """\
schedule:
  overlap:
    name: Overlap
    friday:
      - {from: "08:00", to: "10:00"}
      - {from: "09:00", to: "11:00"}
  reversed:
    name: Reversed
    friday:
      - {from: "10:00", to: "09:00"}
  nameless:
    friday: []
  good:
    name: Good
"""
    async with site(yaml) as runtime:
        assert state_of(runtime, "schedule.good") == "off"
        assert runtime.config is not None
        issues = {issue.key: issue.message for issue in runtime.config.issues}
        assert "overlaps" in issues["schedule.overlap.friday.1"]
        assert "does not end after it starts" in issues["schedule.reversed.friday.0"]
        assert "required key not provided" in issues["schedule.nameless.name"]
        for item in ("overlap", "reversed", "nameless"):
            assert runtime.states.get(f"schedule.{item}") is None


async def test_schedule_created_through_the_api_runs(site: Site) -> None:
    from core.collection import get_collection

    async with site("schedule:\n") as runtime:
        collection = get_collection(runtime, "schedule")
        assert collection is not None
        await collection.create({"name": "Pump", "monday": [{"from": "09:00", "to": "11:00"}]})
        assert state_of(runtime, "schedule.pump") == "on"
        await collection.update("pump", {"monday": [{"from": "11:00", "to": "12:00"}]})
        assert state_of(runtime, "schedule.pump") == "off"
        assert attrs_of(runtime, "schedule.pump")["next_event"] == (
            local(2024, 6, 3, 11, 0).isoformat()
        )
    assert START.astimezone(AMS).hour == 10
