"""Sensors: read-only measurements (power, energy, temperature...) with units and state classes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from core.entity import Entity, StateType, format_state_value

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

DOMAIN: Final = "sensor"

ATTR_STATE_CLASS: Final = "state_class"
ATTR_LAST_RESET: Final = "last_reset"
ATTR_OPTIONS: Final = "options"


class SensorDeviceClass(StrEnum):
    """What a sensor measures; decides its unit and how the panel shows it."""

    APPARENT_POWER = "apparent_power"
    BATTERY = "battery"
    CO2 = "carbon_dioxide"
    CURRENT = "current"
    DURATION = "duration"
    ENERGY = "energy"
    ENUM = "enum"
    FREQUENCY = "frequency"
    GAS = "gas"
    HUMIDITY = "humidity"
    ILLUMINANCE = "illuminance"
    MONETARY = "monetary"
    POWER = "power"
    POWER_FACTOR = "power_factor"
    PRESSURE = "pressure"
    REACTIVE_POWER = "reactive_power"
    TEMPERATURE = "temperature"
    TIMESTAMP = "timestamp"
    VOLTAGE = "voltage"
    VOLUME = "volume"
    VOLUME_FLOW_RATE = "volume_flow_rate"
    WATER = "water"


class SensorStateClass(StrEnum):
    """How the recorder turns a sensor's history into long-term statistics."""

    #: A value at a moment (power, temperature): mean/min/max per hour.
    MEASUREMENT = "measurement"
    #: A total that may go up and down, reset by ``last_reset`` (net energy).
    TOTAL = "total"
    #: A meter that only goes up, a drop meaning a reset (energy imported).
    TOTAL_INCREASING = "total_increasing"


class SensorEntity(Entity):
    """A sensor: its state is ``native_value`` in ``native_unit_of_measurement``."""

    domain = DOMAIN

    _attr_native_value: StateType = None
    _attr_native_unit_of_measurement: str | None = None
    _attr_suggested_display_precision: int | None = None
    _attr_state_class: SensorStateClass | None = None
    _attr_last_reset: datetime | None = None
    _attr_options: Sequence[str] | None = None

    @property
    def native_value(self) -> StateType:
        """The measured value, in the native unit; None when unknown."""
        return self._attr_native_value

    @property
    def native_unit_of_measurement(self) -> str | None:
        """The unit the device reports in."""
        return self._attr_native_unit_of_measurement

    @property
    def suggested_display_precision(self) -> int | None:
        """How many decimals the state keeps; None keeps the value as it is."""
        return self._attr_suggested_display_precision

    @property
    def state_class(self) -> SensorStateClass | None:
        """How long-term statistics are computed."""
        return self._attr_state_class

    @property
    def last_reset(self) -> datetime | None:
        """When a ``total`` sensor last started again from zero."""
        return self._attr_last_reset

    @property
    def options(self) -> Sequence[str] | None:
        """The values an ``enum`` sensor may take."""
        return self._attr_options

    @property
    def unit_of_measurement(self) -> str | None:
        """The unit of the state: the native unit (no unit conversion in Edgewise yet)."""
        if self._attr_unit_of_measurement is not None:
            return self._attr_unit_of_measurement
        return self.native_unit_of_measurement

    @property
    def state(self) -> StateType:
        """The native value, rounded to the display precision when it is a number."""
        value = self.native_value
        precision = self.suggested_display_precision
        if value is None or isinstance(value, str | bool | date):
            return value
        if precision is not None and isinstance(value, int | float | Decimal):
            return format_state_value(value, precision)
        return value

    @property
    def state_attributes(self) -> dict[str, Any] | None:
        """``state_class``, ``last_reset`` for totals, ``options`` for enum sensors."""
        attrs: dict[str, Any] = {}
        if (state_class := self.state_class) is not None:
            attrs[ATTR_STATE_CLASS] = state_class.value
            if state_class is SensorStateClass.TOTAL and (reset := self.last_reset) is not None:
                attrs[ATTR_LAST_RESET] = reset.isoformat()
        if self.device_class == SensorDeviceClass.ENUM and (options := self.options) is not None:
            attrs[ATTR_OPTIONS] = list(options)
        return attrs or None


def register_services(runtime: Runtime) -> None:
    """Sensors are read-only: there is no sensor service."""
    _LOGGER.debug("No services for %s", DOMAIN)
