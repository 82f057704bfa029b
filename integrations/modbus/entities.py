"""Modbus entities: register data turned into states, and writes with bounds and read-back.

Entities do not poll: the hub's poll groups hand them their data (``Read.deliver``), and each
delivery writes the entity's state. An entity is available while every read it needs has
succeeded last time; a refused read, a timeout or a lost link makes it unavailable until the
next good read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from core import (
    BinarySensorEntity,
    ClimateEntity,
    DeviceInfo,
    DeviceProtocolError,
    Entity,
    EntityCategory,
    HVACMode,
    NumberEntity,
    SensorEntity,
    SensorStateClass,
    SwitchEntity,
)

from .codec import Layout, Transform
from .const import DOMAIN, InputType, WriteType
from .hub import ModbusHub
from .model import (
    AnyEntityConfig,
    BinarySensorConfig,
    ClimateConfig,
    NumberConfig,
    SensorConfig,
    SwitchConfig,
)
from .planner import Read

_LOGGER = logging.getLogger(__name__)

_TEMPERATURE_UNITS = {"C": "°C", "F": "°F", "K": "K"}

Handler = Callable[[Sequence[int] | Sequence[bool]], None]


def device_info(hub: ModbusHub, slave: int) -> DeviceInfo:
    """The registry device of one Modbus device on a hub."""
    return DeviceInfo(
        identifiers=frozenset({(DOMAIN, f"{hub.name}:{slave}")}),
        name=f"{hub.name} device {slave}",
        model="Modbus device",
    )


class ModbusEntity(Entity):
    """What every Modbus entity shares: its hub, its reads and its availability."""

    _attr_should_poll = False

    def __init__(self, hub: ModbusHub, config: AnyEntityConfig) -> None:
        super().__init__()
        self.hub = hub
        self.config = config
        self._attr_name = config.name
        self._attr_unique_id = config.unique_id
        self._attr_device_class = config.device_class
        self._attr_device_info = device_info(hub, config.slave)
        self._reads: dict[str, Read] = {}
        self._ok: dict[str, bool] = {}
        self._failures: dict[str, int] = {}
        self._error: str | None = None

    def add_read(
        self, key: str, table: InputType, address: int, count: int, handler: Handler
    ) -> None:
        """Have the hub read ``count`` items at ``address`` every scan and pass them on."""

        def deliver(data: Sequence[int] | Sequence[bool] | None, err: Exception | None) -> None:
            if err is None and data is not None:
                try:
                    handler(data)
                except (ValueError, TypeError) as decode_error:
                    err = decode_error
            if err is not None:
                self._failures[key] = failures = self._failures.get(key, 0) + 1
                self._error = str(err) or type(err).__name__
                if failures <= self.config.lazy_error_count and self._ok[key]:
                    # Home Assistant's lazy_error_count: a glitch keeps the last value.
                    return
                self._ok[key] = False
            else:
                self._failures[key] = 0
                self._ok[key] = True
                self._error = None
            if self.added:
                self.write_state()

        read = Read(address, count, deliver, owner=f"'{self.config.name}'")
        self._reads[key] = read
        if self.config.scan_interval <= 0:
            # Never polled (Home Assistant's scan_interval 0): available, its state unknown
            # until a write sets it.
            return
        self._ok[key] = False
        self.hub.add_read(self.config.slave, table, self.config.scan_interval, read)

    async def added_to_runtime(self) -> None:
        """Name the reads after the entity id, so a refused one is reported by it."""
        for read in self._reads.values():
            read.owner = self.entity_id

    @property
    def available(self) -> bool:
        """Whether every read of the entity succeeded last time (always, without reads)."""
        return all(self._ok.values())

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Where the entity's value comes from."""
        return {
            "hub": self.hub.name,
            "slave": self.config.slave,
            "address": self.config.address,
            "input_type": self.config.input_type.value,
        }


class ModbusSensor(ModbusEntity, SensorEntity):
    """A register value, decoded, scaled and rounded."""

    def __init__(self, hub: ModbusHub, config: SensorConfig) -> None:
        super().__init__(hub, config)
        self._layout = config.layout
        self._transform = config.transform
        self._attr_native_unit_of_measurement = config.unit
        if config.state_class is not None:
            self._attr_state_class = SensorStateClass(config.state_class)
        self.add_read(
            "value", config.input_type, config.address, config.layout.count, self._on_data
        )

    def _on_data(self, data: Sequence[int] | Sequence[bool]) -> None:
        self._attr_native_value = self._transform.apply(self._layout, [int(v) for v in data])


class ModbusBinarySensor(ModbusEntity, BinarySensorEntity):
    """A coil, a discrete input, or bit 0 of a register."""

    def __init__(self, hub: ModbusHub, config: BinarySensorConfig) -> None:
        super().__init__(hub, config)
        self.add_read("value", config.input_type, config.address, 1, self._on_data)

    def _on_data(self, data: Sequence[int] | Sequence[bool]) -> None:
        self._attr_is_on = bool(int(data[0]) & 1)


class ModbusSwitch(ModbusEntity, SwitchEntity):
    """Writes ``command_on``/``command_off`` to a coil or register; verifies by reading back."""

    def __init__(self, hub: ModbusHub, config: SwitchConfig) -> None:
        super().__init__(hub, config)
        self._switch = config
        verify = config.verify
        if verify is None:
            # Without verify the device's state is never read: the state is the last command.
            self._attr_assumed_state = True
        else:
            self.add_read("state", verify.input_type, verify.address, 1, self._on_data)

    def _state_of(self, raw: int | bool) -> bool | None:
        verify = self._switch.verify
        assert verify is not None  # noqa: S101 - only called with verify
        if verify.input_type.is_bits:
            return bool(raw)
        value = int(raw)
        if value == verify.state_on:
            return True
        if value == verify.state_off:
            return False
        _LOGGER.warning(
            "%s: register value %d is neither state_on (%d) nor state_off (%d)",
            self.entity_id if self.added else self.name,
            value,
            verify.state_on,
            verify.state_off,
        )
        return None

    def _on_data(self, data: Sequence[int] | Sequence[bool]) -> None:
        self._attr_is_on = self._state_of(data[0])

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Write ``command_on``, then verify."""
        await self._command(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Write ``command_off``, then verify."""
        await self._command(False)

    async def _command(self, on: bool) -> None:
        config = self._switch
        hub = self.hub
        if config.write_type in (WriteType.COIL, WriteType.COILS):
            await hub.write_coils(
                config.slave, config.address, [on], single=config.write_type is WriteType.COIL
            )
        else:
            command = config.command_on if on else config.command_off
            await hub.write_registers(
                config.slave,
                config.address,
                [command],
                single=config.write_type is WriteType.HOLDING,
            )
        verify = config.verify
        if verify is None:
            self._attr_is_on = on
            self.write_state()
            return
        if verify.delay:
            await asyncio.sleep(verify.delay)
        data = await hub.read(config.slave, verify.input_type, verify.address, 1)
        self._attr_is_on = self._state_of(data[0])
        self._ok["state"] = True
        self.write_state()
        if self._attr_is_on is not on:
            raise DeviceProtocolError(
                f"{self.entity_id}: wrote {'on' if on else 'off'} but read back "
                f"{data[0]!r} from {verify.input_type.value} {verify.address}",
                device=f"{hub.name}/{config.slave}",
                address=str(verify.address),
            )


async def write_value(
    hub: ModbusHub,
    entity: Entity,
    *,
    slave: int,
    address: int,
    layout: Layout,
    transform: Transform,
    value: float,
    force_multiple: bool = False,
    verify: bool = False,
) -> None:
    """Encode ``value`` (shown units) into registers, write them, and read them back if asked.

    Raises:
        DeviceProtocolError: the value does not fit the data type, or the read-back differs.
        DeviceError: the write failed.
    """
    device = f"{hub.name}/{slave}"
    try:
        registers = layout.encode(transform.to_raw(value))
    except ValueError as err:
        raise DeviceProtocolError(
            f"{entity.entity_id}: {value:g} cannot be written: {err}",
            device=device,
            address=str(address),
        ) from err
    await hub.write_registers(
        slave, address, registers, single=len(registers) == 1 and not force_multiple
    )
    if not verify:
        return
    back = [int(v) for v in await hub.read(slave, InputType.HOLDING, address, len(registers))]
    if back != registers:
        raise DeviceProtocolError(
            f"{entity.entity_id}: wrote {registers} to holding {address} but read back {back}",
            device=device,
            address=str(address),
        )


class ModbusNumber(ModbusEntity, NumberEntity):
    """A holding register value, written within ``[min_value, max_value]``."""

    def __init__(self, hub: ModbusHub, config: NumberConfig) -> None:
        super().__init__(hub, config)
        self._number = config
        self._attr_native_min_value = config.min_value
        self._attr_native_max_value = config.max_value
        self._attr_native_step = config.step
        self._attr_mode = config.mode
        self._attr_native_unit_of_measurement = config.unit
        if config.scan_interval > 0:
            self.add_read(
                "value", InputType.HOLDING, config.address, config.layout.count, self._on_data
            )
        else:
            self._attr_assumed_state = True

    def _on_data(self, data: Sequence[int] | Sequence[bool]) -> None:
        value = self._number.transform.apply(self._number.layout, [int(v) for v in data])
        self._attr_native_value = None if isinstance(value, str) else value

    async def async_set_native_value(self, value: float) -> None:
        """Write ``value`` (the service checked the bounds), verifying when configured."""
        config = self._number
        await write_value(
            self.hub,
            self,
            slave=config.slave,
            address=config.address,
            layout=config.layout,
            transform=config.transform,
            value=value,
            verify=config.verify,
        )
        self._attr_native_value = value
        self.write_state()


class ModbusClimate(ModbusEntity, ClimateEntity):
    """Current temperature from one register, setpoint in another, optional mode registers."""

    def __init__(self, hub: ModbusHub, config: ClimateConfig) -> None:
        super().__init__(hub, config)
        self._climate = config
        self._attr_min_temp = config.min_temp
        self._attr_max_temp = config.max_temp
        self._attr_target_temp_step = config.temp_step
        self._attr_temperature_unit = _TEMPERATURE_UNITS[config.temperature_unit]
        modes: list[HVACMode] = []
        if config.hvac_mode_register is not None:
            modes.extend(config.hvac_mode_register.values)
        if config.hvac_onoff_register is not None and HVACMode.OFF not in modes:
            modes.append(HVACMode.OFF)
        if not [m for m in modes if m is not HVACMode.OFF]:
            modes.insert(0, HVACMode.AUTO)
        self._attr_hvac_modes = modes
        self._attr_hvac_mode = modes[0] if config.hvac_mode_register is None else None
        self._mode_value: HVACMode | None = None
        self._on: bool = True
        count = config.layout.count
        self.add_read("current", config.input_type, config.address, count, self._on_current)
        self.add_read("target", InputType.HOLDING, config.target_address, count, self._on_target)
        if config.hvac_mode_register is not None:
            self.add_read(
                "mode", InputType.HOLDING, config.hvac_mode_register.address, 1, self._on_mode
            )
        if config.hvac_onoff_register is not None:
            self.add_read("onoff", InputType.HOLDING, config.hvac_onoff_register, 1, self._on_onoff)

    def _decode(self, data: Sequence[int] | Sequence[bool]) -> float | None:
        value = self._climate.transform.apply(self._climate.layout, [int(v) for v in data])
        return None if isinstance(value, str) or value is None else float(value)

    def _on_current(self, data: Sequence[int] | Sequence[bool]) -> None:
        self._attr_current_temperature = self._decode(data)

    def _on_target(self, data: Sequence[int] | Sequence[bool]) -> None:
        self._attr_target_temperature = self._decode(data)

    def _on_mode(self, data: Sequence[int] | Sequence[bool]) -> None:
        register = self._climate.hvac_mode_register
        assert register is not None  # noqa: S101 - only read when configured
        raw = int(data[0])
        self._mode_value = next((m for m, v in register.values.items() if v == raw), None)
        self._update_mode()

    def _on_onoff(self, data: Sequence[int] | Sequence[bool]) -> None:
        self._on = int(data[0]) != 0
        self._update_mode()

    def _update_mode(self) -> None:
        if not self._on:
            self._attr_hvac_mode = HVACMode.OFF
        elif self._climate.hvac_mode_register is not None:
            self._attr_hvac_mode = self._mode_value
        else:
            self._attr_hvac_mode = next(
                (m for m in self._attr_hvac_modes if m is not HVACMode.OFF), HVACMode.AUTO
            )

    async def async_set_temperature(self, temperature: float) -> None:
        """Write the setpoint (the service checked min_temp/max_temp)."""
        config = self._climate
        await write_value(
            self.hub,
            self,
            slave=config.slave,
            address=config.target_address,
            layout=config.layout,
            transform=config.transform,
            value=temperature,
            force_multiple=config.target_write_registers,
        )
        self._attr_target_temperature = temperature
        self.write_state()

    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Write the on/off register and the mode register, as far as they are configured."""
        config = self._climate
        if config.hvac_onoff_register is not None:
            await self.hub.write_registers(
                config.slave, config.hvac_onoff_register, [0 if hvac_mode is HVACMode.OFF else 1]
            )
            self._on = hvac_mode is not HVACMode.OFF
        register = config.hvac_mode_register
        if register is not None and hvac_mode in register.values:
            await self.hub.write_registers(
                config.slave,
                register.address,
                [register.values[hvac_mode]],
                single=not register.write_registers,
            )
            self._mode_value = hvac_mode
        self._update_mode()
        self.write_state()


class HubConnectivity(BinarySensorEntity):
    """Whether a hub's links are up; its attributes say which, and what the devices refuse."""

    _attr_device_class = "connectivity"
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_should_poll = False

    def __init__(self, hub: ModbusHub) -> None:
        super().__init__()
        self.hub = hub
        self._attr_name = f"{hub.name} connectivity"
        self._attr_unique_id = f"{DOMAIN}_{hub.name}_connectivity"
        self._attr_device_info = DeviceInfo(
            identifiers=frozenset({(DOMAIN, f"{hub.name}:hub")}),
            name=f"Modbus hub {hub.name}",
            model=f"Modbus {hub.config.type.value}",
        )

    async def added_to_runtime(self) -> None:
        """Follow the hub's links."""
        self.on_remove(self.hub.listen_state(self._changed))

    def _changed(self) -> None:
        if self.added:
            self.write_state()

    @property
    def is_on(self) -> bool | None:
        """Whether the hub's links are up; unknown before the first attempt."""
        return self.hub.connected

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Links, requests per scan and refused reads."""
        return self.hub.describe()


def create_entities(hub: ModbusHub) -> list[Entity]:
    """Every entity of ``hub``'s configuration, plus its connectivity sensor."""
    entities: list[Entity] = [HubConnectivity(hub)]
    for config in hub.config.entities:
        if isinstance(config, SensorConfig):
            entities.append(ModbusSensor(hub, config))
        elif isinstance(config, BinarySensorConfig):
            entities.append(ModbusBinarySensor(hub, config))
        elif isinstance(config, SwitchConfig):
            entities.append(ModbusSwitch(hub, config))
        elif isinstance(config, NumberConfig):
            entities.append(ModbusNumber(hub, config))
        else:
            entities.append(ModbusClimate(hub, config))
    return entities
