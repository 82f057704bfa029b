"""Triggers: the built-in trigger platforms, and the code that attaches a list of triggers.

Every trigger kind is a platform of the ``TriggerPlatform`` protocol (``core/trigger.py``): the
built-in ones, one module each here (``state``, ``numeric_state``, ``event``, ``time``,
``time_pattern``, ``sun``, ``template``, ``homeassistant``, ``webhook``), and plugins' (``mqtt``)
alike; :func:`attach_triggers` looks each up by name and attaches it the same way.

State and numeric_state triggers subscribe through ``runtime.states.track``, which is indexed by
entity id: a state change reaches only the triggers that watch that entity, and their callback
calls ``fire`` directly. Time-based triggers use the runtime's scheduler, so they follow the
site's time zone and DST rules and run on a ``FakeClock`` in tests. Durations (``for``) are
scheduler jobs cancelled when the state leaves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from automations.const import CONF_ENABLED
from automations.templating import TemplateError, compile_value
from core.context import Context
from core.trigger import TriggerFire, TriggerInfo, TriggerPlatform

from . import (
    event,
    homeassistant,
    numeric_state,
    state,
    sun,
    template,
    time,
    time_pattern,
    webhook,
)
from .common import Detach, Variables, call_later
from .homeassistant import STARTING

if TYPE_CHECKING:
    from core.runtime import Runtime

__all__ = ["BUILTIN_TRIGGERS", "STARTING", "attach_triggers", "call_later"]

_LOGGER = logging.getLogger(__name__)

#: The built-in trigger platforms, by name: the same protocol as a plugin's.
BUILTIN_TRIGGERS: Final[Mapping[str, TriggerPlatform]] = {
    "state": state.PLATFORM,
    "numeric_state": numeric_state.PLATFORM,
    "event": event.PLATFORM,
    "time": time.PLATFORM,
    "time_pattern": time_pattern.PLATFORM,
    "sun": sun.PLATFORM,
    "template": template.PLATFORM,
    "homeassistant": homeassistant.PLATFORM,
    "edgewise": homeassistant.PLATFORM,
    "webhook": webhook.PLATFORM,
}


# --- attaching a list ----------------------------------------------------------------------------


async def attach_triggers(
    runtime: Runtime,
    configs: list[dict[str, Any]],
    on_fire: TriggerFire,
    variables: Variables,
    *,
    plugins: Mapping[str, TriggerPlatform],
    name: str,
) -> Detach:
    """Attach every enabled trigger of ``configs``; ``on_fire(trigger_data, context)`` on each.

    ``plugins``: every trigger platform by name, built-in ones included (``Platforms``); each is
    attached through the same ``TriggerPlatform.attach``.

    ``trigger_data`` is the platform's payload plus ``platform``, ``id``, ``idx``, ``alias`` and
    the trigger's own ``variables``, rendered. A trigger that fails to attach is logged with
    ``name`` and its index; the others still attach.
    """
    detachers: list[Detach] = []
    info = TriggerInfo(name, variables)
    for idx, config in enumerate(configs):
        enabled = config.get(CONF_ENABLED, True)
        if enabled is not True:
            if enabled is False:
                continue
            try:
                if not compile_value(runtime, enabled, "enabled").render(variables):
                    continue
            except TemplateError as err:
                _LOGGER.error("%s: trigger %d: error in 'enabled': %s", name, idx, err)
                continue
        platform_name: str = config["trigger"]
        fire = _trigger_fire(
            runtime,
            config,
            idx=idx,
            platform_name=platform_name,
            on_fire=on_fire,
            variables=variables,
            name=name,
        )
        try:
            detachers.append(await plugins[platform_name].attach(runtime, config, fire, info))
        except Exception:  # an isolation boundary: one trigger only
            _LOGGER.exception("%s: trigger %d (%s) failed to attach", name, idx, platform_name)

    def detach_all() -> None:
        while detachers:
            try:
                detachers.pop()()
            except Exception:
                _LOGGER.exception("%s: error detaching a trigger", name)

    return detach_all


def _trigger_fire(
    runtime: Runtime,
    config: dict[str, Any],
    *,
    idx: int,
    platform_name: str,
    on_fire: TriggerFire,
    variables: Variables,
    name: str,
) -> TriggerFire:
    """The ``fire`` handed to one trigger: completes the payload, then calls ``on_fire``."""
    trigger_id = str(config.get("id", idx))
    alias = config.get("alias")
    idx_text = str(idx)
    trigger_vars = (
        compile_value(runtime, config["variables"], "trigger variables")
        if config.get("variables")
        else None
    )

    def fire(payload: dict[str, Any], context: Context | None) -> asyncio.Task[Any] | None:
        payload["platform"] = platform_name
        payload["id"] = trigger_id
        payload["idx"] = idx_text
        payload["alias"] = alias
        if trigger_vars is not None:
            try:
                rendered = trigger_vars.render({**variables, "trigger": payload})
            except TemplateError as err:
                _LOGGER.error("%s: error rendering trigger %d's variables: %s", name, idx, err)
                return None
            payload = {**payload, "__variables": rendered}
        return on_fire(payload, context)

    return fire
