"""A Tuya device's entities: a switch per gang, and its power, current, voltage and energy.

``TuyaDevice`` joins a ``TuyaSession`` to its entities: every report the session hands on
updates the values at once and writes the states that changed; the entities are unavailable
while the session is disconnected. A data point outside the profile is ignored (logged once);
a value of the wrong type for its entity (a string where power is expected, or a number that is
not finite) is ignored with a warning once, and the rest of the report still applies.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from core import (
    DeviceConnectError,
    DeviceInfo,
    Entity,
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
    SwitchEntity,
)
from core.entities.switch import SwitchDeviceClass
from core.state import finite_number

from .const import DOMAIN
from .profile import DpProfile

if TYPE_CHECKING:
    from .schema import TuyaDeviceConfig
    from .session import TuyaSession

_LOGGER = logging.getLogger(__name__)

#: Unit, device class and state class of each measurement.
_MEASUREMENT_KINDS: Final = {
    "power": ("W", SensorDeviceClass.POWER, SensorStateClass.MEASUREMENT, "Power"),
    "current": ("A", SensorDeviceClass.CURRENT, SensorStateClass.MEASUREMENT, "Current"),
    "voltage": ("V", SensorDeviceClass.VOLTAGE, SensorStateClass.MEASUREMENT, "Voltage"),
    "energy": ("kWh", SensorDeviceClass.ENERGY, SensorStateClass.TOTAL_INCREASING, "Energy"),
}


class TuyaDevice:
    """One device: its session, its profile, its latest data points and its entities."""

    def __init__(self, config: TuyaDeviceConfig) -> None:
        self.config = config
        self.session: TuyaSession | None = None
        self.profile: DpProfile | None = None
        self.dps: dict[str, Any] = {}
        self.entities: list[TuyaEntity] = []
        #: Where the device was configured: ``yaml`` or ``api``.
        self.source = "yaml"
        self._ignored: set[str] = set()
        self._warned: set[str] = set()

    @property
    def device_info(self) -> DeviceInfo:
        """The device, for the device registry."""
        return DeviceInfo(
            identifiers=frozenset({(DOMAIN, self.config.device_id)}),
            name=self.config.title,
            manufacturer="Tuya",
            sw_version=None if self.session is None else str(self.session.version),
            suggested_area=self.config.area,
        )

    @property
    def available(self) -> bool:
        """Whether the device is connected."""
        return self.session is not None and self.session.available

    def build_entities(self, profile: DpProfile) -> list[TuyaEntity]:
        """Make the entities of ``profile`` (once)."""
        self.profile = profile
        gangs = len(profile.switches)
        entities: list[TuyaEntity] = [
            TuyaSwitch(self, dp, index + 1 if gangs > 1 else None)
            for index, dp in enumerate(profile.switches)
        ]
        for measure, dp in profile.measurements.items():
            if measure in _MEASUREMENT_KINDS:
                entities.append(TuyaMeasurement(self, measure, dp, profile.scales.get(measure, 1)))
        self.entities = entities
        return entities

    def update(self, dps: dict[str, Any]) -> None:
        """Take a report: keep the values and write the states of the entities it touches."""
        self.dps.update(dps)
        touched: set[int] = set()
        for key in dps:
            try:
                touched.add(int(key))
            except ValueError:
                continue
        for entity in self.entities:
            if entity.dp in touched and entity.added:
                entity.write_state()
        if self.profile is not None:
            known = {*self.profile.switches, *self.profile.measurements.values()}
            for dp in touched - known:
                if str(dp) not in self._ignored:
                    self._ignored.add(str(dp))
                    _LOGGER.debug("%s: data point %s is not in the profile", self.config.title, dp)

    def availability_changed(self) -> None:
        """Write every entity's state after the session connected or was lost."""
        for entity in self.entities:
            if entity.added:
                entity.write_state()

    def warn_once(self, dp: int, value: object, expected: str) -> None:
        """Log once that ``dp`` carried a value of the wrong type."""
        key = f"{dp}:{expected}"
        if key not in self._warned:
            self._warned.add(key)
            _LOGGER.warning(
                "%s: data point %s reported %r, expected %s; ignored (set `dps:` in the YAML "
                "if the device uses other data points)",
                self.config.title,
                dp,
                value,
                expected,
            )


class TuyaEntity(Entity):
    """What every Tuya entity shares: its device, its data point, availability."""

    dp: int
    _attr_has_entity_name = True

    def __init__(self, device: TuyaDevice, dp: int) -> None:
        super().__init__()
        self.device = device
        self.dp = dp

    @property
    def available(self) -> bool:
        """Unavailable while the device is disconnected."""
        return self.device.available

    @property
    def device_info(self) -> DeviceInfo:
        """The device the entity belongs to."""
        return self.device.device_info

    @property
    def raw(self) -> Any:
        """The data point's latest value."""
        return self.device.dps.get(str(self.dp))


class TuyaSwitch(TuyaEntity, SwitchEntity):
    """One gang's switch. A command returns once the device has reported the new value."""

    _attr_device_class = SwitchDeviceClass.OUTLET

    def __init__(self, device: TuyaDevice, dp: int, gang: int | None) -> None:
        super().__init__(device, dp)
        self._attr_unique_id = f"tuya_{device.config.device_id}_switch_{dp}"
        self._attr_name = f"Switch {gang}" if gang is not None else None

    @property
    def is_on(self) -> bool | None:
        """The gang's state as the device last reported it."""
        value = self.raw
        if value is None:
            return None
        if not isinstance(value, bool):
            self.device.warn_once(self.dp, value, "a boolean")
            return None
        return value

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Turn the gang on and wait for the device to confirm."""
        await self._set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Turn the gang off and wait for the device to confirm."""
        await self._set(False)

    async def _set(self, on: bool) -> None:
        session = self.device.session
        if session is None:
            raise DeviceConnectError(
                f"{self.device.config.title} has no session", device=self.device.config.title
            )
        await session.set_dps({str(self.dp): on})


class TuyaMeasurement(TuyaEntity, SensorEntity):
    """Power, current, voltage or energy, scaled from the device's integer."""

    def __init__(self, device: TuyaDevice, measure: str, dp: int, scale: float) -> None:
        super().__init__(device, dp)
        unit, device_class, state_class, name = _MEASUREMENT_KINDS[measure]
        self.measure = measure
        self.scale = scale
        self._attr_unique_id = f"tuya_{device.config.device_id}_{measure}"
        self._attr_name = name
        self._attr_native_unit_of_measurement = unit
        self._attr_device_class = device_class
        self._attr_state_class = state_class

    @property
    def native_value(self) -> float | None:
        """The scaled reading, or None when the device gave none (or not a finite number)."""
        value = self.raw
        if value is None:
            return None
        # The device's JSON may hold NaN, Infinity or an integer no float holds.
        number = finite_number(value) if isinstance(value, int | float) else None
        if number is None:
            self.device.warn_once(self.dp, value, "a finite number")
            return None
        return round(number * self.scale, 6)
