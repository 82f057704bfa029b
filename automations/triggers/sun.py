"""``trigger: sun``: sunrise or sunset, with an offset."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import TRIGGER_BASE
from core import validators as cv
from core.bus import callback
from core.timers import SunEvent
from core.trigger import TriggerFire, TriggerInfo

from .common import Detach, Variables

if TYPE_CHECKING:
    from core.runtime import Runtime


SUN_TRIGGER = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("event"): vol.In(("sunrise", "sunset")),
        vol.Optional("offset", default=timedelta(0)): cv.time_period,
    }
)


def attach_sun(
    runtime: Runtime, config: dict[str, Any], fire: TriggerFire, variables: Variables
) -> Detach:
    """``trigger: sun``: sunrise or sunset, with an offset."""
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101
    event: str = config["event"]
    offset: timedelta = config["offset"]

    @callback
    def run(when: datetime) -> None:
        fire({"event": event, "offset": offset, "description": f"{event} with offset"}, None)

    return scheduler.sun(SunEvent(event), run, name=f"sun_trigger[{event}]", offset=offset)


class SunTrigger:
    """The ``sun`` trigger platform."""

    schema = SUN_TRIGGER

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Detach:
        """Attach one trigger (see ``TriggerPlatform.attach``)."""
        return attach_sun(runtime, config, fire, info.variables)


PLATFORM = SunTrigger()
