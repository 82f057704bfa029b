"""TOU plans: checked slots, local time from the core configuration, DST days."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import voluptuous as vol

from integrations.tariff.schema import CONFIG_SCHEMA
from integrations.tariff.timeline import Timeline

SLOTS = [
    {"start": "00:00", "end": "02:30", "price": 5, "type": "off_peak"},
    {"start": "02:30", "end": "17:00", "price": 7, "type": "standard"},
    {"start": "17:00", "end": "20:00", "price": 10, "type": "peak"},
    {"start": "20:00", "end": "24:00", "price": 6, "type": "standard"},
]


def _plan(slots: list[dict[str, object]], days: list[str] | None = None) -> object:
    return CONFIG_SCHEMA(
        {
            "plan": {
                "name": "Home",
                "day_sets": {
                    "every_day": {
                        "days": days or ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                        "slots": slots,
                    }
                },
            }
        }
    )


def _segments(tz: str, day: date) -> list[tuple[datetime, datetime, float]]:
    config = _plan(SLOTS)
    zone = ZoneInfo(tz)
    plan = config.plan  # type: ignore[attr-defined]
    return [(s.start, s.end, s.price) for s in plan.segments(day, 1, zone)]


def test_overlapping_slots_are_refused_naming_plan_day_set_and_times() -> None:
    slots = [*SLOTS[:2], {"start": "16:00", "end": "20:00", "price": 10}, SLOTS[3]]
    with pytest.raises(
        vol.Invalid,
        match=r"plan 'Home', day set 'every_day': slots 02:30-17:00 and 16:00-20:00 overlap",
    ):
        _plan(slots)


def test_a_gap_between_slots_is_refused_with_the_uncovered_times() -> None:
    slots = [SLOTS[0], SLOTS[1], SLOTS[3]]
    with pytest.raises(vol.Invalid, match=r"day set 'every_day': no slot covers 17:00-20:00"):
        _plan(slots)


def test_a_day_no_day_set_covers_is_refused() -> None:
    with pytest.raises(vol.Invalid, match="no day set covers sat, sun"):
        _plan(SLOTS, ["mon", "tue", "wed", "thu", "fri"])


def test_seasons_that_leave_a_date_uncovered_are_refused() -> None:
    day_sets = {"all": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "slots": SLOTS}}
    with pytest.raises(vol.Invalid, match="no season covers 07-01"):
        CONFIG_SCHEMA(
            {
                "plan": {
                    "name": "S",
                    "seasons": [
                        {"name": "winter", "from": "10-01", "to": "06-30", "day_sets": day_sets}
                    ],
                }
            }
        )


def test_a_kolkata_day_has_its_slots_at_local_times() -> None:
    segments = _segments("Asia/Kolkata", date(2026, 1, 15))
    assert segments[0][0] == datetime(2026, 1, 14, 18, 30, tzinfo=UTC)
    assert segments[2][:2] == (
        datetime(2026, 1, 15, 11, 30, tzinfo=UTC),
        datetime(2026, 1, 15, 14, 30, tzinfo=UTC),
    )
    assert sum((e - s for s, e, _ in segments), timedelta()) == timedelta(hours=24)


def test_new_york_spring_forward_day_has_23_hours_and_the_missing_0230_starts_at_the_jump() -> None:
    segments = _segments("America/New_York", date(2026, 3, 8))
    # 02:30 does not exist: the standard slot starts when the clocks jump (07:00 UTC).
    assert segments[0][1] == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert segments[1][0] == segments[0][1]
    assert sum((e - s for s, e, _ in segments), timedelta()) == timedelta(hours=23)


def test_london_fall_back_day_has_25_hours_without_holes_or_overlaps() -> None:
    segments = _segments("Europe/London", date(2026, 10, 25))
    assert sum((e - s for s, e, _ in segments), timedelta()) == timedelta(hours=25)
    for (_, end, _), (start, _, _) in itertools.pairwise(segments):
        assert end == start
    # The off-peak slot holds both 01:xx hours: 00:00 BST (23:00 UTC) to 02:30 GMT.
    assert segments[0][:2] == (
        datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
    )


def test_a_timeline_tells_the_next_change_and_the_next_peak() -> None:
    config = _plan(SLOTS)
    plan = config.plan  # type: ignore[attr-defined]
    timeline = Timeline(plan.segments(date(2026, 1, 15), 2, ZoneInfo("UTC")), timedelta(minutes=15))
    noon = datetime(2026, 1, 15, 12, tzinfo=UTC)
    assert timeline.next_change(noon) == datetime(2026, 1, 15, 17, tzinfo=UTC)
    peak = timeline.next_of_kind(noon, plan.seasons[0].day_sets[0].slots[2].kind)
    assert peak is not None
    assert peak.start == datetime(2026, 1, 15, 17, tzinfo=UTC)
