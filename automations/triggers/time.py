"""``trigger: time``: fixed times of day, ``input_datetime`` entities, timestamp sensors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import TRIGGER_BASE, WEEKDAYS, time_or_entity
from core import validators as cv
from core.bus import Event, callback
from core.state import State
from core.trigger import TriggerFire, TriggerInfo

from .common import Detach, Variables

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)


def _time_at(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        result: dict[str, Any] = vol.Schema(
            {vol.Required("entity_id"): cv.entity_id, vol.Optional("offset"): cv.time_period}
        )(value)
        return result
    return {"at": time_or_entity(value)}


TIME_TRIGGER = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("at"): vol.All(cv.ensure_list, [_time_at]),
        vol.Optional("weekday"): vol.All(cv.ensure_list, [vol.In(WEEKDAYS)]),
    }
)


def attach_time(
    runtime: Runtime, config: dict[str, Any], fire: TriggerFire, variables: Variables
) -> Detach:
    """``trigger: time``: fixed times, ``input_datetime`` entities, timestamp sensors."""
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101 - triggers attach once the runtime started
    weekdays = config.get("weekday")
    cancels: list[Detach] = []

    def fire_at(entity_id: str | None) -> Callable[[datetime], None]:
        @callback
        def run(when: datetime) -> None:
            local = runtime.clock.now().astimezone(scheduler.tz)
            if weekdays is not None and WEEKDAYS[local.weekday()] not in weekdays:
                return
            payload: dict[str, Any] = {
                "now": local,
                "description": "time" if entity_id is None else f"time set in {entity_id}",
                "entity_id": entity_id,
            }
            fire(payload, None)

        return run

    for item in config["at"]:
        at = item.get("at")
        if isinstance(at, dt_time):
            cancels.append(scheduler.daily(at, fire_at(None), name="time_trigger"))
            continue
        entity_id = at if at is not None else item["entity_id"]
        offset: timedelta = item.get("offset", timedelta(0))
        cancels.append(_track_entity_time(runtime, entity_id, offset, fire_at(entity_id)))

    def detach() -> None:
        for cancel in cancels:
            cancel()

    return detach


def _track_entity_time(
    runtime: Runtime, entity_id: str, offset: timedelta, action: Callable[[datetime], None]
) -> Detach:
    """Schedule ``action`` at the time an entity holds, rescheduled whenever the entity changes."""
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101
    job: list[Detach] = []

    def schedule(state: State | None) -> None:
        for cancel in job:
            cancel()
        job.clear()
        if state is None or not state.available:
            return
        attrs = state.attributes
        tz = scheduler.tz
        if entity_id.startswith("input_datetime."):
            has_date, has_time = bool(attrs.get("has_date")), bool(attrs.get("has_time"))
            if has_time and not has_date:
                at: dt_time | None
                try:
                    at = dt_time(int(attrs["hour"]), int(attrs["minute"]), int(attrs["second"]))
                except (KeyError, TypeError, ValueError):
                    at = _parse_time(state.state)
                if at is None:
                    return
                if offset:
                    # A daily time with an offset: shift the wall time.
                    shifted = datetime.combine(datetime(2000, 1, 2).date(), at) + offset
                    at = shifted.time()
                job.append(scheduler.daily(at, action, name=f"time_trigger[{entity_id}]"))
                return
            if has_date:
                when = _parse_datetime(state.state, tz)
                if when is None and "timestamp" in attrs:
                    when = datetime.fromtimestamp(float(attrs["timestamp"]), tz)
            else:
                return
        else:
            if attrs.get("device_class") != "timestamp":
                _LOGGER.warning("Time trigger on %s: not a timestamp sensor", entity_id)
                return
            when = _parse_datetime(state.state, tz)
        if when is None:
            return
        when = when + offset
        if when <= runtime.clock.now():
            return
        job.append(scheduler.at(when, action, name=f"time_trigger[{entity_id}]"))

    @callback
    def changed(event: Event[Any]) -> None:
        schedule(event.data["new_state"])

    schedule(runtime.states.get(entity_id))
    unsubscribe = runtime.states.track(entity_id, changed)

    def detach() -> None:
        unsubscribe()
        for cancel in job:
            cancel()
        job.clear()

    return detach


def _parse_time(text: str) -> dt_time | None:
    try:
        return dt_time.fromisoformat(text)
    except ValueError:
        return None


def _parse_datetime(text: str, tz: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC)


class TimeTrigger:
    """The ``time`` trigger platform."""

    schema = TIME_TRIGGER

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Detach:
        """Attach one trigger (see ``TriggerPlatform.attach``)."""
        return attach_time(runtime, config, fire, info.variables)


PLATFORM = TimeTrigger()
