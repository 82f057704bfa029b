"""``condition: numeric_state``: a value (state, attribute or template) within above/below.

Also the helpers the ``numeric_state`` trigger shares: :func:`numeric_value`, :func:`in_range`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import ABOVE_OR_BELOW, CONDITION_BASE, NUMERIC_STATE_KEYS
from automations.templating import Value, compile_template
from core.condition import Checker, ConditionInfo

if TYPE_CHECKING:
    from core.runtime import Runtime

Variables = Mapping[str, Any]


def numeric_value(
    runtime: Runtime,
    entity_id: str,
    attribute: str | None,
    value_template: Value | None,
    variables: Variables,
) -> float | None:
    """The number an entity (or its attribute, or a template over it) stands for, or None."""
    state = runtime.states.get(entity_id)
    if state is None:
        return None
    raw: Any
    if value_template is not None:
        raw = value_template.render({**variables, "state": state})
    elif attribute is not None:
        raw = state.attributes.get(attribute)
    else:
        raw = state.state
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def limit_value(runtime: Runtime, limit: float | str | None) -> float | None:
    """An ``above``/``below`` limit: a number, or the numeric state of the entity named."""
    if limit is None or isinstance(limit, float):
        return limit
    state = runtime.states.get(limit)
    if state is None:
        return None
    try:
        return float(state.state)
    except ValueError:
        return None


def in_range(runtime: Runtime, value: float, above: Any, below: Any) -> bool:
    """Whether ``above < value < below`` (either bound optional)."""
    if above is not None:
        low = limit_value(runtime, above)
        if low is None or value <= low:
            return False
    if below is not None:
        high = limit_value(runtime, below)
        if high is None or value >= high:
            return False
    return True


class NumericStateCondition:
    """``above``/``below`` (numbers or entities), ``attribute``, ``value_template``."""

    schema = vol.Schema(
        vol.All(vol.Schema({**CONDITION_BASE, **NUMERIC_STATE_KEYS}), ABOVE_OR_BELOW)
    )

    def checker(self, runtime: Runtime, config: dict[str, Any], info: ConditionInfo) -> Checker:
        """Compile one numeric_state condition."""
        entity_ids: list[str] = config["entity_id"]
        attribute = config.get("attribute")
        above, below = config.get("above"), config.get("below")
        value_template = (
            Value(render=compile_template(runtime, config["value_template"], info.path).render)
            if "value_template" in config
            else None
        )

        def check(variables: Variables) -> bool:
            for entity_id in entity_ids:
                value = numeric_value(runtime, entity_id, attribute, value_template, variables)
                if value is None or not in_range(runtime, value, above, below):
                    return False
            return True

        return check


PLATFORM = NumericStateCondition()
