"""The ``input_text`` item schema, entity and services."""

from __future__ import annotations

import re
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
from core.const import MAX_STATE_LENGTH
from core.entity import StateType

DOMAIN: Final = "input_text"

CONF_MIN: Final = "min"
CONF_MAX: Final = "max"
CONF_INITIAL: Final = "initial"
CONF_PATTERN: Final = "pattern"
CONF_MODE: Final = "mode"
ATTR_VALUE: Final = "value"

MODE_TEXT: Final = "text"
MODE_PASSWORD: Final = "password"  # noqa: S105 - a display mode, not a secret

SERVICE_SET_VALUE: Final = "set_value"


def _pattern(value: object) -> str:
    """A valid regular expression."""
    text = validators.string(value)
    try:
        re.compile(text)
    except re.error as err:
        raise vol.Invalid(f"invalid regular expression {text!r}: {err}") from None
    return text


def _lengths(config: dict[str, Any]) -> dict[str, Any]:
    """``min`` not above ``max``, and ``initial`` fitting both and the pattern."""
    minimum, maximum = config[CONF_MIN], config[CONF_MAX]
    if minimum > maximum:
        raise vol.Invalid(f"max ({maximum}) must not be less than min ({minimum})", [CONF_MAX])
    initial = config.get(CONF_INITIAL)
    if initial is not None:
        if not minimum <= len(initial) <= maximum:
            raise vol.Invalid(
                f"initial value is {len(initial)} characters long, outside {minimum} to {maximum}",
                [CONF_INITIAL],
            )
        pattern = config.get(CONF_PATTERN)
        if pattern is not None and re.fullmatch(pattern, initial) is None:
            raise vol.Invalid(f"initial value does not match {pattern!r}", [CONF_INITIAL])
    return config


ITEM_SCHEMA = vol.All(
    vol.Schema(
        {
            **BASE_ITEM_FIELDS,
            vol.Optional(CONF_MIN, default=0): vol.All(
                vol.Coerce(int), vol.Range(0, MAX_STATE_LENGTH)
            ),
            vol.Optional(CONF_MAX, default=100): vol.All(
                vol.Coerce(int), vol.Range(1, MAX_STATE_LENGTH)
            ),
            vol.Optional(CONF_INITIAL): validators.string,
            vol.Optional(CONF_PATTERN): _pattern,
            vol.Optional(CONF_MODE, default=MODE_TEXT): vol.In([MODE_TEXT, MODE_PASSWORD]),
        }
    ),
    _lengths,
)


class InputText(RestoringCollectionEntity):
    """A text whose length and form are checked; unknown until set, restored or ``initial``."""

    domain = DOMAIN

    def __init__(self, item: Item) -> None:
        super().__init__(item)
        self._value: str | None = self.config.get(CONF_INITIAL)

    @property
    def value(self) -> str | None:
        """The text; None while unknown."""
        return self._value

    @property
    def state(self) -> StateType:
        """The text."""
        return self._value

    @property
    def helper_attributes(self) -> dict[str, Any]:
        """``min``, ``max``, ``pattern`` and ``mode``."""
        return {
            CONF_MIN: self.config[CONF_MIN],
            CONF_MAX: self.config[CONF_MAX],
            CONF_PATTERN: self.config.get(CONF_PATTERN),
            CONF_MODE: self.config[CONF_MODE],
        }

    def problem(self, value: str) -> str | None:
        """Why ``value`` does not fit the options, or None when it does."""
        minimum, maximum = self.config[CONF_MIN], self.config[CONF_MAX]
        if not minimum <= len(value) <= maximum:
            return f"is {len(value)} characters long, outside {minimum} to {maximum}"
        pattern = self.config.get(CONF_PATTERN)
        if pattern is not None and re.fullmatch(pattern, value) is None:
            return f"does not match the pattern {pattern!r}"
        return None

    def restore(self, state: State, extra_data: Mapping[str, Any] | None) -> None:
        """Take the last text back when it still fits."""
        if state.available and self.problem(state.state) is None:
            self._value = state.state

    def set_value(self, value: str, call: ServiceCall) -> None:
        """Set the text and write the state.

        Raises:
            ServiceValidationError: the text's length or form does not fit.
        """
        if (problem := self.problem(value)) is not None:
            raise service_error(call, f"value for {self.entity_id} {problem}", key=ATTR_VALUE)
        self._value = value
        self.write_state()


def register_services(runtime: Runtime) -> None:
    """Register ``set_value``."""

    def set_value(entity: InputText, call: ServiceCall) -> None:
        entity.set_value(call.data[ATTR_VALUE], call)

    register_entity_service(
        runtime,
        InputText,
        SERVICE_SET_VALUE,
        vol.Schema({vol.Required(ATTR_VALUE): validators.string}),
        set_value,
    )
