"""Entity states from a real pymodbus server: every data type and byte/word order, scaling, NaN."""

from __future__ import annotations

import math
import struct
import subprocess
from pathlib import Path

from core.runtime import Runtime
from tests._tools import require_tool

from .conftest import hub_yaml, running_site, tables, wait_state

#: (name, data type, struct format, value, extra sensor keys)
VALUES: list[tuple[str, str, str, float | int, str]] = [
    ("t_int16", "int16", ">h", -1234, ""),
    ("t_uint16", "uint16", ">H", 54321, ""),
    ("t_int32", "int32", ">i", -123456789, ""),
    ("t_uint32", "uint32", ">I", 3_000_000_000, ""),
    ("t_int64", "int64", ">q", -(2**40) - 5, ""),
    ("t_uint64", "uint64", ">Q", 2**63 + 7, ""),
    ("t_float16", "float16", ">e", 1.5, ""),
    ("t_float32", "float32", ">f", -273.25, ""),
    ("t_float64", "float64", ">d", 12345.678901, ""),
]

SWAPS = ["none", "byte", "word", "word_byte"]


def device_registers(fmt: str, value: float | int, swap: str) -> list[int]:
    """The registers a device holds for ``value`` in the order ``swap`` describes."""
    data = struct.pack(fmt, value)
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if swap in ("byte", "word_byte"):
        words = [w[::-1] for w in words]
    if swap in ("word", "word_byte"):
        words.reverse()
    return [int.from_bytes(w, "big") for w in words]


def expected_state(value: float | int) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


async def test_every_data_type_in_every_byte_and_word_order(tmp_path: Path, modbus_server) -> None:
    holding: dict[int, list[int]] = {}
    sensors: list[str] = []
    expected: dict[str, str] = {}
    address = 0
    for name, data_type, fmt, value, _ in VALUES:
        swaps = SWAPS if struct.calcsize(fmt) > 2 else ["none", "byte"]
        for swap in swaps:
            regs = device_registers(fmt, value, swap)
            holding[address] = [*regs, 0]  # a spare register between values
            sensors.append(
                f"- {{name: {name}_{swap}, address: {address}, data_type: {data_type}, "
                f"swap: {swap}}}"
            )
            expected[f"sensor.{name}_{swap}"] = expected_state(value)
            address += len(regs) + 1
    text = "EDGE-42 "
    holding[500] = device_registers(">8s", text.encode(), "none")
    holding[504] = device_registers(">8s", text.encode(), "byte")
    holding[508] = [0xFFFE, 7]  # ">hH": -2, then 7
    sensors += [
        "- {name: t_string, address: 500, data_type: string, count: 4}",
        "- {name: t_string_byte, address: 504, data_type: string, count: 4, swap: byte}",
        "- {name: t_custom, address: 508, data_type: custom, structure: '>hH', count: 2}",
    ]
    expected |= {
        "sensor.t_string": "EDGE-42",
        "sensor.t_string_byte": "EDGE-42",
        "sensor.t_custom": "-2,7",
    }
    server = await modbus_server({1: tables(holding=holding)})
    yaml = hub_yaml(server.port, "sensors:\n" + "\n".join(f"  {s}" for s in sensors))
    async with running_site(tmp_path, yaml) as runtime:
        for entity_id, state in expected.items():
            await wait_state(runtime, entity_id, state)
    # Every value, however laid out, came in a few coalesced requests: 125 registers at most
    # each, the strings and the custom value far away in one more.
    assert len(server.reads()) == 2


async def test_scale_offset_precision_nan_zero_suppress_and_clamp(
    tmp_path: Path, modbus_server
) -> None:
    nan32 = device_registers(">f", math.nan, "none")
    server = await modbus_server(
        {
            1: tables(
                holding={
                    0: [2155, 32768, 3, 65535, 900, *nan32, 65535, 65535],
                },
                inputs={10: [1, 2, 3]},
            )
        }
    )
    body = """\
sensors:
  - {name: Temperature, address: 0, scale: 0.01, offset: -1, precision: 1}
  - {name: Missing, address: 1, nan_value: "0x8000"}
  - {name: Noise, address: 2, zero_suppress: 5}
  - {name: Clamped, address: 3, data_type: uint16, max_value: 1000}
  - {name: Clamped low, address: 4, min_value: 1000}
  - {name: Not a number, address: 5, data_type: float32, precision: 2}
  - {name: Unmetered, address: 7, data_type: uint32, nan_value: 0xFFFFFFFF}
  - {name: Phase, address: 10, input_type: input, data_type: uint16, virtual_count: 2}
"""
    async with running_site(tmp_path, hub_yaml(server.port, body)) as runtime:
        await wait_state(runtime, "sensor.temperature", "20.6")
        await wait_state(runtime, "sensor.missing", "unknown")
        await wait_state(runtime, "sensor.noise", "0")
        await wait_state(runtime, "sensor.clamped", "1000")
        await wait_state(runtime, "sensor.clamped_low", "1000")
        await wait_state(runtime, "sensor.not_a_number", "unknown")
        await wait_state(runtime, "sensor.unmetered", "unknown")
        for index, value in enumerate(["1", "2", "3"]):
            suffix = f"_{index}" if index else ""
            await wait_state(runtime, f"sensor.phase{suffix}", value)
        attributes = runtime.states.get("sensor.phase_2")
        assert attributes is not None
        assert attributes.attributes["address"] == 12


async def test_binary_sensors_read_bits_and_register_bit_zero(
    tmp_path: Path, modbus_server
) -> None:
    server = await modbus_server(
        {
            1: tables(
                coils={0: [False, True, False, True] + [False] * 12},
                discrete={16: [True] + [False] * 15},
                holding={40: [3, 2]},
            )
        }
    )
    body = """\
binary_sensors:
  - {name: Coil, address: 1, slave_count: 2}
  - {name: Door, address: 16, input_type: discrete_input, device_class: door}
  - {name: Odd, address: 40, input_type: holding}
  - {name: Even, address: 41, input_type: holding}
"""
    async with running_site(tmp_path, hub_yaml(server.port, body)) as runtime:
        await wait_state(runtime, "binary_sensor.coil", "on")
        await wait_state(runtime, "binary_sensor.coil_1", "off")
        await wait_state(runtime, "binary_sensor.coil_2", "on")
        await wait_state(runtime, "binary_sensor.door", "on")
        await wait_state(runtime, "binary_sensor.odd", "on")
        await wait_state(runtime, "binary_sensor.even", "off")
        door = runtime.states.get("binary_sensor.door")
        assert door is not None
        assert door.attributes["device_class"] == "door"


async def test_a_device_side_change_shows_at_the_next_scan(tmp_path: Path, modbus_server) -> None:
    server = await modbus_server({1: tables(holding={0: [10, 20]})})
    body = "sensors:\n  - {name: Level, address: 0, scan_interval: 5}\n"
    async with running_site(tmp_path, hub_yaml(server.port, body)) as runtime:
        await wait_state(runtime, "sensor.level", "10")
        await server.set_registers(1, 0, [11])
        assert runtime.states.get("sensor.level").state == "10"  # type: ignore[union-attr]
        await _advance(runtime, 5)
        await wait_state(runtime, "sensor.level", "11")


async def _advance(runtime: Runtime, seconds: float) -> None:
    from datetime import timedelta

    from tests.integrations._runtime import clock_of

    await clock_of(runtime).advance_and_settle(timedelta(seconds=seconds))


async def test_mbpoll_reads_what_a_number_wrote(tmp_path: Path, modbus_server) -> None:
    """Debian's mbpoll, an independent client, sees the registers a number entity wrote."""
    mbpoll = require_tool("mbpoll", "mbpoll")
    server = await modbus_server({1: tables(holding={0: [0, 0, 0, 0]})})
    body = """\
numbers:
  - {name: Setpoint, address: 1, data_type: float32, swap: word, min_value: -50, max_value: 50}
"""
    async with running_site(tmp_path, hub_yaml(server.port, body)) as runtime:
        await wait_state(runtime, "number.setpoint", "0.0")
        await runtime.services.call(
            "number", "set_value", {"value": 21.5}, target={"entity_id": ["number.setpoint"]}
        )
        # mbpoll numbers registers from 1 and reads floats low word first (swap: word).
        result = await runtime.run_in_executor(
            lambda: subprocess.run(
                [
                    mbpoll,
                    "-m",
                    "tcp",
                    "-p",
                    str(server.port),
                    "-a",
                    "1",
                    "-t",
                    "4:float",
                    "-r",
                    "2",
                    "-c",
                    "1",
                    "-1",
                    "127.0.0.1",
                ],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "[2]:\t21.5" in result.stdout.replace(" ", ""), result.stdout
