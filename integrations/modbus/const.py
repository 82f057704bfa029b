"""Constants of the Modbus integration: configuration keys, defaults and protocol limits."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DOMAIN: Final = "modbus"
NAME: Final = "Modbus"

# --- hub keys (Home Assistant's names) -----------------------------------------------------------
CONF_NAME: Final = "name"
CONF_TYPE: Final = "type"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_TIMEOUT: Final = "timeout"
CONF_DELAY: Final = "delay"
CONF_MSG_WAIT: Final = "message_wait_milliseconds"
CONF_RETRIES: Final = "retries"
CONF_BAUDRATE: Final = "baudrate"
CONF_BYTESIZE: Final = "bytesize"
CONF_METHOD: Final = "method"
CONF_PARITY: Final = "parity"
CONF_STOPBITS: Final = "stopbits"
#: Accepted for compatibility and ignored: Edgewise always reconnects by itself.
CONF_CLOSE_COMM_ON_ERROR: Final = "close_comm_on_error"
CONF_RETRY_ON_EMPTY: Final = "retry_on_empty"

# --- hub keys of Edgewise's own ------------------------------------------------------------------
CONF_PARALLEL: Final = "parallel"
CONF_DEVICES: Final = "devices"
CONF_MAX_READ_REGISTERS: Final = "max_read_registers"
CONF_MAX_READ_BITS: Final = "max_read_bits"
CONF_MAX_GAP_REGISTERS: Final = "max_gap_registers"
CONF_MAX_GAP_BITS: Final = "max_gap_bits"
CONF_FORBIDDEN: Final = "forbidden"
CONF_START: Final = "start"
CONF_END: Final = "end"
CONF_RECONNECT_DELAY: Final = "reconnect_delay"
CONF_RECONNECT_DELAY_MAX: Final = "reconnect_delay_max"

# --- entity keys ---------------------------------------------------------------------------------
CONF_SENSORS: Final = "sensors"
CONF_BINARY_SENSORS: Final = "binary_sensors"
CONF_SWITCHES: Final = "switches"
CONF_NUMBERS: Final = "numbers"
CONF_CLIMATES: Final = "climates"

CONF_UNIQUE_ID: Final = "unique_id"
CONF_SLAVE: Final = "slave"
CONF_DEVICE_ADDRESS: Final = "device_address"
CONF_ADDRESS: Final = "address"
CONF_INPUT_TYPE: Final = "input_type"
CONF_COUNT: Final = "count"
CONF_DATA_TYPE: Final = "data_type"
CONF_STRUCTURE: Final = "structure"
CONF_SWAP: Final = "swap"
CONF_SCALE: Final = "scale"
CONF_OFFSET: Final = "offset"
CONF_PRECISION: Final = "precision"
CONF_MIN_VALUE: Final = "min_value"
CONF_MAX_VALUE: Final = "max_value"
CONF_NAN_VALUE: Final = "nan_value"
CONF_ZERO_SUPPRESS: Final = "zero_suppress"
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_SLAVE_COUNT: Final = "slave_count"
CONF_VIRTUAL_COUNT: Final = "virtual_count"
CONF_UNIT_OF_MEASUREMENT: Final = "unit_of_measurement"
CONF_DEVICE_CLASS: Final = "device_class"
CONF_STATE_CLASS: Final = "state_class"
CONF_LAZY_ERROR: Final = "lazy_error_count"
CONF_WRITE_TYPE: Final = "write_type"
CONF_COMMAND_ON: Final = "command_on"
CONF_COMMAND_OFF: Final = "command_off"
CONF_VERIFY: Final = "verify"
CONF_STATE_ON: Final = "state_on"
CONF_STATE_OFF: Final = "state_off"
CONF_STEP: Final = "step"
CONF_MODE: Final = "mode"
CONF_TARGET_TEMP: Final = "target_temp_register"
CONF_TARGET_TEMP_WRITE_REGISTERS: Final = "target_temp_write_registers"
CONF_MIN_TEMP: Final = "min_temp"
CONF_MAX_TEMP: Final = "max_temp"
CONF_TEMP_STEP: Final = "temp_step"
CONF_TEMPERATURE_UNIT: Final = "temperature_unit"
CONF_HVAC_MODE_REGISTER: Final = "hvac_mode_register"
CONF_HVAC_MODE_VALUES: Final = "values"
CONF_HVAC_ONOFF_REGISTER: Final = "hvac_onoff_register"
CONF_WRITE_REGISTERS: Final = "write_registers"

# --- service fields ------------------------------------------------------------------------------
SERVICE_WRITE_REGISTER: Final = "write_register"
SERVICE_WRITE_COIL: Final = "write_coil"
ATTR_HUB: Final = "hub"
ATTR_UNIT: Final = "unit"
ATTR_SLAVE: Final = "slave"
ATTR_DEVICE_ADDRESS: Final = "device_address"
ATTR_ADDRESS: Final = "address"
ATTR_VALUE: Final = "value"
ATTR_STATE: Final = "state"

# --- defaults ------------------------------------------------------------------------------------
DEFAULT_HUB: Final = "modbus_hub"
DEFAULT_SCAN_INTERVAL: Final = 15.0
DEFAULT_SLAVE: Final = 1
DEFAULT_TIMEOUT: Final = 3.0
DEFAULT_RETRIES: Final = 3
DEFAULT_SERIAL_MSG_WAIT_MS: Final = 30
DEFAULT_RECONNECT_DELAY: Final = 0.5
DEFAULT_RECONNECT_DELAY_MAX: Final = 30.0
#: Registers a gap may have and still be read through: a request and its answer carry about
#: a dozen bytes of framing and a round trip; ten registers are twenty bytes of payload.
DEFAULT_MAX_GAP_REGISTERS: Final = 10
DEFAULT_MAX_GAP_BITS: Final = 160
#: How often a device that answers "busy" is asked again within one scan.
BUSY_RETRIES: Final = 2
BUSY_RETRY_DELAY: Final = 0.05

#: The protocol's limits: Modbus application protocol v1.1b3, 6.1 to 6.4.
MAX_READ_REGISTERS: Final = 125
MAX_READ_BITS: Final = 2000
MAX_WRITE_REGISTERS: Final = 123
MAX_WRITE_COILS: Final = 1968
MAX_ADDRESS: Final = 65535


class HubType(StrEnum):
    """How a hub reaches its devices."""

    TCP = "tcp"
    UDP = "udp"
    RTU_OVER_TCP = "rtuovertcp"
    SERIAL = "serial"


class InputType(StrEnum):
    """The four tables of a Modbus device."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def is_bits(self) -> bool:
        """Whether the table holds bits rather than 16-bit registers."""
        return self in (InputType.COIL, InputType.DISCRETE_INPUT)


class WriteType(StrEnum):
    """How a switch writes its command (Home Assistant's names)."""

    HOLDING = "holding"
    HOLDINGS = "holdings"
    COIL = "coil"
    COILS = "coils"


class Swap(StrEnum):
    """Byte and word order of a multi-register value, relative to big-endian."""

    NONE = "none"
    BYTE = "byte"
    WORD = "word"
    WORD_BYTE = "word_byte"
