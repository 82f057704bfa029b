"""Conditions compiled once into plain functions ``check(variables, trace) -> bool``.

Every built-in condition runs synchronously on the loop and reads the state machine directly; a
condition that cannot be evaluated (a template error, a non-numeric state) is false and logged
at debug level, with the reason kept for the trace.

Each condition is compiled with its trace path, in Home Assistant's form: ``condition/0``,
``condition/0/conditions/1`` inside and/or/not, ``action/2/choose/0/conditions/0``,
``action/1/if/condition/0``, ``action/3/repeat/while/0``. When a run is traced (``trace`` not
None), every condition, nested ones included, records its result (or its error) at its path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any

from core.condition import ConditionPlatform
from core.timers import SunEvent

from .const import CONF_ENABLED
from .templating import Value, compile_template, compile_value, render_duration

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .trace import Trace

_LOGGER = logging.getLogger(__name__)

Variables = Mapping[str, Any]
Check = Callable[[Variables, "Trace | None"], bool]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
    """All of ``configs`` (``and``), compiled; the i-th is traced at ``{path}/{i}``."""
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
        builder = _BUILDERS.get(kind)
        leaf: Leaf
        if builder is not None:
            leaf = builder(runtime, config, plugins, path)
        else:
            platform = plugins[kind]

            def leaf(variables: Variables) -> bool:
                return bool(platform.check(runtime, config, variables))

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


def _state(runtime: Runtime, config: dict[str, Any], plugins: Any, name: str) -> Leaf:
    entity_ids: list[str] = config["entity_id"]
    wanted = config["state"]
    attribute: str | None = config.get("attribute")
    match_any = config.get("match") == "any"
    duration = compile_value(runtime, config["for"], f"{name} for") if "for" in config else None
    states = runtime.states
    # A wanted value may be another entity's id (input_select.x): its state is compared.
    wanted_entities = [w for w in wanted if isinstance(w, str) and _looks_like_entity(w)]

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
                state.last_changed_timestamp if attribute is None else state.last_updated_timestamp,
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


def _looks_like_entity(value: str) -> bool:
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


def _numeric_state(runtime: Runtime, config: dict[str, Any], plugins: Any, name: str) -> Leaf:
    entity_ids: list[str] = config["entity_id"]
    attribute = config.get("attribute")
    above, below = config.get("above"), config.get("below")
    value_template = (
        Value(render=_template_renderer(runtime, config["value_template"], name))
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


def _template_renderer(runtime: Runtime, source: str, name: str) -> Callable[[Variables], Any]:
    return compile_template(runtime, source, name).render


def template_truthy(result: Any) -> bool:
    """Home Assistant's truth of a rendered template (``"on"``, ``"yes"``, non-zero numbers...)."""
    if isinstance(result, bool):
        return result
    if isinstance(result, int | float):
        return result != 0
    if isinstance(result, str):
        return result.strip().lower() in ("true", "on", "yes", "enable", "1", "open", "home")
    return bool(result)


def _template(runtime: Runtime, config: dict[str, Any], plugins: Any, name: str) -> Leaf:
    tpl = compile_template(runtime, config["value_template"], name)

    def check(variables: Variables) -> bool:
        return template_truthy(tpl.render(variables))

    return check


def time_of(runtime: Runtime, value: dt_time | str, today: datetime) -> datetime | None:
    """A time condition bound as an aware datetime today (local), or None when not available.

    ``value`` is a time of day, or an ``input_datetime`` (its time today, or its exact moment)
    or a ``sensor`` with a timestamp state.
    """
    tz = today.tzinfo
    if isinstance(value, dt_time):
        return datetime.combine(today.date(), value, tzinfo=tz)
    state = runtime.states.get(value)
    if state is None or not state.available:
        return None
    attrs = state.attributes
    if value.startswith("input_datetime."):
        if not attrs.get("has_time", True):
            return None
        if attrs.get("has_date") and "timestamp" in attrs:
            return datetime.fromtimestamp(float(attrs["timestamp"]), tz)
        try:
            at = dt_time(
                int(attrs.get("hour", 0)), int(attrs.get("minute", 0)), int(attrs.get("second", 0))
            )
        except (TypeError, ValueError):
            return None
        return datetime.combine(today.date(), at, tzinfo=tz)
    try:
        moment = datetime.fromisoformat(state.state)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(tz)


def _time(runtime: Runtime, config: dict[str, Any], plugins: Any, name: str) -> Leaf:
    after = config.get("after")
    before = config.get("before")
    weekdays = config.get("weekday")

    def check(variables: Variables) -> bool:
        scheduler = runtime.scheduler
        assert scheduler is not None  # noqa: S101 - conditions run once the runtime started
        now = runtime.clock.now().astimezone(scheduler.tz)
        if weekdays is not None and _WEEKDAYS[now.weekday()] not in weekdays:
            return False
        start = time_of(runtime, after, now) if after is not None else None
        end = time_of(runtime, before, now) if before is not None else None
        if (after is not None and start is None) or (before is not None and end is None):
            return False
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = start if start is not None else midnight
        end = end if end is not None else midnight + timedelta(days=1)
        if start <= end:
            return start <= now < end
        # A window over midnight (after 22:00, before 06:00).
        return now >= start or now < end

    return check


def _sun(runtime: Runtime, config: dict[str, Any], plugins: Any, name: str) -> Leaf:
    after, before = config.get("after"), config.get("before")
    after_offset: timedelta = config.get("after_offset", timedelta(0))
    before_offset: timedelta = config.get("before_offset", timedelta(0))

    def event_today(event: str, offset: timedelta, now: datetime) -> datetime | None:
        scheduler = runtime.scheduler
        assert scheduler is not None  # noqa: S101 - conditions run once the runtime started
        local = now.astimezone(scheduler.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        found = scheduler.next_sun_event(SunEvent(event), midnight, offset=offset)
        if found is None or found.astimezone(scheduler.tz).date() != local.date():
            return None
        return found

    def check(variables: Variables) -> bool:
        now = runtime.clock.now()
        if after is not None:
            start = event_today(after, after_offset, now)
            if start is None or now < start:
                return False
        if before is not None:
            end = event_today(before, before_offset, now)
            if end is None or now >= end:
                return False
        return True

    return check


def _trigger(runtime: Runtime, config: dict[str, Any], plugins: Any, name: str) -> Leaf:
    ids = frozenset(config["id"])

    def check(variables: Variables) -> bool:
        trigger = variables.get("trigger")
        return isinstance(trigger, Mapping) and str(trigger.get("id")) in ids

    return check


_GROUPS: dict[str, Callable[[Runtime, dict[str, Any], Any, str], Check]] = {
    "and": _and,
    "or": _or,
    "not": _not,
}

_BUILDERS: dict[str, Callable[[Runtime, dict[str, Any], Any, str], Leaf]] = {
    "state": _state,
    "numeric_state": _numeric_state,
    "template": _template,
    "time": _time,
    "sun": _sun,
    "trigger": _trigger,
}
