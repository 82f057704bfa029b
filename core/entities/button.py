"""Buttons: an action without a state of its own (restart a controller, identify a device).

The state of a button is the time it was last pressed, so automations can trigger on a press.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import voluptuous as vol

from core.audit import audited_write
from core.entity import Entity, StateType
from core.entity_platform import entities_for_call, for_each_entity
from core.service_description import entity_target

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.services import ServiceCall

DOMAIN: Final = "button"

SERVICE_PRESS: Final = "press"


class ButtonDeviceClass(StrEnum):
    """What pressing the button does."""

    IDENTIFY = "identify"
    RESTART = "restart"
    UPDATE = "update"


class ButtonEntity(Entity):
    """A button: ``async_press`` does its action; its state is the last press, ISO 8601."""

    domain = DOMAIN

    def __init__(self) -> None:
        super().__init__()
        self._last_pressed: datetime | None = None

    @property
    def last_pressed(self) -> datetime | None:
        """When the button was last pressed successfully."""
        return self._last_pressed

    @property
    def state(self) -> StateType:
        """The time of the last successful press; None (unknown) before the first."""
        return self._last_pressed.isoformat() if self._last_pressed is not None else None

    async def async_press(self) -> None:
        """Do the button's action on the device."""
        raise NotImplementedError

    async def press(self) -> None:
        """Do the action, then record the press as the state (a failed press changes nothing)."""
        await self.async_press()
        self._last_pressed = self.runtime.clock.now()
        self.write_state()


def register_services(runtime: Runtime) -> None:
    """Register ``button.press``."""

    async def press(call: ServiceCall) -> None:
        await for_each_entity(
            entities_for_call(runtime, call, ButtonEntity),
            lambda entity: audited_write(
                runtime, entity, f"{DOMAIN}.{SERVICE_PRESS}", {}, call.context, entity.press
            ),
        )

    runtime.services.register(
        DOMAIN, SERVICE_PRESS, press, vol.Schema({}), target=entity_target(DOMAIN)
    )
