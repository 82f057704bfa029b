"""``trigger: time_pattern``: hours/minutes/seconds patterns (``5``, ``*``, ``/5``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import TRIGGER_BASE
from core import validators as cv
from core.bus import callback
from core.timers import pattern_values
from core.trigger import TriggerFire, TriggerInfo

from .common import Detach, Variables

if TYPE_CHECKING:
    from core.runtime import Runtime


def _pattern_unit(unit: str) -> Callable[[object], str]:
    """A unit's validator: what the scheduler takes (``core.timers.pattern_values``), as text."""

    def validate(value: object) -> str:
        text = cv.string(value).strip()
        try:
            pattern_values(text, unit)
        except ValueError as err:
            raise vol.Invalid(str(err)) from None
        return text

    return validate


TIME_PATTERN_TRIGGER = vol.All(
    vol.Schema(
        {
            **TRIGGER_BASE,
            vol.Optional("hours"): _pattern_unit("hours"),
            vol.Optional("minutes"): _pattern_unit("minutes"),
            vol.Optional("seconds"): _pattern_unit("seconds"),
        }
    ),
    vol.Any(
        vol.Schema({vol.Required("hours"): object}, extra=vol.ALLOW_EXTRA),
        vol.Schema({vol.Required("minutes"): object}, extra=vol.ALLOW_EXTRA),
        vol.Schema({vol.Required("seconds"): object}, extra=vol.ALLOW_EXTRA),
        msg="time_pattern needs hours, minutes or seconds",
    ),
)


def attach_time_pattern(
    runtime: Runtime, config: dict[str, Any], fire: TriggerFire, variables: Variables
) -> Detach:
    """``trigger: time_pattern``: hours/minutes/seconds, each exact, ``*`` or ``/n``."""
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101

    @callback
    def run(when: datetime) -> None:
        fire(
            {"now": runtime.clock.now().astimezone(scheduler.tz), "description": "time pattern"},
            None,
        )

    return scheduler.time_pattern(
        run,
        name="time_pattern_trigger",
        hours=config.get("hours"),
        minutes=config.get("minutes"),
        seconds=config.get("seconds"),
    )


class TimePatternTrigger:
    """The ``time_pattern`` trigger platform."""

    schema = vol.Schema(TIME_PATTERN_TRIGGER)

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Detach:
        """Attach one trigger (see ``TriggerPlatform.attach``)."""
        return attach_time_pattern(runtime, config, fire, info.variables)


PLATFORM = TimePatternTrigger()
