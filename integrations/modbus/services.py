"""``modbus.write_register`` and ``modbus.write_coil``: raw writes, bounded and audited.

A raw write that covers the registers of an entity with bounds (a number's ``min_value`` and
``max_value``, a climate's ``min_temp``/``max_temp`` on its setpoint, a sensor's
``min_value``/``max_value``) is decoded as that entity decodes its registers and refused when
the value is outside them; a write that covers only part of such an entity's registers is
refused, because its bounds could not be checked. Every write goes through the audited write
pipeline, recorded against the entity it touches, or the hub's connectivity sensor when it
touches none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core import ServiceCall
from core.audit import audited_write
from core.errors import ServiceValidationError

from .codec import Layout, Transform
from .const import (
    ATTR_ADDRESS,
    ATTR_HUB,
    ATTR_STATE,
    ATTR_VALUE,
    DOMAIN,
    SERVICE_WRITE_COIL,
    SERVICE_WRITE_REGISTER,
    InputType,
)
from .model import ClimateConfig, NumberConfig, SensorConfig, spans_of
from .schema import WRITE_COIL_SCHEMA, WRITE_REGISTER_SCHEMA

if TYPE_CHECKING:
    from core import Entity, Runtime

    from .entities import HubConnectivity, ModbusEntity
    from .hub import ModbusHub


@dataclass(slots=True)
class HubEntities:
    """A running hub with its entities, as the services need them."""

    hub: ModbusHub
    connectivity: HubConnectivity
    entities: list[ModbusEntity]


@dataclass(frozen=True, slots=True)
class _Bound:
    """Registers of an entity whose values must stay within bounds."""

    entity: ModbusEntity
    address: int
    layout: Layout
    transform: Transform
    minimum: float
    maximum: float


def _bounds(entity: ModbusEntity) -> list[_Bound]:
    config = entity.config
    if isinstance(config, NumberConfig):
        return [
            _Bound(
                entity,
                config.address,
                config.layout,
                config.transform,
                config.min_value,
                config.max_value,
            )
        ]
    if isinstance(config, ClimateConfig):
        return [
            _Bound(
                entity,
                config.target_address,
                config.layout,
                config.transform,
                config.min_temp,
                config.max_temp,
            )
        ]
    if (
        isinstance(config, SensorConfig)
        and config.input_type is InputType.HOLDING
        and (config.transform.min_value is not None or config.transform.max_value is not None)
    ):
        return [
            _Bound(
                entity,
                config.address,
                config.layout,
                config.transform,
                config.transform.min_value
                if config.transform.min_value is not None
                else float("-inf"),
                config.transform.max_value
                if config.transform.max_value is not None
                else float("inf"),
            )
        ]
    return []


def _slave(data: Mapping[str, Any]) -> int:
    for key in ("slave", "unit", "device_address"):
        if key in data:
            return int(data[key])
    raise KeyError("slave")  # pragma: no cover - the schema requires one


def _hub(hubs: Mapping[str, HubEntities], call: ServiceCall) -> HubEntities:
    name = call.data[ATTR_HUB]
    found = hubs.get(name)
    if found is None:
        raise ServiceValidationError(
            f"{DOMAIN}.{call.service}: no hub named {name!r} (hubs: {', '.join(sorted(hubs))})",
            domain=call.domain,
            service=call.service,
            key=ATTR_HUB,
        )
    return found


def _touched(
    hub: HubEntities, slave: int, table: InputType, address: int, count: int
) -> list[ModbusEntity]:
    """Entities whose registers (or coils) the write overlaps."""
    touched: list[ModbusEntity] = []
    for entity in hub.entities:
        if entity.config.slave != slave:
            continue
        for span in spans_of(entity.config):
            if (
                span.table is table
                and span.address < address + count
                and address < span.address + span.count
            ):
                touched.append(entity)
                break
    return touched


def _check_bounds(
    call: ServiceCall, hub: HubEntities, slave: int, address: int, values: Sequence[int]
) -> None:
    """Refuse a register write that breaks, or cannot be checked against, an entity's bounds."""
    end = address + len(values)
    for entity in hub.entities:
        if entity.config.slave != slave:
            continue
        for bound in _bounds(entity):
            first, last = bound.address, bound.address + bound.layout.count
            if last <= address or first >= end:
                continue
            name = entity.entity_id
            if first < address or last > end:
                raise ServiceValidationError(
                    f"{DOMAIN}.{call.service}: the write covers only part of {name}'s registers "
                    f"(holding {first}-{last - 1}); write all of them so its bounds can be checked",
                    domain=call.domain,
                    service=call.service,
                    key=ATTR_VALUE,
                )
            registers = list(values[first - address : last - address])
            shown = Transform(
                scale=bound.transform.scale, offset=bound.transform.offset, clamp=False
            ).apply(bound.layout, registers)
            if not isinstance(shown, int | float) or not bound.minimum <= shown <= bound.maximum:
                raise ServiceValidationError(
                    f"{DOMAIN}.{call.service}: {registers} is {shown!r} for {name}, outside its "
                    f"range {bound.minimum:g} to {bound.maximum:g}",
                    domain=call.domain,
                    service=call.service,
                    key=ATTR_VALUE,
                )


def register_services(runtime: Runtime, hubs: Mapping[str, HubEntities]) -> None:
    """Register ``modbus.write_register`` and ``modbus.write_coil`` for ``hubs`` (by name)."""

    async def write_raw(call: ServiceCall, table: InputType, key: str, service: str) -> None:
        """Write ``call.data[key]`` (one value or a list) to the coils or holding registers."""
        hub = _hub(hubs, call)
        slave = _slave(call.data)
        address: int = call.data[ATTR_ADDRESS]
        raw = call.data[key]
        single = not isinstance(raw, list)
        values: list[Any] = [raw] if single else list(raw)
        if table is InputType.HOLDING:
            _check_bounds(call, hub, slave, address, values)
        touched = _touched(hub, slave, table, address, len(values))
        target: Entity = touched[0] if touched else hub.connectivity

        async def write() -> None:
            if table is InputType.HOLDING:
                await hub.hub.write_registers(slave, address, values, single=single)
            else:
                await hub.hub.write_coils(slave, address, values, single=single)

        await audited_write(
            runtime,
            target,
            f"{DOMAIN}.{service}",
            {ATTR_HUB: hub.hub.name, "slave": slave, ATTR_ADDRESS: address, key: raw},
            call.context,
            write,
        )
        hub.hub.refresh(slave, table)

    async def write_register(call: ServiceCall) -> None:
        await write_raw(call, InputType.HOLDING, ATTR_VALUE, SERVICE_WRITE_REGISTER)

    async def write_coil(call: ServiceCall) -> None:
        await write_raw(call, InputType.COIL, ATTR_STATE, SERVICE_WRITE_COIL)

    runtime.services.register(DOMAIN, SERVICE_WRITE_REGISTER, write_register, WRITE_REGISTER_SCHEMA)
    runtime.services.register(DOMAIN, SERVICE_WRITE_COIL, write_coil, WRITE_COIL_SCHEMA)
