"""Conditions compiled once into plain functions ``check(variables, trace) -> bool``.

Every condition kind but ``and``/``or``/``not`` is a platform of the ``ConditionPlatform``
protocol (``core/condition.py``): the built-in ones, one module each here (``state``,
``numeric_state``, ``template``, ``time``, ``sun``, ``trigger``), and plugins' alike. A
platform compiles its config once (``checker``) into a function run synchronously on the loop;
this module wraps it with ``enabled`` and tracing. A condition that cannot be evaluated (a
template error, a non-numeric state) is false, with the reason kept for the trace.

Each condition is compiled with its trace path, in Home Assistant's form: ``condition/0``,
``condition/0/conditions/1`` inside and/or/not, ``action/2/choose/0/conditions/0``,
``action/1/if/condition/0``, ``action/3/repeat/while/0``. When a run is traced (``trace`` not
None), every condition, nested ones included, records its result (or its error) at its path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from automations.const import CONF_ENABLED
from automations.templating import compile_value
from core.condition import ConditionInfo, ConditionPlatform

from . import numeric_state, state, sun, template, time, trigger
from .numeric_state import in_range, limit_value, numeric_value
from .template import template_truthy
from .time import time_of

if TYPE_CHECKING:
    from automations.trace import Trace
    from core.runtime import Runtime

__all__ = [
    "BUILTIN_CONDITIONS",
    "Check",
    "ConditionError",
    "compile_condition",
    "compile_conditions",
    "in_range",
    "limit_value",
    "numeric_value",
    "template_truthy",
    "time_of",
]


Variables = Mapping[str, Any]
Check = Callable[[Variables, "Trace | None"], bool]

#: The built-in condition platforms, by name: the same protocol as a plugin's.
BUILTIN_CONDITIONS: Final[Mapping[str, ConditionPlatform]] = {
    "state": state.PLATFORM,
    "numeric_state": numeric_state.PLATFORM,
    "template": template.PLATFORM,
    "time": time.PLATFORM,
    "sun": sun.PLATFORM,
    "trigger": trigger.PLATFORM,
}


class ConditionError(Exception):
    """A condition could not be evaluated; it counts as false."""


def _always(_variables: Variables, _trace: Trace | None) -> bool:
    return True


Leaf = Callable[[Variables], bool]


def compile_conditions(
    runtime: Runtime,
    configs: list[dict[str, Any]],
    plugins: Mapping[str, ConditionPlatform],
    path: str,
) -> Check:
    """All of ``configs`` (``and``), compiled; the i-th is traced at ``{path}/{i}``.

    ``plugins``: every condition platform by name, built-in ones included (``Platforms``).
    """
    checks = [
        c
        for c in (
            compile_condition(runtime, cfg, plugins, f"{path}/{index}")
            for index, cfg in enumerate(configs)
        )
        if c
    ]
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def check_all(variables: Variables, trace: Trace | None) -> bool:
        return all(check(variables, trace) for check in checks)

    return check_all


def compile_condition(
    runtime: Runtime,
    config: dict[str, Any],
    plugins: Mapping[str, ConditionPlatform],
    path: str,
    *,
    record: bool = True,
) -> Check | None:
    """One condition, compiled; None when it is disabled (``enabled: false``).

    ``path`` is where it is traced; ``record=False`` leaves its own element to the caller (the
    ``condition`` action, whose step element holds the result) while nested ones still record.
    """
    enabled = config.get(CONF_ENABLED, True)
    kind = config["condition"]
    group = _GROUPS.get(kind)
    check: Check
    if group is not None:
        inner = group(runtime, config, plugins, path)
        check = _recorded(inner, path) if record else inner
    else:
        leaf: Leaf = plugins[kind].checker(runtime, config, ConditionInfo(path))
        check = _recorded_leaf(leaf, path) if record else _untraced(leaf)

    if enabled is True:
        return check
    if enabled is False:
        return None
    enabled_value = compile_value(runtime, enabled, f"{path} enabled")

    def check_if_enabled(variables: Variables, trace: Trace | None) -> bool:
        if not enabled_value.render(variables):
            return True
        return check(variables, trace)

    return check_if_enabled


def _untraced(leaf: Leaf) -> Check:
    def check(variables: Variables, _trace: Trace | None) -> bool:
        return leaf(variables)

    return check


def _recorded_leaf(leaf: Leaf, path: str) -> Check:
    """``leaf`` recording its result (or error) at ``path`` when the run is traced."""
    return _recorded(lambda variables, _trace: leaf(variables), path)


def _recorded(inner: Check, path: str) -> Check:
    """``inner`` recording its own result (or error) at ``path``, before its children's."""

    def check(variables: Variables, trace: Trace | None) -> bool:
        if trace is None:
            return inner(variables, None)
        element = trace.step(path)
        try:
            result = inner(variables, trace)
        except Exception as err:
            element.error = str(err) or type(err).__name__
            element.result = {"result": False}
            raise
        element.result = {"result": result}
        return result

    return check


def _nested(
    runtime: Runtime, config: dict[str, Any], plugins: Mapping[str, ConditionPlatform], path: str
) -> list[Check]:
    return [
        c
        for c in (
            compile_condition(runtime, cfg, plugins, f"{path}/conditions/{index}")
            for index, cfg in enumerate(config["conditions"])
        )
        if c is not None
    ]


def _and(runtime: Runtime, config: dict[str, Any], plugins: Any, path: str) -> Check:
    checks = _nested(runtime, config, plugins, path)
    return lambda variables, trace: all(check(variables, trace) for check in checks)


def _or(runtime: Runtime, config: dict[str, Any], plugins: Any, path: str) -> Check:
    checks = _nested(runtime, config, plugins, path)
    return lambda variables, trace: any(check(variables, trace) for check in checks)


def _not(runtime: Runtime, config: dict[str, Any], plugins: Any, path: str) -> Check:
    checks = _nested(runtime, config, plugins, path)
    return lambda variables, trace: not any(check(variables, trace) for check in checks)


_GROUPS: dict[str, Callable[[Runtime, dict[str, Any], Any, str], Check]] = {
    "and": _and,
    "or": _or,
    "not": _not,
}
