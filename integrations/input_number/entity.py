"""The ``input_number`` item schema, entity and services."""

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
    service_error,
)
from core.entity import StateType

DOMAIN: Final = "input_number"

CONF_MIN: Final = "min"
CONF_MAX: Final = "max"
CONF_STEP: Final = "step"
CONF_MODE: Final = "mode"
CONF_INITIAL: Final = "initial"
CONF_UNIT: Final = "unit_of_measurement"
ATTR_VALUE: Final = "value"

MODE_SLIDER: Final = "slider"
MODE_BOX: Final = "box"

SERVICE_SET_VALUE: Final = "set_value"
SERVICE_INCREMENT: Final = "increment"
SERVICE_DECREMENT: Final = "decrement"


def _bounds(config: dict[str, Any]) -> dict[str, Any]:
    """``min`` below ``max``, and ``initial`` between them."""
    minimum, maximum = config[CONF_MIN], config[CONF_MAX]
    if minimum >= maximum:
        raise vol.Invalid(f"max ({maximum:g}) must be greater than min ({minimum:g})", [CONF_MAX])
    initial = config.get(CONF_INITIAL)
    if initial is not None and not minimum <= initial <= maximum:
        raise vol.Invalid(
            f"initial value {initial:g} is outside the range {minimum:g} to {maximum:g}",
            [CONF_INITIAL],
        )
    return config


ITEM_SCHEMA = vol.All(
    vol.Schema(
        {
            **BASE_ITEM_FIELDS,
            vol.Required(CONF_MIN): vol.Coerce(float),
            vol.Required(CONF_MAX): vol.Coerce(float),
            vol.Optional(CONF_INITIAL): vol.Coerce(float),
            vol.Optional(CONF_STEP, default=1.0): vol.All(
                vol.Coerce(float), vol.Range(min=1e-9, msg="step must be greater than 0")
            ),
            vol.Optional(CONF_MODE, default=MODE_SLIDER): vol.In([MODE_SLIDER, MODE_BOX]),
            vol.Optional(CONF_UNIT): validators.string,
        }
    ),
    _bounds,
)


class InputNumber(RestoringCollectionEntity):
    """A number in ``min``..``max``; starts at ``initial``, the restored value or ``min``."""

    domain = DOMAIN

    def __init__(self, item: Item) -> None:
        super().__init__(item)
        initial = self.config.get(CONF_INITIAL)
        self._value: float = float(initial if initial is not None else self.minimum)

    @property
    def minimum(self) -> float:
        """The least value."""
        return float(self.config[CONF_MIN])

    @property
    def maximum(self) -> float:
        """The greatest value."""
        return float(self.config[CONF_MAX])

    @property
    def step(self) -> float:
        """What increment and decrement add or take away."""
        return float(self.config[CONF_STEP])

    @property
    def value(self) -> float:
        """The current value."""
        return self._value

    @property
    def state(self) -> StateType:
        """The value, as a float (``"21.5"``, ``"20.0"``), as Home Assistant shows it."""
        return self._value

    @property
    def unit_of_measurement(self) -> str | None:
        """The item's unit."""
        unit = self.config.get(CONF_UNIT)
        return str(unit) if unit is not None else None

    @property
    def helper_attributes(self) -> dict[str, Any]:
        """``initial``, ``min``, ``max``, ``step`` and ``mode``."""
        return {
            CONF_INITIAL: self.config.get(CONF_INITIAL),
            CONF_MIN: self.minimum,
            CONF_MAX: self.maximum,
            CONF_STEP: self.step,
            CONF_MODE: self.config[CONF_MODE],
        }

    def restore(self, state: State, extra_data: Mapping[str, Any] | None) -> None:
        """Take the last value back when it is still within the bounds."""
        value = float(state.state)
        if self.minimum <= value <= self.maximum:
            self._value = value

    def config_changed(self) -> None:
        """Keep the value, moved within the new bounds."""
        self._value = min(max(self._value, self.minimum), self.maximum)

    def set_value(self, value: float, call: ServiceCall) -> None:
        """Set ``value`` and write the state.

        Raises:
            ServiceValidationError: ``value`` is outside ``min``..``max``; names both.
        """
        if not self.minimum <= value <= self.maximum:
            raise service_error(
                call,
                f"value {value:g} for {self.entity_id} is outside its range "
                f"{self.minimum:g} to {self.maximum:g}",
                key=ATTR_VALUE,
            )
        self._value = value
        self.write_state()

    def add(self, delta: float) -> None:
        """Add ``delta``, stopping at the bounds, and write the state."""
        self._value = min(max(self._value + delta, self.minimum), self.maximum)
        self.write_state()


def register_services(runtime: Runtime) -> None:
    """Register ``set_value``, ``increment`` and ``decrement``."""

    def set_value(entity: InputNumber, call: ServiceCall) -> None:
        entity.set_value(call.data[ATTR_VALUE], call)

    def increment(entity: InputNumber, call: ServiceCall) -> None:
        entity.add(entity.step)

    def decrement(entity: InputNumber, call: ServiceCall) -> None:
        entity.add(-entity.step)

    register_entity_service(
        runtime,
        InputNumber,
        SERVICE_SET_VALUE,
        vol.Schema({vol.Required(ATTR_VALUE): vol.Coerce(float)}),
        set_value,
    )
    register_entity_service(runtime, InputNumber, SERVICE_INCREMENT, vol.Schema({}), increment)
    register_entity_service(runtime, InputNumber, SERVICE_DECREMENT, vol.Schema({}), decrement)
