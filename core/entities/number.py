"""Numbers: a settable value with bounds (a setpoint, a power limit, a fan speed)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from core.audit import audited_write
from core.entity import Entity, StateType
from core.entity_platform import entities_for_call, for_each_entity, require_in_range
from core.service_description import entity_target

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.services import ServiceCall

DOMAIN: Final = "number"

SERVICE_SET_VALUE: Final = "set_value"

ATTR_VALUE: Final = "value"
ATTR_MIN: Final = "min"
ATTR_MAX: Final = "max"
ATTR_STEP: Final = "step"
ATTR_MODE: Final = "mode"

DEFAULT_MIN_VALUE: Final = 0.0
DEFAULT_MAX_VALUE: Final = 100.0
DEFAULT_STEP: Final = 1.0

SET_VALUE_SCHEMA: Final = vol.Schema({vol.Required(ATTR_VALUE): vol.Coerce(float)})


class NumberMode(StrEnum):
    """How the panel lets users enter the value."""

    AUTO = "auto"
    BOX = "box"
    SLIDER = "slider"


class NumberEntity(Entity):
    """A number: ``native_value`` within [``native_min_value``, ``native_max_value``]."""

    domain = DOMAIN

    _attr_native_value: float | None = None
    _attr_native_min_value: float = DEFAULT_MIN_VALUE
    _attr_native_max_value: float = DEFAULT_MAX_VALUE
    _attr_native_step: float = DEFAULT_STEP
    _attr_native_unit_of_measurement: str | None = None
    _attr_mode: NumberMode = NumberMode.AUTO

    @property
    def native_value(self) -> float | None:
        """The current value; None when unknown."""
        return self._attr_native_value

    @property
    def native_min_value(self) -> float:
        """The least value the device accepts."""
        return self._attr_native_min_value

    @property
    def native_max_value(self) -> float:
        """The greatest value the device accepts."""
        return self._attr_native_max_value

    @property
    def native_step(self) -> float:
        """The resolution of the value."""
        return self._attr_native_step

    @property
    def native_unit_of_measurement(self) -> str | None:
        """The unit of the value."""
        return self._attr_native_unit_of_measurement

    @property
    def mode(self) -> NumberMode:
        """How the panel lets users enter the value."""
        return self._attr_mode

    @property
    def unit_of_measurement(self) -> str | None:
        """The unit of the state: the native unit."""
        if self._attr_unit_of_measurement is not None:
            return self._attr_unit_of_measurement
        return self.native_unit_of_measurement

    @property
    def state(self) -> StateType:
        """The current value."""
        return self.native_value

    @property
    def state_attributes(self) -> dict[str, Any] | None:
        """``min``, ``max``, ``step`` and ``mode``."""
        return {
            ATTR_MIN: self.native_min_value,
            ATTR_MAX: self.native_max_value,
            ATTR_STEP: self.native_step,
            ATTR_MODE: self.mode.value,
        }

    async def async_set_native_value(self, value: float) -> None:
        """Write ``value`` (already within bounds) to the device."""
        raise NotImplementedError


def register_services(runtime: Runtime) -> None:
    """Register ``number.set_value``."""

    async def set_value(call: ServiceCall) -> None:
        value: float = call.data[ATTR_VALUE]
        entities = entities_for_call(runtime, call, NumberEntity)
        # Every target is checked before any is written: a refused call writes nothing.
        for entity in entities:
            require_in_range(
                call,
                entity.entity_id,
                value,
                minimum=entity.native_min_value,
                maximum=entity.native_max_value,
                key=ATTR_VALUE,
            )

        async def run(entity: NumberEntity) -> None:
            await audited_write(
                runtime,
                entity,
                f"{DOMAIN}.{SERVICE_SET_VALUE}",
                {ATTR_VALUE: value},
                call.context,
                lambda: entity.async_set_native_value(value),
            )

        await for_each_entity(entities, run)

    runtime.services.register(
        DOMAIN, SERVICE_SET_VALUE, set_value, SET_VALUE_SCHEMA, target=entity_target(DOMAIN)
    )
