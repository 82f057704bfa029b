"""What the HTTP/WebSocket API calls into: traces, running a sequence, triggers for
``subscribe_trigger``, config validation and automation CRUD. Every function runs on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import voluptuous as vol

from core.context import Context
from core.runtime import Runtime
from core.slug import slugify

from .blueprint import list_blueprints as _list_blueprints
from .config_store import AUTOMATIONS, SCRIPTS
from .const import DOMAIN_SCRIPT, RunMode
from .manager import AutomationManager, current_platforms, trace_holder
from .script import Script, compile_steps
from .script_integration import ScriptManager
from .trace import Trace
from .triggers import attach_triggers
from .validation import InvalidConfig, build_schemas

__all__ = [
    "InvalidConfig",
    "automation_entity_id",
    "automation_errors",
    "delete_automation_config",
    "delete_config",
    "delete_script_config",
    "execute_script",
    "get_automation_config",
    "get_config",
    "get_script_config",
    "get_trace",
    "list_automation_configs",
    "list_blueprints",
    "list_traces",
    "save_automation_config",
    "save_config",
    "save_script_config",
    "subscribe_trigger",
    "validate_config",
]


def list_traces(
    runtime: Runtime, domain: str | None = None, item_id: str | None = None
) -> list[dict[str, Any]]:
    """HA's ``trace/list``: short traces, of one automation/script or all, oldest first."""
    return trace_holder(runtime).store.list(domain, item_id)


def get_trace(runtime: Runtime, domain: str, item_id: str, run_id: str) -> dict[str, Any] | None:
    """HA's ``trace/get``: one trace in full (trigger, steps, config, context), or None."""
    return trace_holder(runtime).store.get(domain, item_id, run_id)


async def execute_script(
    runtime: Runtime,
    sequence: list[Any] | Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
    context: Context | None = None,
) -> dict[str, Any]:
    """HA's ``execute_script``: validate and run an action sequence; wait for it to finish.

    Returns:
        ``{"response": <stop response or None>, "execution": "finished"|"error"|...,
        "error": <message or None>, "run_id": <trace run id>}``; the run is traced under
        domain ``script``, item ``execute_script``.

    Raises:
        InvalidConfig: the sequence does not validate.
    """
    platforms = current_platforms(runtime)
    schemas = build_schemas(platforms)
    actions = sequence if isinstance(sequence, list) else [sequence]
    try:
        validated = [schemas.action(action) for action in actions]
        steps = compile_steps(runtime, validated, "sequence", platforms)
    except vol.Invalid as err:
        raise InvalidConfig(f"Invalid sequence: {err}") from None
    context = context if context is not None else Context()
    script = Script(runtime, steps, name="execute_script", mode=RunMode.PARALLEL)
    trace = Trace("script", "execute_script", {"sequence": actions}, context)
    trace_holder(runtime).store.add(trace, 5)
    task = script.start(dict(variables or {}), context, trace)
    assert task is not None  # noqa: S101 - a fresh parallel script always starts
    result = await task
    return {
        "response": result.response,
        "execution": result.execution,
        "error": result.error,
        "run_id": trace.run_id,
    }


async def subscribe_trigger(
    runtime: Runtime,
    trigger: list[Any] | Mapping[str, Any],
    on_trigger: Callable[[dict[str, Any], Context | None], None],
    variables: Mapping[str, Any] | None = None,
) -> Callable[[], None]:
    """HA's ``subscribe_trigger``: attach triggers; ``on_trigger({"trigger": data}, context)``.

    Returns:
        The unsubscribe function.

    Raises:
        InvalidConfig: a trigger does not validate.
    """
    platforms = current_platforms(runtime)
    schemas = build_schemas(platforms)
    configs = trigger if isinstance(trigger, list) else [trigger]
    try:
        validated = [schemas.trigger(config) for config in configs]
    except vol.Invalid as err:
        raise InvalidConfig(f"Invalid trigger: {err}") from None

    def fire(payload: dict[str, Any], context: Context | None) -> None:
        payload.pop("__variables", None)
        on_trigger({"trigger": payload}, context)

    return await attach_triggers(
        runtime,
        validated,
        fire,
        dict(variables or {}),
        plugins=platforms.triggers,
        name="subscribe_trigger",
    )


#: The default of ``validate_config``'s parts: not given (``None`` is a value to validate).
_NOT_GIVEN: Any = object()


def validate_config(
    runtime: Runtime,
    *,
    triggers: Any = _NOT_GIVEN,
    conditions: Any = _NOT_GIVEN,
    actions: Any = _NOT_GIVEN,
) -> dict[str, dict[str, Any]]:
    """HA's ``validate_config``: ``{"triggers"|"conditions"|"actions": {"valid", "error"}}``
    for each part given (``None`` included: it is invalid, not absent)."""
    schemas = build_schemas(current_platforms(runtime))
    result: dict[str, dict[str, Any]] = {}
    for key, value, validator in (
        ("triggers", triggers, schemas.trigger),
        ("conditions", conditions, schemas.condition),
        ("actions", actions, schemas.action),
    ):
        if value is _NOT_GIVEN:
            continue
        try:
            for item in value if isinstance(value, list) else [value]:
                validator(item)
        except vol.Invalid as err:
            result[key] = {"valid": False, "error": str(err)}
        except RecursionError:
            result[key] = {"valid": False, "error": "nested too deeply"}
        else:
            result[key] = {"valid": True, "error": None}
    return result


def automation_errors(runtime: Runtime) -> dict[str, str]:
    """Why each automation that failed to load was left out (empty when all loaded)."""
    manager = runtime.data.get(AutomationManager.KEY)
    return dict(manager.errors) if manager is not None else {}


def _lock(runtime: Runtime) -> asyncio.Lock:
    manager = runtime.data[AutomationManager.KEY]
    return manager.config_lock


async def list_automation_configs(runtime: Runtime) -> list[dict[str, Any]]:
    """Every entry of ``automations.yaml``."""
    return await runtime.run_in_executor(AUTOMATIONS.read_all, runtime.config_dir)


async def get_automation_config(runtime: Runtime, automation_id: str) -> dict[str, Any] | None:
    """HA's ``GET /api/config/automation/config/<id>``: the entry, or None."""
    return await runtime.run_in_executor(AUTOMATIONS.read_one, runtime.config_dir, automation_id)


async def save_automation_config(
    runtime: Runtime, automation_id: str, config: Mapping[str, Any]
) -> bool:
    """HA's ``POST /api/config/automation/config/<id>``: validate, write, reload.

    The other entries of ``automations.yaml`` keep their comments and layout.

    Returns:
        True when the automation is new.

    Raises:
        InvalidConfig: the configuration does not validate (nothing is written).
        KeyError: the automation integration is not set up.
    """
    manager = runtime.data[AutomationManager.KEY]
    candidate = {**config, "id": automation_id}
    await manager.check_item(candidate, automation_id)
    async with _lock(runtime):
        created = await runtime.run_in_executor(
            AUTOMATIONS.write_one, runtime.config_dir, automation_id, dict(config)
        )
    await manager.reload()
    return created


async def delete_automation_config(runtime: Runtime, automation_id: str) -> bool:
    """HA's ``DELETE /api/config/automation/config/<id>``: remove, reload; False if unknown."""
    manager = runtime.data[AutomationManager.KEY]
    async with _lock(runtime):
        deleted = await runtime.run_in_executor(
            AUTOMATIONS.delete_one, runtime.config_dir, automation_id
        )
    if deleted:
        await manager.reload()
    return deleted


def _scripts(runtime: Runtime) -> ScriptManager:
    return runtime.data[ScriptManager.KEY]


def _check_object_id(object_id: str) -> None:
    if not object_id or slugify(object_id) != object_id:
        raise InvalidConfig(
            f"script id '{object_id}' is not valid: use lower-case letters, digits and _"
        )


async def get_script_config(runtime: Runtime, object_id: str) -> dict[str, Any] | None:
    """HA's ``GET /api/config/script/config/<object_id>``: the entry of ``scripts.yaml``."""
    return await runtime.run_in_executor(SCRIPTS.read_one, runtime.config_dir, object_id)


async def save_script_config(runtime: Runtime, object_id: str, config: Mapping[str, Any]) -> bool:
    """HA's ``POST /api/config/script/config/<object_id>``: validate, write, reload the scripts.

    The other entries of ``scripts.yaml`` keep their comments and layout.

    Returns:
        True when the script is new.

    Raises:
        InvalidConfig: the configuration does not validate (nothing is written); the message
            names the script and the key.
        KeyError: the script integration is not set up.
    """
    manager = _scripts(runtime)
    _check_object_id(object_id)
    await manager.validate_item(object_id, config)
    async with manager.config_lock:
        created = await runtime.run_in_executor(
            SCRIPTS.write_one, runtime.config_dir, object_id, dict(config)
        )
    await manager.reload()
    return created


async def delete_script_config(runtime: Runtime, object_id: str) -> bool:
    """HA's ``DELETE /api/config/script/config/<object_id>``: remove, reload; False if unknown."""
    manager = _scripts(runtime)
    async with manager.config_lock:
        deleted = await runtime.run_in_executor(SCRIPTS.delete_one, runtime.config_dir, object_id)
    if deleted:
        await manager.reload()
    return deleted


async def get_config(runtime: Runtime, domain: str, item_id: str) -> dict[str, Any] | None:
    """The ``GET /api/config/<domain>/config/<id>`` of ``automation`` or ``script``."""
    if domain == DOMAIN_SCRIPT:
        return await get_script_config(runtime, item_id)
    return await get_automation_config(runtime, item_id)


async def save_config(
    runtime: Runtime, domain: str, item_id: str, config: Mapping[str, Any]
) -> bool:
    """The ``POST /api/config/<domain>/config/<id>`` of ``automation`` or ``script``."""
    if domain == DOMAIN_SCRIPT:
        return await save_script_config(runtime, item_id, config)
    return await save_automation_config(runtime, item_id, config)


async def delete_config(runtime: Runtime, domain: str, item_id: str) -> bool:
    """The ``DELETE /api/config/<domain>/config/<id>`` of ``automation`` or ``script``."""
    if domain == DOMAIN_SCRIPT:
        return await delete_script_config(runtime, item_id)
    return await delete_automation_config(runtime, item_id)


def automation_entity_id(runtime: Runtime, automation_id: str) -> str | None:
    """The entity id of a loaded automation."""
    manager = runtime.data.get(AutomationManager.KEY)
    if manager is None or automation_id not in manager.automations:
        return None
    return manager.automations[automation_id].entity_id


async def list_blueprints(runtime: Runtime, domain: str) -> dict[str, dict[str, Any]]:
    """HA's ``blueprint/list``: the site's and the bundled blueprints of ``domain``."""
    return await runtime.run_in_executor(_list_blueprints, runtime.config_dir, domain)
