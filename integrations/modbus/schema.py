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
from typing import Any, Final

import voluptuous as vol

from core import validators
from core.entities.number import NumberMode

from .build import build_config
from .codec import DATA_TYPE_ALIASES, DataType
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
    DEFAULT_RECONNECT_DELAY,
    DEFAULT_RECONNECT_DELAY_MAX,
    DEFAULT_RETRIES,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_TIMEOUT,
    MAX_ADDRESS,
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    HubType,
    InputType,
    Swap,
    WriteType,
)
from .model import HVAC_VALUE_KEYS

_PLATFORM_KEYS: Final = (
    CONF_SENSORS,
    CONF_BINARY_SENSORS,
    CONF_SWITCHES,
    CONF_NUMBERS,
    CONF_CLIMATES,
)

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
                for key in HVAC_VALUE_KEYS
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


CONFIG_SCHEMA = vol.All(validators.ensure_list, [_hub], build_config)
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
