"""``trigger: homeassistant`` (or ``edgewise``): the runtime starts or shuts down."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import TRIGGER_BASE
from core.bus import Event
from core.const import EVENT_EDGEWISE_STOP
from core.runtime import RuntimeKey
from core.trigger import TriggerFire, TriggerInfo

from .common import Detach, Variables, nothing

if TYPE_CHECKING:
    from core.runtime import Runtime


#: True while automations load as the runtime starts, so ``event: start`` triggers fire.
STARTING: RuntimeKey[bool] = RuntimeKey("automations.starting")


START_TRIGGER = vol.Schema({**TRIGGER_BASE, vol.Required("event"): vol.In(("start", "shutdown"))})


def attach_start(
    runtime: Runtime, config: dict[str, Any], fire: TriggerFire, variables: Variables
) -> Detach:
    """``trigger: homeassistant`` (or ``edgewise``): ``event: start`` or ``shutdown``."""
    event: str = config["event"]
    payload = {"event": event, "description": f"Edgewise {event}ing"}
    if event == "start":
        if not runtime.data.get(STARTING):
            return nothing  # attached by a reload or a turn_on: the start is long past
        # Automations load as the runtime starts: firing now is firing "on start".
        handle = runtime.loop.call_soon(lambda: fire(dict(payload), None))
        return handle.cancel

    async def stopping(_event: Event[Any]) -> None:
        # A coroutine listener: the shutdown waits for the bus, and so for this run.
        task = fire(dict(payload), None)
        if task is not None:
            await asyncio.shield(task)

    return runtime.bus.listen_once(EVENT_EDGEWISE_STOP, stopping)


class StartTrigger:
    """The ``homeassistant``/``edgewise`` trigger platform."""

    schema = START_TRIGGER

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Detach:
        """Attach one trigger (see ``TriggerPlatform.attach``)."""
        return attach_start(runtime, config, fire, info.variables)


PLATFORM = StartTrigger()
