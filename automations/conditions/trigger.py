"""``condition: trigger``: the run was started by one of the triggers with these ids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import CONDITION_BASE
from core import validators as cv
from core.condition import Checker, ConditionInfo

if TYPE_CHECKING:
    from core.runtime import Runtime


class TriggerCondition:
    """``id``: one or more trigger ids."""

    schema = vol.Schema(
        {**CONDITION_BASE, vol.Required("id"): vol.All(cv.ensure_list, [cv.string])}
    )

    def checker(self, runtime: Runtime, config: dict[str, Any], info: ConditionInfo) -> Checker:
        """Compile one trigger condition."""
        ids = frozenset(config["id"])

        def check(variables: Mapping[str, Any]) -> bool:
            trigger = variables.get("trigger")
            return isinstance(trigger, Mapping) and str(trigger.get("id")) in ids

        return check


PLATFORM = TriggerCondition()
