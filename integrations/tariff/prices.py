"""The site's prices at run time: the timeline, kept current, and a timer at each boundary.

``Prices`` expands the TOU plan (yesterday to ``PLAN_DAYS_AHEAD`` days ahead, again each local
midnight) or reads the price entity's forecast (again each time the entity changes). One
``scheduler.at`` timer is armed for the next segment boundary, so the sensors step exactly at
the data's resolution and listeners (sensors, triggers, the autopilot, re-planned schedules)
hear of each boundary and each new forecast; nothing polls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from core import Event, callback

from .const import PLAN_DAYS_AHEAD, SlotType
from .dynamic import ForecastError, read_forecast
from .timeline import Segment, Timeline

if TYPE_CHECKING:
    from core import Runtime

    from .schema import TariffConfig

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Change:
    """What listeners hear: the segment before and after (None: a hole), and why."""

    before: Segment | None
    after: Segment | None
    when: datetime
    reason: str  # "boundary" or "data"


Listener = Callable[[Change], None]


class Prices:
    """The timeline and its timers. Use on the loop."""

    def __init__(self, runtime: Runtime, config: TariffConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.timeline = Timeline((), config.resolution)
        #: Why there are no prices (an entity without a forecast), else None.
        self.error: str | None = None
        self.problems: tuple[str, ...] = ()
        self.mixed = False
        self._listeners: list[Listener] = []
        self._cancels: list[Callable[[], None]] = []
        self._cancel_boundary: Callable[[], None] | None = None
        self._current: Segment | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Load the prices and arm the timers."""
        scheduler = self.runtime.scheduler
        assert scheduler is not None  # noqa: S101 - the runtime's core stage made it
        if self.config.plan is not None:
            self._cancels.append(scheduler.daily(time(0, 0), self._on_midnight, name="tariff.plan"))
        elif self.config.price_entity is not None:
            self._cancels.append(
                self.runtime.states.track([self.config.price_entity], self._on_entity)
            )
        self._reload()

    def stop(self) -> None:
        """Cancel the timers."""
        for cancel in self._cancels:
            cancel()
        self._cancels.clear()
        if self._cancel_boundary is not None:
            self._cancel_boundary()
            self._cancel_boundary = None

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` at each boundary and each new forecast; returns the remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- reading -----------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The runtime's clock."""
        return self.runtime.clock.now()

    def snapshot(self) -> Change:
        """The present as a ``Change`` (for a listener that starts late)."""
        segment = self.current()
        return Change(segment, segment, self.now, "data")

    def current(self) -> Segment | None:
        """The segment now."""
        return self.timeline.at(self.now)

    def next_change(self) -> datetime | None:
        """When the price or type next changes."""
        return self.timeline.next_change(self.now)

    def next_peak(self) -> datetime | None:
        """When the next peak band starts (not the one running now)."""
        segment = self.timeline.next_of_kind(self.now, SlotType.PEAK)
        return None if segment is None else segment.start

    # -- loading -----------------------------------------------------------------------------

    @callback
    def _on_midnight(self, _now: datetime) -> None:
        self._reload()

    @callback
    def _on_entity(self, _event: Event[Any]) -> None:
        self._reload()

    def _reload(self) -> None:
        tz = self.runtime.core.tzinfo
        if self.config.plan is not None:
            today = self.now.astimezone(tz).date()
            segments = self.config.plan.segments(today - timedelta(days=1), PLAN_DAYS_AHEAD + 2, tz)
            self.timeline = Timeline(segments, self.config.resolution)
        else:
            entity_id = self.config.price_entity
            state = self.runtime.states.get(entity_id) if entity_id else None
            if state is None:
                self.error = f"{entity_id} does not exist"
                self.timeline = Timeline((), self.config.resolution)
            else:
                try:
                    forecast = read_forecast(str(entity_id), state.attributes, tz)
                except ForecastError as err:
                    self.error = str(err)
                    self.timeline = Timeline((), self.config.resolution)
                    _LOGGER.error("Tariff: %s", err)
                else:
                    self.error = None
                    self.timeline = forecast.timeline
                    self.mixed = forecast.mixed
                    self.problems = forecast.problems
                    for problem in forecast.problems:
                        _LOGGER.warning("Tariff: %s: %s", entity_id, problem)
        self._step("data")

    # -- boundaries --------------------------------------------------------------------------

    @callback
    def _on_boundary(self, due: datetime) -> None:
        self._cancel_boundary = None
        self._step("boundary", due)

    def _step(self, reason: str, when: datetime | None = None) -> None:
        """Tell the listeners what changed at ``when`` (its due time, so a late timer still
        reports each boundary in turn) and arm the timer for the next boundary."""
        now = when or self.now
        before, after = self._current, self.timeline.at(now)
        self._current = after
        change = Change(before, after, now, reason)
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # one listener's bug must not stop the prices
                _LOGGER.exception("Tariff listener failed")
        if self._cancel_boundary is not None:
            self._cancel_boundary()
            self._cancel_boundary = None
        following = self.timeline.boundaries_after(now)
        scheduler = self.runtime.scheduler
        if following and scheduler is not None:
            self._cancel_boundary = scheduler.at(
                following[0], self._on_boundary, name="tariff.boundary"
            )
