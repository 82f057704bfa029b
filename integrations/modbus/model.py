"""The validated ``modbus:`` configuration as frozen dataclasses: hubs, devices, entities.

``schema.py`` validates the YAML and ``build.py`` turns it into these; nothing downstream
indexes the configuration by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from core.entities.climate import HVACMode
from core.entities.number import NumberMode

from .codec import Layout, Transform
from .const import (
    DEFAULT_MAX_GAP_BITS,
    DEFAULT_MAX_GAP_REGISTERS,
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    HubType,
    InputType,
    WriteType,
)

#: A path into the ``modbus:`` list, as voluptuous reports it: ``[0, "sensors", 3, "count"]``.
ConfigPath = tuple[int | str, ...]


#: The HVAC mode of each ``state_*`` key of a climate's ``hvac_mode_register: values``.
HVAC_VALUE_KEYS: Final = {f"state_{mode.value}": mode for mode in HVACMode}


@dataclass(frozen=True, slots=True)
class ForbiddenRange:
    """Registers or bits of one table that a device refuses to have read (inclusive)."""

    input_type: InputType
    start: int
    end: int

    def overlaps(self, start: int, count: int) -> bool:
        """Whether ``count`` items from ``start`` touch the range."""
        return start <= self.end and start + count - 1 >= self.start


@dataclass(frozen=True, slots=True)
class DeviceLimits:
    """What one device allows in a read request."""

    max_read_registers: int = MAX_READ_REGISTERS
    max_read_bits: int = MAX_READ_BITS
    max_gap_registers: int = DEFAULT_MAX_GAP_REGISTERS
    max_gap_bits: int = DEFAULT_MAX_GAP_BITS
    forbidden: tuple[ForbiddenRange, ...] = ()

    def max_count(self, table: InputType) -> int:
        """The most items one read of ``table`` may ask for."""
        return self.max_read_bits if table.is_bits else self.max_read_registers

    def max_gap(self, table: InputType) -> int:
        """The widest gap of unused items one read of ``table`` may bridge."""
        return self.max_gap_bits if table.is_bits else self.max_gap_registers


@dataclass(frozen=True, slots=True)
class RegisterSpan:
    """Items that an entity reads: its device, table, first address and how many."""

    slave: int
    table: InputType
    address: int
    count: int
    #: How the items are interpreted, to tell overlapping entities that disagree; None for bits
    #: and for a register read as a whole word (switch states), which agree with anything.
    layout: Layout | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityConfig:
    """What every Modbus entity has."""

    name: str
    unique_id: str | None
    slave: int
    address: int
    input_type: InputType
    scan_interval: float
    device_class: str | None
    #: Where the entity is in the ``modbus:`` list, for error messages.
    path: ConfigPath
    #: Failed reads in a row that keep the last value before the entity turns unavailable.
    lazy_error_count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorConfig(EntityConfig):
    """A sensor: a value of one or more registers."""

    layout: Layout
    transform: Transform
    unit: str | None
    state_class: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BinarySensorConfig(EntityConfig):
    """A binary sensor: a coil, a discrete input, or bit 0 of a register."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyConfig:
    """Where a switch reads its state back, and what the values mean."""

    address: int
    input_type: InputType
    state_on: int
    state_off: int
    delay: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchConfig(EntityConfig):
    """A switch: writes ``command_on``/``command_off``; read back through ``verify``."""

    write_type: WriteType
    command_on: int
    command_off: int
    verify: VerifyConfig | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberConfig(EntityConfig):
    """A number: a holding register value, written within ``[min_value, max_value]``."""

    layout: Layout
    transform: Transform
    min_value: float
    max_value: float
    step: float
    mode: NumberMode
    unit: str | None
    verify: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class HvacModeRegister:
    """The register that holds the HVAC mode, and the value of each mode."""

    address: int
    values: Mapping[HVACMode, int]
    write_registers: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ClimateConfig(EntityConfig):
    """A climate device: current temperature at ``address``, setpoint at ``target_address``."""

    layout: Layout
    transform: Transform
    target_address: int
    target_write_registers: bool
    min_temp: float
    max_temp: float
    temp_step: float
    temperature_unit: str
    hvac_mode_register: HvacModeRegister | None
    hvac_onoff_register: int | None


AnyEntityConfig = SensorConfig | BinarySensorConfig | SwitchConfig | NumberConfig | ClimateConfig


@dataclass(frozen=True, slots=True)
class HubConfig:
    """One validated hub: how to reach it, what its devices allow, and its entities."""

    name: str
    type: HubType
    host: str | None
    port: int | None
    serial_port: str | None
    baudrate: int
    bytesize: int
    method: str
    parity: str
    stopbits: int
    timeout: float
    delay: float
    message_wait: float
    retries: int
    parallel: bool
    reconnect_delay: float
    reconnect_delay_max: float
    default_limits: DeviceLimits
    device_limits: Mapping[int, DeviceLimits]
    entities: tuple[AnyEntityConfig, ...] = field(default=())

    def limits(self, slave: int) -> DeviceLimits:
        """The read limits of device ``slave``."""
        return self.device_limits.get(slave, self.default_limits)

    @property
    def is_serial_bus(self) -> bool:
        """Whether every request shares one line and must wait its turn (serial, RTU over TCP)."""
        return self.type in (HubType.SERIAL, HubType.RTU_OVER_TCP)

    @property
    def slaves(self) -> list[int]:
        """The device addresses its entities use, in order."""
        return sorted({entity.slave for entity in self.entities})


@dataclass(frozen=True, slots=True)
class ModbusConfig:
    """The whole validated ``modbus:`` section."""

    hubs: tuple[HubConfig, ...]


def spans_of(entity: AnyEntityConfig) -> list[RegisterSpan]:
    """The items an entity reads (or, for a switch without verify, writes)."""
    slave = entity.slave
    if isinstance(entity, SensorConfig | NumberConfig):
        return [
            RegisterSpan(
                slave, entity.input_type, entity.address, entity.layout.count, entity.layout
            )
        ]
    if isinstance(entity, BinarySensorConfig):
        return [RegisterSpan(slave, entity.input_type, entity.address, 1)]
    if isinstance(entity, SwitchConfig):
        if entity.verify is not None:
            return [RegisterSpan(slave, entity.verify.input_type, entity.verify.address, 1)]
        return [RegisterSpan(slave, entity.input_type, entity.address, 1)]
    spans = [
        RegisterSpan(slave, entity.input_type, entity.address, entity.layout.count, entity.layout),
        RegisterSpan(
            slave, InputType.HOLDING, entity.target_address, entity.layout.count, entity.layout
        ),
    ]
    if entity.hvac_mode_register is not None:
        spans.append(RegisterSpan(slave, InputType.HOLDING, entity.hvac_mode_register.address, 1))
    if entity.hvac_onoff_register is not None:
        spans.append(RegisterSpan(slave, InputType.HOLDING, entity.hvac_onoff_register, 1))
    return spans
