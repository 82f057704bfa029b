"""The ``counter`` item schema, entity and services."""

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

DOMAIN: Final = "counter"

CONF_INITIAL: Final = "initial"
CONF_STEP: Final = "step"
CONF_MINIMUM: Final = "minimum"
CONF_MAXIMUM: Final = "maximum"
CONF_RESTORE: Final = "restore"
ATTR_VALUE: Final = "value"

SERVICE_INCREMENT: Final = "increment"
SERVICE_DECREMENT: Final = "decrement"
SERVICE_RESET: Final = "reset"
SERVICE_SET_VALUE: Final = "set_value"


def _integer(value: object) -> int:
    """An integer (a whole float such as ``3.0`` too, never a bool or a fraction)."""
    if isinstance(value, bool):
        raise vol.Invalid(f"expected an integer, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise vol.Invalid(f"expected an integer, got {value!r}") from None
    if not number.is_integer():
        raise vol.Invalid(f"expected an integer, got {value!r}")
    return int(number)


def _bounds(config: dict[str, Any]) -> dict[str, Any]:
    """``minimum`` not above ``maximum``, and ``initial`` between them."""
    minimum, maximum = config.get(CONF_MINIMUM), config.get(CONF_MAXIMUM)
    if minimum is not None and maximum is not None and minimum > maximum:
        raise vol.Invalid(
            f"maximum ({maximum}) must not be less than minimum ({minimum})", [CONF_MAXIMUM]
        )
    initial = config[CONF_INITIAL]
    if (minimum is not None and initial < minimum) or (maximum is not None and initial > maximum):
        raise vol.Invalid(
            f"initial value {initial} is outside the range {minimum} to {maximum}", [CONF_INITIAL]
        )
    return config


ITEM_SCHEMA = vol.All(
    vol.Schema(
        {
            **BASE_ITEM_FIELDS,
            vol.Optional(CONF_INITIAL, default=0): _integer,
            vol.Optional(CONF_STEP, default=1): vol.All(
                _integer, vol.Range(min=1, msg="step must be at least 1")
            ),
            vol.Optional(CONF_MINIMUM): vol.Any(None, _integer),
            vol.Optional(CONF_MAXIMUM): vol.Any(None, _integer),
            vol.Optional(CONF_RESTORE, default=True): validators.boolean,
        }
    ),
    _bounds,
)


class Counter(RestoringCollectionEntity):
    """An integer that starts at ``initial`` (or its last value with ``restore``)."""

    domain = DOMAIN

    def __init__(self, item: Item) -> None:
        super().__init__(item)
        self._value: int = int(self.config[CONF_INITIAL])

    @property
    def value(self) -> int:
        """The count."""
        return self._value

    @property
    def minimum(self) -> int | None:
        """The least count, if bounded."""
        return self.config.get(CONF_MINIMUM)

    @property
    def maximum(self) -> int | None:
        """The greatest count, if bounded."""
        return self.config.get(CONF_MAXIMUM)

    @property
    def step(self) -> int:
        """What increment and decrement add or take away."""
        return int(self.config[CONF_STEP])

    @property
    def restores(self) -> bool:
        """The ``restore`` option."""
        return bool(self.config[CONF_RESTORE])

    @property
    def state(self) -> StateType:
        """The count."""
        return self._value

    @property
    def helper_attributes(self) -> dict[str, Any]:
        """``initial``, ``step``, and ``minimum``/``maximum`` when set."""
        attrs: dict[str, Any] = {CONF_INITIAL: self.config[CONF_INITIAL], CONF_STEP: self.step}
        if self.minimum is not None:
            attrs[CONF_MINIMUM] = self.minimum
        if self.maximum is not None:
            attrs[CONF_MAXIMUM] = self.maximum
        return attrs

    def _clamped(self, value: int) -> int:
        if self.minimum is not None:
            value = max(value, self.minimum)
        if self.maximum is not None:
            value = min(value, self.maximum)
        return value

    def restore(self, state: State, extra_data: Mapping[str, Any] | None) -> None:
        """Take the last count back, within the bounds."""
        self._value = self._clamped(int(state.state))

    def config_changed(self) -> None:
        """Keep the count, moved within the new bounds."""
        self._value = self._clamped(self._value)

    def add(self, delta: int) -> None:
        """Add ``delta``, stopping at the bounds, and write the state."""
        self._value = self._clamped(self._value + delta)
        self.write_state()

    def reset(self) -> None:
        """Go back to ``initial`` and write the state."""
        self._value = int(self.config[CONF_INITIAL])
        self.write_state()

    def set_value(self, value: int, call: ServiceCall) -> None:
        """Set the count and write the state.

        Raises:
            ServiceValidationError: ``value`` is outside ``minimum``..``maximum``; names both.
        """
        if self._clamped(value) != value:
            raise service_error(
                call,
                f"value {value} for {self.entity_id} is outside its range "
                f"{_bound(self.minimum, '-inf')} to {_bound(self.maximum, 'inf')}",
                key=ATTR_VALUE,
            )
        self._value = value
        self.write_state()


def _bound(value: int | None, unbounded: str) -> str:
    return unbounded if value is None else str(value)


def register_services(runtime: Runtime) -> None:
    """Register ``increment``, ``decrement``, ``reset`` and ``set_value``."""

    def increment(entity: Counter, call: ServiceCall) -> None:
        entity.add(entity.step)

    def decrement(entity: Counter, call: ServiceCall) -> None:
        entity.add(-entity.step)

    def reset(entity: Counter, call: ServiceCall) -> None:
        entity.reset()

    def set_value(entity: Counter, call: ServiceCall) -> None:
        entity.set_value(call.data[ATTR_VALUE], call)

    empty = vol.Schema({})
    register_entity_service(runtime, Counter, SERVICE_INCREMENT, empty, increment)
    register_entity_service(runtime, Counter, SERVICE_DECREMENT, empty, decrement)
    register_entity_service(runtime, Counter, SERVICE_RESET, empty, reset)
    register_entity_service(
        runtime,
        Counter,
        SERVICE_SET_VALUE,
        vol.Schema({vol.Required(ATTR_VALUE): _integer}),
        set_value,
    )
