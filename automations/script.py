"""The action runner: sequences compiled once into steps, run under a mode, traced as they go.

A configuration's actions compile into a tree of :class:`Step` objects when the automation or
script loads; a run walks that tree with its own variables. Static values are not rendered, and
nothing of the configuration is copied per run. Modes (single, restart, queued, parallel with
``max``) are applied by :class:`Script.start`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.bus import callback
from core.condition import ConditionPlatform
from core.context import Context
from core.eager import create_eager_task
from core.errors import ServiceValidationError
from core.services import ServiceTarget, extract_target
from core.template import track_template
from core.trigger import TriggerPlatform

from .conditions import (
    BUILTIN_CONDITIONS,
    Check,
    compile_condition,
    compile_conditions,
    template_truthy,
)
from .const import CONF_CONTINUE_ON_ERROR, CONF_ENABLED, LOG_LEVELS, REPEAT_LIMIT, RunMode
from .templating import Value, compile_template, compile_value, render_duration
from .trace import Trace, TraceElement
from .triggers import BUILTIN_TRIGGERS, attach_triggers

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)


class StopRun(Exception):
    """A ``stop`` action: ends the run, with a response or as an error."""

    def __init__(self, reason: str, *, error: bool, response: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error
        self.response = response


class ConditionFailed(Exception):
    """A ``condition`` action was false: the sequence stops there."""


class ScriptError(Exception):
    """A step failed; the message names the step's path."""


class Platforms:
    """Every trigger and condition platform by name, shared by everything compiled at once.

    ``triggers`` and ``conditions`` are the plugins'; the built-in platforms are added to them
    (a built-in name wins over a plugin's), so the engine finds every platform in one mapping.
    """

    def __init__(
        self,
        triggers: Mapping[str, TriggerPlatform] | None = None,
        conditions: Mapping[str, ConditionPlatform] | None = None,
    ) -> None:
        self.triggers: Mapping[str, TriggerPlatform] = _with_builtins(
            triggers, BUILTIN_TRIGGERS, "trigger"
        )
        self.conditions: Mapping[str, ConditionPlatform] = _with_builtins(
            conditions, BUILTIN_CONDITIONS, "condition"
        )


def _with_builtins(
    plugins: Mapping[str, Any] | None, builtins: Mapping[str, Any], kind: str
) -> dict[str, Any]:
    """The plugins' platforms and the built-in ones; a plugin's that shadows one is ignored."""
    for name in (plugins or {}).keys() & builtins.keys():
        _LOGGER.warning("A plugin's %s platform %r is ignored: it is a built-in one", kind, name)
    return {**(plugins or {}), **builtins}


class Run:
    """One run's mutable state: its variables, context, trace and response."""

    __slots__ = ("context", "name", "runtime", "trace", "variables")

    def __init__(
        self,
        runtime: Runtime,
        variables: dict[str, Any],
        context: Context,
        trace: Trace | None,
        name: str,
    ) -> None:
        self.runtime = runtime
        self.variables = variables
        self.context = context
        self.trace = trace
        self.name = name

    def step(self, path: str) -> TraceElement | None:
        """Record a step in the trace (when tracing)."""
        return None if self.trace is None else self.trace.step(path)


async def sleep(runtime: Runtime, delay: timedelta) -> None:
    """Wait ``delay`` on the runtime's clock (a scheduler job, so a FakeClock drives it)."""
    if delay <= timedelta(0):
        return
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101 - scripts run once the runtime started
    future: asyncio.Future[None] = runtime.loop.create_future()

    @callback
    def done(_when: datetime) -> None:
        if not future.done():
            future.set_result(None)

    cancel = scheduler.at(runtime.clock.now() + delay, done, name="script_delay")
    try:
        await future
    finally:
        cancel()


async def wait_future(
    runtime: Runtime, future: asyncio.Future[Any], limit: timedelta | None
) -> bool:
    """Wait for ``future`` at most ``limit`` (runtime clock); True when it completed."""
    if future.done():
        return True
    if limit is None:
        await future
        return True
    timer = asyncio.ensure_future(sleep(runtime, limit))
    try:
        await asyncio.wait({future, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    return future.done()


# --- steps ---------------------------------------------------------------------------------------


class Step:
    """One compiled action."""

    __slots__ = ("alias", "continue_on_error", "enabled", "path")

    def __init__(self, runtime: Runtime, config: Mapping[str, Any], path: str) -> None:
        self.path = path
        self.alias: str | None = config.get("alias")
        self.continue_on_error: bool = bool(config.get(CONF_CONTINUE_ON_ERROR, False))
        enabled = config.get(CONF_ENABLED, True)
        self.enabled: bool | Value = (
            enabled if isinstance(enabled, bool) else compile_value(runtime, enabled, path)
        )

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Do the action."""
        raise NotImplementedError


async def run_sequence(steps: list[Step], run: Run, entered: dict[str, Any] | None = None) -> None:
    """Run ``steps`` in order, honouring ``enabled`` and ``continue_on_error``.

    ``entered``: variables set on entering the sequence (a repeat's ``repeat``), shown in the
    trace as changed by its first step, as Home Assistant shows them.
    """
    for step in steps:
        enabled = step.enabled
        if enabled is not True and (
            enabled is False
            or (isinstance(enabled, Value) and not template_truthy(enabled.render(run.variables)))
        ):
            element = run.step(step.path)
            if element is not None:
                element.result = {"enabled": False}
                if entered is not None:
                    element.update_variables(entered)
                    entered = None
            continue
        element = run.step(step.path)
        if entered is not None and element is not None:
            element.update_variables(entered)
            entered = None
        try:
            await step.execute(run, element)
        except (StopRun, ConditionFailed):
            raise
        except Exception as err:
            if element is not None:
                element.error = str(err) or type(err).__name__
            if step.continue_on_error:
                _LOGGER.warning("%s: %s failed, continuing: %s", run.name, step.path, err)
                continue
            raise


class ServiceStep(Step):
    """``action: domain.service`` with target, data and an optional response variable."""

    __slots__ = (
        "data",
        "domain",
        "parsed_target",
        "response_variable",
        "service",
        "service_value",
        "target",
    )

    def __init__(self, runtime: Runtime, config: Mapping[str, Any], path: str) -> None:
        super().__init__(runtime, config, path)
        name = str(config["action"])
        self.service_value = compile_value(runtime, name, f"{path} action")
        self.domain, _, self.service = name.partition(".")
        self.data = compile_value(runtime, config.get("data") or {}, f"{path} data")
        target = config.get("target")
        if "entity_id" in config:
            target = {**(target or {}), "entity_id": config["entity_id"]}
        self.target = compile_value(runtime, target, f"{path} target")
        self.response_variable: str | None = config.get("response_variable")
        #: ``target`` parsed once, when it is not rendered per run (the call adds the target
        #: keys of ``data``).
        self.parsed_target: ServiceTarget | None = None
        if self.target.is_static:
            # A bad target is reported by the call, when the step runs, as a rendered one is.
            with contextlib.suppress(ServiceValidationError):
                _, self.parsed_target = extract_target(
                    {}, self.target.static, self.domain, self.service
                )

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Call the service and wait for it."""
        variables = run.variables
        domain, service = self.domain, self.service
        if not self.service_value.is_static:
            domain, _, service = str(self.service_value.render(variables)).partition(".")
        data = self.data.static if self.data.is_static else self.data.render(variables)
        target = self.target.static if self.target.is_static else self.target.render(variables)
        if element is not None:
            element.result = {
                "params": {
                    "domain": domain,
                    "service": service,
                    "service_data": data,
                    "target": target,
                },
                "running_script": False,
            }
        parsed = self.parsed_target
        response = await run.runtime.services.call(
            domain,
            service,
            data,
            target=target if parsed is None else parsed,
            context=run.context,
            return_response=self.response_variable is not None,
        )
        if self.response_variable is not None:
            variables[self.response_variable] = response
            if element is not None:
                element.update_variables({self.response_variable: response})


class DelayStep(Step):
    """``delay``."""

    __slots__ = ("delay",)

    def __init__(self, runtime: Runtime, config: Mapping[str, Any], path: str) -> None:
        super().__init__(runtime, config, path)
        self.delay = compile_value(runtime, config["delay"], f"{path} delay")

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Wait."""
        delay = render_duration(self.delay, run.variables, f"{self.path} delay")
        if element is not None:
            element.result = {"delay": delay.total_seconds(), "done": False}
        await sleep(run.runtime, delay)
        if element is not None:
            element.result = {"delay": delay.total_seconds(), "done": True}


class _WaitBase(Step):
    __slots__ = ("continue_on_timeout", "timeout")

    def __init__(self, runtime: Runtime, config: Mapping[str, Any], path: str) -> None:
        super().__init__(runtime, config, path)
        self.timeout = (
            compile_value(runtime, config["timeout"], f"{path} timeout")
            if "timeout" in config
            else None
        )
        self.continue_on_timeout: bool = config.get("continue_on_timeout", True)

    def _timeout(self, run: Run) -> timedelta | None:
        if self.timeout is None:
            return None
        return render_duration(self.timeout, run.variables, f"{self.path} timeout")

    def _finish(
        self, run: Run, element: TraceElement | None, wait: dict[str, Any], completed: bool
    ) -> None:
        run.variables["wait"] = wait
        if element is not None:
            element.update_variables({"wait": wait})
        if not completed and not self.continue_on_timeout:
            raise StopRun("timeout", error=False)


class WaitTemplateStep(_WaitBase):
    """``wait_template`` with ``timeout`` and ``continue_on_timeout``."""

    __slots__ = ("template",)

    def __init__(self, runtime: Runtime, config: Mapping[str, Any], path: str) -> None:
        super().__init__(runtime, config, path)
        self.template = compile_template(runtime, config["wait_template"], path)

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Wait until the template is true (or the timeout passes)."""
        runtime = run.runtime
        timeout = self._timeout(run)
        started = runtime.clock.monotonic()
        if template_truthy(self.template.render(run.variables)):
            self._finish(run, element, {"completed": True, "remaining": _secs(timeout)}, True)
            return
        future: asyncio.Future[None] = runtime.loop.create_future()

        def on_result(result: Any) -> None:
            truthy = not isinstance(result, Exception) and template_truthy(result)
            if truthy and not future.done():
                future.set_result(None)

        cancel = track_template(runtime, self.template, run.variables, on_result)
        try:
            completed = await wait_future(runtime, future, timeout)
        finally:
            cancel()
        remaining = None
        if timeout is not None:
            left = timeout.total_seconds() - (runtime.clock.monotonic() - started)
            remaining = max(left, 0.0)
        self._finish(run, element, {"completed": completed, "remaining": remaining}, completed)


def _secs(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


class WaitForTriggerStep(_WaitBase):
    """``wait_for_trigger`` with ``timeout`` and ``continue_on_timeout``."""

    __slots__ = ("platforms", "triggers")

    def __init__(
        self, runtime: Runtime, config: Mapping[str, Any], path: str, platforms: Platforms
    ) -> None:
        super().__init__(runtime, config, path)
        self.triggers: list[dict[str, Any]] = config["wait_for_trigger"]
        self.platforms = platforms

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Wait until one of the triggers fires (or the timeout passes)."""
        runtime = run.runtime
        timeout = self._timeout(run)
        started = runtime.clock.monotonic()
        future: asyncio.Future[dict[str, Any]] = runtime.loop.create_future()

        def on_fire(payload: dict[str, Any], context: Context | None) -> None:
            if not future.done():
                payload.pop("__variables", None)
                future.set_result(payload)

        detach = await attach_triggers(
            runtime,
            self.triggers,
            on_fire,
            run.variables,
            plugins=self.platforms.triggers,
            name=run.name,
        )
        try:
            completed = await wait_future(runtime, future, timeout)
        finally:
            detach()
        remaining = None
        if timeout is not None:
            left = timeout.total_seconds() - (runtime.clock.monotonic() - started)
            remaining = max(left, 0.0)
        wait = {
            "completed": completed,
            "remaining": remaining,
            "trigger": future.result() if completed else None,
        }
        self._finish(run, element, wait, completed)


class EventStep(Step):
    """``event`` with ``event_data``."""

    __slots__ = ("data", "event")

    def __init__(self, runtime: Runtime, config: Mapping[str, Any], path: str) -> None:
        super().__init__(runtime, config, path)
        self.event: str = config["event"]
        self.data = compile_value(runtime, config.get("event_data") or {}, f"{path} event_data")

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Fire the event with the run's context."""
        data = self.data.render(run.variables)
        if element is not None:
            element.result = {"event": self.event, "event_data": data}
        run.runtime.bus.fire(self.event, data, run.context)


class ConditionStep(Step):
    """``condition`` in a sequence: false stops the sequence."""

    __slots__ = ("check",)

    def __init__(
        self, runtime: Runtime, config: Mapping[str, Any], path: str, platforms: Platforms
    ) -> None:
        super().__init__(runtime, config, path)
        cfg = {k: v for k, v in config.items() if k not in ("kind", CONF_CONTINUE_ON_ERROR)}
        cfg[CONF_ENABLED] = True  # the step's own ``enabled`` is handled by run_sequence
        # The step's own element (recorded by run_sequence) holds the result; nested
        # conditions record at ``{path}/conditions/N``.
        check = compile_condition(runtime, cfg, platforms.conditions, path, record=False)
        assert check is not None  # noqa: S101 - enabled forced above
        self.check: Check = check

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Check; raise ConditionFailed when false."""
        try:
            result = self.check(run.variables, run.trace)
        except Exception:
            if element is not None:
                element.result = {"result": False}
            raise
        if element is not None:
            element.result = {"result": result}
        if not result:
            raise ConditionFailed(self.path)


class ChooseStep(Step):
    """``choose`` with options and a ``default``."""

    __slots__ = ("default", "options")

    def __init__(
        self, runtime: Runtime, config: Mapping[str, Any], path: str, platforms: Platforms
    ) -> None:
        super().__init__(runtime, config, path)
        self.options: list[tuple[Check, list[Step]]] = [
            (
                compile_conditions(
                    runtime,
                    option["conditions"],
                    platforms.conditions,
                    f"{path}/choose/{i}/conditions",
                ),
                compile_steps(
                    runtime, option["sequence"], f"{path}/choose/{i}/sequence", platforms
                ),
            )
            for i, option in enumerate(config["choose"])
        ]
        self.default = compile_steps(
            runtime, config.get("default") or [], f"{path}/default", platforms
        )

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Run the first option whose conditions hold, else the default."""
        for index, (check, steps) in enumerate(self.options):
            if check(run.variables, run.trace):
                if element is not None:
                    element.result = {"choice": index}
                await run_sequence(steps, run)
                return
        if element is not None:
            element.result = {"choice": "default"}
        await run_sequence(self.default, run)


class IfStep(Step):
    """``if``/``then``/``else``."""

    __slots__ = ("check", "else_steps", "then_steps")

    def __init__(
        self, runtime: Runtime, config: Mapping[str, Any], path: str, platforms: Platforms
    ) -> None:
        super().__init__(runtime, config, path)
        self.check = compile_conditions(
            runtime, config["if"], platforms.conditions, f"{path}/if/condition"
        )
        self.then_steps = compile_steps(runtime, config["then"], f"{path}/then", platforms)
        self.else_steps = compile_steps(
            runtime, config.get("else") or [], f"{path}/else", platforms
        )

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Run ``then`` or ``else``."""
        result = self.check(run.variables, run.trace)
        if element is not None:
            element.result = {"choice": "then" if result else "else"}
        await run_sequence(self.then_steps if result else self.else_steps, run)


class RepeatStep(Step):
    """``repeat``: count, while, until or for_each; at most ``REPEAT_LIMIT`` iterations."""

    __slots__ = ("count", "for_each", "steps", "until", "while_")

    def __init__(
        self, runtime: Runtime, config: Mapping[str, Any], path: str, platforms: Platforms
    ) -> None:
        super().__init__(runtime, config, path)
        repeat = config["repeat"]
        self.steps = compile_steps(
            runtime, repeat["sequence"], f"{path}/repeat/sequence", platforms
        )
        self.count = compile_value(runtime, repeat["count"], path) if "count" in repeat else None
        self.for_each = (
            compile_value(runtime, repeat["for_each"], path) if "for_each" in repeat else None
        )
        self.while_ = (
            compile_conditions(
                runtime, repeat["while"], platforms.conditions, f"{path}/repeat/while"
            )
            if "while" in repeat
            else None
        )
        self.until = (
            compile_conditions(
                runtime, repeat["until"], platforms.conditions, f"{path}/repeat/until"
            )
            if "until" in repeat
            else None
        )

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Loop."""
        variables = run.variables
        saved = variables.get("repeat")
        try:
            if self.count is not None:
                count = int(self.count.render(variables))
                items: list[Any] | None = None
                total: int | None = count
            elif self.for_each is not None:
                rendered = self.for_each.render(variables)
                if not isinstance(rendered, list):
                    raise ScriptError(f"{self.path}: for_each must be a list, got {rendered!r}")
                items, total = rendered, len(rendered)
            else:
                items, total = None, None
            index = 0
            while True:
                if total is not None and index >= total:
                    return
                if index >= REPEAT_LIMIT:
                    raise ScriptError(
                        f"{self.path}: repeat stopped after {REPEAT_LIMIT} iterations"
                    )
                info: dict[str, Any] = {"first": index == 0, "index": index + 1}
                if total is not None:
                    info["last"] = index == total - 1
                if items is not None:
                    info["item"] = items[index]
                variables["repeat"] = info
                if self.while_ is not None and not self.while_(variables, run.trace):
                    return
                await run_sequence(self.steps, run, {"repeat": info})
                index += 1
                if self.until is not None and self.until(variables, run.trace):
                    return
        finally:
            if saved is None:
                variables.pop("repeat", None)
            else:
                variables["repeat"] = saved


class ParallelStep(Step):
    """``parallel``: branches run together, each with its own copy of the variables."""

    __slots__ = ("branches",)

    def __init__(
        self, runtime: Runtime, config: Mapping[str, Any], path: str, platforms: Platforms
    ) -> None:
        super().__init__(runtime, config, path)
        # Home Assistant traces branch i at ``parallel/i/sequence/N``: a branch given as a
        # ``sequence`` is that sequence; any other action is a sequence of one.
        self.branches = [
            compile_steps(
                runtime,
                branch["sequence"] if _plain_sequence(branch) else [branch],
                f"{path}/parallel/{i}/sequence",
                platforms,
            )
            for i, branch in enumerate(config["parallel"])
        ]

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Run every branch; the first error (after all finish) is raised."""

        async def branch(steps: list[Step]) -> None:
            sub = Run(run.runtime, dict(run.variables), run.context, run.trace, run.name)
            try:
                await run_sequence(steps, sub)
            except ConditionFailed:
                return

        results = await asyncio.gather(*(branch(b) for b in self.branches), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


def _plain_sequence(branch: Mapping[str, Any]) -> bool:
    return (
        branch["kind"] == "sequence"
        and branch.get(CONF_ENABLED, True) is True
        and not branch.get(CONF_CONTINUE_ON_ERROR, False)
    )


class SequenceStep(Step):
    """``sequence``: a nested group of actions."""

    __slots__ = ("steps",)

    def __init__(
        self, runtime: Runtime, config: Mapping[str, Any], path: str, platforms: Platforms
    ) -> None:
        super().__init__(runtime, config, path)
        self.steps = compile_steps(runtime, config["sequence"], f"{path}/sequence", platforms)

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Run the nested actions."""
        await run_sequence(self.steps, run)


class VariablesStep(Step):
    """``variables``: set (or change) run variables, each seeing the ones before it."""

    __slots__ = ("values",)

    def __init__(self, runtime: Runtime, config: Mapping[str, Any], path: str) -> None:
        super().__init__(runtime, config, path)
        self.values = [
            (str(k), compile_value(runtime, v, f"{path} {k}"))
            for k, v in config["variables"].items()
        ]

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Render and store."""
        changed = render_variables(self.values, run.variables)
        if element is not None:
            element.update_variables(changed)


def render_variables(values: list[tuple[str, Value]], variables: dict[str, Any]) -> dict[str, Any]:
    """Render each value in order into ``variables``; return what changed."""
    changed: dict[str, Any] = {}
    for key, value in values:
        rendered = value.render(variables)
        variables[key] = rendered
        changed[key] = rendered
    return changed


class StopStep(Step):
    """``stop``: end the run, optionally with a response variable or as an error."""

    __slots__ = ("error", "reason", "response_variable")

    def __init__(self, runtime: Runtime, config: Mapping[str, Any], path: str) -> None:
        super().__init__(runtime, config, path)
        self.reason = str(config.get("stop") or "")
        self.error: bool = config.get("error", False)
        self.response_variable: str | None = config.get("response_variable")

    async def execute(self, run: Run, element: TraceElement | None) -> None:
        """Stop."""
        response = run.variables.get(self.response_variable) if self.response_variable else None
        if element is not None:
            element.result = {"stop": self.reason, "error": self.error}
        raise StopRun(self.reason, error=self.error, response=response)


def compile_steps(
    runtime: Runtime, configs: list[dict[str, Any]], path: str, platforms: Platforms
) -> list[Step]:
    """Compile a list of validated actions; ``path`` is their trace prefix (``action``)."""
    steps: list[Step] = []
    for index, config in enumerate(configs):
        step_path = f"{path}/{index}"
        kind = config["kind"]
        step: Step
        if kind == "service":
            step = ServiceStep(runtime, config, step_path)
        elif kind == "delay":
            step = DelayStep(runtime, config, step_path)
        elif kind == "wait_template":
            step = WaitTemplateStep(runtime, config, step_path)
        elif kind == "wait_for_trigger":
            step = WaitForTriggerStep(runtime, config, step_path, platforms)
        elif kind == "event":
            step = EventStep(runtime, config, step_path)
        elif kind == "condition":
            step = ConditionStep(runtime, config, step_path, platforms)
        elif kind == "choose":
            step = ChooseStep(runtime, config, step_path, platforms)
        elif kind == "if":
            step = IfStep(runtime, config, step_path, platforms)
        elif kind == "repeat":
            step = RepeatStep(runtime, config, step_path, platforms)
        elif kind == "parallel":
            step = ParallelStep(runtime, config, step_path, platforms)
        elif kind == "sequence":
            step = SequenceStep(runtime, config, step_path, platforms)
        elif kind == "variables":
            step = VariablesStep(runtime, config, step_path)
        elif kind == "stop":
            step = StopStep(runtime, config, step_path)
        else:  # pragma: no cover - the schema knows every kind
            raise ValueError(f"unknown action kind {kind!r}")
        steps.append(step)
    return steps


# --- running under a mode ------------------------------------------------------------------------


class RunResult:
    """How a run ended."""

    __slots__ = ("error", "execution", "response")

    def __init__(self, execution: str, response: Any = None, error: str | None = None) -> None:
        self.execution = execution
        self.response = response
        self.error = error


class Script:
    """Compiled actions plus a run mode: starts runs, refuses or restarts them as the mode says."""

    def __init__(
        self,
        runtime: Runtime,
        steps: list[Step],
        *,
        name: str,
        mode: RunMode = RunMode.SINGLE,
        max_runs: int = 10,
        max_exceeded: str = "warning",
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.steps = steps
        self.name = name
        self.mode = mode
        self.max_runs = max_runs
        self.max_exceeded = max_exceeded
        self._on_change = on_change
        self._runs: set[asyncio.Task[RunResult]] = set()
        self._queue = asyncio.Lock()
        self._task_name = f"script[{name}]"

    @property
    def running(self) -> int:
        """How many runs are going (queued ones included)."""
        return len(self._runs)

    def start(
        self, variables: dict[str, Any], context: Context, trace: Trace | None
    ) -> asyncio.Task[RunResult] | None:
        """Start a run under the mode; None (and the trace marked) when the mode refuses it."""
        if not self.admit(trace):
            return None
        return self.launch(variables, context, trace)

    def admit(self, trace: Trace | None) -> bool:
        """Apply the mode to a new run: refuse it (marking the trace), or make room for it.

        In ``restart`` mode this cancels the running runs. Call :meth:`launch` right after a
        true answer, before anything else can start a run.
        """
        runs = self._runs
        if runs:
            mode = self.mode
            if mode is RunMode.SINGLE:
                self._exceeded("is already running")
                if trace is not None:
                    trace.finished("failed_single")
                return False
            if mode is RunMode.RESTART:
                for task in runs:
                    task.cancel()
            elif len(runs) >= self.max_runs:
                self._exceeded(f"reached its maximum of {self.max_runs} runs")
                if trace is not None:
                    trace.finished("failed_max_runs")
                return False
        return True

    def launch(
        self,
        variables: dict[str, Any],
        context: Context,
        trace: Trace | None,
        *,
        eager: bool = False,
    ) -> asyncio.Task[RunResult]:
        """Start a run that :meth:`admit` let in.

        Args:
            eager: run the actions now, up to their first wait, rather than from the next loop
                iteration (see ``core.eager``); the run counts as running from the start.
        """
        run = Run(self.runtime, variables, context, trace, self.name)
        coro = self._queued(run) if self.mode is RunMode.QUEUED else self._execute(run)
        if eager:
            return create_eager_task(coro, name=self._task_name, on_created=self._started)
        task = self.runtime.loop.create_task(coro, name=self._task_name)
        self._started(task)
        return task

    def _started(self, task: asyncio.Task[RunResult]) -> None:
        self._runs.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[RunResult]) -> None:
        self._runs.discard(task)
        if self._on_change is not None:
            self._on_change()

    def _exceeded(self, why: str) -> None:
        level = self.max_exceeded
        if level == "silent":
            return
        _LOGGER.log(LOG_LEVELS[level], "%s %s; this run is not started", self.name, why)

    async def _queued(self, run: Run) -> RunResult:
        async with self._queue:
            return await self._execute(run)

    async def _execute(self, run: Run) -> RunResult:
        trace = run.trace
        try:
            await run_sequence(self.steps, run)
        except StopRun as stop:
            execution = "error" if stop.error else "finished"
            error = stop.reason if stop.error else None
            if stop.reason == "timeout" and not stop.error and stop.response is None:
                execution = "aborted"
            if trace is not None:
                trace.finished(execution, error)
            return RunResult(execution, stop.response, error)
        except ConditionFailed:
            if trace is not None:
                trace.finished("aborted")
            return RunResult("aborted")
        except asyncio.CancelledError:
            if trace is not None:
                trace.finished("cancelled")
            raise
        except Exception as err:
            message = str(err) or type(err).__name__
            _LOGGER.error(
                "%s: error in %s: %s", self.name, trace.last_step if trace else "", message
            )
            if trace is not None:
                trace.finished("error", message)
            return RunResult("error", error=message)
        if trace is not None:
            trace.finished("finished")
        return RunResult("finished")

    async def stop(self) -> None:
        """Cancel every run and wait for them to end."""
        runs = list(self._runs)
        for task in runs:
            task.cancel()
        if runs:
            await asyncio.gather(*runs, return_exceptions=True)
