"""The optimizer's services, each returning its result as response data.

``plan_deferrable_loads``, ``sequence_chillers`` and ``optimize_setpoints`` solve in the
runtime's executor (SciPy is imported there on the first solve), serve a result again from the
cache while the same input is asked within ``cache_validity``, and keep each new result with its
input in ``optimizer_results.db``. ``publish_plan`` publishes the latest deferrable plan as
EMHASS-named sensors; ``apply_plan`` sends the latest plan of a kind to equipment, slot by slot.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import voluptuous as vol

from core.errors import ServiceValidationError
from core.runtime import Runtime
from core.services import ServiceCall, ServiceResponse, SupportsResponse

from . import entry
from .apply import Applier, override_commands, setpoint_commands, switch_commands
from .const import (
    DOMAIN,
    SERVICE_APPLY_PLAN,
    SERVICE_OPTIMIZE_SETPOINTS,
    SERVICE_PLAN_DEFERRABLE_LOADS,
    SERVICE_PUBLISH_PLAN,
    SERVICE_SEQUENCE_CHILLERS,
)
from .publish import Publisher
from .schema import OptimizerConfig
from .store import ResultCache, ResultStore, input_hash
from .worker import SolverRunner

_LOGGER = logging.getLogger(__name__)

#: Keys of a plan call that steer the service, not the problem.
_CALL_KEYS = ("publish", "publish_prefix")

_ANY = vol.Schema({}, extra=vol.ALLOW_EXTRA)
PUBLISH_SCHEMA = vol.Schema({vol.Optional("prefix", default=""): vol.Match(r"^[a-z0-9_]*$")})
APPLY_SCHEMA = vol.Schema(
    {
        vol.Required("plan"): vol.In(("setpoints", "chillers", "deferrable")),
        vol.Optional("climate_entity_id"): str,
        vol.Optional("switches"): {str: str},
        vol.Optional("bacnet_overrides"): {str: str},
    }
)


@dataclass(slots=True)
class OptimizerState:
    """The latest result of each kind, the cache, the results table, the publisher."""

    config: OptimizerConfig
    cache: ResultCache
    store: ResultStore
    publisher: Publisher
    applier: Applier
    runner: SolverRunner
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)


_SOLVERS: dict[str, str] = {
    SERVICE_PLAN_DEFERRABLE_LOADS: entry.KIND_DEFERRABLE,
    SERVICE_SEQUENCE_CHILLERS: entry.KIND_CHILLERS,
    SERVICE_OPTIMIZE_SETPOINTS: entry.KIND_SETPOINTS,
}


def register_services(runtime: Runtime, state: OptimizerState) -> None:
    """Register the optimizer's services."""
    for service, kind in _SOLVERS.items():
        runtime.services.register(
            DOMAIN,
            service,
            _solve_handler(runtime, state, service, kind),
            _ANY,
            supports_response=SupportsResponse.OPTIONAL,
            description=f"Solve a {kind} problem; the result is the response (see the README).",
        )

    async def publish(call: ServiceCall) -> ServiceResponse:
        plan = state.latest.get("deferrable")
        if plan is None:
            raise ServiceValidationError(
                "no deferrable-load plan yet: call optimizer.plan_deferrable_loads first",
                domain=DOMAIN,
                service=SERVICE_PUBLISH_PLAN,
            )
        return {"entity_ids": state.publisher.publish(plan, call.data["prefix"])}

    async def apply(call: ServiceCall) -> ServiceResponse:
        kind = call.data["plan"]
        plan = state.latest.get(kind)
        if plan is None or not plan.get("slots", plan.get("hours")):
            raise ServiceValidationError(
                f"no {kind} plan to apply yet (or the latest has no plan: infeasible)",
                domain=DOMAIN,
                service=SERVICE_APPLY_PLAN,
                key="plan",
            )
        now = runtime.clock.now()
        overrides = call.data.get("bacnet_overrides")
        if overrides:
            names = {"setpoint"} if kind == "setpoints" else _plan_names(plan, kind)
            unknown = sorted(set(overrides) - names)
            if unknown:
                raise ServiceValidationError(
                    f"bacnet_overrides must map names of the plan ({', '.join(sorted(names))}) "
                    f"to BACnet point entities; unknown: {', '.join(unknown)}",
                    domain=DOMAIN,
                    service=SERVICE_APPLY_PLAN,
                    key="bacnet_overrides",
                )
            commands = override_commands(plan, overrides, now)
        elif kind == "setpoints":
            entity_id = call.data.get("climate_entity_id")
            if not entity_id:
                raise ServiceValidationError(
                    "a setpoint plan needs climate_entity_id",
                    domain=DOMAIN,
                    service=SERVICE_APPLY_PLAN,
                    key="climate_entity_id",
                )
            commands = setpoint_commands(plan, entity_id, now)
        else:
            switches = call.data.get("switches") or {}
            names = _plan_names(plan, kind)
            unknown = sorted(set(switches) - names)
            if not switches or unknown:
                raise ServiceValidationError(
                    f"switches must map names of the plan ({', '.join(sorted(names))}) to "
                    f"switch entities; unknown: {', '.join(unknown) or 'none given'}",
                    domain=DOMAIN,
                    service=SERVICE_APPLY_PLAN,
                    key="switches",
                )
            commands = switch_commands(plan, switches, now)
        state.applier.apply(kind, commands, call.context)
        return {
            "commands": len(commands),
            "first": commands[0].when.isoformat() if commands else None,
            "last": commands[-1].when.isoformat() if commands else None,
        }

    runtime.services.register(
        DOMAIN,
        SERVICE_PUBLISH_PLAN,
        publish,
        PUBLISH_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
        description="Publish the latest deferrable-load plan as EMHASS-named sensors.",
    )
    runtime.services.register(
        DOMAIN,
        SERVICE_APPLY_PLAN,
        apply,
        APPLY_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
        description="Send the latest plan's commands to equipment at each slot's start.",
    )


def _plan_names(plan: dict[str, Any], kind: str) -> set[str]:
    """The names of the chillers or loads of a plan."""
    if kind == "chillers":
        return {c["name"] for c in plan["chillers"]}
    return {load["name"] for load in plan["loads"]}


def _solve_handler(
    runtime: Runtime, state: OptimizerState, service: str, kind: str
) -> Callable[[ServiceCall], Any]:
    async def handle(call: ServiceCall) -> ServiceResponse:
        data = {k: v for k, v in call.data.items() if k not in _CALL_KEYS}
        key = input_hash(service, data)
        cached = state.cache.get(key)
        if cached is not None:
            result = {**cached, "cached": True}
        else:
            result = await state.runner.solve(
                kind, data, runtime.core.tzinfo, state.config.time_limit
            )
            error = result.get("error")
            if error is not None:
                raise ServiceValidationError(
                    f"{error['field']}: {error['message']}",
                    domain=DOMAIN,
                    service=service,
                    key=error["field"],
                )
            result["input_hash"] = key
            try:
                result["result_id"] = await runtime.run_in_executor(
                    state.store.add, service, key, data, result
                )
            except (OSError, sqlite3.Error) as err:  # the result is still returned
                _LOGGER.error("Could not keep the %s result: %s", kind, err)
            state.cache.put(key, result)
            result = {**result, "cached": False}
        state.latest[kind] = result
        if kind == entry.KIND_DEFERRABLE and call.data.get("publish"):
            state.publisher.publish(result, str(call.data.get("publish_prefix") or ""))
        return result

    return handle


def remove_services(runtime: Runtime) -> None:
    """Remove every service :func:`register_services` registered."""
    for service in (*_SOLVERS, SERVICE_PUBLISH_PLAN, SERVICE_APPLY_PLAN):
        if runtime.services.has(DOMAIN, service):
            runtime.services.remove(DOMAIN, service)
