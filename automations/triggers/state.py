"""``trigger: state``: an entity's state (or attribute) changes, from/to, held ``for``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import TRIGGER_BASE, state_values, time_period_template
from automations.templating import compile_value
from core import validators as cv
from core.bus import Event, callback
from core.state import State
from core.trigger import TriggerFire, TriggerInfo

from .common import Detach, Variables, call_later, for_period

if TYPE_CHECKING:
    from core.runtime import Runtime


STATE_TRIGGER = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("entity_id"): cv.entity_ids,
        vol.Optional("attribute"): cv.string,
        vol.Optional("from"): state_values,
        vol.Optional("to"): state_values,
        vol.Optional("not_from"): state_values,
        vol.Optional("not_to"): state_values,
        vol.Optional("for"): time_period_template,
    }
)


class _Pending:
    """A ``for`` wait per entity: the scheduler job and what it waits to stay the same."""

    __slots__ = ("cancel", "value")

    def __init__(self, cancel: Detach, value: Any) -> None:
        self.cancel = cancel
        self.value = value


def _wanted(config: Mapping[str, Any], key: str) -> frozenset[str] | None:
    """The states of a from/to key, or None for "any"."""
    if key not in config:
        return None
    values = config[key]
    if None in values:
        return None
    return frozenset(values)


def _value_in(value: Any, wanted: frozenset[str]) -> bool:
    if isinstance(value, str):
        return value in wanted
    return value in wanted or str(value) in wanted


def attach_state(
    runtime: Runtime, config: dict[str, Any], fire: TriggerFire, variables: Variables
) -> Detach:
    """``trigger: state``: from/to/not_from/not_to, attribute, ``for``."""
    entity_ids: list[str] = config["entity_id"]
    attribute: str | None = config.get("attribute")
    match_all = not any(k in config for k in ("from", "to", "not_from", "not_to"))
    to_states = _wanted(config, "to")
    from_states = _wanted(config, "from")
    not_to = frozenset(v for v in config.get("not_to", ()) if v is not None)
    not_from = frozenset(v for v in config.get("not_from", ()) if v is not None)
    only_from = "from" in config and "to" not in config
    duration = compile_value(runtime, config["for"], "for") if "for" in config else None
    pending: dict[str, _Pending] = {}

    def fire_now(entity_id: str, old: State | None, new: State, period: timedelta | None) -> None:
        fire(
            {
                "entity_id": entity_id,
                "from_state": old,
                "to_state": new,
                "for": period,
                "attribute": attribute,
                "description": f"state of {entity_id}",
            },
            new.context,
        )

    @callback
    def changed(event: Event[Any]) -> None:
        data = event.data
        entity_id: str = data["entity_id"]
        old: State | None = data["old_state"]
        new: State | None = data["new_state"]
        waiting = pending.get(entity_id)
        if waiting is not None:
            # A change while waiting: does the entity still hold what the wait started on?
            current = (
                None
                if new is None
                else (new.state if attribute is None else new.attributes.get(attribute))
            )
            same = current != waiting.value if only_from else current == waiting.value
            if new is None or not same:
                waiting.cancel()
                del pending[entity_id]
            else:
                return
        if new is None:
            return
        if attribute is None:
            old_value: Any = None if old is None else old.state
            new_value: Any = new.state
            if not match_all and old is not None and old_value == new_value:
                return
        else:
            old_value = None if old is None else old.attributes.get(attribute)
            new_value = new.attributes.get(attribute)
            if old is not None and old_value == new_value:
                return
        if from_states is not None and (old_value is None or not _value_in(old_value, from_states)):
            return
        if to_states is not None and not _value_in(new_value, to_states):
            return
        if not_from and old_value is not None and _value_in(old_value, not_from):
            return
        if not_to and _value_in(new_value, not_to):
            return
        if duration is None:
            fire_now(entity_id, old, new, None)
            return
        period = for_period(duration, variables, "state", entity_id, old=old, new=new)
        if period is None:
            return
        if period <= timedelta(0):
            fire_now(entity_id, old, new, period)
            return

        def elapsed() -> None:
            pending.pop(entity_id, None)
            current = runtime.states.get(entity_id)
            fire_now(entity_id, old, current if current is not None else new, period)

        wait_value = old_value if only_from else new_value
        pending[entity_id] = _Pending(
            call_later(runtime, period, elapsed, f"state_for[{entity_id}]"), wait_value
        )

    unsubscribe = runtime.states.track(entity_ids, changed)

    def detach() -> None:
        unsubscribe()
        for waiting in pending.values():
            waiting.cancel()
        pending.clear()

    return detach


class StateTrigger:
    """The ``state`` trigger platform."""

    schema = STATE_TRIGGER

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Detach:
        """Attach one trigger (see ``TriggerPlatform.attach``)."""
        return attach_state(runtime, config, fire, info.variables)


PLATFORM = StateTrigger()
