"""``condition: template``: a template renders true (also the shorthand of a bare template)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.schema import CONDITION_BASE, template
from automations.templating import compile_template
from core.condition import Checker, ConditionInfo

if TYPE_CHECKING:
    from core.runtime import Runtime


def template_truthy(result: Any) -> bool:
    """Home Assistant's truth of a rendered template (``"on"``, ``"yes"``, non-zero numbers...)."""
    if isinstance(result, bool):
        return result
    if isinstance(result, int | float):
        return result != 0
    if isinstance(result, str):
        return result.strip().lower() in ("true", "on", "yes", "enable", "1", "open", "home")
    return bool(result)


class TemplateCondition:
    """``value_template``, true when it renders truthy."""

    schema = vol.Schema({**CONDITION_BASE, vol.Required("value_template"): template})

    def checker(self, runtime: Runtime, config: dict[str, Any], info: ConditionInfo) -> Checker:
        """Compile one template condition."""
        tpl = compile_template(runtime, config["value_template"], info.path)

        def check(variables: Mapping[str, Any]) -> bool:
            return template_truthy(tpl.render(variables))

        return check


PLATFORM = TemplateCondition()
