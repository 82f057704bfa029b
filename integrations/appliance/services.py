"""The appliance services: turn_on, turn_off, toggle, run_for, set_eco_mode, cancel_schedule.

Each call records one control-log entry per appliance (``ApplianceEntity.act``). An action on
an appliance whose ``run_for`` is scheduled cancels that schedule first (the entry says so with
``cancelled_schedule: true``); ``run_for`` replaces it. A ``run_for`` with a ``start`` in the
future makes the appliance ``scheduled`` until then.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from core import ServiceCall, validators
from core.entity_platform import entities_for_call, for_each_entity
from core.errors import ServiceValidationError
from core.service_description import entity_target

from .const import (
    ATTR_DURATION,
    ATTR_ECO_MODE,
    ATTR_START,
    DOMAIN,
    SERVICE_CANCEL_SCHEDULE,
    SERVICE_RUN_FOR,
    SERVICE_SET_ECO_MODE,
    SERVICE_TOGGLE,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
)
from .entity import ApplianceEntity

if TYPE_CHECKING:
    from core import Runtime

#: Longest run_for, and how far ahead its start may be.
MAX_RUN = timedelta(days=2)


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError as err:
            raise vol.Invalid(f"expected an ISO 8601 date and time, got {value!r}") from err
    else:
        raise vol.Invalid(f"expected an ISO 8601 date and time, got {value!r}")
    if when.tzinfo is None:
        raise vol.Invalid("the start needs a time zone (for example 2026-01-15T22:00:00+01:00)")
    return when


RUN_FOR_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DURATION): vol.All(
            validators.time_period,
            vol.Range(min=timedelta(seconds=1), max=MAX_RUN),
        ),
        vol.Optional(ATTR_START): _aware,
    }
)
ECO_SCHEMA = vol.Schema({vol.Required(ATTR_ECO_MODE): validators.boolean})


def register_services(runtime: Runtime) -> list[str]:
    """Register the services; returns their names, for removal."""

    async def simple(call: ServiceCall) -> None:
        async def run(appliance: ApplianceEntity) -> None:
            params: dict[str, Any] = {}

            async def perform() -> None:
                if appliance.clear_schedule():
                    params["cancelled_schedule"] = True
                if call.service == SERVICE_TOGGLE:
                    on = not appliance.is_on
                else:
                    on = call.service == SERVICE_TURN_ON
                await appliance.switch_to(on, call.context)

            await appliance.act(call.service, call.context, params, perform)

        await for_each_entity(entities_for_call(runtime, call, ApplianceEntity), run)

    async def run_for(call: ServiceCall) -> None:
        duration: timedelta = call.data[ATTR_DURATION]
        start: datetime | None = call.data.get(ATTR_START)
        now = runtime.clock.now()
        if start is not None and start - now > MAX_RUN:
            raise ServiceValidationError(
                f"{DOMAIN}.{SERVICE_RUN_FOR}: start is more than {MAX_RUN} ahead",
                domain=DOMAIN,
                service=SERVICE_RUN_FOR,
                key=ATTR_START,
            )

        async def run(appliance: ApplianceEntity) -> None:
            params: dict[str, Any] = {"duration_s": duration.total_seconds()}
            if start is not None:
                params["start"] = start.isoformat()

            async def perform() -> None:
                if appliance.clear_schedule():
                    params["cancelled_schedule"] = True
                if start is not None and start > now:
                    appliance.schedule(start, start + duration)
                    return
                await appliance.switch_to(True, call.context)
                appliance.schedule(None, now + duration)

            await appliance.act(SERVICE_RUN_FOR, call.context, params, perform)

        await for_each_entity(entities_for_call(runtime, call, ApplianceEntity), run)

    async def set_eco_mode(call: ServiceCall) -> None:
        eco = bool(call.data[ATTR_ECO_MODE])

        async def run(appliance: ApplianceEntity) -> None:
            async def perform() -> None:
                appliance.eco_mode = eco
                appliance.changed()

            await appliance.act(SERVICE_SET_ECO_MODE, call.context, {"eco_mode": eco}, perform)

        await for_each_entity(entities_for_call(runtime, call, ApplianceEntity), run)

    async def cancel_schedule(call: ServiceCall) -> None:
        async def run(appliance: ApplianceEntity) -> None:
            params: dict[str, Any] = {}

            async def perform() -> None:
                params["cancelled_schedule"] = appliance.clear_schedule()

            await appliance.act(SERVICE_CANCEL_SCHEDULE, call.context, params, perform)

        await for_each_entity(entities_for_call(runtime, call, ApplianceEntity), run)

    registered = {
        SERVICE_TURN_ON: (simple, vol.Schema({})),
        SERVICE_TURN_OFF: (simple, vol.Schema({})),
        SERVICE_TOGGLE: (simple, vol.Schema({})),
        SERVICE_RUN_FOR: (run_for, RUN_FOR_SCHEMA),
        SERVICE_SET_ECO_MODE: (set_eco_mode, ECO_SCHEMA),
        SERVICE_CANCEL_SCHEDULE: (cancel_schedule, vol.Schema({})),
    }
    for service, (handler, schema) in registered.items():
        runtime.services.register(DOMAIN, service, handler, schema, target=entity_target(DOMAIN))
    return list(registered)
