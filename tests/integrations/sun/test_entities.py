"""``sun.sun`` in a real Runtime, found through the real entry point, driven by a FakeClock.

Expected times are computed here with astral directly, not through the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from astral import Observer
from astral import sun as astral_sun

from core.integration import IntegrationStatus
from core.runtime import Runtime
from core.state import State
from tests.integrations._runtime import clock_of, running

AMSTERDAM = Observer(52.3731, 4.8922, 0)
AMSTERDAM_TZ = ZoneInfo("Europe/Amsterdam")
TROMSO = Observer(69.6492, 18.9553, 0)
OSLO_TZ = ZoneInfo("Europe/Oslo")

AMSTERDAM_CONFIG = """\
edgewise:
  latitude: 52.3731
  longitude: 4.8922
  elevation: 0
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
sun:
"""

TROMSO_CONFIG = (
    AMSTERDAM_CONFIG.replace("52.3731", "69.6492")
    .replace("4.8922", "18.9553")
    .replace("Europe/Amsterdam", "Europe/Oslo")
)

#: 14:00 in Amsterdam: the sun is up, past solar noon.
JUNE_AFTERNOON = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

EventFunc = Callable[[Observer, date, tzinfo], datetime]


def _sunrise(obs: Observer, day: date, tz: tzinfo) -> datetime:
    return astral_sun.sunrise(obs, date=day, tzinfo=tz)


def _sunset(obs: Observer, day: date, tz: tzinfo) -> datetime:
    return astral_sun.sunset(obs, date=day, tzinfo=tz)


def _dawn(obs: Observer, day: date, tz: tzinfo) -> datetime:
    return astral_sun.dawn(obs, date=day, tzinfo=tz)


def _dusk(obs: Observer, day: date, tz: tzinfo) -> datetime:
    return astral_sun.dusk(obs, date=day, tzinfo=tz)


def _noon(obs: Observer, day: date, tz: tzinfo) -> datetime:
    return astral_sun.noon(obs, date=day, tzinfo=tz)


def _midnight(obs: Observer, day: date, tz: tzinfo) -> datetime:
    return astral_sun.midnight(obs, date=day, tzinfo=tz)


def expected_next(func: EventFunc, obs: Observer, tz: tzinfo, after: datetime) -> str:
    """The first event strictly after ``after``, as the ISO UTC string the entity shows."""
    day = after.astimezone(tz).date() - timedelta(days=1)
    for n in range(370):
        try:
            at = func(obs, day + timedelta(days=n), tz)
        except ValueError:  # no such event that day (polar night or day)
            continue
        if at > after:
            return at.astimezone(UTC).isoformat()
    raise AssertionError("no event within a year")


def expected_attributes(obs: Observer, tz: tzinfo, now: datetime) -> dict[str, object]:
    noon = expected_next(_noon, obs, tz, now)
    midnight = expected_next(_midnight, obs, tz, now)
    return {
        "next_dawn": expected_next(_dawn, obs, tz, now),
        "next_dusk": expected_next(_dusk, obs, tz, now),
        "next_midnight": midnight,
        "next_noon": noon,
        "next_rising": expected_next(_sunrise, obs, tz, now),
        "next_setting": expected_next(_sunset, obs, tz, now),
        "elevation": round(astral_sun.elevation(obs, now), 2),
        "azimuth": round(astral_sun.azimuth(obs, now), 2),
        "rising": datetime.fromisoformat(noon) < datetime.fromisoformat(midnight),
    }


def sun_state(runtime: Runtime) -> State:
    state = runtime.states.get("sun.sun")
    assert state is not None
    return state


def sun_attributes(state: State) -> dict[str, object]:
    keys = expected_attributes(AMSTERDAM, AMSTERDAM_TZ, JUNE_AFTERNOON).keys()
    return {key: state.attributes[key] for key in keys}


async def test_sun_is_discovered_through_the_entry_point_and_set_up(tmp_path: Path) -> None:
    async with running(tmp_path, AMSTERDAM_CONFIG, JUNE_AFTERNOON) as runtime:
        loaded = runtime.loader.get("sun")
        assert loaded is not None
        assert loaded.source.startswith("sun = integrations.sun")
        assert loaded.status is IntegrationStatus.RUNNING
        entry = runtime.entity_registry.get("sun.sun")
        assert entry is not None
        assert entry.unique_id == "sun"
        assert entry.device_id is None


async def test_afternoon_state_and_attributes_match_astral(tmp_path: Path) -> None:
    async with running(tmp_path, AMSTERDAM_CONFIG, JUNE_AFTERNOON) as runtime:
        state = sun_state(runtime)
        assert state.state == "above_horizon"
        assert state.attributes["friendly_name"] == "Sun"
        assert sun_attributes(state) == expected_attributes(AMSTERDAM, AMSTERDAM_TZ, JUNE_AFTERNOON)
        assert state.attributes["rising"] is False
        # Next setting is this evening, next rising tomorrow morning.
        assert state.attributes["next_setting"].startswith("2024-06-01T")
        assert state.attributes["next_rising"].startswith("2024-06-02T")
        assert state.attributes["next_setting"].endswith("+00:00")


async def test_state_flips_exactly_at_sunset_and_next_setting_moves_a_day(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, AMSTERDAM_CONFIG, JUNE_AFTERNOON) as runtime:
        clock = clock_of(runtime)
        sunset = datetime.fromisoformat(sun_state(runtime).attributes["next_setting"])

        await clock.advance_and_settle(sunset - timedelta(seconds=1) - clock.now())
        assert sun_state(runtime).state == "above_horizon"

        await clock.advance_and_settle(timedelta(seconds=1))
        state = sun_state(runtime)
        assert state.state == "below_horizon"
        assert clock.now() == sunset
        assert sun_attributes(state) == expected_attributes(AMSTERDAM, AMSTERDAM_TZ, sunset)
        assert state.attributes["next_setting"].startswith("2024-06-02T")


async def test_state_flips_at_sunrise_and_rising_is_true_in_the_morning(tmp_path: Path) -> None:
    night = datetime(2024, 6, 2, 1, 0, tzinfo=UTC)
    async with running(tmp_path, AMSTERDAM_CONFIG, night) as runtime:
        clock = clock_of(runtime)
        assert sun_state(runtime).state == "below_horizon"
        sunrise = datetime.fromisoformat(sun_state(runtime).attributes["next_rising"])

        await clock.advance_and_settle(sunrise - clock.now())
        state = sun_state(runtime)
        assert state.state == "above_horizon"
        assert state.attributes["rising"] is True
        assert sun_attributes(state) == expected_attributes(AMSTERDAM, AMSTERDAM_TZ, sunrise)


async def test_position_is_recomputed_every_five_minutes(tmp_path: Path) -> None:
    async with running(tmp_path, AMSTERDAM_CONFIG, JUNE_AFTERNOON) as runtime:
        clock = clock_of(runtime)
        before = sun_state(runtime)

        await clock.advance_and_settle(timedelta(minutes=4))
        assert sun_state(runtime).attributes["elevation"] == before.attributes["elevation"]

        await clock.advance_and_settle(timedelta(minutes=1))
        now = clock.now()
        state = sun_state(runtime)
        assert state.attributes["elevation"] == round(astral_sun.elevation(AMSTERDAM, now), 2)
        assert state.attributes["azimuth"] == round(astral_sun.azimuth(AMSTERDAM, now), 2)
        assert state.attributes["elevation"] != before.attributes["elevation"]


async def test_solar_midnight_refreshes_next_midnight(tmp_path: Path) -> None:
    async with running(tmp_path, AMSTERDAM_CONFIG, JUNE_AFTERNOON) as runtime:
        clock = clock_of(runtime)
        midnight = datetime.fromisoformat(sun_state(runtime).attributes["next_midnight"])

        await clock.advance_and_settle(midnight - clock.now())
        state = sun_state(runtime)
        assert datetime.fromisoformat(state.attributes["next_midnight"]) > midnight
        assert state.attributes["rising"] is True
        assert sun_attributes(state) == expected_attributes(AMSTERDAM, AMSTERDAM_TZ, midnight)


async def test_a_jump_of_days_gives_the_events_after_the_new_time(tmp_path: Path) -> None:
    async with running(tmp_path, AMSTERDAM_CONFIG, JUNE_AFTERNOON) as runtime:
        clock = clock_of(runtime)
        await clock.advance_and_settle(timedelta(days=10, hours=10))
        now = clock.now()
        state = sun_state(runtime)
        assert state.state == "below_horizon"  # 00:00 local on 12 June
        assert sun_attributes(state) == expected_attributes(AMSTERDAM, AMSTERDAM_TZ, now)


async def test_polar_night_gives_below_horizon_and_the_next_rising_in_january(
    tmp_path: Path,
) -> None:
    december = datetime(2024, 12, 15, 11, 0, tzinfo=UTC)
    async with running(tmp_path, TROMSO_CONFIG, december) as runtime:
        state = sun_state(runtime)
        assert state.state == "below_horizon"
        expected = expected_attributes(TROMSO, OSLO_TZ, december)
        assert sun_attributes(state) == expected
        rising = datetime.fromisoformat(state.attributes["next_rising"])
        setting = datetime.fromisoformat(state.attributes["next_setting"])
        assert (rising.year, rising.month) == (2025, 1)
        assert setting > rising
        # Civil twilight still happens around noon: dawn is no more than a day away.
        dawn = datetime.fromisoformat(state.attributes["next_dawn"])
        assert dawn - december < timedelta(days=1)

        # Noon in the polar night: still below the horizon after the position update.
        await clock_of(runtime).advance_and_settle(timedelta(minutes=5))
        assert sun_state(runtime).state == "below_horizon"


async def test_midnight_sun_gives_above_horizon_and_the_next_setting_in_july(
    tmp_path: Path,
) -> None:
    midsummer = datetime(2024, 6, 21, 22, 0, tzinfo=UTC)  # local midnight, sun still up
    async with running(tmp_path, TROMSO_CONFIG, midsummer) as runtime:
        state = sun_state(runtime)
        assert state.state == "above_horizon"
        assert sun_attributes(state) == expected_attributes(TROMSO, OSLO_TZ, midsummer)
        setting = datetime.fromisoformat(state.attributes["next_setting"])
        assert (setting.year, setting.month) == (2024, 7)
        # Astral's first sunrise after the polar day comes before its first sunset (it skips
        # days that lack either), so the order of the next events would say "below" here.
        assert datetime.fromisoformat(state.attributes["next_rising"]) < setting

        await clock_of(runtime).advance_and_settle(timedelta(minutes=5))
        assert sun_state(runtime).state == "above_horizon"


async def test_unknown_key_is_a_config_error_with_its_line_and_the_rest_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    yaml = AMSTERDAM_CONFIG.replace("sun:\n", "sun:\n  foo: 1\n")
    caplog.set_level(logging.ERROR)
    async with running(tmp_path, yaml, JUNE_AFTERNOON) as runtime:
        assert runtime.ready
        assert runtime.states.get("sun.sun") is None
        loaded = runtime.loader.get("sun")
        assert loaded is not None
        assert loaded.status is IntegrationStatus.CONFIG_ERROR
        messages = [r.getMessage() for r in caplog.records if r.name == "core.runtime"]
        assert any(
            "configuration.yaml, line 10: sun.foo: unknown option 'foo'" in message
            for message in messages
        ), messages


async def test_stop_cancels_every_sun_job(tmp_path: Path) -> None:
    async with running(tmp_path, AMSTERDAM_CONFIG, JUNE_AFTERNOON) as runtime:
        scheduler = runtime.scheduler
        assert scheduler is not None
        names = {job.name for job in scheduler.jobs()}
        assert {
            "sun.position",
            "sun.dawn",
            "sun.sunrise",
            "sun.noon",
            "sun.sunset",
            "sun.dusk",
            "sun.midnight",
        } <= names

        await runtime.loader.call("sun", "edgewise_stop", runtime=runtime)

        assert not [job.name for job in scheduler.jobs() if job.name.startswith("sun.")]
        assert runtime.states.get("sun.sun") is None
