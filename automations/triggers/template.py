"""``trigger: template``: a template turns true (false to true), optionally held ``for``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.conditions.template import template_truthy
from automations.schema import TRIGGER_BASE, template, time_period_template
from automations.templating import TemplateError, compile_template, compile_value, render_duration
from core.template import track_template
from core.trigger import TriggerFire, TriggerInfo

from .common import Detach, Variables, call_later

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)


TEMPLATE_TRIGGER = vol.Schema(
    {
        **TRIGGER_BASE,
        vol.Required("value_template"): template,
        vol.Optional("for"): time_period_template,
    }
)


def attach_template(
    runtime: Runtime, config: dict[str, Any], fire: TriggerFire, variables: Variables
) -> Detach:
    """``trigger: template``: fires when the template turns true (false -> true), with ``for``."""
    tpl = compile_template(runtime, config["value_template"], "value_template")
    duration = compile_value(runtime, config["for"], "for") if "for" in config else None
    state = {"armed": True, "attaching": True}
    pending: list[Detach] = []

    def cancel_pending() -> None:
        for cancel in pending:
            cancel()
        pending.clear()

    def fire_now(period: timedelta | None) -> None:
        fire(
            {
                "entity_id": None,
                "from_state": None,
                "to_state": None,
                "for": period,
                "description": "template",
            },
            None,
        )

    def on_result(result: Any) -> None:
        if state["attaching"]:
            return
        truthy = not isinstance(result, Exception) and template_truthy(result)
        if isinstance(result, Exception):
            _LOGGER.warning("Error in template trigger: %s", result)
        if not truthy:
            state["armed"] = True
            cancel_pending()
            return
        if not state["armed"]:
            return
        state["armed"] = False
        if duration is None:
            fire_now(None)
            return
        try:
            period = render_duration(duration, variables, "for")
        except Exception as err:
            _LOGGER.error("Error rendering 'for' of a template trigger: %s", err)
            return

        def elapsed() -> None:
            pending.clear()
            fire_now(period)

        pending.append(call_later(runtime, period, elapsed, "template_for"))

    try:
        initial = tpl.render(variables)
    except TemplateError:
        initial = False
    # True at attach time means "already true": it must turn false before it can fire.
    state["armed"] = not template_truthy(initial)
    cancel_track = track_template(runtime, tpl, variables, on_result)
    state["attaching"] = False

    def detach() -> None:
        cancel_track()
        cancel_pending()

    return detach


class TemplateTrigger:
    """The ``template`` trigger platform."""

    schema = TEMPLATE_TRIGGER

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Detach:
        """Attach one trigger (see ``TriggerPlatform.attach``)."""
        return attach_template(runtime, config, fire, info.variables)


PLATFORM = TemplateTrigger()
