"""The ``timer`` item schema, entity and services.

Times come from the runtime's clock and the end of an active timer is a job on the runtime's
scheduler, so a timer follows a fake clock in tests and a stepped wall clock in production.
Like Home Assistant, times are whole seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import voluptuous as vol

from core import Context, Runtime, ServiceCall, State, callback, validators
from core.collection import (
    BASE_ITEM_FIELDS,
    Item,
    RestoringCollectionEntity,
    register_entity_service,
    service_error,
)
from core.const import ATTR_ENTITY_ID
from core.entity import StateType

DOMAIN: Final = "timer"

CONF_DURATION: Final = "duration"
CONF_RESTORE: Final = "restore"
ATTR_DURATION: Final = "duration"
ATTR_REMAINING: Final = "remaining"
ATTR_FINISHES_AT: Final = "finishes_at"
ATTR_FINISHED_AT: Final = "finished_at"
ATTR_RESTORE: Final = "restore"

STATUS_IDLE: Final = "idle"
STATUS_ACTIVE: Final = "active"
STATUS_PAUSED: Final = "paused"

EVENT_TIMER_STARTED: Final = "timer.started"
EVENT_TIMER_RESTARTED: Final = "timer.restarted"
EVENT_TIMER_PAUSED: Final = "timer.paused"
EVENT_TIMER_CANCELLED: Final = "timer.cancelled"
EVENT_TIMER_CHANGED: Final = "timer.changed"
EVENT_TIMER_FINISHED: Final = "timer.finished"

SERVICE_START: Final = "start"
SERVICE_PAUSE: Final = "pause"
SERVICE_CANCEL: Final = "cancel"
SERVICE_FINISH: Final = "finish"
SERVICE_CHANGE: Final = "change"


def format_duration(delta: timedelta) -> str:
    """``H:MM:SS``, the form Home Assistant shows durations in (``0:05:00``)."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    hours, rest = divmod(abs(total), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02}:{seconds:02}"


def _duration(value: object) -> str:
    """A non-negative duration, normalised to ``H:MM:SS``."""
    delta = validators.time_period(value)
    if delta < timedelta(0):
        raise vol.Invalid(f"duration must not be negative, got {value!r}")
    return format_duration(delta)


ITEM_SCHEMA = vol.Schema(
    {
        **BASE_ITEM_FIELDS,
        vol.Optional(CONF_DURATION, default="0:00:00"): _duration,
        vol.Optional(CONF_RESTORE, default=False): validators.boolean,
    }
)


def _now(runtime: Runtime) -> datetime:
    return runtime.clock.now().replace(microsecond=0)


class Timer(RestoringCollectionEntity):
    """A countdown: idle, active (until ``finishes_at``) or paused (with ``remaining``)."""

    domain = DOMAIN

    def __init__(self, item: Item) -> None:
        super().__init__(item)
        self._status: str = STATUS_IDLE
        #: The duration of the current run: a start's own duration, else the configured one.
        self._running: timedelta = self.configured_duration
        self._remaining: timedelta | None = None
        self._end: datetime | None = None
        self._cancel_job: Callable[[], None] | None = None

    @property
    def configured_duration(self) -> timedelta:
        """The ``duration`` option."""
        return validators.time_period(self.config[CONF_DURATION])

    @property
    def status(self) -> str:
        """``idle``, ``active`` or ``paused``."""
        return self._status

    @property
    def restores(self) -> bool:
        """The ``restore`` option."""
        return bool(self.config[CONF_RESTORE])

    @property
    def state(self) -> StateType:
        """``idle``, ``active`` or ``paused``."""
        return self._status

    @property
    def helper_attributes(self) -> dict[str, Any]:
        """``duration``, and ``finishes_at``, ``remaining`` and ``restore`` when they apply."""
        attrs: dict[str, Any] = {ATTR_DURATION: format_duration(self._running)}
        if self._end is not None:
            attrs[ATTR_FINISHES_AT] = self._end.isoformat()
        if self._remaining is not None:
            attrs[ATTR_REMAINING] = format_duration(self._remaining)
        if self.restores:
            attrs[ATTR_RESTORE] = True
        return attrs

    # --- lifecycle -----------------------------------------------------------------------------

    def restore(self, state: State, extra_data: Mapping[str, Any] | None) -> None:
        """Come back as the timer was: idle, paused with its remaining time, or active.

        An active timer whose end passed while the runtime was down finishes now, and
        ``timer.finished`` carries the time it was due.
        """
        attrs = state.attributes
        if state.state not in (STATUS_ACTIVE, STATUS_PAUSED):
            return
        self._running = validators.time_period(attrs[ATTR_DURATION])
        if state.state == STATUS_PAUSED:
            self._status = STATUS_PAUSED
            self._remaining = validators.time_period(attrs[ATTR_REMAINING])
            return
        end = datetime.fromisoformat(attrs[ATTR_FINISHES_AT])
        now = _now(self.runtime)
        self._status = STATUS_ACTIVE
        self._end = end
        if end > now:
            self._remaining = end - now
            self._schedule()
        else:
            self._finish(None, write=False)

    async def will_remove(self) -> None:
        """Keep the last state, then stop waiting for the end."""
        await super().will_remove()
        self._unschedule()

    def config_changed(self) -> None:
        """Take a new ``duration`` for the next run; a running timer runs on."""
        if self._status == STATUS_IDLE:
            self._running = self.configured_duration

    # --- the countdown -------------------------------------------------------------------------

    def _schedule(self) -> None:
        self._unschedule()
        assert self._end is not None  # noqa: S101 - only called while active
        scheduler = self.runtime.scheduler
        if scheduler is None:
            raise RuntimeError("the runtime has no scheduler")
        self._cancel_job = scheduler.at(self._end, self._due, name=f"timer[{self.entity_id}]")

    def _unschedule(self) -> None:
        if self._cancel_job is not None:
            self._cancel_job()
            self._cancel_job = None

    @callback
    def _due(self, when: datetime) -> None:
        self._cancel_job = None
        if self._status == STATUS_ACTIVE:
            self._finish(None)

    def _fire(self, event_type: str, context: Context | None, **extra: Any) -> None:
        self.runtime.bus.fire(event_type, {ATTR_ENTITY_ID: self.entity_id, **extra}, context)

    def start(self, duration: timedelta | None, context: Context | None) -> None:
        """Start, restart (when active or paused: ``timer.restarted``) or resume the timer.

        A ``duration`` is this run's duration. Without one, a paused timer resumes with its
        remaining time and an active or idle one starts over with its current run's duration.
        """
        event = EVENT_TIMER_STARTED if self._status == STATUS_IDLE else EVENT_TIMER_RESTARTED
        if duration is not None and duration > timedelta(0):
            self._running = duration
            remaining = duration
        elif self._status == STATUS_PAUSED and self._remaining is not None:
            remaining = self._remaining
        else:
            remaining = self._running
        self._status = STATUS_ACTIVE
        self._remaining = remaining
        self._end = _now(self.runtime) + remaining
        self._schedule()
        self._fire(event, context)
        self.write_state()

    def pause(self, context: Context | None) -> None:
        """Pause an active timer, keeping its remaining time; otherwise do nothing."""
        if self._status != STATUS_ACTIVE or self._end is None:
            return
        self._unschedule()
        self._remaining = max(self._end - _now(self.runtime), timedelta(0))
        self._end = None
        self._status = STATUS_PAUSED
        self._fire(EVENT_TIMER_PAUSED, context)
        self.write_state()

    def cancel(self, context: Context | None) -> None:
        """Stop an active or paused timer without finishing it; back to the configured duration."""
        if self._status == STATUS_IDLE:
            return
        self._unschedule()
        self._reset()
        self._fire(EVENT_TIMER_CANCELLED, context)
        self.write_state()

    def finish(self, context: Context | None) -> None:
        """Finish an active or paused timer now, firing ``timer.finished``."""
        if self._status != STATUS_IDLE:
            self._finish(context)

    def _finish(self, context: Context | None, *, write: bool = True) -> None:
        self._unschedule()
        finished_at = self._end if self._end is not None else _now(self.runtime)
        self._reset()
        self._fire(EVENT_TIMER_FINISHED, context, **{ATTR_FINISHED_AT: finished_at.isoformat()})
        if write:
            self.write_state()

    def _reset(self) -> None:
        self._status = STATUS_IDLE
        self._end = None
        self._remaining = None
        self._running = self.configured_duration

    def change(self, delta: timedelta, call: ServiceCall) -> None:
        """Add ``delta`` (negative takes time away) to an active timer's remaining time.

        Raises:
            ServiceValidationError: the timer is not active, or the remaining time would be
                longer than the run's duration.
        """
        if self._status != STATUS_ACTIVE or self._end is None:
            raise service_error(
                call, f"{self.entity_id} is {self._status}; only an active timer can be changed"
            )
        end = self._end + delta
        remaining = end - _now(self.runtime)
        if remaining > self._running:
            raise service_error(
                call,
                f"{self.entity_id} would have {format_duration(remaining)} left, more than its "
                f"duration {format_duration(self._running)}",
                key=ATTR_DURATION,
            )
        self._end = end
        self._remaining = max(remaining, timedelta(0))
        self._schedule()
        self._fire(EVENT_TIMER_CHANGED, call.context)
        self.write_state()


def register_services(runtime: Runtime) -> None:
    """Register ``start``, ``pause``, ``cancel``, ``finish`` and ``change``."""

    def start(entity: Timer, call: ServiceCall) -> None:
        entity.start(call.data.get(ATTR_DURATION), call.context)

    def pause(entity: Timer, call: ServiceCall) -> None:
        entity.pause(call.context)

    def cancel(entity: Timer, call: ServiceCall) -> None:
        entity.cancel(call.context)

    def finish(entity: Timer, call: ServiceCall) -> None:
        entity.finish(call.context)

    def change(entity: Timer, call: ServiceCall) -> None:
        entity.change(call.data[ATTR_DURATION], call)

    empty = vol.Schema({})
    register_entity_service(
        runtime,
        Timer,
        SERVICE_START,
        vol.Schema({vol.Optional(ATTR_DURATION): validators.time_period}),
        start,
    )
    register_entity_service(runtime, Timer, SERVICE_PAUSE, empty, pause)
    register_entity_service(runtime, Timer, SERVICE_CANCEL, empty, cancel)
    register_entity_service(runtime, Timer, SERVICE_FINISH, empty, finish)
    register_entity_service(
        runtime,
        Timer,
        SERVICE_CHANGE,
        vol.Schema({vol.Required(ATTR_DURATION): validators.time_period}),
        change,
    )
