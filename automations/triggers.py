"""The built-in trigger platforms and the code that attaches a list of triggers.

State and numeric_state triggers subscribe through ``runtime.states.track``, which is indexed by
entity id: a state change reaches only the triggers that watch that entity. Time-based triggers
use the runtime's scheduler, so they follow the site's time zone and DST rules and run on a
``FakeClock`` in tests. Durations (``for``) are scheduler jobs cancelled when the state leaves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.bus import Event, callback
from core.const import EVENT_EDGEWISE_STOP
from core.context import Context
from core.limits import loads_json
from core.runtime import RuntimeKey
from core.state import State
from core.template import track_template
from core.timers import SunEvent
from core.trigger import TriggerFire, TriggerPlatform
from core.webhook import register_webhook

from .conditions import in_range, numeric_value, template_truthy
from .const import CONF_ENABLED
from .templating import TemplateError, Value, compile_template, compile_value, render_duration

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

Variables = Mapping[str, Any]
Detach = Callable[[], None]
#: The engine's own fire: like ``TriggerFire``, but may hand back the run it started.
Fire = Callable[[dict[str, Any], Context | None], "asyncio.Task[Any] | None"]
Attach = Callable[["Runtime", dict[str, Any], Fire, Variables], Detach]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: True while automations load as the runtime starts, so ``event: start`` triggers fire.
STARTING: RuntimeKey[bool] = RuntimeKey("automations.starting")


def call_later(runtime: Runtime, delay: timedelta, action: Callable[[], None], name: str) -> Detach:
    """Run ``action`` on the loop after ``delay`` of the runtime's clock; returns cancel."""
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101 - triggers attach once the runtime started

    @callback
    def run(_when: datetime) -> None:
        action()

    return scheduler.at(runtime.clock.now() + delay, run, name=name)


def _nothing() -> None:
    return None


# --- state ---------------------------------------------------------------------------------------


class _Pending:
    """A ``for`` wait per entity: the scheduler job and what it waits to stay the same."""

    __slots__ = ("cancel", "value")

    def __init__(self, cancel: Detach, value: Any) -> None:
        self.cancel = cancel
        self.value = value


def _wanted(config: Mapping[str, Any], key: str) -> frozenset[str] | None:
    """The states of a from/to key, or None for "any"."""
    if key not in config:
        return None
    values = config[key]
    if None in values:
        return None
    return frozenset(values)


def _value_in(value: Any, wanted: frozenset[str]) -> bool:
    if isinstance(value, str):
        return value in wanted
    return value in wanted or str(value) in wanted


def _for_period(
    duration: Value,
    variables: Variables,
    platform: str,
    entity_id: str,
    *,
    old: State | None,
    new: State,
) -> timedelta | None:
    """Render the ``for`` of a state or numeric_state trigger for the change ``old`` → ``new``.

    The template sees ``trigger`` with the platform, entity and both states, as in Home
    Assistant.

    Returns:
        The period, or None when it did not render (the error is logged).
    """
    trigger_vars = {
        **variables,
        "trigger": {
            "platform": platform,
            "entity_id": entity_id,
            "from_state": old,
            "to_state": new,
        },
    }
    try:
        return render_duration(duration, trigger_vars, "for")
    except Exception as err:
        _LOGGER.error("Error rendering 'for' of the %s trigger on %s: %s", platform, entity_id, err)
        return None


def attach_state(
    runtime: Runtime, config: dict[str, Any], fire: Fire, variables: Variables
) -> Detach:
    """``trigger: state``: from/to/not_from/not_to, attribute, ``for``."""
    entity_ids: list[str] = config["entity_id"]
    attribute: str | None = config.get("attribute")
    match_all = not any(k in config for k in ("from", "to", "not_from", "not_to"))
    to_states = _wanted(config, "to")
    from_states = _wanted(config, "from")
    not_to = frozenset(v for v in config.get("not_to", ()) if v is not None)
    not_from = frozenset(v for v in config.get("not_from", ()) if v is not None)
    only_from = "from" in config and "to" not in config
    duration = compile_value(runtime, config["for"], "for") if "for" in config else None
    pending: dict[str, _Pending] = {}

    def fire_now(entity_id: str, old: State | None, new: State, period: timedelta | None) -> None:
        fire(
            {
                "entity_id": entity_id,
                "from_state": old,
                "to_state": new,
                "for": period,
                "attribute": attribute,
                "description": f"state of {entity_id}",
            },
            new.context,
        )

    @callback
    def changed(event: Event[Any]) -> None:
        data = event.data
        entity_id: str = data["entity_id"]
        old: State | None = data["old_state"]
        new: State | None = data["new_state"]
        waiting = pending.get(entity_id)
        if waiting is not None:
            # A change while waiting: does the entity still hold what the wait started on?
            current = (
                None
                if new is None
                else (new.state if attribute is None else new.attributes.get(attribute))
            )
            same = current != waiting.value if only_from else current == waiting.value
            if new is None or not same:
                waiting.cancel()
                del pending[entity_id]
            else:
                return
        if new is None:
            return
        if attribute is None:
            old_value: Any = None if old is None else old.state
            new_value: Any = new.state
            if not match_all and old is not None and old_value == new_value:
                return
        else:
            old_value = None if old is None else old.attributes.get(attribute)
            new_value = new.attributes.get(attribute)
            if old is not None and old_value == new_value:
                return
        if from_states is not None and (old_value is None or not _value_in(old_value, from_states)):
            return
        if to_states is not None and not _value_in(new_value, to_states):
            return
        if not_from and old_value is not None and _value_in(old_value, not_from):
            return
        if not_to and _value_in(new_value, not_to):
            return
        if duration is None:
            fire_now(entity_id, old, new, None)
            return
        period = _for_period(duration, variables, "state", entity_id, old=old, new=new)
        if period is None:
            return
        if period <= timedelta(0):
            fire_now(entity_id, old, new, period)
            return

        def elapsed() -> None:
            pending.pop(entity_id, None)
            current = runtime.states.get(entity_id)
            fire_now(entity_id, old, current if current is not None else new, period)

        wait_value = old_value if only_from else new_value
        pending[entity_id] = _Pending(
            call_later(runtime, period, elapsed, f"state_for[{entity_id}]"), wait_value
        )

    unsubscribe = runtime.states.track(entity_ids, changed)

    def detach() -> None:
        unsubscribe()
        for waiting in pending.values():
            waiting.cancel()
        pending.clear()

    return detach


# --- numeric_state -------------------------------------------------------------------------------


def attach_numeric_state(
    runtime: Runtime, config: dict[str, Any], fire: Fire, variables: Variables
) -> Detach:
    """``trigger: numeric_state``: fires when a value crosses into ``above``/``below``."""
    entity_ids: list[str] = config["entity_id"]
    attribute: str | None = config.get("attribute")
    above, below = config.get("above"), config.get("below")
    value_template: Value | None = None
    if "value_template" in config:
        tpl = compile_template(runtime, config["value_template"], "value_template")
        value_template = Value(render=tpl.render)
    duration = compile_value(runtime, config["for"], "for") if "for" in config else None
    pending: dict[str, Detach] = {}

    def matching(entity_id: str) -> bool:
        try:
            value = numeric_value(runtime, entity_id, attribute, value_template, variables)
        except TemplateError as err:
            _LOGGER.warning("Error in value_template of numeric_state on %s: %s", entity_id, err)
            return False
        return value is not None and in_range(runtime, value, above, below)

    # Entities already in range when attached fire only after they leave and come back.
    armed = {entity_id: not matching(entity_id) for entity_id in entity_ids}

    def fire_now(entity_id: str, old: State | None, new: State, period: timedelta | None) -> None:
        fire(
            {
                "entity_id": entity_id,
                "below": below,
                "above": above,
                "from_state": old,
                "to_state": new,
                "for": period,
                "description": f"numeric state of {entity_id}",
            },
            new.context,
        )

    @callback
    def changed(event: Event[Any]) -> None:
        entity_id: str = event.data["entity_id"]
        old: State | None = event.data["old_state"]
        new: State | None = event.data["new_state"]
        if new is None:
            return
        if not matching(entity_id):
            armed[entity_id] = True
            if (cancel := pending.pop(entity_id, None)) is not None:
                cancel()
            return
        if not armed.get(entity_id, True):
            return
        armed[entity_id] = False
        if duration is None:
            fire_now(entity_id, old, new, None)
            return
        period = _for_period(duration, variables, "numeric_state", entity_id, old=old, new=new)
        if period is None:
            return

        def elapsed() -> None:
            pending.pop(entity_id, None)
            current = runtime.states.get(entity_id)
            fire_now(entity_id, old, current if current is not None else new, period)

        pending[entity_id] = call_later(runtime, period, elapsed, f"numeric_for[{entity_id}]")

    unsubscribe = runtime.states.track(entity_ids, changed)

    def detach() -> None:
        unsubscribe()
        for cancel in pending.values():
            cancel()
        pending.clear()

    return detach


# --- event ---------------------------------------------------------------------------------------


def _subset(wanted: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    for key, value in wanted.items():
        if key not in data:
            return False
        actual = data[key]
        if isinstance(value, Mapping) and isinstance(actual, Mapping):
            if not _subset(value, actual):
                return False
        elif actual != value and str(actual) != str(value):
            return False
    return True


def attach_event(
    runtime: Runtime, config: dict[str, Any], fire: Fire, variables: Variables
) -> Detach:
    """``trigger: event``: event types, an ``event_data`` subset, context filters."""
    data_value = compile_value(runtime, config.get("event_data") or {}, "event_data")
    wanted_data: Mapping[str, Any] = data_value.render(variables)
    context_filter: Mapping[str, list[str]] = config.get("context") or {}
    user_ids = frozenset(context_filter.get("user_id", ()))
    parent_ids = frozenset(context_filter.get("parent_id", ()))

    @callback
    def received(event: Event[Any]) -> None:
        if wanted_data and not _subset(wanted_data, event.data):
            return
        if user_ids and event.context.user_id not in user_ids:
            return
        if parent_ids and event.context.parent_id not in parent_ids:
            return
        fire(
            {"event": event, "description": f"event '{event.event_type}'"},
            event.context,
        )

    removers = [runtime.bus.listen(t, received) for t in config["event_type"]]

    def detach() -> None:
        for remove in removers:
            remove()

    return detach


# --- time ----------------------------------------------------------------------------------------


def attach_time(
    runtime: Runtime, config: dict[str, Any], fire: Fire, variables: Variables
) -> Detach:
    """``trigger: time``: fixed times, ``input_datetime`` entities, timestamp sensors."""
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101 - triggers attach once the runtime started
    weekdays = config.get("weekday")
    cancels: list[Detach] = []

    def fire_at(entity_id: str | None) -> Callable[[datetime], None]:
        @callback
        def run(when: datetime) -> None:
            local = runtime.clock.now().astimezone(scheduler.tz)
            if weekdays is not None and _WEEKDAYS[local.weekday()] not in weekdays:
                return
            payload: dict[str, Any] = {
                "now": local,
                "description": "time" if entity_id is None else f"time set in {entity_id}",
                "entity_id": entity_id,
            }
            fire(payload, None)

        return run

    for item in config["at"]:
        at = item.get("at")
        if isinstance(at, dt_time):
            cancels.append(scheduler.daily(at, fire_at(None), name="time_trigger"))
            continue
        entity_id = at if at is not None else item["entity_id"]
        offset: timedelta = item.get("offset", timedelta(0))
        cancels.append(_track_entity_time(runtime, entity_id, offset, fire_at(entity_id)))

    def detach() -> None:
        for cancel in cancels:
            cancel()

    return detach


def _track_entity_time(
    runtime: Runtime, entity_id: str, offset: timedelta, action: Callable[[datetime], None]
) -> Detach:
    """Schedule ``action`` at the time an entity holds, rescheduled whenever the entity changes."""
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101
    job: list[Detach] = []

    def schedule(state: State | None) -> None:
        for cancel in job:
            cancel()
        job.clear()
        if state is None or not state.available:
            return
        attrs = state.attributes
        tz = scheduler.tz
        if entity_id.startswith("input_datetime."):
            has_date, has_time = bool(attrs.get("has_date")), bool(attrs.get("has_time"))
            if has_time and not has_date:
                at: dt_time | None
                try:
                    at = dt_time(int(attrs["hour"]), int(attrs["minute"]), int(attrs["second"]))
                except (KeyError, TypeError, ValueError):
                    at = _parse_time(state.state)
                if at is None:
                    return
                if offset:
                    # A daily time with an offset: shift the wall time.
                    shifted = datetime.combine(datetime(2000, 1, 2).date(), at) + offset
                    at = shifted.time()
                job.append(scheduler.daily(at, action, name=f"time_trigger[{entity_id}]"))
                return
            if has_date:
                when = _parse_datetime(state.state, tz)
                if when is None and "timestamp" in attrs:
                    when = datetime.fromtimestamp(float(attrs["timestamp"]), tz)
            else:
                return
        else:
            if attrs.get("device_class") != "timestamp":
                _LOGGER.warning("Time trigger on %s: not a timestamp sensor", entity_id)
                return
            when = _parse_datetime(state.state, tz)
        if when is None:
            return
        when = when + offset
        if when <= runtime.clock.now():
            return
        job.append(scheduler.at(when, action, name=f"time_trigger[{entity_id}]"))

    @callback
    def changed(event: Event[Any]) -> None:
        schedule(event.data["new_state"])

    schedule(runtime.states.get(entity_id))
    unsubscribe = runtime.states.track(entity_id, changed)

    def detach() -> None:
        unsubscribe()
        for cancel in job:
            cancel()
        job.clear()

    return detach


def _parse_time(text: str) -> dt_time | None:
    try:
        return dt_time.fromisoformat(text)
    except ValueError:
        return None


def _parse_datetime(text: str, tz: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC)


# --- time_pattern, sun, start/shutdown -----------------------------------------------------------


def attach_time_pattern(
    runtime: Runtime, config: dict[str, Any], fire: Fire, variables: Variables
) -> Detach:
    """``trigger: time_pattern``: hours/minutes/seconds, each exact, ``*`` or ``/n``."""
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101

    @callback
    def run(when: datetime) -> None:
        fire(
            {"now": runtime.clock.now().astimezone(scheduler.tz), "description": "time pattern"},
            None,
        )

    return scheduler.time_pattern(
        run,
        name="time_pattern_trigger",
        hours=config.get("hours"),
        minutes=config.get("minutes"),
        seconds=config.get("seconds"),
    )


def attach_sun(
    runtime: Runtime, config: dict[str, Any], fire: Fire, variables: Variables
) -> Detach:
    """``trigger: sun``: sunrise or sunset, with an offset."""
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101
    event: str = config["event"]
    offset: timedelta = config["offset"]

    @callback
    def run(when: datetime) -> None:
        fire({"event": event, "offset": offset, "description": f"{event} with offset"}, None)

    return scheduler.sun(SunEvent(event), run, name=f"sun_trigger[{event}]", offset=offset)


def attach_start(
    runtime: Runtime, config: dict[str, Any], fire: Fire, variables: Variables
) -> Detach:
    """``trigger: homeassistant`` (or ``edgewise``): ``event: start`` or ``shutdown``."""
    event: str = config["event"]
    payload = {"event": event, "description": f"Edgewise {event}ing"}
    if event == "start":
        if not runtime.data.get(STARTING):
            return _nothing  # attached by a reload or a turn_on: the start is long past
        # Automations load as the runtime starts: firing now is firing "on start".
        handle = runtime.loop.call_soon(lambda: fire(dict(payload), None))
        return handle.cancel

    async def stopping(_event: Event[Any]) -> None:
        # A coroutine listener: the shutdown waits for the bus, and so for this run.
        task = fire(dict(payload), None)
        if task is not None:
            await asyncio.shield(task)

    return runtime.bus.listen_once(EVENT_EDGEWISE_STOP, stopping)


# --- template ------------------------------------------------------------------------------------


def attach_template(
    runtime: Runtime, config: dict[str, Any], fire: Fire, variables: Variables
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


# --- webhook -------------------------------------------------------------------------------------


def attach_webhook(
    runtime: Runtime, config: dict[str, Any], fire: Fire, variables: Variables
) -> Detach:
    """``trigger: webhook``: a POST/PUT (by default) to ``/api/webhook/<webhook_id>``."""
    webhook_id: str = config["webhook_id"]

    async def handle(
        _runtime: Runtime, hook_id: str, request: web.Request
    ) -> web.StreamResponse | None:
        payload: dict[str, Any] = {
            "webhook_id": hook_id,
            "query": dict(request.query),
            "description": f"webhook {hook_id}",
        }
        body = await request.text()
        if request.content_type == "application/json" or body[:1] in ("{", "["):
            try:
                payload["json"] = loads_json(body, f"webhook {hook_id}") if body else {}
            except ValueError:
                payload["data"] = body
        elif body:
            payload["data"] = dict(await request.post()) if request.body_exists else body
            if not payload["data"]:
                payload["data"] = body
        fire(payload, None)
        return None

    return register_webhook(
        runtime,
        webhook_id,
        handle,
        local_only=config["local_only"],
        allowed_methods=config["allowed_methods"],
    )


BUILTIN_TRIGGERS: dict[str, Attach] = {
    "state": attach_state,
    "numeric_state": attach_numeric_state,
    "event": attach_event,
    "time": attach_time,
    "time_pattern": attach_time_pattern,
    "sun": attach_sun,
    "template": attach_template,
    "homeassistant": attach_start,
    "edgewise": attach_start,
    "webhook": attach_webhook,
}


# --- attaching a list ----------------------------------------------------------------------------


async def attach_triggers(
    runtime: Runtime,
    configs: list[dict[str, Any]],
    on_fire: Fire,
    variables: Variables,
    *,
    plugins: Mapping[str, TriggerPlatform],
    name: str,
) -> Detach:
    """Attach every enabled trigger of ``configs``; ``on_fire(trigger_data, context)`` on each.

    ``trigger_data`` is the platform's payload plus ``platform``, ``id``, ``idx``, ``alias`` and
    the trigger's own ``variables``, rendered. A trigger that fails to attach is logged with
    ``name`` and its index; the others still attach.
    """
    detachers: list[Detach] = []
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
            builtin = BUILTIN_TRIGGERS.get(platform_name)
            if builtin is not None:
                detachers.append(builtin(runtime, config, fire, variables))
            else:
                result: Awaitable[Detach] = plugins[platform_name].attach(
                    runtime, config, _plugin_fire(fire)
                )
                detachers.append(await result)
        except Exception:  # an isolation boundary: one trigger only
            _LOGGER.exception("%s: trigger %d (%s) failed to attach", name, idx, platform_name)

    def detach_all() -> None:
        while detachers:
            try:
                detachers.pop()()
            except Exception:
                _LOGGER.exception("%s: error detaching a trigger", name)

    return detach_all


def _plugin_fire(fire: Fire) -> TriggerFire:
    """The engine's fire as the plugin contract types it (no return value)."""

    def plugin_fire(payload: dict[str, Any], context: Context | None) -> None:
        fire(payload, context)

    return plugin_fire


def _trigger_fire(
    runtime: Runtime,
    config: dict[str, Any],
    *,
    idx: int,
    platform_name: str,
    on_fire: Fire,
    variables: Variables,
    name: str,
) -> Fire:
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
