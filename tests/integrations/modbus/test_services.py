"""Writes to a real pymodbus server: entity services and modbus.write_*, bounded and audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymodbus.constants import ExcCodes

from core.audit import audit_log
from core.errors import DeviceProtocolError, ServiceValidationError
from core.runtime import Runtime
from tests._helpers import wait_for

from .conftest import hub_yaml, running_site, tables, wait_state

BODY = """\
sensors:
  - {name: Flow, address: 40, min_value: 0, max_value: 500}
numbers:
  - name: Setpoint
    address: 10
    data_type: int16
    scale: 0.1
    precision: 1
    min_value: 5
    max_value: 60
    verify: true
  - name: Limit
    address: 20
    data_type: float32
    swap: word
    min_value: -10
    max_value: 10
switches:
  - {name: Pump, address: 3, write_type: coil, verify: }
  - {name: Fan, address: 30, command_on: 5, command_off: 2}
  - name: Heater
    address: 31
    command_on: 1
    command_off: 0
    verify:
      address: 32
      state_on: 25
      state_off: 1
climates:
  - name: Zone
    address: 0
    input_type: input
    target_temp_register: 50
    data_type: int16
    scale: 0.1
    precision: 1
    min_temp: 15
    max_temp: 28
    hvac_mode_register:
      address: 51
      values: {state_heat: 1, state_cool: 2}
    hvac_onoff_register: 52
"""


async def start(modbus_server, tmp_path: Path):  # type: ignore[no-untyped-def]
    server = await modbus_server(
        {
            1: tables(
                coils={0: [False] * 16},
                holding={0: [0] * 60},
                inputs={0: [215]},
            )
        }
    )
    await server.set_registers(1, 50, [200, 1, 1])
    await server.set_registers(1, 32, [1])
    return server, running_site(tmp_path, hub_yaml(server.port, BODY))


def records(runtime: Runtime, entity_id: str) -> list[tuple[str, str, str | None]]:
    return [
        (r.action, r.outcome.value, r.error)
        for r in reversed(audit_log(runtime).query(entity_id=entity_id))
    ]


async def test_number_writes_within_bounds_and_verifies(tmp_path: Path, modbus_server) -> None:
    server, site = await start(modbus_server, tmp_path)
    async with site as runtime:
        await wait_state(runtime, "number.setpoint", "0.0")
        await runtime.services.call(
            "number", "set_value", {"value": 21.5}, target={"entity_id": "number.setpoint"}
        )
        assert await server.get_registers(1, 10, 1) == [215]
        await wait_state(runtime, "number.setpoint", "21.5")
        with pytest.raises(ServiceValidationError, match="outside its range 5 to 60"):
            await runtime.services.call(
                "number", "set_value", {"value": 61}, target={"entity_id": "number.setpoint"}
            )
        assert await server.get_registers(1, 10, 1) == [215]
        # A device that clamps what it is given: the read-back shows it, the write fails.
        server.write_filter = lambda _dev, _addr, values: values.__setitem__(0, min(values[0], 400))
        with pytest.raises(DeviceProtocolError, match=r"wrote \[550\] .* read back \[400\]"):
            await runtime.services.call(
                "number", "set_value", {"value": 55}, target={"entity_id": "number.setpoint"}
            )
        (ok, failed) = records(runtime, "number.setpoint")
        assert ok == ("number.set_value", "ok", None)
        assert failed[:2] == ("number.set_value", "error")
        assert "read back [400]" in str(failed[2])
        await runtime.services.call(
            "number", "set_value", {"value": -2.5}, target={"entity_id": "number.limit"}
        )
        # float32 -2.5 is 0xC020 0x0000; swap word puts the low word first.
        assert await server.get_registers(1, 20, 2) == [0x0000, 0xC020]


async def test_switches_write_their_commands_and_verify(tmp_path: Path, modbus_server) -> None:
    server, site = await start(modbus_server, tmp_path)
    async with site as runtime:
        await wait_state(runtime, "switch.pump", "off")
        await runtime.services.call("switch", "turn_on", target={"entity_id": "switch.pump"})
        assert await server.get_coils(1, 3, 1) == [True]
        await wait_state(runtime, "switch.pump", "on")
        # Without verify, the state is the command that was written (an assumed state).
        await wait_state(runtime, "switch.fan", "unknown")
        await runtime.services.call("switch", "turn_on", target={"entity_id": "switch.fan"})
        assert await server.get_registers(1, 30, 1) == [5]
        fan = runtime.states.get("switch.fan")
        assert fan is not None
        assert fan.state == "on"
        assert fan.attributes["assumed_state"] is True
        # The heater reads its state from register 32, which the device sets itself.
        await wait_state(runtime, "switch.heater", "off")
        with pytest.raises(DeviceProtocolError, match="wrote on but read back 1"):
            await runtime.services.call("switch", "turn_on", target={"entity_id": "switch.heater"})
        assert records(runtime, "switch.heater")[-1][:2] == ("switch.turn_on", "error")
        await server.set_registers(1, 32, [25])
        await runtime.services.call("switch", "turn_on", target={"entity_id": "switch.heater"})
        await wait_state(runtime, "switch.heater", "on")


async def test_climate_reads_and_writes_its_setpoint_and_mode(
    tmp_path: Path, modbus_server
) -> None:
    server, site = await start(modbus_server, tmp_path)
    async with site as runtime:
        await wait_state(runtime, "climate.zone", "heat")
        zone = runtime.states.get("climate.zone")
        assert zone is not None
        assert zone.attributes["current_temperature"] == 21.5
        assert zone.attributes["temperature"] == 20.0
        await runtime.services.call(
            "climate",
            "set_temperature",
            {"temperature": 22.5},
            target={"entity_id": "climate.zone"},
        )
        assert await server.get_registers(1, 50, 1) == [225]
        with pytest.raises(ServiceValidationError):
            await runtime.services.call(
                "climate",
                "set_temperature",
                {"temperature": 30},
                target={"entity_id": "climate.zone"},
            )
        await runtime.services.call(
            "climate", "set_hvac_mode", {"hvac_mode": "cool"}, target={"entity_id": "climate.zone"}
        )
        assert await server.get_registers(1, 51, 2) == [2, 1]
        await runtime.services.call(
            "climate", "set_hvac_mode", {"hvac_mode": "off"}, target={"entity_id": "climate.zone"}
        )
        assert await server.get_registers(1, 52, 1) == [0]
        await wait_state(runtime, "climate.zone", "off")


async def test_write_register_is_bounded_by_the_entities_it_covers(
    tmp_path: Path, modbus_server
) -> None:
    server, site = await start(modbus_server, tmp_path)
    async with site as runtime:
        await wait_state(runtime, "number.setpoint", "0.0")
        call = runtime.services.call
        await call(
            "modbus", "write_register", {"hub": "plant", "slave": 1, "address": 10, "value": 300}
        )
        assert await server.get_registers(1, 10, 1) == [300]
        await wait_state(runtime, "number.setpoint", "30.0")
        with pytest.raises(ServiceValidationError, match="outside its range 5 to 60"):
            await call(
                "modbus", "write_register", {"hub": "plant", "unit": 1, "address": 10, "value": 700}
            )
        with pytest.raises(ServiceValidationError, match="outside its range 15 to 28"):
            await call(
                "modbus",
                "write_register",
                {"hub": "plant", "slave": 1, "address": 50, "value": 400},
            )
        with pytest.raises(ServiceValidationError, match="outside its range 0 to 500"):
            await call(
                "modbus",
                "write_register",
                {"hub": "plant", "slave": 1, "address": 40, "value": 501},
            )
        with pytest.raises(ServiceValidationError, match=r"only part of number\.limit"):
            await call(
                "modbus",
                "write_register",
                {"hub": "plant", "slave": 1, "address": 21, "value": [1, 2]},
            )
        await call(
            "modbus",
            "write_register",
            {"hub": "plant", "slave": 1, "address": 20, "value": [0, 0x4120]},
        )
        await wait_state(runtime, "number.limit", "10.0")
        with pytest.raises(ServiceValidationError, match="no hub named 'elsewhere'"):
            await call(
                "modbus",
                "write_register",
                {"hub": "elsewhere", "slave": 1, "address": 5, "value": 1},
            )
        # A register no entity reads: written, and audited against the hub's connectivity.
        await call(
            "modbus", "write_register", {"hub": "plant", "slave": 1, "address": 55, "value": 7}
        )
        assert await server.get_registers(1, 55, 1) == [7]
        assert records(runtime, "binary_sensor.plant_connectivity") == [
            ("modbus.write_register", "ok", None)
        ]
        assert [r[:2] for r in records(runtime, "number.setpoint")] == [
            ("modbus.write_register", "ok")
        ]
        # The device refuses a value: the error comes back, and is recorded.
        server.faults[(1, 6, 56)] = ExcCodes.ILLEGAL_VALUE
        with pytest.raises(DeviceProtocolError, match="exception 3"):
            await call(
                "modbus", "write_register", {"hub": "plant", "slave": 1, "address": 56, "value": 1}
            )
        assert records(runtime, "binary_sensor.plant_connectivity")[-1][:2] == (
            "modbus.write_register",
            "error",
        )


async def test_write_coil_single_and_several(tmp_path: Path, modbus_server) -> None:
    server, site = await start(modbus_server, tmp_path)
    async with site as runtime:
        await wait_state(runtime, "switch.pump", "off")
        await runtime.services.call(
            "modbus", "write_coil", {"hub": "plant", "slave": 1, "address": 3, "state": True}
        )
        await wait_state(runtime, "switch.pump", "on")
        await runtime.services.call(
            "modbus", "write_coil", {"hub": "plant", "slave": 1, "address": 8, "state": [1, 0, 1]}
        )
        assert await server.get_coils(1, 8, 3) == [True, False, True]
        await wait_for(lambda: len(records(runtime, "switch.pump")) == 1)
        assert [r[0] for r in records(runtime, "binary_sensor.plant_connectivity")] == [
            "modbus.write_coil"
        ]
        assert [
            (r.function_code, r.address) for r in server.requests if r.function_code in (5, 15)
        ] == [
            (5, 3),
            (15, 8),
        ]


async def test_array_write_types_use_the_multiple_write_functions(
    tmp_path: Path, modbus_server
) -> None:
    server = await modbus_server({1: tables(coils={0: [False] * 16}, holding={0: [0] * 4})})
    body = """\
switches:
  - {name: Valve, address: 2, write_type: holdings, command_on: 9}
  - {name: Lamp, address: 5, write_type: coils}
"""
    async with running_site(tmp_path, hub_yaml(server.port, body)) as runtime:
        for entity_id in ("switch.valve", "switch.lamp"):
            await wait_state(runtime, entity_id, "unknown")
            await runtime.services.call("switch", "turn_on", target={"entity_id": entity_id})
            await wait_state(runtime, entity_id, "on")
        assert await server.get_registers(1, 2, 1) == [9]
        assert await server.get_coils(1, 5, 1) == [True]
        writes = [(r.function_code, r.address) for r in server.requests if r.function_code > 4]
        assert writes == [(16, 2), (15, 5)]
