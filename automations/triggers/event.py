"""``trigger: event``: an event of the given types, with an ``event_data`` subset and context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import TRIGGER_BASE
from automations.templating import compile_value
from core import validators as cv
from core.bus import Event, callback
from core.trigger import TriggerFire, TriggerInfo

from .common import Detach, Variables

if TYPE_CHECKING:
    from core.runtime import Runtime


EVENT_TRIGGER = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("event_type"): vol.All(cv.ensure_list, [cv.string]),
        vol.Optional("event_data"): dict,
        vol.Optional("context"): {
            vol.Optional("user_id"): vol.All(cv.ensure_list, [cv.string]),
            vol.Optional("parent_id"): vol.All(cv.ensure_list, [cv.string]),
            vol.Optional("context_id"): vol.All(cv.ensure_list, [cv.string]),
        },
    }
)


def _subset(wanted: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    for key, value in wanted.items():
        if key not in data:
            return False
        actual = data[key]
        if isinstance(value, Mapping) and isinstance(actual, Mapping):
            if not _subset(value, actual):
                return False
        elif actual != value and str(actual) != str(value):
            return False
    return True


def attach_event(
    runtime: Runtime, config: dict[str, Any], fire: TriggerFire, variables: Variables
) -> Detach:
    """``trigger: event``: event types, an ``event_data`` subset, context filters."""
    data_value = compile_value(runtime, config.get("event_data") or {}, "event_data")
    wanted_data: Mapping[str, Any] = data_value.render(variables)
    context_filter: Mapping[str, list[str]] = config.get("context") or {}
    user_ids = frozenset(context_filter.get("user_id", ()))
    parent_ids = frozenset(context_filter.get("parent_id", ()))

    @callback
    def received(event: Event[Any]) -> None:
        if wanted_data and not _subset(wanted_data, event.data):
            return
        if user_ids and event.context.user_id not in user_ids:
            return
        if parent_ids and event.context.parent_id not in parent_ids:
            return
        fire(
            {"event": event, "description": f"event '{event.event_type}'"},
            event.context,
        )

    removers = [runtime.bus.listen(t, received) for t in config["event_type"]]

    def detach() -> None:
        for remove in removers:
            remove()

    return detach


class EventTrigger:
    """The ``event`` trigger platform."""

    schema = EVENT_TRIGGER

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Detach:
        """Attach one trigger (see ``TriggerPlatform.attach``)."""
        return attach_event(runtime, config, fire, info.variables)


PLATFORM = EventTrigger()
