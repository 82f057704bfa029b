"""``condition: state``: entities hold one of the wanted states (optionally for a while)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import CONDITION_BASE, state_values, time_period_template
from automations.templating import compile_value, render_duration
from core import validators as cv
from core.condition import Checker, ConditionInfo

if TYPE_CHECKING:
    from core.runtime import Runtime

Variables = Mapping[str, Any]


def looks_like_entity(value: str) -> bool:
    """Whether a wanted value names another entity (``input_select.mode``), to compare with."""
    domain, dot, obj = value.partition(".")
    return bool(dot and domain and obj and domain.replace("_", "").isalnum() and " " not in value)


def _matches(value: Any, wanted: list[Any], wanted_entities: list[str], runtime: Runtime) -> bool:
    text = value if isinstance(value, str) else str(value)
    if value in wanted or text in wanted:
        return True
    for entity_id in wanted_entities:
        other = runtime.states.get(entity_id)
        if other is not None and other.state == text:
            return True
    return False


class StateCondition:
    """``state``, ``attribute``, ``match: all|any``, ``for``."""

    schema = vol.Schema(
        {
            **CONDITION_BASE,
            vol.Required("entity_id"): cv.entity_ids,
            vol.Required("state"): state_values,
            vol.Optional("attribute"): cv.string,
            vol.Optional("match", default="all"): vol.In(("all", "any")),
            vol.Optional("for"): time_period_template,
        }
    )

    def checker(self, runtime: Runtime, config: dict[str, Any], info: ConditionInfo) -> Checker:
        """Compile one state condition."""
        name = info.path
        entity_ids: list[str] = config["entity_id"]
        wanted = config["state"]
        attribute: str | None = config.get("attribute")
        match_any = config.get("match") == "any"
        duration = compile_value(runtime, config["for"], f"{name} for") if "for" in config else None
        states = runtime.states
        # A wanted value may be another entity's id (input_select.x): its state is compared.
        wanted_entities = [w for w in wanted if isinstance(w, str) and looks_like_entity(w)]

        def one(entity_id: str, variables: Variables, now: datetime | None) -> bool:
            state = states.get(entity_id)
            if state is None:
                return False
            value: Any = state.state if attribute is None else state.attributes.get(attribute)
            if not _matches(value, wanted, wanted_entities, runtime):
                return False
            if duration is not None:
                assert now is not None  # noqa: S101 - computed below whenever duration is set
                needed = render_duration(duration, variables, f"{name} for")
                since = datetime.fromtimestamp(
                    state.last_changed_timestamp
                    if attribute is None
                    else state.last_updated_timestamp,
                    now.tzinfo,
                )
                return now - since >= needed
            return True

        def check(variables: Variables) -> bool:
            now = runtime.clock.now() if duration is not None else None
            if match_any:
                return any(one(e, variables, now) for e in entity_ids)
            return all(one(e, variables, now) for e in entity_ids)

        return check


PLATFORM = StateCondition()
