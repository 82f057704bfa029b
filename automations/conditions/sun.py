"""``condition: sun``: now is after/before today's sunrise or sunset (with offsets)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import CONDITION_BASE
from core import validators as cv
from core.condition import Checker, ConditionInfo
from core.timers import SunEvent

if TYPE_CHECKING:
    from core.runtime import Runtime

_SUN_EVENTS = ("sunrise", "sunset")


class SunCondition:
    """``after``/``before`` sunrise or sunset, ``after_offset``/``before_offset``."""

    schema = vol.Schema(
        {
            **CONDITION_BASE,
            vol.Optional("after"): vol.In(_SUN_EVENTS),
            vol.Optional("before"): vol.In(_SUN_EVENTS),
            vol.Optional("after_offset", default=timedelta(0)): cv.time_period,
            vol.Optional("before_offset", default=timedelta(0)): cv.time_period,
        }
    )

    def checker(self, runtime: Runtime, config: dict[str, Any], info: ConditionInfo) -> Checker:
        """Compile one sun condition."""
        after, before = config.get("after"), config.get("before")
        after_offset: timedelta = config.get("after_offset", timedelta(0))
        before_offset: timedelta = config.get("before_offset", timedelta(0))

        def event_today(event: str, offset: timedelta, now: datetime) -> datetime | None:
            scheduler = runtime.scheduler
            assert scheduler is not None  # noqa: S101 - conditions run once the runtime started
            local = now.astimezone(scheduler.tz)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            found = scheduler.next_sun_event(SunEvent(event), midnight, offset=offset)
            if found is None or found.astimezone(scheduler.tz).date() != local.date():
                return None
            return found

        def check(variables: Mapping[str, Any]) -> bool:
            now = runtime.clock.now()
            if after is not None:
                start = event_today(after, after_offset, now)
                if start is None or now < start:
                    return False
            if before is not None:
                end = event_today(before, before_offset, now)
                if end is None or now >= end:
                    return False
            return True

        return check


PLATFORM = SunCondition()
