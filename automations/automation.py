"""One automation: its triggers, conditions and script, its ``automation.*`` entity and traces.

The hot path is :meth:`Automation.trigger`: it runs synchronously in the trigger's callback
(conditions are synchronous), records the trace, and starts the action run as one task, run
eagerly: its actions start at once, up to their first wait. A trigger whose conditions fail costs
no task at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.context import Context
from core.state import State

from .conditions import Check, compile_condition
from .const import (
    ATTR_CURRENT,
    ATTR_FRIENDLY_NAME,
    ATTR_ID,
    ATTR_LAST_TRIGGERED,
    ATTR_MODE,
    CONF_ACTIONS,
    CONF_ALIAS,
    CONF_CONDITIONS,
    CONF_ID,
    CONF_MAX,
    CONF_MAX_EXCEEDED,
    CONF_MODE,
    CONF_STORED_TRACES,
    CONF_TRACE,
    CONF_TRIGGER_VARIABLES,
    CONF_TRIGGERS,
    CONF_VARIABLES,
    DOMAIN_AUTOMATION,
    EVENT_AUTOMATION_TRIGGERED,
    RunMode,
)
from .script import Platforms, RunResult, Script, compile_steps, render_variables
from .templating import TemplateError, Value, compile_value
from .trace import Trace, TraceStore
from .triggers import attach_triggers

if TYPE_CHECKING:
    import asyncio

    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

Detach = Callable[[], None]


class Automation:
    """A loaded automation. Create it on the loop; ``enable()`` attaches its triggers."""

    def __init__(
        self,
        runtime: Runtime,
        config: dict[str, Any],
        *,
        item_id: str,
        entity_id: str,
        raw_config: Mapping[str, Any],
        platforms: Platforms,
        traces: TraceStore,
        blueprint_inputs: Mapping[str, Any] | None = None,
        on_state_change: Callable[[Automation], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.raw_config = raw_config
        self.blueprint_inputs = blueprint_inputs
        self.item_id = item_id
        self.entity_id = entity_id
        self.alias: str = config.get(CONF_ALIAS) or item_id
        self.name = f"Automation {self.alias!r}"
        self.mode = RunMode(config[CONF_MODE])
        self.stored_traces: int = config[CONF_TRACE][CONF_STORED_TRACES]
        self._platforms = platforms
        self._traces = traces
        self._on_state_change = on_state_change
        self._conditions: list[Check] = []
        for index, cond in enumerate(config[CONF_CONDITIONS]):
            check = compile_condition(runtime, cond, platforms.conditions, f"condition/{index}")
            if check is not None:
                self._conditions.append(check)
        self._variables = [
            (str(k), compile_value(runtime, v, f"variables.{k}"))
            for k, v in config[CONF_VARIABLES].items()
        ]
        self._static_variables: dict[str, Any] | None = (
            {k: v.static for k, v in self._variables}
            if all(v.is_static for _, v in self._variables)
            else None
        )
        self._trigger_variables: Value = compile_value(
            runtime, config[CONF_TRIGGER_VARIABLES], "trigger_variables"
        )
        self.script = Script(
            runtime,
            compile_steps(runtime, config[CONF_ACTIONS], "action", platforms),
            name=self.name,
            mode=self.mode,
            max_runs=config[CONF_MAX],
            max_exceeded=config[CONF_MAX_EXCEEDED],
            on_change=self.write_state,
        )
        self.enabled = False
        self.last_triggered: datetime | None = None
        self._detach: Detach | None = None
        self._this: State | None = None
        self._trigger_vars_rendered: dict[str, Any] = {}

    # --- lifecycle -----------------------------------------------------------------------------

    async def enable(self) -> None:
        """Attach the triggers (if not attached) and show the entity as on."""
        if self.enabled:
            return
        self.enabled = True
        self.write_state()
        try:
            trigger_variables = self._trigger_variables.render({})
        except TemplateError as err:
            _LOGGER.error("%s: error in trigger_variables: %s", self.name, err)
            trigger_variables = {}
        self._trigger_vars_rendered = dict(trigger_variables or {})
        self._detach = await attach_triggers(
            self.runtime,
            self.config[CONF_TRIGGERS],
            self.trigger,
            self._trigger_vars_rendered,
            plugins=self._platforms.triggers,
            name=self.name,
        )
        if not self.enabled:  # turned off while the triggers attached
            self._detach()
            self._detach = None

    async def disable(self, *, stop_actions: bool = True) -> None:
        """Detach the triggers, stop running actions (by default), show the entity as off."""
        self.enabled = False
        if self._detach is not None:
            self._detach()
            self._detach = None
        if stop_actions:
            await self.script.stop()
        self.write_state()

    async def remove(self) -> None:
        """Disable and drop the entity's state (on reload or delete)."""
        self.enabled = False
        if self._detach is not None:
            self._detach()
            self._detach = None
        await self.script.stop()
        self.runtime.states.remove(self.entity_id)

    # --- state ---------------------------------------------------------------------------------

    def write_state(self) -> None:
        """Write ``automation.<id>`` with its attributes."""
        last = self.last_triggered
        attributes = {
            ATTR_ID: self.item_id,
            ATTR_LAST_TRIGGERED: None if last is None else last.isoformat(),
            ATTR_MODE: self.mode.value,
            ATTR_CURRENT: self.script.running,
            ATTR_FRIENDLY_NAME: self.alias,
        }
        if self.mode is not RunMode.SINGLE:
            attributes["max"] = self.script.max_runs
        self._this = self.runtime.states.set(
            self.entity_id, "on" if self.enabled else "off", attributes
        )
        if self._on_state_change is not None:
            self._on_state_change(self)

    # --- running -------------------------------------------------------------------------------

    def trigger(
        self,
        payload: dict[str, Any],
        trigger_context: Context | None,
        *,
        skip_condition: bool = False,
        extra_variables: Mapping[str, Any] | None = None,
    ) -> asyncio.Task[RunResult] | None:
        """Run the automation for one firing of a trigger (or a manual ``automation.trigger``).

        Runs on the loop: evaluates the conditions here and starts the actions as a task, run
        eagerly up to their first wait (``core.eager``).

        Returns:
            The run's task, or None when the conditions failed or the mode refused the run.
        """
        trigger_vars = payload.pop("__variables", None)
        context = Context(parent_id=None if trigger_context is None else trigger_context.id)
        trace = Trace(
            DOMAIN_AUTOMATION,
            self.item_id,
            self.raw_config,
            context,
            trigger_description=payload.get("description"),
            blueprint_inputs=self.blueprint_inputs,
        )
        static = self._static_variables
        variables: dict[str, Any] = dict(static) if static is not None else {}
        if self._trigger_vars_rendered:
            for key, value in self._trigger_vars_rendered.items():
                variables.setdefault(key, value)
        variables["this"] = self._this
        variables["trigger"] = payload
        if trigger_vars:
            variables.update(trigger_vars)
        if extra_variables:
            variables.update(extra_variables)
        if static is None:
            try:
                render_variables(self._variables, variables)
            except Exception as err:
                _LOGGER.error("%s: error rendering variables: %s", self.name, err)
                trace.finished("error", str(err))
                self._traces.add(trace, self.stored_traces)
                return None
        if "idx" in payload:
            element = trace.step(f"trigger/{payload['idx']}")
        else:
            element = trace.step("trigger")
        element.changed_variables = {"this": self._this, "trigger": payload}
        if not skip_condition:
            for check in self._conditions:
                try:
                    result = check(variables, trace)  # records itself (and nested ones)
                except Exception:
                    result = False
                if not result:
                    trace.finished("failed_conditions")
                    self._traces.add(trace, self.stored_traces)
                    return None
        self._traces.add(trace, self.stored_traces)
        script = self.script
        if not script.admit(trace):
            return None
        self.last_triggered = self.runtime.clock.now()
        # After the run's eager first step: the action is not kept waiting for the entity's
        # own state write.
        self.runtime.loop.call_soon(self.write_state)
        bus = self.runtime.bus
        if bus.has_listeners(EVENT_AUTOMATION_TRIGGERED):
            bus.fire(
                EVENT_AUTOMATION_TRIGGERED,
                {
                    "name": self.alias,
                    "entity_id": self.entity_id,
                    "source": _source(payload),
                },
                context,
            )
        # Eager: on the loop (outside a task) the actions run now, up to their first wait,
        # rather than after another loop iteration.
        return script.launch(variables, context, trace, eager=True)

    @property
    def id(self) -> str:
        """The automation's id (its ``id:``, or one derived from its alias)."""
        return self.item_id

    def __repr__(self) -> str:
        return f"<Automation {self.item_id} {self.entity_id}>"


def raw_id(raw: object) -> str | None:
    """The ``id`` of a raw automation config, if it has one."""
    if isinstance(raw, Mapping) and raw.get(CONF_ID) is not None:
        return str(raw[CONF_ID])
    return None


def _source(payload: dict[str, Any]) -> object:
    """What triggered a run, as the ``automation_triggered`` event tells every user.

    A webhook's id is a secret (anyone who knows it can trigger the automation), so its runs
    are told as ``webhook`` only; the trace, for admins, keeps the id.
    """
    if payload.get("platform") == "webhook":
        return "webhook"
    return payload.get("description")
