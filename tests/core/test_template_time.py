"""Time helpers in templates: the runtime's clock and time zone (Europe/Amsterdam), DST days."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.runtime import Runtime
from core.template import Template, TemplateError
from tests.core._template_helpers import template_runtime
from tests.integrations._runtime import clock_of


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with template_runtime(tmp_path) as rt:
        yield rt


def render(runtime: Runtime, source: str, **variables: object) -> object:
    return Template(source, runtime).render(variables)


async def test_now_reads_the_runtime_clock_in_the_site_time_zone(runtime: Runtime) -> None:
    # The fake clock stands at 11:00 UTC, 12:00 in Amsterdam.
    assert render(runtime, "{{ now().hour }}") == 12
    assert render(runtime, "{{ utcnow().hour }}") == 11
    assert render(runtime, "{{ now().tzinfo }}") == "Europe/Amsterdam"
    assert render(runtime, "{{ (now() + timedelta(hours=1, minutes=30)).strftime('%H:%M') }}") == (
        "13:30"
    )
    clock_of(runtime).advance(timedelta(hours=3))
    assert render(runtime, "{{ now().hour }}") == 15


@pytest.mark.parametrize(
    ("utc_now", "wall", "expected"),
    [
        # An ordinary winter day.
        (datetime(2024, 1, 15, 11, 0, tzinfo=UTC), "07:30", "2024-01-15T07:30:00+01:00"),
        # Spring forward (2024-03-31, 02:00 -> 03:00): before, after, and inside the gap.
        (datetime(2024, 3, 31, 10, 0, tzinfo=UTC), "01:00", "2024-03-31T01:00:00+01:00"),
        (datetime(2024, 3, 31, 10, 0, tzinfo=UTC), "12:00", "2024-03-31T12:00:00+02:00"),
        (datetime(2024, 3, 31, 10, 0, tzinfo=UTC), "02:30", "2024-03-31T03:30:00+02:00"),
        # Fall back (2024-10-27, 03:00 -> 02:00): the repeated hour is its first occurrence.
        (datetime(2024, 10, 27, 10, 0, tzinfo=UTC), "02:30", "2024-10-27T02:30:00+02:00"),
        (datetime(2024, 10, 27, 10, 0, tzinfo=UTC), "12:00", "2024-10-27T12:00:00+01:00"),
        # Just after local midnight, while UTC is still on the day before.
        (datetime(2024, 6, 30, 22, 30, tzinfo=UTC), "08:00", "2024-07-01T08:00:00+02:00"),
        (datetime(2024, 6, 30, 22, 30, tzinfo=UTC), "", "2024-07-01T00:00:00+02:00"),
    ],
)
async def test_today_at_is_dst_aware(
    tmp_path: Path, utc_now: datetime, wall: str, expected: str
) -> None:
    async with template_runtime(tmp_path, utc_now) as runtime:
        result = render(runtime, "{{ today_at(w).isoformat() }}", w=wall)
        assert result == expected
        _, info = Template("{{ today_at('08:00') }}", runtime).render_with_info()
        assert info.uses_now


async def test_today_at_compares_with_now(runtime: Runtime) -> None:
    assert render(runtime, "{{ now() > today_at('11:59') }}") is True
    assert render(runtime, "{{ now() < today_at('12:01:00') }}") is True
    assert render(runtime, "{{ '12:30' | today_at > now() }}") is True


async def test_today_at_refuses_a_non_time(runtime: Runtime) -> None:
    with pytest.raises(TemplateError, match="today_at"):
        render(runtime, "{{ today_at('noonish') }}")


@pytest.mark.parametrize(
    ("utc_text", "local_text"),
    [
        ("2024-03-31T00:30:00+00:00", "2024-03-31T01:30:00+01:00"),
        ("2024-03-31T01:30:00Z", "2024-03-31T03:30:00+02:00"),
        ("2024-10-27T00:30:00+00:00", "2024-10-27T02:30:00+02:00"),
        ("2024-10-27T01:30:00+00:00", "2024-10-27T02:30:00+01:00"),
    ],
)
async def test_as_local_across_dst(runtime: Runtime, utc_text: str, local_text: str) -> None:
    assert render(runtime, "{{ (t | as_datetime | as_local).isoformat() }}", t=utc_text) == (
        local_text
    )
    assert render(runtime, "{{ as_local(t).isoformat() }}", t=utc_text) == local_text


async def test_as_local_treats_naive_as_local(runtime: Runtime) -> None:
    naive = datetime(2024, 7, 1, 8, 0)
    assert render(runtime, "{{ as_local(t).isoformat() }}", t=naive) == "2024-07-01T08:00:00+02:00"


async def test_timestamps(runtime: Runtime) -> None:
    noon = datetime(2024, 1, 15, 11, 0, tzinfo=UTC).timestamp()
    assert render(runtime, "{{ as_timestamp('2024-01-15 12:00') }}") == noon
    assert render(runtime, "{{ as_timestamp('2024-01-15T11:00:00+00:00') }}") == noon
    assert render(runtime, "{{ as_timestamp(now()) }}") == noon
    assert render(runtime, "{{ as_timestamp('nope', 0) }}") == 0
    assert (
        render(runtime, "{{ as_datetime(t).isoformat() }}", t=noon) == "2024-01-15T11:00:00+00:00"
    )
    assert render(runtime, "{{ as_datetime('2024-01-15').isoformat() }}") == "2024-01-15T00:00:00"
    assert render(runtime, "{{ as_datetime('bad', default=None) }}") is None
    assert render(runtime, "{{ t | timestamp_local }}", t=noon) == "2024-01-15T12:00:00+01:00"
    assert render(runtime, "{{ t | timestamp_utc }}", t=noon) == "2024-01-15T11:00:00+00:00"
    assert render(runtime, "{{ t | timestamp_custom('%H:%M') }}", t=noon) == "12:00"
    assert render(runtime, "{{ t | timestamp_custom('%H:%M', false) }}", t=noon) == "11:00"


async def test_strptime(runtime: Runtime) -> None:
    assert render(runtime, "{{ strptime('15.01.2024 07:05', '%d.%m.%Y %H:%M').minute }}") == 5
    assert render(runtime, "{{ strptime('x', '%Y', 'fallback') }}") == "fallback"


async def test_relative_time_and_friends(runtime: Runtime) -> None:
    now = clock_of(runtime).now()
    runtime.states.set(
        "sensor.old", "1", timestamp=(now - timedelta(hours=2, minutes=5)).timestamp()
    )
    assert render(runtime, "{{ relative_time(states.sensor.old.last_changed) }}") == "2 hours"
    assert render(runtime, "{{ time_since(states.sensor.old.last_changed, 2) }}") == (
        "2 hours 5 minutes"
    )
    soon = now + timedelta(days=1, hours=3)
    assert render(runtime, "{{ time_until(t) }}", t=soon) == "1 day"
    assert render(runtime, "{{ time_until(t, 2) }}", t=soon) == "1 day 3 hours"
    assert render(runtime, "{{ relative_time(t) == t }}", t=soon) is True
    assert render(runtime, "{{ relative_time('not a date') }}") == "not a date"
    one_minute_ago = now - timedelta(seconds=61)
    assert render(runtime, "{{ relative_time(t) }}", t=one_minute_ago) == "1 minute"
    _, info = Template("{{ relative_time(t) }}", runtime).render_with_info({"t": soon})
    assert info.uses_now


def test_time_helpers_without_a_runtime_use_utc() -> None:
    result = Template("{{ now().tzinfo }}").render()
    assert result == "UTC"
    assert Template("{{ as_local(as_datetime(0)).isoformat() }}").render() == (
        "1970-01-01T00:00:00+00:00"
    )
    assert isinstance(Template("{{ now().year }}").render(), int)
    assert Template("{{ now() is datetime }}").render() is True


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:10:00", 600),
        ("1:00:00", 3600),
        ("10:30", 630),
        ("-0:01:00", -60),
        ("3 days, 4:00:00", 3 * 86400 + 4 * 3600),
        ("1 day", 86400),
        ("P1DT2H", 86400 + 7200),
        ("PT1.5S", 1.5),
        ("P1W", 7 * 86400),
        ("-PT10M", -600),
    ],
)
def test_as_timedelta(text: str, seconds: float) -> None:
    assert Template("{{ as_timedelta(t).total_seconds() }}").render({"t": text}) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "soon", "1:2:3:4"])
def test_as_timedelta_of_a_non_duration_is_none(text: str) -> None:
    assert Template("{{ t | as_timedelta }}").render({"t": text}) is None
