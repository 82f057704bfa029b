"""``sun.sun``: whether the sun is up, where it is, and when its next events are.

The entity follows Home Assistant's ``sun`` entity: state ``above_horizon``/``below_horizon``,
the next dawn, dusk, solar midnight, solar noon, rising and setting as ISO 8601 UTC strings,
elevation and azimuth in degrees rounded to two decimals, and ``rising`` (solar noon comes before
solar midnight). The state is ``above_horizon`` when the sun's upper limb is above the horizon:

* within ``EVENT_WINDOW`` of one of astral's sunrises or sunsets it follows that event, so the
  state flips exactly at the event, when the scheduler's sun jobs fire;
* elsewhere it follows the apparent elevation against astral's own horizon (the sun's apparent
  radius plus the dip of the horizon for an elevated observer). Astral finds no sunrise or
  sunset on a day the sun does not both rise and set, so in the weeks around polar day the
  order of the next events says nothing about the sun being up; the elevation does.

Home Assistant compares the refracted elevation with -0.833°, which flips a few minutes before
astral's sunrise and after its sunset; here the flip and the ``next_rising``/``next_setting``
attributes agree.

Updates: every sun event (dawn, sunrise, noon, sunset, dusk, solar midnight) recomputes
everything; between events, elevation and azimuth are recomputed every
``POSITION_UPDATE_INTERVAL``. Times come from the runtime's clock, so a ``FakeClock`` drives it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from astral import Observer
from astral import sun as astral_sun

from core.bus import callback
from core.entity import Entity
from core.errors import IntegrationError
from core.runtime import Runtime
from core.timers import Cancel, Scheduler, SunEvent

from .const import (
    ANGLE_DECIMALS,
    ATTR_AZIMUTH,
    ATTR_ELEVATION,
    ATTR_NEXT_DAWN,
    ATTR_NEXT_DUSK,
    ATTR_NEXT_MIDNIGHT,
    ATTR_NEXT_NOON,
    ATTR_NEXT_RISING,
    ATTR_NEXT_SETTING,
    ATTR_RISING,
    DOMAIN,
    EVENT_WINDOW,
    MIDNIGHT_SEARCH_DAYS,
    NAME,
    POSITION_UPDATE_INTERVAL,
    STATE_ABOVE_HORIZON,
    STATE_BELOW_HORIZON,
    UNIQUE_ID,
)

_LOGGER = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SunEvents:
    """The next solar events after one instant, in UTC; None when one has no date within a year.

    Dawn and dusk are civil (the sun 6° below the horizon), as in Home Assistant.
    """

    dawn: datetime | None
    rising: datetime | None
    noon: datetime | None
    setting: datetime | None
    dusk: datetime | None
    midnight: datetime | None

    def earliest(self) -> datetime | None:
        """The first of the events, or None when there is none."""
        times = [t for t in self.times() if t is not None]
        return min(times) if times else None

    def times(self) -> tuple[datetime | None, ...]:
        """Every event time, in the order of the fields."""
        return (self.dawn, self.rising, self.noon, self.setting, self.dusk, self.midnight)


def next_solar_midnight(observer: Observer, tz: tzinfo, after: datetime) -> datetime:
    """The first solar midnight strictly after ``after`` (aware), in UTC.

    The scheduler knows no midnight event, so it is found here the same way: from the local day
    before ``after`` onwards.
    """
    first_day = after.astimezone(tz).date() - timedelta(days=1)
    for n in range(MIDNIGHT_SEARCH_DAYS + 1):
        at = astral_sun.midnight(observer, date=first_day + timedelta(days=n), tzinfo=tz)
        if at > after:
            return at.astimezone(UTC)
    # Solar midnight happens once a day; a gap of several days means the inputs are broken.
    raise ValueError(f"No solar midnight within {MIDNIGHT_SEARCH_DAYS} days after {after}")


def next_events(scheduler: Scheduler, observer: Observer, after: datetime) -> SunEvents:
    """The next solar events strictly after ``after``, by the scheduler's own search.

    Using ``Scheduler.next_sun_event`` keeps the attributes equal to the times sun jobs fire at.
    """
    return SunEvents(
        dawn=scheduler.next_sun_event(SunEvent.dawn, after),
        rising=scheduler.next_sun_event(SunEvent.sunrise, after),
        noon=scheduler.next_sun_event(SunEvent.noon, after),
        setting=scheduler.next_sun_event(SunEvent.sunset, after),
        dusk=scheduler.next_sun_event(SunEvent.dusk, after),
        midnight=next_solar_midnight(observer, scheduler.tz, after),
    )


def recent_crossing(
    observer: Observer, tz: tzinfo, now: datetime, window: timedelta
) -> tuple[datetime, bool] | None:
    """The latest of astral's sunrises and sunsets in ``(now - window, now]``, if any.

    Returns:
        Its time (UTC) and whether it is a sunrise, or None.
    """
    latest: tuple[datetime, bool] | None = None
    today = now.astimezone(tz).date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        for func, is_rising in ((astral_sun.sunrise, True), (astral_sun.sunset, False)):
            try:
                at = func(observer, date=day, tzinfo=tz).astimezone(UTC)
            except ValueError:  # no such event that day: polar day or night
                continue
            if now - window < at <= now and (latest is None or at > latest[0]):
                latest = (at, is_rising)
    return latest


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


class SunEntity(Entity):
    """The ``sun.sun`` entity. Every method runs on the event loop."""

    domain = DOMAIN
    _attr_unique_id = UNIQUE_ID
    _attr_name = NAME

    def __init__(self, scheduler: Scheduler, observer: Observer) -> None:
        """Track the sun as seen by ``observer``, with jobs on ``scheduler`` and its clock."""
        super().__init__()
        self._scheduler = scheduler
        self._observer = observer
        self._events: SunEvents | None = None
        self._computed_at: datetime | None = None
        self._elevation = 0.0
        self._azimuth = 0.0
        self._above_by_elevation = False
        self._recent: tuple[datetime, bool] | None = None
        # Astral's horizon: sunrise and sunset are when the upper limb crosses it.
        height = observer.elevation
        dip = (
            astral_sun.adjust_to_obscuring_feature(height)
            if isinstance(height, tuple)
            else astral_sun.adjust_to_horizon(height)
        )
        self._horizon = -(astral_sun.SUN_APPARENT_RADIUS + dip)
        self._cancels: list[Cancel] = []
        self._cancel_midnight: Cancel | None = None

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> SunEntity:
        """The entity for the site's place (the ``edgewise:`` section) and scheduler.

        Raises:
            IntegrationError: the runtime has no scheduler (its core stage did not run).
        """
        if not runtime.has_scheduler:
            raise IntegrationError("the runtime has no scheduler yet", integration=DOMAIN)
        core = runtime.core
        return cls(runtime.scheduler, Observer(core.latitude, core.longitude, core.elevation))

    # --- state ---------------------------------------------------------------------------------

    @property
    def events(self) -> SunEvents | None:
        """The next solar events, as last computed."""
        return self._events

    @property
    def state(self) -> str | None:
        """``above_horizon`` or ``below_horizon``; how it is decided is in the module doc."""
        events = self._events
        if events is None:
            return None
        now = self._scheduler.clock.now()
        if self._recent is not None:
            above = self._recent[1]
        elif events.rising is not None and events.rising - now <= EVENT_WINDOW:
            above = False
        elif events.setting is not None and events.setting - now <= EVENT_WINDOW:
            above = True
        else:
            above = self._above_by_elevation
        return STATE_ABOVE_HORIZON if above else STATE_BELOW_HORIZON

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The next events (ISO UTC), elevation, azimuth and ``rising``, as Home Assistant."""
        events = self._events
        if events is None:
            return None
        rising = (
            events.noon < events.midnight
            if events.noon is not None and events.midnight is not None
            else None
        )
        return {
            ATTR_NEXT_DAWN: _iso(events.dawn),
            ATTR_NEXT_DUSK: _iso(events.dusk),
            ATTR_NEXT_MIDNIGHT: _iso(events.midnight),
            ATTR_NEXT_NOON: _iso(events.noon),
            ATTR_NEXT_RISING: _iso(events.rising),
            ATTR_NEXT_SETTING: _iso(events.setting),
            ATTR_ELEVATION: self._elevation,
            ATTR_AZIMUTH: self._azimuth,
            ATTR_RISING: rising,
        }

    # --- lifecycle -----------------------------------------------------------------------------

    async def added_to_runtime(self) -> None:
        """Compute the first state, then schedule the position updates and the sun events.

        The jobs are cancelled when the entity is removed.
        """
        self.on_remove(self._cancel_jobs)
        now = self._scheduler.clock.now()
        self._refresh_events(now)
        self._refresh_position(now)
        scheduler = self._scheduler
        # The first slot after now on a fixed UTC grid, so a restarted runtime keeps the grid.
        grid = POSITION_UPDATE_INTERVAL
        start = _EPOCH + ((now - _EPOCH) // grid + 1) * grid
        self._cancels.append(
            scheduler.every(grid, self._on_position_due, name="sun.position", start=start)
        )
        for event in SunEvent:
            self._cancels.append(scheduler.sun(event, self._on_sun_event, name=f"sun.{event}"))

    @callback
    def _cancel_jobs(self) -> None:
        while self._cancels:
            self._cancels.pop()()
        if self._cancel_midnight is not None:
            self._cancel_midnight()
            self._cancel_midnight = None

    # --- updates -------------------------------------------------------------------------------

    @callback
    def _on_sun_event(self, due: datetime) -> None:
        """A sun event (or solar midnight) is here: recompute everything and write."""
        now = self._scheduler.clock.now()
        _LOGGER.debug("Sun event due %s, now %s", due, now)
        self._refresh_events(now)
        self._refresh_position(now)
        self.write_state()

    @callback
    def _on_position_due(self, due: datetime) -> None:
        """Recompute elevation and azimuth; the events too if the clock moved past one."""
        now = self._scheduler.clock.now()
        earliest = self._events.earliest() if self._events is not None else None
        computed_at = self._computed_at
        # A stepped clock (forward past an event, or backwards) makes the events stale even
        # when no sun job ran for it.
        if earliest is None or now >= earliest or computed_at is None or now < computed_at:
            self._refresh_events(now)
        self._refresh_position(now)
        self.write_state()

    def _refresh_events(self, now: datetime) -> None:
        self._events = next_events(self._scheduler, self._observer, now)
        self._computed_at = now
        if self._cancel_midnight is not None:
            self._cancel_midnight()
            self._cancel_midnight = None
        if self._events.midnight is not None:
            self._cancel_midnight = self._scheduler.at(
                self._events.midnight, self._on_sun_event, name="sun.midnight"
            )

    def _refresh_position(self, now: datetime) -> None:
        elevation = astral_sun.elevation(self._observer, now)
        self._above_by_elevation = elevation > self._horizon
        self._elevation = round(elevation, ANGLE_DECIMALS)
        self._azimuth = round(astral_sun.azimuth(self._observer, now), ANGLE_DECIMALS)
        self._recent = recent_crossing(self._observer, self._scheduler.tz, now, EVENT_WINDOW)
