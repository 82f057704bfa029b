"""Switches: something that can be turned on and off (a relay, a plug, a pump enable)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from core.audit import audited_write
from core.const import SERVICE_TOGGLE, SERVICE_TURN_OFF, SERVICE_TURN_ON
from core.entity import OnOffEntity
from core.entity_platform import entities_for_call, for_each_entity
from core.service_description import entity_target

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.services import ServiceCall

DOMAIN: Final = "switch"


class SwitchDeviceClass(StrEnum):
    """What a switch switches."""

    OUTLET = "outlet"
    SWITCH = "switch"


class SwitchEntity(OnOffEntity):
    """A switch: ``is_on`` gives its state, ``async_turn_on``/``async_turn_off`` change it.

    Subclasses write to their device in those methods and call ``write_state()`` once the
    device has taken the change (or let the next poll report it).
    """

    domain = DOMAIN

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Turn the device on."""
        raise NotImplementedError

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Turn the device off."""
        raise NotImplementedError

    async def async_toggle(self, **kwargs: Any) -> None:
        """Turn the device off when it is on, else on."""
        if self.is_on:
            await self.async_turn_off(**kwargs)
        else:
            await self.async_turn_on(**kwargs)


def register_services(runtime: Runtime) -> None:
    """Register ``switch.turn_on``, ``switch.turn_off`` and ``switch.toggle``."""

    async def handle(call: ServiceCall) -> None:
        action = f"{DOMAIN}.{call.service}"

        async def run(entity: SwitchEntity) -> None:
            if call.service == SERVICE_TURN_ON:
                write = entity.async_turn_on
            elif call.service == SERVICE_TURN_OFF:
                write = entity.async_turn_off
            else:
                write = entity.async_toggle
            await audited_write(runtime, entity, action, {}, call.context, write)

        await for_each_entity(entities_for_call(runtime, call, SwitchEntity), run)

    for service in (SERVICE_TURN_ON, SERVICE_TURN_OFF, SERVICE_TOGGLE):
        runtime.services.register(
            DOMAIN, service, handle, vol.Schema({}), target=entity_target(DOMAIN)
        )
