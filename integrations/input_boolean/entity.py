"""The ``input_boolean`` item schema, entity and services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import voluptuous as vol

from core import Runtime, ServiceCall, State, validators
from core.collection import (
    BASE_ITEM_FIELDS,
    Item,
    RestoringCollectionEntity,
    register_entity_service,
)
from core.const import SERVICE_TOGGLE, SERVICE_TURN_OFF, SERVICE_TURN_ON, STATE_ON
from core.entity import StateType

DOMAIN: Final = "input_boolean"
CONF_INITIAL: Final = "initial"

ITEM_SCHEMA = vol.Schema({**BASE_ITEM_FIELDS, vol.Optional(CONF_INITIAL): validators.boolean})


class InputBoolean(RestoringCollectionEntity):
    """A boolean that only changes through its services; off until told otherwise."""

    domain = DOMAIN

    def __init__(self, item: Item) -> None:
        super().__init__(item)
        self._is_on = bool(self.config.get(CONF_INITIAL, False))

    @property
    def is_on(self) -> bool:
        """Whether it is on."""
        return self._is_on

    @property
    def state(self) -> StateType:
        """``on`` or ``off``."""
        return "on" if self._is_on else "off"

    def restore(self, state: State, extra_data: Mapping[str, Any] | None) -> None:
        """Take ``on``/``off`` from the last state."""
        self._is_on = state.state == STATE_ON

    def set_on(self, on: bool) -> None:
        """Turn it on or off and write the state."""
        self._is_on = on
        self.write_state()


def register_services(runtime: Runtime) -> None:
    """Register ``turn_on``, ``turn_off`` and ``toggle``."""

    def turn_on(entity: InputBoolean, call: ServiceCall) -> None:
        entity.set_on(True)

    def turn_off(entity: InputBoolean, call: ServiceCall) -> None:
        entity.set_on(False)

    def toggle(entity: InputBoolean, call: ServiceCall) -> None:
        entity.set_on(not entity.is_on)

    empty = vol.Schema({})
    register_entity_service(runtime, InputBoolean, SERVICE_TURN_ON, empty, turn_on)
    register_entity_service(runtime, InputBoolean, SERVICE_TURN_OFF, empty, turn_off)
    register_entity_service(runtime, InputBoolean, SERVICE_TOGGLE, empty, toggle)
