"""From validated hub mappings to a ``ModbusConfig``, with the checks across fields and entities.

Each problem is a ``vol.Invalid`` whose path points into the ``modbus:`` list, so the
configuration loader names its file and line: a ``count`` too small for the data type, a word
swap on a one-register value, a custom ``structure`` that does not fill ``count`` registers,
entities that read the same registers in different ways, an entity in a forbidden range.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from core.entities.number import NumberMode

from .codec import FIXED_FORMATS, DataType, Layout, Transform
from .const import (
    CONF_ADDRESS,
    CONF_BAUDRATE,
    CONF_BINARY_SENSORS,
    CONF_BYTESIZE,
    CONF_CLIMATES,
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
    DEFAULT_SERIAL_MSG_WAIT_MS,
    DEFAULT_SLAVE,
    MAX_ADDRESS,
    HubType,
    InputType,
    Swap,
    WriteType,
)
from .model import (
    HVAC_VALUE_KEYS,
    AnyEntityConfig,
    BinarySensorConfig,
    ClimateConfig,
    ConfigPath,
    DeviceLimits,
    ForbiddenRange,
    HubConfig,
    HvacModeRegister,
    ModbusConfig,
    NumberConfig,
    RegisterSpan,
    SensorConfig,
    SwitchConfig,
    VerifyConfig,
    spans_of,
)


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
                values={HVAC_VALUE_KEYS[k]: v for k, v in block[CONF_HVAC_MODE_VALUES].items()},
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


def build_config(hubs: list[dict[str, Any]]) -> ModbusConfig:
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
