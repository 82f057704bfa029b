"""``trigger: numeric_state``: a value crosses into above/below, optionally held ``for``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.conditions.numeric_state import in_range, numeric_value
from automations.schema import (
    ABOVE_OR_BELOW,
    NUMERIC_STATE_KEYS,
    TRIGGER_BASE,
    time_period_template,
)
from automations.templating import TemplateError, Value, compile_template, compile_value
from core.bus import Event, callback
from core.state import State
from core.trigger import TriggerFire, TriggerInfo

from .common import Detach, Variables, call_later, for_period

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)


NUMERIC_STATE_TRIGGER = vol.All(
    vol.Schema({**TRIGGER_BASE, **NUMERIC_STATE_KEYS, vol.Optional("for"): time_period_template}),
    ABOVE_OR_BELOW,
)


def attach_numeric_state(
    runtime: Runtime, config: dict[str, Any], fire: TriggerFire, variables: Variables
) -> Detach:
    """``trigger: numeric_state``: fires when a value crosses into ``above``/``below``."""
    entity_ids: list[str] = config["entity_id"]
    attribute: str | None = config.get("attribute")
    above, below = config.get("above"), config.get("below")
    value_template: Value | None = None
    if "value_template" in config:
        tpl = compile_template(runtime, config["value_template"], "value_template")
        value_template = Value(render=tpl.render)
    duration = compile_value(runtime, config["for"], "for") if "for" in config else None
    pending: dict[str, Detach] = {}

    def matching(entity_id: str) -> bool:
        try:
            value = numeric_value(runtime, entity_id, attribute, value_template, variables)
        except TemplateError as err:
            _LOGGER.warning("Error in value_template of numeric_state on %s: %s", entity_id, err)
            return False
        return value is not None and in_range(runtime, value, above, below)

    # Entities already in range when attached fire only after they leave and come back.
    armed = {entity_id: not matching(entity_id) for entity_id in entity_ids}

    def fire_now(entity_id: str, old: State | None, new: State, period: timedelta | None) -> None:
        fire(
            {
                "entity_id": entity_id,
                "below": below,
                "above": above,
                "from_state": old,
                "to_state": new,
                "for": period,
                "description": f"numeric state of {entity_id}",
            },
            new.context,
        )

    @callback
    def changed(event: Event[Any]) -> None:
        entity_id: str = event.data["entity_id"]
        old: State | None = event.data["old_state"]
        new: State | None = event.data["new_state"]
        if new is None:
            return
        if not matching(entity_id):
            armed[entity_id] = True
            if (cancel := pending.pop(entity_id, None)) is not None:
                cancel()
            return
        if not armed.get(entity_id, True):
            return
        armed[entity_id] = False
        if duration is None:
            fire_now(entity_id, old, new, None)
            return
        period = for_period(duration, variables, "numeric_state", entity_id, old=old, new=new)
        if period is None:
            return

        def elapsed() -> None:
            pending.pop(entity_id, None)
            current = runtime.states.get(entity_id)
            fire_now(entity_id, old, current if current is not None else new, period)

        pending[entity_id] = call_later(runtime, period, elapsed, f"numeric_for[{entity_id}]")

    unsubscribe = runtime.states.track(entity_ids, changed)

    def detach() -> None:
        unsubscribe()
        for cancel in pending.values():
            cancel()
        pending.clear()

    return detach


class NumericStateTrigger:
    """The ``numeric_state`` trigger platform."""

    schema = vol.Schema(NUMERIC_STATE_TRIGGER)

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Detach:
        """Attach one trigger (see ``TriggerPlatform.attach``)."""
        return attach_numeric_state(runtime, config, fire, info.variables)


PLATFORM = NumericStateTrigger()
