"""Climate: thermostats, zone controllers and heat pumps, with an HVAC mode and a setpoint."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from core.audit import audited_write
from core.const import SERVICE_TURN_OFF, SERVICE_TURN_ON
from core.entity import Entity, StateType
from core.entity_platform import entities_for_call, for_each_entity, require_in_range
from core.errors import ServiceValidationError
from core.service_description import entity_target

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.services import ServiceCall

DOMAIN: Final = "climate"

SERVICE_SET_TEMPERATURE: Final = "set_temperature"
SERVICE_SET_HVAC_MODE: Final = "set_hvac_mode"

ATTR_HVAC_MODE: Final = "hvac_mode"
ATTR_HVAC_MODES: Final = "hvac_modes"
ATTR_HVAC_ACTION: Final = "hvac_action"
ATTR_TEMPERATURE: Final = "temperature"
ATTR_CURRENT_TEMPERATURE: Final = "current_temperature"
ATTR_MIN_TEMP: Final = "min_temp"
ATTR_MAX_TEMP: Final = "max_temp"
ATTR_TARGET_TEMP_STEP: Final = "target_temp_step"

DEFAULT_MIN_TEMP: Final = 7.0
DEFAULT_MAX_TEMP: Final = 35.0
DEFAULT_TARGET_TEMP_STEP: Final = 0.5


class HVACMode(StrEnum):
    """What the climate device is set to do; the state of a climate entity."""

    OFF = "off"
    HEAT = "heat"
    COOL = "cool"
    HEAT_COOL = "heat_cool"
    AUTO = "auto"
    DRY = "dry"
    FAN_ONLY = "fan_only"


class HVACAction(StrEnum):
    """What the climate device is doing right now."""

    OFF = "off"
    HEATING = "heating"
    COOLING = "cooling"
    DRYING = "drying"
    FAN = "fan"
    IDLE = "idle"
    PREHEATING = "preheating"
    DEFROSTING = "defrosting"


SET_TEMPERATURE_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_TEMPERATURE): vol.Coerce(float),
        vol.Optional(ATTR_HVAC_MODE): vol.Coerce(HVACMode),
    }
)
SET_HVAC_MODE_SCHEMA: Final = vol.Schema({vol.Required(ATTR_HVAC_MODE): vol.Coerce(HVACMode)})


class ClimateEntity(Entity):
    """A climate device: its state is ``hvac_mode``; it has a target temperature in bounds."""

    domain = DOMAIN

    _attr_hvac_mode: HVACMode | None = None
    _attr_hvac_modes: Sequence[HVACMode] = ()
    _attr_hvac_action: HVACAction | None = None
    _attr_current_temperature: float | None = None
    _attr_target_temperature: float | None = None
    _attr_min_temp: float = DEFAULT_MIN_TEMP
    _attr_max_temp: float = DEFAULT_MAX_TEMP
    _attr_target_temp_step: float = DEFAULT_TARGET_TEMP_STEP
    _attr_temperature_unit: str = "°C"

    @property
    def hvac_mode(self) -> HVACMode | None:
        """The mode the device is set to; None when unknown."""
        return self._attr_hvac_mode

    @property
    def hvac_modes(self) -> Sequence[HVACMode]:
        """The modes the device supports."""
        return self._attr_hvac_modes

    @property
    def hvac_action(self) -> HVACAction | None:
        """What the device is doing now, if it reports it."""
        return self._attr_hvac_action

    @property
    def current_temperature(self) -> float | None:
        """The measured temperature."""
        return self._attr_current_temperature

    @property
    def target_temperature(self) -> float | None:
        """The setpoint."""
        return self._attr_target_temperature

    @property
    def min_temp(self) -> float:
        """The lowest setpoint accepted."""
        return self._attr_min_temp

    @property
    def max_temp(self) -> float:
        """The highest setpoint accepted."""
        return self._attr_max_temp

    @property
    def target_temp_step(self) -> float:
        """The resolution of the setpoint."""
        return self._attr_target_temp_step

    @property
    def temperature_unit(self) -> str:
        """The unit of the temperatures."""
        return self._attr_temperature_unit

    @property
    def state(self) -> StateType:
        """The HVAC mode."""
        mode = self.hvac_mode
        return None if mode is None else mode.value

    @property
    def state_attributes(self) -> dict[str, Any] | None:
        """Modes, bounds and step, temperatures, and the current action."""
        attrs: dict[str, Any] = {
            ATTR_HVAC_MODES: [mode.value for mode in self.hvac_modes],
            ATTR_MIN_TEMP: self.min_temp,
            ATTR_MAX_TEMP: self.max_temp,
            ATTR_TARGET_TEMP_STEP: self.target_temp_step,
            ATTR_CURRENT_TEMPERATURE: self.current_temperature,
            ATTR_TEMPERATURE: self.target_temperature,
        }
        if (action := self.hvac_action) is not None:
            attrs[ATTR_HVAC_ACTION] = action.value
        return attrs

    async def async_set_temperature(self, temperature: float) -> None:
        """Write the setpoint (already within bounds) to the device."""
        raise NotImplementedError

    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Write the mode (one of ``hvac_modes``) to the device."""
        raise NotImplementedError

    async def async_turn_on(self) -> None:
        """Turn on: by default, the first mode in ``hvac_modes`` that is not ``off``."""
        for mode in self.hvac_modes:
            if mode is not HVACMode.OFF:
                await self.async_set_hvac_mode(mode)
                return
        raise NotImplementedError(f"{self.entity_id} has no mode other than off")

    async def async_turn_off(self) -> None:
        """Turn off: by default, set the mode ``off``."""
        if HVACMode.OFF not in self.hvac_modes:
            raise NotImplementedError(f"{self.entity_id} has no off mode")
        await self.async_set_hvac_mode(HVACMode.OFF)


def _require_mode(call: ServiceCall, entity: ClimateEntity, mode: HVACMode) -> None:
    if mode not in entity.hvac_modes:
        raise ServiceValidationError(
            f"{DOMAIN}.{call.service}: {mode.value!r} is not a mode of {entity.entity_id}: "
            f"{', '.join(m.value for m in entity.hvac_modes)}",
            domain=call.domain,
            service=call.service,
            key=ATTR_HVAC_MODE,
        )


def register_services(runtime: Runtime) -> None:
    """Register ``climate.set_temperature``, ``set_hvac_mode``, ``turn_on`` and ``turn_off``."""

    async def set_temperature(call: ServiceCall) -> None:
        temperature: float = call.data[ATTR_TEMPERATURE]
        mode: HVACMode | None = call.data.get(ATTR_HVAC_MODE)
        entities = entities_for_call(runtime, call, ClimateEntity)
        # Every target is checked before any is written: a refused call writes nothing.
        for entity in entities:
            require_in_range(
                call,
                entity.entity_id,
                temperature,
                minimum=entity.min_temp,
                maximum=entity.max_temp,
                key=ATTR_TEMPERATURE,
            )
            if mode is not None:
                _require_mode(call, entity, mode)
        params: dict[str, Any] = {ATTR_TEMPERATURE: temperature}
        if mode is not None:
            params[ATTR_HVAC_MODE] = mode.value

        async def run(entity: ClimateEntity) -> None:
            async def write() -> None:
                if mode is not None:
                    await entity.async_set_hvac_mode(mode)
                await entity.async_set_temperature(temperature)

            await audited_write(
                runtime, entity, f"{DOMAIN}.{call.service}", params, call.context, write
            )

        await for_each_entity(entities, run)

    async def set_hvac_mode(call: ServiceCall) -> None:
        mode: HVACMode = call.data[ATTR_HVAC_MODE]
        entities = entities_for_call(runtime, call, ClimateEntity)
        for entity in entities:
            _require_mode(call, entity, mode)
        await for_each_entity(
            entities,
            lambda entity: audited_write(
                runtime,
                entity,
                f"{DOMAIN}.{call.service}",
                {ATTR_HVAC_MODE: mode.value},
                call.context,
                lambda: entity.async_set_hvac_mode(mode),
            ),
        )

    async def turn_on_off(call: ServiceCall) -> None:
        on = call.service == SERVICE_TURN_ON
        await for_each_entity(
            entities_for_call(runtime, call, ClimateEntity),
            lambda entity: audited_write(
                runtime,
                entity,
                f"{DOMAIN}.{call.service}",
                {},
                call.context,
                entity.async_turn_on if on else entity.async_turn_off,
            ),
        )

    runtime.services.register(
        DOMAIN,
        SERVICE_SET_TEMPERATURE,
        set_temperature,
        SET_TEMPERATURE_SCHEMA,
        target=entity_target(DOMAIN),
    )
    runtime.services.register(
        DOMAIN,
        SERVICE_SET_HVAC_MODE,
        set_hvac_mode,
        SET_HVAC_MODE_SCHEMA,
        target=entity_target(DOMAIN),
    )
    for service in (SERVICE_TURN_ON, SERVICE_TURN_OFF):
        runtime.services.register(
            DOMAIN, service, turn_on_off, vol.Schema({}), target=entity_target(DOMAIN)
        )
