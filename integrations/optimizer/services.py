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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

import voluptuous as vol

from core.errors import ServiceValidationError
from core.runtime import Runtime
from core.services import ServiceCall, ServiceResponse, SupportsResponse

from .apply import Applier, setpoint_commands, switch_commands
from .const import (
    DOMAIN,
    SERVICE_APPLY_PLAN,
    SERVICE_OPTIMIZE_SETPOINTS,
    SERVICE_PLAN_DEFERRABLE_LOADS,
    SERVICE_PUBLISH_PLAN,
    SERVICE_SEQUENCE_CHILLERS,
)
from .errors import OptimizerInputError
from .publish import Publisher
from .schema import OptimizerConfig
from .store import ResultCache, ResultStore, input_hash

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
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)


def _solve_deferrable(data: Mapping[str, Any], tz: tzinfo, limit: float) -> dict[str, Any]:
    from .deferrable import solve  # noqa: PLC0415 - SciPy on the first solve only
    from .deferrable_input import parse_deferrable  # noqa: PLC0415 - with it
    from .emhass import from_emhass, is_emhass  # noqa: PLC0415 - with it

    ignored: list[str] = []
    if is_emhass(data):
        native, ignored = from_emhass(data)
    else:
        native = dict(data)
    request = parse_deferrable(native, tz)
    result = solve(request, request.time_limit or limit)
    result["input_format"] = "emhass" if ignored or is_emhass(data) else "native"
    if ignored:
        result["ignored_parameters"] = ignored
    return result


def _solve_chillers(data: Mapping[str, Any], tz: tzinfo, limit: float) -> dict[str, Any]:
    from .chillers import solve  # noqa: PLC0415 - SciPy on the first solve only
    from .chillers_input import parse_chillers  # noqa: PLC0415 - with it

    request = parse_chillers(data, tz)
    return solve(request, request.time_limit or limit)


def _solve_setpoints(data: Mapping[str, Any], tz: tzinfo, limit: float) -> dict[str, Any]:
    from .mpc import parse_setpoints, solve  # noqa: PLC0415 - SciPy on the first solve only

    request = parse_setpoints(data, tz)
    return solve(request, request.time_limit or limit)


Solver = Callable[[Mapping[str, Any], tzinfo, float], dict[str, Any]]
_SOLVERS: dict[str, tuple[str, Solver]] = {
    SERVICE_PLAN_DEFERRABLE_LOADS: ("deferrable", _solve_deferrable),
    SERVICE_SEQUENCE_CHILLERS: ("chillers", _solve_chillers),
    SERVICE_OPTIMIZE_SETPOINTS: ("setpoints", _solve_setpoints),
}


def register_services(runtime: Runtime, state: OptimizerState) -> None:
    """Register the optimizer's services."""
    for service, (kind, solver) in _SOLVERS.items():
        runtime.services.register(
            DOMAIN,
            service,
            _solve_handler(runtime, state, service, kind, solver),
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
        if kind == "setpoints":
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
            names = (
                {c["name"] for c in plan["chillers"]}
                if kind == "chillers"
                else {load["name"] for load in plan["loads"]}
            )
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


def _solve_handler(
    runtime: Runtime, state: OptimizerState, service: str, kind: str, solver: Solver
) -> Callable[[ServiceCall], Any]:
    async def handle(call: ServiceCall) -> ServiceResponse:
        data = {k: v for k, v in call.data.items() if k not in _CALL_KEYS}
        key = input_hash(service, data)
        cached = state.cache.get(key)
        if cached is not None:
            result = {**cached, "cached": True}
        else:
            tz = runtime.core.tzinfo
            try:
                result = await runtime.run_in_executor(solver, data, tz, state.config.time_limit)
            except OptimizerInputError as err:
                raise ServiceValidationError(
                    str(err), domain=DOMAIN, service=service, key=err.field
                ) from err
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
        if kind == "deferrable" and call.data.get("publish"):
            state.publisher.publish(result, str(call.data.get("publish_prefix") or ""))
        return result

    return handle


def remove_services(runtime: Runtime) -> None:
    """Remove every service :func:`register_services` registered."""
    for service in (*_SOLVERS, SERVICE_PUBLISH_PLAN, SERVICE_APPLY_PLAN):
        if runtime.services.has(DOMAIN, service):
            runtime.services.remove(DOMAIN, service)
