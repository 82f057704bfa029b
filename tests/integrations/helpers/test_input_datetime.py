"""``input_datetime`` in a real Runtime: the three kinds, set_datetime, attributes, restore."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.errors import ServiceValidationError
from core.runtime import Runtime
from tests.integrations.helpers.conftest import START, Site, attrs_of, state_of

AMS = ZoneInfo("Europe/Amsterdam")

YAML = """\
input_datetime:
  both:
    name: Both
    has_date: true
    has_time: true
  day:
    has_date: true
    initial: 2024-12-24
  wake:
    has_time: true
    initial: "06:30"
"""


async def set_datetime(runtime: Runtime, entity: str, **data: object) -> None:
    await runtime.services.call(
        "input_datetime", "set_datetime", {"entity_id": f"input_datetime.{entity}", **data}
    )


async def test_initial_values_and_attributes(site: Site) -> None:
    async with site(YAML) as runtime:
        # No initial and nothing to restore: today (local) at midnight.
        assert state_of(runtime, "input_datetime.both") == "2024-06-03 00:00:00"
        assert state_of(runtime, "input_datetime.day") == "2024-12-24"
        assert state_of(runtime, "input_datetime.wake") == "06:30:00"
        assert attrs_of(runtime, "input_datetime.both") == {
            "has_date": True,
            "has_time": True,
            "year": 2024,
            "month": 6,
            "day": 3,
            "hour": 0,
            "minute": 0,
            "second": 0,
            "timestamp": datetime(2024, 6, 3, tzinfo=AMS).timestamp(),
            "editable": False,
            "friendly_name": "Both",
        }
        day = attrs_of(runtime, "input_datetime.day")
        assert (day["year"], day["month"], day["day"]) == (2024, 12, 24)
        assert "hour" not in day
        assert day["timestamp"] == datetime(2024, 12, 24, tzinfo=AMS).timestamp()
        wake = attrs_of(runtime, "input_datetime.wake")
        assert (wake["hour"], wake["minute"], wake["second"]) == (6, 30, 0)
        assert wake["timestamp"] == 6 * 3600 + 30 * 60
        assert "year" not in wake


async def test_set_datetime_forms(site: Site) -> None:
    async with site(YAML) as runtime:
        await set_datetime(runtime, "both", date="2025-01-02")
        assert state_of(runtime, "input_datetime.both") == "2025-01-02 00:00:00"
        await set_datetime(runtime, "both", time="13:14:15")
        assert state_of(runtime, "input_datetime.both") == "2025-01-02 13:14:15"
        await set_datetime(runtime, "both", datetime="2025-03-04 05:06:07")
        assert state_of(runtime, "input_datetime.both") == "2025-03-04 05:06:07"
        await set_datetime(runtime, "both", timestamp=START.timestamp())
        assert state_of(runtime, "input_datetime.both") == "2024-06-03 10:00:00"  # local time
        await set_datetime(runtime, "both", datetime="2024-06-03T12:00:00+00:00")
        assert state_of(runtime, "input_datetime.both") == "2024-06-03 14:00:00"
        # Only the parts an entity has are set.
        await set_datetime(runtime, "wake", datetime="2025-03-04 07:45:00")
        assert state_of(runtime, "input_datetime.wake") == "07:45:00"
        await set_datetime(runtime, "day", datetime="2025-03-04 07:45:00")
        assert state_of(runtime, "input_datetime.day") == "2025-03-04"


async def test_set_datetime_refuses_nothing_to_set_and_mixed_forms(site: Site) -> None:
    async with site(YAML) as runtime:
        with pytest.raises(ServiceValidationError, match=r"nothing to set on input_datetime\.wake"):
            await set_datetime(runtime, "wake", date="2025-01-01")
        with pytest.raises(ServiceValidationError, match="cannot be combined"):
            await set_datetime(runtime, "both", datetime="2025-01-01 00:00", time="10:00")
        with pytest.raises(ServiceValidationError, match="expected a time"):
            await set_datetime(runtime, "both", time="25:00")


async def test_restore_unless_initial(site: Site) -> None:
    async with site(YAML) as runtime:
        await set_datetime(runtime, "both", datetime="2025-05-05 05:05:05")
        await set_datetime(runtime, "wake", time="07:00")
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_datetime.both") == "2025-05-05 05:05:05"
        assert state_of(runtime, "input_datetime.wake") == "06:30:00"


async def test_bad_items_are_reported(site: Site) -> None:
    yaml = """\
input_datetime:
  neither:
    name: Neither
  wrong_initial:
    has_time: true
    initial: "not a time"
"""
    async with site(yaml) as runtime:
        assert runtime.config is not None
        issues = {issue.key: issue.message for issue in runtime.config.issues}
        assert "at least one of has_date and has_time" in issues["input_datetime.neither.has_date"]
        assert "expected a time" in issues["input_datetime.wrong_initial.initial"]
