"""The ``homeassistant.*`` services: generic entity actions and the runtime's own controls.

Home Assistant users write ``action: homeassistant.turn_on`` for any entity, and clients
(AppDaemon, hass-cli) call it for every ``turn_on``. The generic services (``turn_on``,
``turn_off``, ``toggle``) group the targeted entities by domain and call each domain's own
service with the same data and context; the caller's role is checked against each domain's
service, so nobody reaches through ``homeassistant`` what they could not call directly.
``update_entity`` refreshes entities now. The system services (``reload_core_config``,
``reload_all``, ``check_config``, ``stop``, ``restart``, ``set_location``,
``save_persistent_states``) need ``ADMIN``.

Registered by the kernel when the runtime starts (the ``homeassistant:`` key of
``configuration.yaml`` is the core section, not an integration).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

import voluptuous as vol

from .auth.models import Permission
from .config_check import check_site_config, load_core_config
from .const import (
    DOMAIN_HOMEASSISTANT,
    EVENT_CORE_CONFIG_UPDATE,
    RESTART_EXIT_CODE,
    SERVICE_RELOAD,
)
from .entity_platform import entity_index
from .errors import EdgewiseError, NotStartedError, ServiceValidationError, Unauthorized
from .restore_state import restore_state_store
from .service_description import Field, Selector
from .services import ServiceCall, ServiceTarget
from .target import resolve_target

if TYPE_CHECKING:
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)

SERVICE_TURN_ON = "turn_on"
SERVICE_TURN_OFF = "turn_off"
SERVICE_TOGGLE = "toggle"
SERVICE_UPDATE_ENTITY = "update_entity"
SERVICE_RELOAD_CORE_CONFIG = "reload_core_config"
SERVICE_RELOAD_ALL = "reload_all"
SERVICE_CHECK_CONFIG = "check_config"
SERVICE_STOP = "stop"
SERVICE_RESTART = "restart"
SERVICE_SET_LOCATION = "set_location"
SERVICE_SAVE_PERSISTENT_STATES = "save_persistent_states"

#: Every service of the domain, for check-config (they exist before any integration starts).
SERVICES = frozenset(
    {
        SERVICE_TURN_ON,
        SERVICE_TURN_OFF,
        SERVICE_TOGGLE,
        SERVICE_UPDATE_ENTITY,
        SERVICE_RELOAD_CORE_CONFIG,
        SERVICE_RELOAD_ALL,
        SERVICE_CHECK_CONFIG,
        SERVICE_STOP,
        SERVICE_RESTART,
        SERVICE_SET_LOCATION,
        SERVICE_SAVE_PERSISTENT_STATES,
    }
)

#: The notification check_config leaves when the configuration has errors.
CHECK_CONFIG_NOTIFICATION = "homeassistant.check_config"

SET_LOCATION_SCHEMA = vol.Schema(
    {
        vol.Required("latitude"): vol.All(vol.Coerce(float), vol.Range(min=-90, max=90)),
        vol.Required("longitude"): vol.All(vol.Coerce(float), vol.Range(min=-180, max=180)),
        vol.Optional("elevation"): vol.Coerce(int),
    }
)
EMPTY_SCHEMA = vol.Schema({})


def _caller(runtime: Runtime, call: ServiceCall) -> object | None:
    """The user behind the call, or None for the runtime's own calls (automations, schedules)."""
    user_id = call.context.user_id
    if user_id is None:
        return None
    try:
        return runtime.http.auth.get_user(user_id)
    except NotStartedError:
        return None


def _targeted(runtime: Runtime, call: ServiceCall) -> dict[str, list[str]]:
    """The call's entities grouped by domain (``homeassistant`` itself left out)."""
    if call.target.empty:
        raise ServiceValidationError(
            f"The service homeassistant.{call.service} cannot be called without a target",
            domain=call.domain,
            service=call.service,
        )
    by_domain: dict[str, list[str]] = defaultdict(list)
    for entity_id in sorted(resolve_target(runtime, call.target)):
        domain = entity_id.partition(".")[0]
        if domain != DOMAIN_HOMEASSISTANT:
            by_domain[domain].append(entity_id)
    return by_domain


async def _dispatch(runtime: Runtime, call: ServiceCall) -> None:
    """``turn_on`` / ``turn_off`` / ``toggle``: each domain's own service, concurrently.

    Raises:
        Unauthorized: the caller may not call one of the domains' services (nothing is called).
    """
    services = runtime.services
    by_domain = _targeted(runtime, call)
    unsupported = sorted(d for d in by_domain if not services.has(d, call.service))
    if unsupported:
        _LOGGER.warning(
            "The service homeassistant.%s does not support entities of %s",
            call.service,
            ", ".join(unsupported),
        )
    calls = {d: ids for d, ids in by_domain.items() if d not in unsupported}
    user = _caller(runtime, call)
    if user is not None:
        for domain in calls:
            needed = services.get(domain, call.service).permission
            if not user.can(needed):  # type: ignore[attr-defined]  # a core.auth User
                raise Unauthorized(
                    f"User may not call {domain}.{call.service}: it needs {needed.name.lower()}",
                    user_id=call.context.user_id,
                )
    await asyncio.gather(
        *(
            services.call(
                domain,
                call.service,
                dict(call.data),
                target=ServiceTarget(entity_ids=frozenset(ids)),
                context=call.context,
            )
            for domain, ids in calls.items()
        )
    )


async def _update_entity(runtime: Runtime, call: ServiceCall) -> None:
    """Ask each targeted entity to refresh its state now."""
    index = entity_index(runtime)
    entities = []
    for ids in _targeted(runtime, call).values():
        for entity_id in ids:
            entity = index.get(entity_id)
            if entity is None:
                _LOGGER.warning("update_entity: %s is not an entity that can update", entity_id)
            else:
                entities.append(entity)
    await asyncio.gather(*(entity.update_and_write() for entity in entities))


async def _check_or_raise(runtime: Runtime, service: str) -> None:
    """Check the configuration as ``edgewise check-config`` does; refuse when it is invalid."""
    problems = await check_site_config(runtime.config_dir, runtime.loader)
    if problems:
        runtime.notifications.create(
            "\n".join(problems), "Config validating", CHECK_CONFIG_NOTIFICATION
        )
        raise EdgewiseError(
            f"homeassistant.{service}: the configuration is not valid: " + "; ".join(problems)
        )
    runtime.notifications.dismiss(CHECK_CONFIG_NOTIFICATION)


def register_core_services(runtime: Runtime) -> None:
    """Register the ``homeassistant`` services on ``runtime`` (kernel start-up, on the loop)."""
    services = runtime.services

    async def dispatch(call: ServiceCall) -> None:
        await _dispatch(runtime, call)

    async def update_entity(call: ServiceCall) -> None:
        await _update_entity(runtime, call)

    async def check_config(call: ServiceCall) -> None:
        await _check_or_raise(runtime, call.service)

    async def reload_core_config(call: ServiceCall) -> None:
        core = await load_core_config(runtime.config_dir, runtime.loader)
        runtime.core = core
        runtime.bus.fire(EVENT_CORE_CONFIG_UPDATE, {}, call.context)

    async def reload_all(call: ServiceCall) -> None:
        await _check_or_raise(runtime, call.service)
        await reload_core_config(call)
        domains = sorted(
            d
            for d, named in services.services().items()
            if SERVICE_RELOAD in named and d != DOMAIN_HOMEASSISTANT
        )
        await asyncio.gather(
            *(services.call(d, SERVICE_RELOAD, context=call.context) for d in domains)
        )

    async def stop(call: ServiceCall) -> None:
        runtime.request_stop(0)

    async def restart(call: ServiceCall) -> None:
        await _check_or_raise(runtime, call.service)
        runtime.request_stop(RESTART_EXIT_CODE)

    def set_location(call: ServiceCall) -> None:
        runtime.core = dataclasses.replace(
            runtime.core,
            latitude=call.data["latitude"],
            longitude=call.data["longitude"],
            elevation=call.data.get("elevation", runtime.core.elevation),
        )
        runtime.bus.fire(EVENT_CORE_CONFIG_UPDATE, dict(call.data), call.context)

    async def save_persistent_states(call: ServiceCall) -> None:
        await (await restore_state_store(runtime)).dump()

    entity_fields: Selector = {"entity": [{}]}
    for name, description in (
        (SERVICE_TURN_ON, "Turn on the targeted entities, whatever their domain."),
        (SERVICE_TURN_OFF, "Turn off the targeted entities, whatever their domain."),
        (SERVICE_TOGGLE, "Toggle the targeted entities, whatever their domain."),
    ):
        # Their data goes on to each domain's service, which validates it.
        services.register(
            DOMAIN_HOMEASSISTANT,
            name,
            dispatch,
            None,
            description=description,
            target=entity_fields,
        )
    services.register(
        DOMAIN_HOMEASSISTANT,
        SERVICE_UPDATE_ENTITY,
        update_entity,
        EMPTY_SCHEMA,
        description="Refresh the targeted entities now.",
        target=entity_fields,
    )
    admin = Permission.ADMIN
    for name, handler, description in (
        (SERVICE_RELOAD_CORE_CONFIG, reload_core_config, "Read the core section again."),
        (SERVICE_RELOAD_ALL, reload_all, "Check the configuration, then reload every domain."),
        (SERVICE_CHECK_CONFIG, check_config, "Check the configuration as check-config does."),
        (SERVICE_STOP, stop, "Stop Edgewise."),
        (SERVICE_RESTART, restart, "Check the configuration, then restart Edgewise."),
        (
            SERVICE_SAVE_PERSISTENT_STATES,
            save_persistent_states,
            "Save the states restored at the next start now.",
        ),
    ):
        services.register(
            DOMAIN_HOMEASSISTANT,
            name,
            handler,
            EMPTY_SCHEMA,
            description=description,
            permission=admin,
        )
    services.register(
        DOMAIN_HOMEASSISTANT,
        SERVICE_SET_LOCATION,
        set_location,
        SET_LOCATION_SCHEMA,
        description="Move the site (until the next start: configuration.yaml is not changed).",
        permission=admin,
        fields={
            "latitude": Field(example=32.87336, name="Latitude"),
            "longitude": Field(example=117.22743, name="Longitude"),
            "elevation": Field(example=120, name="Elevation"),
        },
    )
