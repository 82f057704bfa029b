"""Selects: one option out of a fixed list (an operating mode, a tariff plan, a fan preset)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from core.audit import audited_write
from core.entity import Entity, StateType
from core.entity_platform import entities_for_call, for_each_entity
from core.errors import ServiceValidationError
from core.service_description import entity_target

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.services import ServiceCall

DOMAIN: Final = "select"

SERVICE_SELECT_OPTION: Final = "select_option"
SERVICE_SELECT_NEXT: Final = "select_next"
SERVICE_SELECT_PREVIOUS: Final = "select_previous"
SERVICE_SELECT_FIRST: Final = "select_first"
SERVICE_SELECT_LAST: Final = "select_last"

ATTR_OPTION: Final = "option"
ATTR_OPTIONS: Final = "options"
ATTR_CYCLE: Final = "cycle"

SELECT_OPTION_SCHEMA: Final = vol.Schema({vol.Required(ATTR_OPTION): str})
SELECT_CYCLE_SCHEMA: Final = vol.Schema({vol.Optional(ATTR_CYCLE, default=True): bool})


class SelectEntity(Entity):
    """A select: ``current_option``, one of ``options``."""

    domain = DOMAIN

    _attr_options: Sequence[str] = ()
    _attr_current_option: str | None = None

    @property
    def options(self) -> Sequence[str]:
        """The options, in the order ``select_next`` walks them."""
        return self._attr_options

    @property
    def current_option(self) -> str | None:
        """The selected option; None when unknown."""
        return self._attr_current_option

    @property
    def state(self) -> StateType:
        """The selected option, or None (unknown) when it is not one of ``options``."""
        option = self.current_option
        return option if option is not None and option in self.options else None

    @property
    def state_attributes(self) -> dict[str, Any] | None:
        """``options``."""
        return {ATTR_OPTIONS: list(self.options)}

    async def async_select_option(self, option: str) -> None:
        """Write ``option`` (one of ``options``) to the device."""
        raise NotImplementedError


def _option_after(entity: SelectEntity, service: str, cycle: bool) -> str:
    """The option ``service`` moves ``entity`` to from its current one."""
    options = list(entity.options)
    if service == SERVICE_SELECT_FIRST:
        return options[0]
    if service == SERVICE_SELECT_LAST:
        return options[-1]
    current = entity.current_option
    if current not in options:
        # From an unknown option, "next" starts at the beginning and "previous" at the end.
        return options[0] if service == SERVICE_SELECT_NEXT else options[-1]
    position = options.index(current) + (1 if service == SERVICE_SELECT_NEXT else -1)
    if cycle:
        return options[position % len(options)]
    return options[min(max(position, 0), len(options) - 1)]


def register_services(runtime: Runtime) -> None:
    """Register ``select.select_option`` and the next/previous/first/last services."""

    async def write(call: ServiceCall, entity: SelectEntity, option: str) -> None:
        await audited_write(
            runtime,
            entity,
            f"{DOMAIN}.{call.service}",
            {ATTR_OPTION: option},
            call.context,
            lambda: entity.async_select_option(option),
        )

    async def select_option(call: ServiceCall) -> None:
        option: str = call.data[ATTR_OPTION]
        entities = entities_for_call(runtime, call, SelectEntity)
        for entity in entities:
            if option not in entity.options:
                raise ServiceValidationError(
                    f"{DOMAIN}.{call.service}: {option!r} is not an option of "
                    f"{entity.entity_id}: {', '.join(entity.options)}",
                    domain=call.domain,
                    service=call.service,
                    key=ATTR_OPTION,
                )
        await for_each_entity(entities, lambda entity: write(call, entity, option))

    async def select_relative(call: ServiceCall) -> None:
        cycle: bool = call.data.get(ATTR_CYCLE, True)
        entities = [e for e in entities_for_call(runtime, call, SelectEntity) if e.options]
        await for_each_entity(
            entities,
            lambda entity: write(call, entity, _option_after(entity, call.service, cycle)),
        )

    runtime.services.register(
        DOMAIN,
        SERVICE_SELECT_OPTION,
        select_option,
        SELECT_OPTION_SCHEMA,
        target=entity_target(DOMAIN),
    )
    for service in (SERVICE_SELECT_NEXT, SERVICE_SELECT_PREVIOUS):
        runtime.services.register(
            DOMAIN, service, select_relative, SELECT_CYCLE_SCHEMA, target=entity_target(DOMAIN)
        )
    for service in (SERVICE_SELECT_FIRST, SERVICE_SELECT_LAST):
        runtime.services.register(
            DOMAIN, service, select_relative, vol.Schema({}), target=entity_target(DOMAIN)
        )
