"""The ``input_select`` item schema, entity and services."""

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

DOMAIN: Final = "input_select"

CONF_OPTIONS: Final = "options"
CONF_INITIAL: Final = "initial"
ATTR_OPTION: Final = "option"
ATTR_OPTIONS: Final = "options"
ATTR_CYCLE: Final = "cycle"

SERVICE_SELECT_OPTION: Final = "select_option"
SERVICE_SELECT_FIRST: Final = "select_first"
SERVICE_SELECT_LAST: Final = "select_last"
SERVICE_SELECT_NEXT: Final = "select_next"
SERVICE_SELECT_PREVIOUS: Final = "select_previous"
SERVICE_SET_OPTIONS: Final = "set_options"


def _unique(options: list[str]) -> list[str]:
    """Refuse a list that names an option twice."""
    seen: set[str] = set()
    duplicates: set[str] = set()
    for option in options:
        (duplicates if option in seen else seen).add(option)
    if duplicates:
        raise vol.Invalid(f"duplicate options: {', '.join(sorted(duplicates))}")
    return options


OPTIONS = vol.All(
    validators.ensure_list,
    [validators.string],
    vol.Length(min=1, msg="at least one option is required"),
    _unique,
)


def _initial_in_options(config: dict[str, Any]) -> dict[str, Any]:
    initial = config.get(CONF_INITIAL)
    if initial is not None and initial not in config[CONF_OPTIONS]:
        raise vol.Invalid(
            f"initial {initial!r} is not one of the options: {', '.join(config[CONF_OPTIONS])}",
            [CONF_INITIAL],
        )
    return config


ITEM_SCHEMA = vol.All(
    vol.Schema(
        {
            **BASE_ITEM_FIELDS,
            vol.Required(CONF_OPTIONS): OPTIONS,
            vol.Optional(CONF_INITIAL): validators.string,
        }
    ),
    _initial_in_options,
)


class InputSelect(RestoringCollectionEntity):
    """One of ``options``; starts at ``initial``, the restored option or the first one."""

    domain = DOMAIN

    def __init__(self, item: Item) -> None:
        super().__init__(item)
        self._options: list[str] = list(self.config[CONF_OPTIONS])
        self._current: str = self.config.get(CONF_INITIAL) or self._options[0]

    @property
    def options(self) -> list[str]:
        """The options, in order."""
        return list(self._options)

    @property
    def current_option(self) -> str:
        """The selected option."""
        return self._current

    @property
    def state(self) -> StateType:
        """The selected option."""
        return self._current

    @property
    def helper_attributes(self) -> dict[str, Any]:
        """``options``."""
        return {ATTR_OPTIONS: list(self._options)}

    def restore(self, state: State, extra_data: Mapping[str, Any] | None) -> None:
        """Take the last option back when it is still an option."""
        if state.state in self._options:
            self._current = state.state

    def config_changed(self) -> None:
        """Take the new options; keep the selection when it is still one of them."""
        self._options = list(self.config[CONF_OPTIONS])
        if self._current not in self._options:
            self._current = self._options[0]

    def select(self, option: str, call: ServiceCall) -> None:
        """Select ``option`` and write the state.

        Raises:
            ServiceValidationError: ``option`` is not one of the options.
        """
        if option not in self._options:
            raise service_error(
                call,
                f"{option!r} is not an option of {self.entity_id}: {', '.join(self._options)}",
                key=ATTR_OPTION,
            )
        self._current = option
        self.write_state()

    def offset(self, steps: int, cycle: bool) -> None:
        """Move the selection by ``steps``, wrapping around or stopping at the ends."""
        index = self._options.index(self._current) + steps
        last = len(self._options) - 1
        index = index % len(self._options) if cycle else min(max(index, 0), last)
        self._current = self._options[index]
        self.write_state()

    def set_options(self, options: list[str]) -> None:
        """Replace the options (until the next restart or reload); keep the selection if it fits."""
        self._options = list(options)
        if self._current not in self._options:
            self._current = self._options[0]
        self.write_state()


def register_services(runtime: Runtime) -> None:
    """Register the selection services and ``set_options``."""

    def select_option(entity: InputSelect, call: ServiceCall) -> None:
        entity.select(call.data[ATTR_OPTION], call)

    def select_first(entity: InputSelect, call: ServiceCall) -> None:
        entity.select(entity.options[0], call)

    def select_last(entity: InputSelect, call: ServiceCall) -> None:
        entity.select(entity.options[-1], call)

    def select_next(entity: InputSelect, call: ServiceCall) -> None:
        entity.offset(1, call.data[ATTR_CYCLE])

    def select_previous(entity: InputSelect, call: ServiceCall) -> None:
        entity.offset(-1, call.data[ATTR_CYCLE])

    def set_options(entity: InputSelect, call: ServiceCall) -> None:
        entity.set_options(call.data[ATTR_OPTIONS])

    empty = vol.Schema({})
    cycle = vol.Schema({vol.Optional(ATTR_CYCLE, default=True): validators.boolean})
    register_entity_service(
        runtime,
        InputSelect,
        SERVICE_SELECT_OPTION,
        vol.Schema({vol.Required(ATTR_OPTION): validators.string}),
        select_option,
    )
    register_entity_service(runtime, InputSelect, SERVICE_SELECT_FIRST, empty, select_first)
    register_entity_service(runtime, InputSelect, SERVICE_SELECT_LAST, empty, select_last)
    register_entity_service(runtime, InputSelect, SERVICE_SELECT_NEXT, cycle, select_next)
    register_entity_service(runtime, InputSelect, SERVICE_SELECT_PREVIOUS, cycle, select_previous)
    register_entity_service(
        runtime,
        InputSelect,
        SERVICE_SET_OPTIONS,
        vol.Schema({vol.Required(ATTR_OPTIONS): OPTIONS}),
        set_options,
    )
