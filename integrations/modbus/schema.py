"""The ``modbus:`` section: Home Assistant's format, plus per-device read limits and numbers.

A list of hubs, each with its entities, so a Home Assistant configuration pastes unchanged::

    modbus:
      - name: plant
        type: tcp                      # tcp, udp, rtuovertcp or serial
        host: 192.0.2.10
        port: 502
        timeout: 3
        devices:                       # Edgewise: what each device allows
          - slave: 1
            max_read_registers: 60
            forbidden:
              - {input_type: holding, start: 200, end: 299}
        sensors:
          - name: Grid power
            slave: 1
            address: 100
            input_type: input
            data_type: float32
            swap: word
            unit_of_measurement: W
            device_class: power
            state_class: measurement
          - name: Phase voltage
            address: 110
            data_type: uint16
            scale: 0.1
            precision: 1
            virtual_count: 2           # also "Phase voltage 1" and "Phase voltage 2"
        binary_sensors:
          - {name: Pump running, address: 5, input_type: discrete_input}
        switches:
          - name: Pump enable
            address: 7
            write_type: coil
            verify:
        numbers:                       # Edgewise: a writable register with bounds
          - {name: Flow setpoint, address: 300, min_value: 10, max_value: 60, scale: 0.1}
        climates:
          - name: Zone 1
            address: 400
            target_temp_register: 401
            data_type: int16
            scale: 0.1
            min_temp: 15
            max_temp: 28

Errors name the file and line: overlapping entities read with different layouts, a ``count``
too small for the data type, a word swap on a one-register type, a custom ``structure`` that
does not fill ``count`` registers, an entity inside a forbidden range.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import voluptuous as vol

from core import validators
from core.entities.climate import HVACMode
from core.entities.number import NumberMode

from .codec import DATA_TYPE_ALIASES, FIXED_FORMATS, DataType, Layout, Transform
from .const import (
    CONF_ADDRESS,
    CONF_BAUDRATE,
    CONF_BINARY_SENSORS,
    CONF_BYTESIZE,
    CONF_CLIMATES,
    CONF_CLOSE_COMM_ON_ERROR,
    CONF_COMMAND_OFF,
    CONF_COMMAND_ON,
    CONF_COUNT,
    CONF_DATA_TYPE,
    CONF_DELAY,
    CONF_DEVICE_ADDRESS,
    CONF_DEVICE_CLASS,
    CONF_DEVICES,
    CONF_END,
    CONF_FORBIDDEN,
    CONF_HOST,
    CONF_HVAC_MODE_REGISTER,
    CONF_HVAC_MODE_VALUES,
    CONF_HVAC_ONOFF_REGISTER,
    CONF_INPUT_TYPE,
    CONF_LAZY_ERROR,
    CONF_MAX_GAP_BITS,
    CONF_MAX_GAP_REGISTERS,
    CONF_MAX_READ_BITS,
    CONF_MAX_READ_REGISTERS,
    CONF_MAX_TEMP,
    CONF_MAX_VALUE,
    CONF_METHOD,
    CONF_MIN_TEMP,
    CONF_MIN_VALUE,
    CONF_MODE,
    CONF_MSG_WAIT,
    CONF_NAME,
    CONF_NAN_VALUE,
    CONF_NUMBERS,
    CONF_OFFSET,
    CONF_PARALLEL,
    CONF_PARITY,
    CONF_PORT,
    CONF_PRECISION,
    CONF_RECONNECT_DELAY,
    CONF_RECONNECT_DELAY_MAX,
    CONF_RETRIES,
    CONF_RETRY_ON_EMPTY,
    CONF_SCALE,
    CONF_SCAN_INTERVAL,
    CONF_SENSORS,
    CONF_SLAVE,
    CONF_SLAVE_COUNT,
    CONF_START,
    CONF_STATE_CLASS,
    CONF_STATE_OFF,
    CONF_STATE_ON,
    CONF_STEP,
    CONF_STOPBITS,
    CONF_STRUCTURE,
    CONF_SWAP,
    CONF_SWITCHES,
    CONF_TARGET_TEMP,
    CONF_TARGET_TEMP_WRITE_REGISTERS,
    CONF_TEMP_STEP,
    CONF_TEMPERATURE_UNIT,
    CONF_TIMEOUT,
    CONF_TYPE,
    CONF_UNIQUE_ID,
    CONF_UNIT_OF_MEASUREMENT,
    CONF_VERIFY,
    CONF_VIRTUAL_COUNT,
    CONF_WRITE_REGISTERS,
    CONF_WRITE_TYPE,
    CONF_ZERO_SUPPRESS,
    DEFAULT_HUB,
    DEFAULT_MAX_GAP_BITS,
    DEFAULT_MAX_GAP_REGISTERS,
    DEFAULT_RECONNECT_DELAY,
    DEFAULT_RECONNECT_DELAY_MAX,
    DEFAULT_RETRIES,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SERIAL_MSG_WAIT_MS,
    DEFAULT_SLAVE,
    DEFAULT_TIMEOUT,
    MAX_ADDRESS,
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    HubType,
    InputType,
    Swap,
    WriteType,
)

#: A path into the ``modbus:`` list, as voluptuous reports it: ``[0, "sensors", 3, "count"]``.
ConfigPath = tuple[int | str, ...]

_PLATFORM_KEYS: Final = (
    CONF_SENSORS,
    CONF_BINARY_SENSORS,
    CONF_SWITCHES,
    CONF_NUMBERS,
    CONF_CLIMATES,
)

# --- frozen configuration ------------------------------------------------------------------------


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


# --- field validators ----------------------------------------------------------------------------


def _int_or_hex(value: object) -> int:
    """An integer, or a string in decimal or ``0x`` hexadecimal (as ``nan_value`` is written)."""
    if isinstance(value, bool):
        raise vol.Invalid(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            pass
    raise vol.Invalid(f"expected an integer or a hexadecimal string like '0x8000', got {value!r}")


def _data_type(value: object) -> DataType:
    text = validators.string(value).strip().lower()
    if text in DATA_TYPE_ALIASES:
        return DATA_TYPE_ALIASES[text]
    try:
        return DataType(text)
    except ValueError:
        names = ", ".join(t.value for t in DataType)
        raise vol.Invalid(f"unknown data_type {text!r}, expected one of {names}") from None


def _structure(value: object) -> str:
    text = validators.string(value).strip()
    if text and text[0] not in "<>!=@":
        text = f">{text}"
    try:
        struct.calcsize(text)
    except struct.error as err:
        raise vol.Invalid(f"invalid struct format {text!r}: {err}") from None
    return text


def _verify_block(value: object) -> dict[str, Any]:
    """``verify:`` with no value means "verify with the defaults", as in Home Assistant."""
    return {} if value is None else value  # type: ignore[return-value]  # checked next


_address = vol.All(_int_or_hex, vol.Range(min=0, max=MAX_ADDRESS))
_slave = vol.All(vol.Coerce(int), vol.Range(min=0, max=255))
_scan_interval = vol.All(vol.Coerce(float), vol.Range(min=0))
_input_types = [t.value for t in InputType]
_register_types = [InputType.HOLDING.value, InputType.INPUT.value]
_swaps = [s.value for s in Swap]

_BASE: Final[dict[Any, Any]] = {
    vol.Required(CONF_NAME): validators.string,
    vol.Optional(CONF_UNIQUE_ID): validators.string,
    vol.Exclusive(CONF_SLAVE, "device"): _slave,
    vol.Exclusive(CONF_DEVICE_ADDRESS, "device"): _slave,
    vol.Optional(CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL): _scan_interval,
    vol.Optional(CONF_DEVICE_CLASS): validators.string,
    # Failed reads in a row that keep the last value before the entity turns unavailable.
    vol.Optional(CONF_LAZY_ERROR, default=0): validators.positive_int,
}

_VALUE: Final[dict[Any, Any]] = {
    vol.Optional(CONF_DATA_TYPE, default=DataType.INT16.value): _data_type,
    vol.Optional(CONF_COUNT): vol.All(vol.Coerce(int), vol.Range(min=1, max=MAX_READ_REGISTERS)),
    vol.Optional(CONF_STRUCTURE): _structure,
    vol.Optional(CONF_SWAP, default=Swap.NONE.value): vol.In(_swaps),
    vol.Optional(CONF_SCALE, default=1.0): vol.Coerce(float),
    vol.Optional(CONF_OFFSET, default=0.0): vol.Coerce(float),
    vol.Optional(CONF_PRECISION): vol.All(vol.Coerce(int), vol.Range(min=0, max=10)),
    vol.Optional(CONF_MIN_VALUE): vol.Coerce(float),
    vol.Optional(CONF_MAX_VALUE): vol.Coerce(float),
    vol.Optional(CONF_NAN_VALUE): _int_or_hex,
    vol.Optional(CONF_ZERO_SUPPRESS): vol.All(vol.Coerce(float), vol.Range(min=0)),
}

SENSOR_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        **_VALUE,
        vol.Required(CONF_ADDRESS): _address,
        vol.Optional(CONF_INPUT_TYPE, default=InputType.HOLDING.value): vol.In(_register_types),
        vol.Optional(CONF_UNIT_OF_MEASUREMENT): validators.string,
        vol.Optional(CONF_STATE_CLASS): vol.In(["measurement", "total", "total_increasing"]),
        vol.Exclusive(CONF_VIRTUAL_COUNT, "virtual"): validators.positive_int,
        vol.Exclusive(CONF_SLAVE_COUNT, "virtual"): validators.positive_int,
    }
)

BINARY_SENSOR_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        vol.Required(CONF_ADDRESS): _address,
        vol.Optional(CONF_INPUT_TYPE, default=InputType.COIL.value): vol.In(_input_types),
        vol.Exclusive(CONF_VIRTUAL_COUNT, "virtual"): validators.positive_int,
        vol.Exclusive(CONF_SLAVE_COUNT, "virtual"): validators.positive_int,
    }
)

SWITCH_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        vol.Required(CONF_ADDRESS): _address,
        vol.Optional(CONF_WRITE_TYPE, default=WriteType.HOLDING.value): vol.In(
            [t.value for t in WriteType]
        ),
        vol.Optional(CONF_COMMAND_ON, default=1): _int_or_hex,
        vol.Optional(CONF_COMMAND_OFF, default=0): _int_or_hex,
        vol.Optional(CONF_VERIFY): vol.All(
            _verify_block,
            {
                vol.Optional(CONF_ADDRESS): _address,
                vol.Optional(CONF_INPUT_TYPE): vol.In(_input_types),
                vol.Optional(CONF_STATE_ON): _int_or_hex,
                vol.Optional(CONF_STATE_OFF): _int_or_hex,
                vol.Optional(CONF_DELAY, default=0.0): vol.All(vol.Coerce(float), vol.Range(min=0)),
            },
        ),
    }
)

NUMBER_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        **_VALUE,
        vol.Required(CONF_ADDRESS): _address,
        vol.Optional(CONF_INPUT_TYPE, default=InputType.HOLDING.value): vol.In(
            [InputType.HOLDING.value]
        ),
        vol.Required(CONF_MIN_VALUE): vol.Coerce(float),
        vol.Required(CONF_MAX_VALUE): vol.Coerce(float),
        vol.Optional(CONF_STEP, default=1.0): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional(CONF_MODE, default=NumberMode.AUTO.value): vol.In(
            [m.value for m in NumberMode]
        ),
        vol.Optional(CONF_UNIT_OF_MEASUREMENT): validators.string,
        vol.Optional(CONF_VERIFY, default=False): validators.boolean,
    }
)

_HVAC_VALUE_KEYS: Final = {f"state_{mode.value}": mode for mode in HVACMode}

CLIMATE_SCHEMA: Final = vol.Schema(
    {
        **_BASE,
        **_VALUE,
        vol.Required(CONF_ADDRESS): _address,
        vol.Optional(CONF_INPUT_TYPE, default=InputType.HOLDING.value): vol.In(_register_types),
        vol.Required(CONF_TARGET_TEMP): _address,
        vol.Optional(CONF_TARGET_TEMP_WRITE_REGISTERS, default=False): validators.boolean,
        vol.Optional(CONF_MIN_TEMP, default=5.0): vol.Coerce(float),
        vol.Optional(CONF_MAX_TEMP, default=35.0): vol.Coerce(float),
        vol.Optional(CONF_TEMP_STEP, default=0.5): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional(CONF_TEMPERATURE_UNIT, default="C"): vol.In(["C", "F", "K"]),
        vol.Optional(CONF_HVAC_MODE_REGISTER): {
            vol.Required(CONF_ADDRESS): _address,
            vol.Required(CONF_HVAC_MODE_VALUES): {
                vol.Optional(key): vol.All(vol.Coerce(int), vol.Range(min=0, max=0xFFFF))
                for key in _HVAC_VALUE_KEYS
            },
            vol.Optional(CONF_WRITE_REGISTERS, default=False): validators.boolean,
        },
        vol.Optional(CONF_HVAC_ONOFF_REGISTER): _address,
    }
)

_FORBIDDEN: Final = vol.Schema(
    {
        vol.Required(CONF_INPUT_TYPE): vol.In(_input_types),
        vol.Required(CONF_START): _address,
        vol.Required(CONF_END): _address,
    }
)

_LIMITS: Final[dict[Any, Any]] = {
    vol.Optional(CONF_MAX_READ_REGISTERS): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=MAX_READ_REGISTERS)
    ),
    vol.Optional(CONF_MAX_READ_BITS): vol.All(vol.Coerce(int), vol.Range(min=1, max=MAX_READ_BITS)),
    vol.Optional(CONF_MAX_GAP_REGISTERS): vol.All(
        vol.Coerce(int), vol.Range(min=0, max=MAX_READ_REGISTERS)
    ),
    vol.Optional(CONF_MAX_GAP_BITS): vol.All(vol.Coerce(int), vol.Range(min=0, max=MAX_READ_BITS)),
    vol.Optional(CONF_FORBIDDEN, default=[]): [_FORBIDDEN],
}

_DEVICE: Final = vol.Schema(
    {
        vol.Exclusive(CONF_SLAVE, "device"): _slave,
        vol.Exclusive(CONF_DEVICE_ADDRESS, "device"): _slave,
        **_LIMITS,
    }
)

_COMMON: Final[dict[Any, Any]] = {
    vol.Optional(CONF_NAME, default=DEFAULT_HUB): validators.string,
    vol.Required(CONF_TYPE): vol.In([t.value for t in HubType]),
    vol.Optional(CONF_TIMEOUT, default=DEFAULT_TIMEOUT): vol.All(
        vol.Coerce(float), vol.Range(min=0.01)
    ),
    vol.Optional(CONF_DELAY, default=0.0): vol.All(vol.Coerce(float), vol.Range(min=0)),
    vol.Optional(CONF_MSG_WAIT): vol.All(vol.Coerce(int), vol.Range(min=0)),
    vol.Optional(CONF_RETRIES, default=DEFAULT_RETRIES): vol.All(
        vol.Coerce(int), vol.Range(min=0, max=10)
    ),
    vol.Optional(CONF_CLOSE_COMM_ON_ERROR): validators.boolean,
    vol.Optional(CONF_RETRY_ON_EMPTY): validators.boolean,
    vol.Optional(CONF_PARALLEL, default=True): validators.boolean,
    vol.Optional(CONF_RECONNECT_DELAY, default=DEFAULT_RECONNECT_DELAY): vol.All(
        vol.Coerce(float), vol.Range(min=0.01)
    ),
    vol.Optional(CONF_RECONNECT_DELAY_MAX, default=DEFAULT_RECONNECT_DELAY_MAX): vol.All(
        vol.Coerce(float), vol.Range(min=0.01)
    ),
    vol.Optional(CONF_DEVICES, default=[]): [_DEVICE],
    **_LIMITS,
    **{
        vol.Optional(key, default=[]): vol.All(validators.ensure_list, list)
        for key in _PLATFORM_KEYS
    },
}

_NETWORK_HUB: Final = vol.Schema(
    {
        **_COMMON,
        vol.Required(CONF_HOST): validators.string,
        vol.Required(CONF_PORT): validators.port,
    }
)

_SERIAL_HUB: Final = vol.Schema(
    {
        **_COMMON,
        vol.Required(CONF_PORT): validators.string,
        vol.Required(CONF_BAUDRATE): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Required(CONF_BYTESIZE): vol.In([5, 6, 7, 8]),
        vol.Required(CONF_METHOD): vol.In(["rtu", "ascii"]),
        vol.Required(CONF_PARITY): vol.In(["E", "O", "N"]),
        vol.Required(CONF_STOPBITS): vol.In([1, 2]),
    }
)

_PLATFORM_SCHEMAS: Final = {
    CONF_SENSORS: SENSOR_SCHEMA,
    CONF_BINARY_SENSORS: BINARY_SENSOR_SCHEMA,
    CONF_SWITCHES: SWITCH_SCHEMA,
    CONF_NUMBERS: NUMBER_SCHEMA,
    CONF_CLIMATES: CLIMATE_SCHEMA,
}


def _hub(value: object) -> dict[str, Any]:
    """Validate one hub with the schema its ``type`` calls for, then each of its entities."""
    if not isinstance(value, dict):
        raise vol.Invalid("expected a hub: a mapping with 'type' and its connection")
    schema = _SERIAL_HUB if value.get(CONF_TYPE) == HubType.SERIAL.value else _NETWORK_HUB
    hub: dict[str, Any] = schema(value)
    errors: list[vol.Invalid] = []
    for key in _PLATFORM_KEYS:
        validated: list[dict[str, Any]] = []
        for index, item in enumerate(hub[key]):
            try:
                validated.append(_PLATFORM_SCHEMAS[key](item))
            except vol.MultipleInvalid as exc:
                errors.extend(_prefixed(e, [key, index]) for e in exc.errors)
            except vol.Invalid as exc:
                errors.append(_prefixed(exc, [key, index]))
        hub[key] = validated
    if errors:
        raise vol.MultipleInvalid(errors)
    return hub


def _prefixed(error: vol.Invalid, prefix: list[Any]) -> vol.Invalid:
    return vol.Invalid(error.msg, [*prefix, *error.path], error_message=error.error_message)


# --- building the frozen configuration, with the checks across fields and entities --------------


def _slave_of(conf: Mapping[str, Any]) -> int:
    return int(conf.get(CONF_SLAVE, conf.get(CONF_DEVICE_ADDRESS, DEFAULT_SLAVE)))


def _layout(conf: Mapping[str, Any], path: list[Any], errors: list[vol.Invalid]) -> Layout | None:
    """The value layout of an entity, or None with the errors appended."""
    data_type: DataType = conf[CONF_DATA_TYPE]
    count: int | None = conf.get(CONF_COUNT)
    structure: str | None = conf.get(CONF_STRUCTURE)
    swap = Swap(conf[CONF_SWAP])
    before = len(errors)
    if data_type in FIXED_FORMATS:
        needed = FIXED_FORMATS[data_type][1]
        if structure is not None:
            errors.append(
                vol.Invalid(
                    f"'structure' is only for data_type custom, not {data_type.value}",
                    [*path, CONF_STRUCTURE],
                )
            )
        if count is not None and count < needed:
            errors.append(
                vol.Invalid(
                    f"count {count} is too small for data_type {data_type.value}, which takes "
                    f"{needed} register{'s' if needed > 1 else ''}",
                    [*path, CONF_COUNT],
                )
            )
        elif count is not None and count != needed:
            errors.append(
                vol.Invalid(
                    f"count {count} does not match data_type {data_type.value} ({needed} "
                    "registers); leave count out, or use virtual_count for several values",
                    [*path, CONF_COUNT],
                )
            )
        count = needed
    elif data_type is DataType.STRING:
        if count is None:
            errors.append(
                vol.Invalid("data_type string needs 'count' (registers)", [*path, CONF_COUNT])
            )
    elif structure is None:
        errors.append(vol.Invalid("data_type custom needs 'structure'", [*path, CONF_STRUCTURE]))
    else:
        size = struct.calcsize(structure)
        if count is None:
            if size % 2:
                errors.append(
                    vol.Invalid(
                        f"structure {structure!r} is {size} bytes, not whole registers",
                        [*path, CONF_STRUCTURE],
                    )
                )
            count = size // 2
        elif size != count * 2:
            errors.append(
                vol.Invalid(
                    f"structure {structure!r} is {size} bytes but count {count} gives "
                    f"{count * 2} bytes",
                    [*path, CONF_STRUCTURE],
                )
            )
    if count is not None and count == 1 and swap in (Swap.WORD, Swap.WORD_BYTE):
        errors.append(
            vol.Invalid(
                f"swap {swap.value} needs a value of more than one register; "
                f"{data_type.value} here is one register (use swap: byte)",
                [*path, CONF_SWAP],
            )
        )
    if len(errors) > before or count is None:
        return None
    return Layout.of(data_type, count=count, structure=structure, swap=swap)


def _transform(conf: Mapping[str, Any], *, clamp: bool) -> Transform:
    return Transform(
        scale=conf[CONF_SCALE],
        offset=conf[CONF_OFFSET],
        precision=conf.get(CONF_PRECISION),
        min_value=conf.get(CONF_MIN_VALUE),
        max_value=conf.get(CONF_MAX_VALUE),
        nan_value=conf.get(CONF_NAN_VALUE),
        zero_suppress=conf.get(CONF_ZERO_SUPPRESS),
        clamp=clamp,
    )


def _base(conf: Mapping[str, Any], path: list[Any], **overrides: Any) -> dict[str, Any]:
    base = {
        "name": conf[CONF_NAME],
        "unique_id": conf.get(CONF_UNIQUE_ID),
        "slave": _slave_of(conf),
        "address": conf[CONF_ADDRESS],
        "input_type": InputType(conf[CONF_INPUT_TYPE]),
        "scan_interval": conf[CONF_SCAN_INTERVAL],
        "device_class": conf.get(CONF_DEVICE_CLASS),
        "path": tuple(path),
        "lazy_error_count": conf[CONF_LAZY_ERROR],
    }
    base.update(overrides)
    return base


def _virtual(conf: Mapping[str, Any], index: int) -> tuple[str, str | None]:
    """Name and unique id of the ``index``-th virtual entity (0 is the configured one)."""
    if index == 0:
        return conf[CONF_NAME], conf.get(CONF_UNIQUE_ID)
    unique_id = conf.get(CONF_UNIQUE_ID)
    return f"{conf[CONF_NAME]} {index}", None if unique_id is None else f"{unique_id}_{index}"


def _build_entities(
    hub: Mapping[str, Any], hub_index: int, errors: list[vol.Invalid]
) -> list[AnyEntityConfig]:
    entities: list[AnyEntityConfig] = []
    for index, conf in enumerate(hub[CONF_SENSORS]):
        path = [hub_index, CONF_SENSORS, index]
        layout = _layout(conf, path, errors)
        if layout is None:
            continue
        if layout.data_type is DataType.STRING and CONF_PRECISION in conf:
            errors.append(vol.Invalid("a string sensor has no precision", [*path, CONF_PRECISION]))
            continue
        extra = conf.get(CONF_VIRTUAL_COUNT, conf.get(CONF_SLAVE_COUNT, 0))
        for k in range(extra + 1):
            name, unique_id = _virtual(conf, k)
            entities.append(
                SensorConfig(
                    **_base(
                        conf,
                        path,
                        name=name,
                        unique_id=unique_id,
                        address=conf[CONF_ADDRESS] + k * layout.count,
                    ),
                    layout=layout,
                    transform=_transform(conf, clamp=True),
                    unit=conf.get(CONF_UNIT_OF_MEASUREMENT),
                    state_class=conf.get(CONF_STATE_CLASS),
                )
            )
    for index, conf in enumerate(hub[CONF_BINARY_SENSORS]):
        path = [hub_index, CONF_BINARY_SENSORS, index]
        extra = conf.get(CONF_VIRTUAL_COUNT, conf.get(CONF_SLAVE_COUNT, 0))
        for k in range(extra + 1):
            name, unique_id = _virtual(conf, k)
            entities.append(
                BinarySensorConfig(
                    **_base(
                        conf, path, name=name, unique_id=unique_id, address=conf[CONF_ADDRESS] + k
                    )
                )
            )
    for index, conf in enumerate(hub[CONF_SWITCHES]):
        path = [hub_index, CONF_SWITCHES, index]
        write_type = WriteType(conf[CONF_WRITE_TYPE])
        is_coil = write_type in (WriteType.COIL, WriteType.COILS)
        table = InputType.COIL if is_coil else InputType.HOLDING
        verify: VerifyConfig | None = None
        if (block := conf.get(CONF_VERIFY)) is not None:
            verify = VerifyConfig(
                address=block.get(CONF_ADDRESS, conf[CONF_ADDRESS]),
                input_type=InputType(block.get(CONF_INPUT_TYPE, table.value)),
                state_on=block.get(CONF_STATE_ON, 1 if is_coil else conf[CONF_COMMAND_ON]),
                state_off=block.get(CONF_STATE_OFF, 0 if is_coil else conf[CONF_COMMAND_OFF]),
                delay=block[CONF_DELAY],
            )
        entities.append(
            SwitchConfig(
                **_base({**conf, CONF_INPUT_TYPE: table.value}, path),
                write_type=write_type,
                command_on=conf[CONF_COMMAND_ON],
                command_off=conf[CONF_COMMAND_OFF],
                verify=verify,
            )
        )
    for index, conf in enumerate(hub[CONF_NUMBERS]):
        path = [hub_index, CONF_NUMBERS, index]
        layout = _layout(conf, path, errors)
        if layout is None:
            continue
        if (
            layout.data_type is DataType.STRING
            or layout.structure.count(",")
            or len(layout.structure.lstrip("<>!=@")) != 1
        ):
            errors.append(
                vol.Invalid("a number needs a single numeric value", [*path, CONF_DATA_TYPE])
            )
            continue
        if conf[CONF_MIN_VALUE] > conf[CONF_MAX_VALUE]:
            errors.append(
                vol.Invalid(
                    f"min_value {conf[CONF_MIN_VALUE]:g} is above max_value "
                    f"{conf[CONF_MAX_VALUE]:g}",
                    [*path, CONF_MIN_VALUE],
                )
            )
            continue
        entities.append(
            NumberConfig(
                **_base(conf, path),
                layout=layout,
                transform=_transform(conf, clamp=False),
                min_value=conf[CONF_MIN_VALUE],
                max_value=conf[CONF_MAX_VALUE],
                step=conf[CONF_STEP],
                mode=NumberMode(conf[CONF_MODE]),
                unit=conf.get(CONF_UNIT_OF_MEASUREMENT),
                verify=conf[CONF_VERIFY],
            )
        )
    for index, conf in enumerate(hub[CONF_CLIMATES]):
        path = [hub_index, CONF_CLIMATES, index]
        layout = _layout(conf, path, errors)
        if layout is None:
            continue
        if conf[CONF_MIN_TEMP] > conf[CONF_MAX_TEMP]:
            errors.append(vol.Invalid("min_temp is above max_temp", [*path, CONF_MIN_TEMP]))
            continue
        mode_register: HvacModeRegister | None = None
        if (block := conf.get(CONF_HVAC_MODE_REGISTER)) is not None:
            mode_register = HvacModeRegister(
                address=block[CONF_ADDRESS],
                values={_HVAC_VALUE_KEYS[k]: v for k, v in block[CONF_HVAC_MODE_VALUES].items()},
                write_registers=block[CONF_WRITE_REGISTERS],
            )
        entities.append(
            ClimateConfig(
                **_base(conf, path),
                layout=layout,
                transform=_transform(conf, clamp=False),
                target_address=conf[CONF_TARGET_TEMP],
                target_write_registers=conf[CONF_TARGET_TEMP_WRITE_REGISTERS],
                min_temp=conf[CONF_MIN_TEMP],
                max_temp=conf[CONF_MAX_TEMP],
                temp_step=conf[CONF_TEMP_STEP],
                temperature_unit=conf[CONF_TEMPERATURE_UNIT],
                hvac_mode_register=mode_register,
                hvac_onoff_register=conf.get(CONF_HVAC_ONOFF_REGISTER),
            )
        )
    return entities


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


def _describe(entity: AnyEntityConfig, span: RegisterSpan) -> str:
    last = span.address + span.count - 1
    where = f"{span.table.value} {span.address}" + (f"-{last}" if last != span.address else "")
    what = f" as {span.layout.data_type.value}" if span.layout is not None else ""
    return f"'{entity.name}' (device {span.slave}, {where}{what})"


def _check_overlaps(entities: list[AnyEntityConfig], errors: list[vol.Invalid]) -> None:
    """Two entities that read the same items must read them the same way."""
    seen: dict[tuple[int, InputType], list[tuple[RegisterSpan, AnyEntityConfig]]] = {}
    reported: set[ConfigPath] = set()
    for entity in entities:
        for span in spans_of(entity):
            others = seen.setdefault((span.slave, span.table), [])
            for other_span, other in others:
                if other is entity or other.path == entity.path:
                    continue
                if not (
                    span.address < other_span.address + other_span.count
                    and other_span.address < span.address + span.count
                ):
                    continue
                same_range = (span.address, span.count) == (other_span.address, other_span.count)
                agree = same_range and (
                    span.layout is None
                    or other_span.layout is None
                    or span.layout == other_span.layout
                )
                if agree or entity.path in reported:
                    continue
                reported.add(entity.path)
                errors.append(
                    vol.Invalid(
                        f"{_describe(entity, span)} overlaps {_describe(other, other_span)} "
                        "with a different layout; one of them reads the wrong registers",
                        [*entity.path, CONF_ADDRESS],
                    )
                )
            others.append((span, entity))


def _limits(conf: Mapping[str, Any], base: DeviceLimits) -> DeviceLimits:
    return DeviceLimits(
        max_read_registers=conf.get(CONF_MAX_READ_REGISTERS, base.max_read_registers),
        max_read_bits=conf.get(CONF_MAX_READ_BITS, base.max_read_bits),
        max_gap_registers=conf.get(CONF_MAX_GAP_REGISTERS, base.max_gap_registers),
        max_gap_bits=conf.get(CONF_MAX_GAP_BITS, base.max_gap_bits),
        forbidden=base.forbidden
        + tuple(
            ForbiddenRange(InputType(f[CONF_INPUT_TYPE]), f[CONF_START], f[CONF_END])
            for f in conf.get(CONF_FORBIDDEN, [])
        ),
    )


def _build_hub(hub: Mapping[str, Any], index: int, errors: list[vol.Invalid]) -> HubConfig:
    hub_type = HubType(hub[CONF_TYPE])
    serial = hub_type is HubType.SERIAL
    default_limits = _limits(hub, DeviceLimits())
    device_limits: dict[int, DeviceLimits] = {}
    for dev_index, dev in enumerate(hub[CONF_DEVICES]):
        slave = _slave_of(dev)
        if slave in device_limits:
            errors.append(
                vol.Invalid(f"device {slave} is listed twice", [index, CONF_DEVICES, dev_index])
            )
        device_limits[slave] = _limits(dev, default_limits)
    for limits_path, limits in [([index], default_limits)] + [
        ([index, CONF_DEVICES, i], device_limits[_slave_of(d)])
        for i, d in enumerate(hub[CONF_DEVICES])
    ]:
        for forbidden in limits.forbidden:
            if forbidden.start > forbidden.end:
                errors.append(
                    vol.Invalid(
                        f"forbidden range {forbidden.start}-{forbidden.end} ends before it starts",
                        [*limits_path, CONF_FORBIDDEN],
                    )
                )
    entities = _build_entities(hub, index, errors)
    _check_overlaps(entities, errors)
    for entity in entities:
        limits = device_limits.get(entity.slave, default_limits)
        for span in spans_of(entity):
            if span.address + span.count - 1 > MAX_ADDRESS:
                errors.append(
                    vol.Invalid(
                        f"{_describe(entity, span)} runs past address {MAX_ADDRESS}",
                        [*entity.path, CONF_ADDRESS],
                    )
                )
            if span.count > limits.max_count(span.table):
                errors.append(
                    vol.Invalid(
                        f"{_describe(entity, span)} needs {span.count} items in one read but "
                        f"device {entity.slave} allows {limits.max_count(span.table)}",
                        [*entity.path, CONF_COUNT],
                    )
                )
            for forbidden in limits.forbidden:
                if forbidden.input_type is span.table and forbidden.overlaps(
                    span.address, span.count
                ):
                    errors.append(
                        vol.Invalid(
                            f"{_describe(entity, span)} lies in the forbidden range "
                            f"{forbidden.start}-{forbidden.end} of device {entity.slave}",
                            [*entity.path, CONF_ADDRESS],
                        )
                    )
    msg_wait = hub.get(CONF_MSG_WAIT)
    if msg_wait is None:
        msg_wait = DEFAULT_SERIAL_MSG_WAIT_MS if serial else 0
    return HubConfig(
        name=hub[CONF_NAME],
        type=hub_type,
        host=None if serial else hub[CONF_HOST],
        port=None if serial else hub[CONF_PORT],
        serial_port=hub[CONF_PORT] if serial else None,
        baudrate=hub.get(CONF_BAUDRATE, 9600),
        bytesize=hub.get(CONF_BYTESIZE, 8),
        method=hub.get(CONF_METHOD, "rtu"),
        parity=hub.get(CONF_PARITY, "N"),
        stopbits=hub.get(CONF_STOPBITS, 1),
        timeout=hub[CONF_TIMEOUT],
        delay=hub[CONF_DELAY],
        message_wait=msg_wait / 1000.0,
        retries=hub[CONF_RETRIES],
        parallel=hub[CONF_PARALLEL] and not serial and hub_type is not HubType.RTU_OVER_TCP,
        reconnect_delay=hub[CONF_RECONNECT_DELAY],
        reconnect_delay_max=max(hub[CONF_RECONNECT_DELAY_MAX], hub[CONF_RECONNECT_DELAY]),
        default_limits=default_limits,
        device_limits=device_limits,
        entities=tuple(entities),
    )


def _build(hubs: list[dict[str, Any]]) -> ModbusConfig:
    """Turn validated hubs into a ``ModbusConfig``, checking what spans fields and entities."""
    errors: list[vol.Invalid] = []
    names: dict[str, int] = {}
    unique_ids: dict[str, ConfigPath] = {}
    built: list[HubConfig] = []
    for index, hub in enumerate(hubs):
        if hub[CONF_NAME] in names:
            errors.append(
                vol.Invalid(
                    f"hub name {hub[CONF_NAME]!r} is already used by hub {names[hub[CONF_NAME]]}; "
                    "give each hub its own name",
                    [index, CONF_NAME],
                )
            )
        names.setdefault(hub[CONF_NAME], index)
        config = _build_hub(hub, index, errors)
        for entity in config.entities:
            if entity.unique_id is None:
                continue
            if (first := unique_ids.get(entity.unique_id)) is not None and first != entity.path:
                errors.append(
                    vol.Invalid(
                        f"unique_id {entity.unique_id!r} is already used",
                        [*entity.path, CONF_UNIQUE_ID],
                    )
                )
            unique_ids.setdefault(entity.unique_id, entity.path)
        built.append(config)
    if errors:
        raise vol.MultipleInvalid(errors)
    return ModbusConfig(tuple(built))


CONFIG_SCHEMA = vol.All(validators.ensure_list, [_hub], _build)
"""Validates the value under ``modbus:`` (one hub or a list) into a :class:`ModbusConfig`."""

_HUB_FIELD: Final = vol.Optional("hub", default=DEFAULT_HUB)


def _device_field(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``unit``, ``slave`` and ``device_address`` all name the device; one is required."""
    given = [k for k in ("unit", "slave", "device_address") if k in data]
    if len(given) != 1:
        raise vol.Invalid("give the device as one of 'slave', 'unit' or 'device_address'")
    return data


WRITE_REGISTER_SCHEMA: Final = vol.Schema(
    vol.All(
        vol.Schema(
            {
                _HUB_FIELD: validators.string,
                vol.Optional("unit"): _slave,
                vol.Optional("slave"): _slave,
                vol.Optional("device_address"): _slave,
                vol.Required("address"): _address,
                vol.Required("value"): vol.Any(
                    vol.All(_int_or_hex, vol.Range(min=0, max=0xFFFF)),
                    vol.All(
                        [vol.All(_int_or_hex, vol.Range(min=0, max=0xFFFF))],
                        vol.Length(min=1, max=123),
                    ),
                ),
            }
        ),
        _device_field,
    )
)
"""The data of ``modbus.write_register``: one 16-bit value (FC 6) or a list of them (FC 16)."""

WRITE_COIL_SCHEMA: Final = vol.Schema(
    vol.All(
        vol.Schema(
            {
                _HUB_FIELD: validators.string,
                vol.Optional("unit"): _slave,
                vol.Optional("slave"): _slave,
                vol.Optional("device_address"): _slave,
                vol.Required("address"): _address,
                vol.Required("state"): vol.Any(
                    validators.boolean, vol.All([validators.boolean], vol.Length(min=1, max=1968))
                ),
            }
        ),
        _device_field,
    )
)
"""The data of ``modbus.write_coil``: one state (FC 5) or a list of them (FC 15)."""
