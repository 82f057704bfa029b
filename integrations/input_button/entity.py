"""The ``input_button`` item schema, entity and services."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import voluptuous as vol

from core import Runtime, ServiceCall, State
from core.collection import (
    BASE_ITEM_FIELDS,
    Item,
    RestoringCollectionEntity,
    register_entity_service,
)
from core.entity import StateType

DOMAIN: Final = "input_button"
SERVICE_PRESS: Final = "press"

ITEM_SCHEMA = vol.Schema(BASE_ITEM_FIELDS)


class InputButton(RestoringCollectionEntity):
    """A button whose state is the time it was last pressed (unknown before the first press)."""

    domain = DOMAIN

    def __init__(self, item: Item) -> None:
        super().__init__(item)
        self._last_pressed: datetime | None = None

    @property
    def restores(self) -> bool:
        """A button always takes its last press back."""
        return True

    @property
    def state(self) -> StateType:
        """When it was last pressed, ISO 8601 in UTC."""
        return self._last_pressed.isoformat() if self._last_pressed is not None else None

    def restore(self, state: State, extra_data: Mapping[str, Any] | None) -> None:
        """Take the time of the last press back."""
        if state.available:
            self._last_pressed = datetime.fromisoformat(state.state)

    def press(self) -> None:
        """Record a press now and write the state."""
        self._last_pressed = self.runtime.clock.now()
        self.write_state()


def register_services(runtime: Runtime) -> None:
    """Register ``press``."""

    def press(entity: InputButton, call: ServiceCall) -> None:
        entity.press()

    register_entity_service(runtime, InputButton, SERVICE_PRESS, vol.Schema({}), press)
