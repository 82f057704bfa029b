"""BACnet points as entities: sensors and binary sensors for inputs, numbers, switches and
selects for commandable values, and a connectivity binary sensor per device."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    Context,
    DeviceInfo,
    Entity,
    EntityCategory,
    NumberEntity,
    SelectEntity,
    SensorEntity,
    SensorStateClass,
    SwitchEntity,
)
from core.entity import StateType

from .commands import requester_of
from .const import (
    ANALOG_TYPES,
    ATTR_ACTIVE_PRIORITY,
    ATTR_DESCRIPTION,
    ATTR_DEVICE_INSTANCE,
    ATTR_OBJECT,
    ATTR_OBJECT_NAME,
    ATTR_OVERRIDE_UNTIL,
    ATTR_PRIORITY_ARRAY,
    ATTR_STATUS_FLAGS,
    DOMAIN,
    MULTISTATE_TYPES,
    CovMode,
    Platform,
)

if TYPE_CHECKING:
    from .hub import DeviceLink, Point


def device_info(link: DeviceLink) -> DeviceInfo:
    """The device registry entry of a BACnet device."""
    return DeviceInfo(
        identifiers=frozenset({(DOMAIN, str(link.config.instance))}),
        name=link.config.name,
        manufacturer="BACnet" if link.vendor_id is None else f"BACnet vendor {link.vendor_id}",
        model=f"device {link.config.instance}",
    )


class BacnetPointEntity(Entity):
    """What every point entity shares: identity, availability and BACnet attributes."""

    _attr_has_entity_name = True

    def __init__(self, point: Point) -> None:
        super().__init__()
        self.point = point
        point.entity = self
        link = point.device
        ref = point.ref
        self._attr_unique_id = f"{DOMAIN}_{link.config.instance}_{ref.type}_{ref.instance}"
        self._attr_name = point.config.name or f"{ref.type} {ref.instance}"
        self._attr_device_info = device_info(link)
        self._attr_device_class = point.config.device_class
        self.write_min_interval = point.config.min_write_interval or None

    def described(self) -> None:
        """The device told what the point is (name, units, states): take it in."""
        if self.point.config.name is None and self.point.object_name:
            self._attr_name = self.point.object_name

    @property
    def available(self) -> bool:
        """Whether the device answers and reports the point healthy."""
        return self.point.available

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """The object, status flags, and who holds the point (its priority array) if known."""
        point = self.point
        attrs: dict[str, Any] = {
            ATTR_OBJECT: str(point.ref),
            ATTR_DEVICE_INSTANCE: point.device.config.instance,
            ATTR_STATUS_FLAGS: list(point.status_flags),
        }
        if point.object_name:
            attrs[ATTR_OBJECT_NAME] = point.object_name
        if point.description:
            attrs[ATTR_DESCRIPTION] = point.description
        if point.config.cov is not CovMode.NONE:
            attrs["cov"] = (
                "active"
                if point.cov_active
                else f"refused ({point.cov_refused})"
                if point.cov_refused
                else "pending"
            )
        if point.priority_slots is not None:
            attrs[ATTR_PRIORITY_ARRAY] = {
                str(k): v for k, v in sorted(point.priority_slots.items())
            }
            attrs[ATTR_ACTIVE_PRIORITY] = min(point.priority_slots, default=None)
        override = point.device.hub.commands.overrides.get(self.entity_id)
        if override is not None:
            attrs[ATTR_OVERRIDE_UNTIL] = override.until
        return attrs

    def _caller(self) -> Context:
        # audited_write sets the call's context on the entity just before it calls the write.
        return self._context if self._context is not None else Context()

    async def write_value(self, value: Any, action: str) -> None:
        """Write ``value`` at the point's priority through the device's write-command queue."""
        context = self._caller()
        await self.point.device.write(
            self.point,
            value,
            self.point.config.priority,
            action,
            context,
            requester_of(context),
        )


class BacnetSensor(BacnetPointEntity, SensorEntity):
    """An input, or a value that is only read: its present value."""

    def __init__(self, point: Point) -> None:
        super().__init__(point)
        state_class = point.config.state_class
        if state_class is None and point.ref.type in ANALOG_TYPES:
            state_class = SensorStateClass.MEASUREMENT.value
        self._attr_state_class = None if state_class is None else SensorStateClass(state_class)

    @property
    def native_value(self) -> StateType:
        """The present value; a multi-state one by its state text when the device gives it."""
        value = self.point.value
        texts = self.point.state_text
        if self.point.ref.type in MULTISTATE_TYPES and isinstance(value, int):
            return texts[value - 1] if 0 < value <= len(texts) else value
        return value  # type: ignore[no-any-return]

    @property
    def native_unit_of_measurement(self) -> str | None:
        """The configured unit, else the device's."""
        return self.point.unit


class BacnetBinarySensor(BacnetPointEntity, BinarySensorEntity):
    """A binary input: on when its present value is active."""

    @property
    def is_on(self) -> bool | None:
        """Whether the present value is ``active``."""
        value = self.point.value
        return None if value is None else value == "active"


class BacnetNumber(BacnetPointEntity, NumberEntity):
    """A commandable analog value or output, written at the point's priority."""

    def __init__(self, point: Point) -> None:
        super().__init__(point)
        config = point.config
        self._attr_native_min_value = config.minimum if config.minimum is not None else -1e9
        self._attr_native_max_value = config.maximum if config.maximum is not None else 1e9
        self._attr_native_step = config.step if config.step is not None else 0.1

    @property
    def native_value(self) -> float | None:
        """The present value."""
        value = self.point.value
        return float(value) if isinstance(value, int | float) else None

    @property
    def native_unit_of_measurement(self) -> str | None:
        """The configured unit, else the device's."""
        return self.point.unit

    async def async_set_native_value(self, value: float) -> None:
        """Write the value at the point's priority."""
        await self.write_value(value, "number.set_value")


class BacnetBinaryOutput(BacnetPointEntity, SwitchEntity):
    """A commandable binary value or output: on writes ``active``, off ``inactive``."""

    @property
    def is_on(self) -> bool | None:
        """Whether the present value is ``active``."""
        value = self.point.value
        return None if value is None else value == "active"

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Write ``active`` at the point's priority."""
        await self.write_value("active", "switch.turn_on")

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Write ``inactive`` at the point's priority."""
        await self.write_value("inactive", "switch.turn_off")


class BacnetSelect(BacnetPointEntity, SelectEntity):
    """A commandable multi-state value or output; its options are the device's state texts."""

    @property
    def options(self) -> Sequence[str]:
        """The state texts, or the state numbers when the device has none."""
        texts = self.point.state_text
        return texts or [str(n) for n in range(1, 17)]

    @property
    def current_option(self) -> str | None:
        """The option of the present value."""
        value = self.point.value
        if not isinstance(value, int) or value < 1:
            return None
        options = self.options
        return options[value - 1] if value <= len(options) else None

    async def async_select_option(self, option: str) -> None:
        """Write the option's state number at the point's priority."""
        await self.write_value(list(self.options).index(option) + 1, "select.select_option")


class BacnetConnectivity(BinarySensorEntity):
    """On while the device answers; off (not unavailable) when it stops."""

    _attr_has_entity_name = True
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, link: DeviceLink) -> None:
        super().__init__()
        self.link = link
        link.connectivity = self
        self._attr_unique_id = f"{DOMAIN}_{link.config.instance}_connectivity"
        self._attr_name = "Connectivity"
        self._attr_device_info = device_info(link)

    @property
    def is_on(self) -> bool | None:
        """Whether the device answered its last request; unknown before the first."""
        return self.link.online

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Address, what the device supports, and the last error."""
        link = self.link
        return {
            "address": link.address,
            "device_instance": link.config.instance,
            "read_property_multiple": link.rpm,
            "max_apdu": link.max_apdu,
            "segmentation": link.segmentation,
            "last_error": link.last_error,
        }


_PLATFORMS: dict[Platform, type[BacnetPointEntity]] = {
    Platform.SENSOR: BacnetSensor,
    Platform.BINARY_SENSOR: BacnetBinarySensor,
    Platform.NUMBER: BacnetNumber,
    Platform.SWITCH: BacnetBinaryOutput,
    Platform.SELECT: BacnetSelect,
}


def entity_for(point: Point) -> BacnetPointEntity:
    """The entity of a point, of the class its platform names."""
    return _PLATFORMS[point.config.platform](point)
