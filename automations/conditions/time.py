"""``condition: time``: now is after/before times of day (or entities' times), on weekdays."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import CONDITION_BASE, WEEKDAYS, time_or_entity
from core import validators as cv
from core.condition import Checker, ConditionInfo

if TYPE_CHECKING:
    from core.runtime import Runtime


def time_of(runtime: Runtime, value: dt_time | str, today: datetime) -> datetime | None:
    """A time condition bound as an aware datetime today (local), or None when not available.

    ``value`` is a time of day, or an ``input_datetime`` (its time today, or its exact moment)
    or a ``sensor`` with a timestamp state.
    """
    tz = today.tzinfo
    if isinstance(value, dt_time):
        return datetime.combine(today.date(), value, tzinfo=tz)
    state = runtime.states.get(value)
    if state is None or not state.available:
        return None
    attrs = state.attributes
    if value.startswith("input_datetime."):
        if not attrs.get("has_time", True):
            return None
        if attrs.get("has_date") and "timestamp" in attrs:
            return datetime.fromtimestamp(float(attrs["timestamp"]), tz)
        try:
            at = dt_time(
                int(attrs.get("hour", 0)), int(attrs.get("minute", 0)), int(attrs.get("second", 0))
            )
        except (TypeError, ValueError):
            return None
        return datetime.combine(today.date(), at, tzinfo=tz)
    try:
        moment = datetime.fromisoformat(state.state)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(tz)


class TimeCondition:
    """``after``, ``before`` (a window may span midnight), ``weekday``."""

    schema = vol.Schema(
        {
            **CONDITION_BASE,
            vol.Optional("after"): time_or_entity,
            vol.Optional("before"): time_or_entity,
            vol.Optional("weekday"): vol.All(cv.ensure_list, [vol.In(WEEKDAYS)]),
        }
    )

    def checker(self, runtime: Runtime, config: dict[str, Any], info: ConditionInfo) -> Checker:
        """Compile one time condition."""
        after = config.get("after")
        before = config.get("before")
        weekdays = config.get("weekday")

        def check(variables: Mapping[str, Any]) -> bool:
            scheduler = runtime.scheduler
            assert scheduler is not None  # noqa: S101 - conditions run once the runtime started
            now = runtime.clock.now().astimezone(scheduler.tz)
            if weekdays is not None and WEEKDAYS[now.weekday()] not in weekdays:
                return False
            start = time_of(runtime, after, now) if after is not None else None
            end = time_of(runtime, before, now) if before is not None else None
            if (after is not None and start is None) or (before is not None and end is None):
                return False
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            start = start if start is not None else midnight
            end = end if end is not None else midnight + timedelta(days=1)
            if start <= end:
                return start <= now < end
            # A window over midnight (after 22:00, before 06:00).
            return now >= start or now < end

        return check


PLATFORM = TimeCondition()
