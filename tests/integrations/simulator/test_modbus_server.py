"""The simulator's meters on Modbus TCP, read by the ``modbus`` integration in the same runtime.

The simulator serves its meters with pymodbus's own server on a free loopback port; the modbus
integration polls it over TCP like any meter. Both run on one FakeClock, so the test moves time
forward and waits (in real time, with generous limits) until what the modbus integration shows
equals what the simulator's own sensors show.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient

from core.integration import IntegrationStatus
from core.runtime import Runtime
from integrations.simulator.modbus_server import meter_registers
from tests._helpers import free_port
from tests.integrations._runtime import clock_of, running

START = datetime(2024, 7, 3, 12, 0, tzinfo=UTC)

SITE = """\
edgewise:
  latitude: 52.3731
  longitude: 4.8922
  elevation: 0
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
simulator:
  seed: 7
  speed: 60
  update_interval: 30
  modbus:
    host: 127.0.0.1
    port: {port}
"""

MODBUS = """\
modbus:
  - name: simulated meters
    type: tcp
    host: 127.0.0.1
    port: {port}
    timeout: 2
    sensors:
      - {{name: Building power, slave: 1, address: 0, input_type: input, data_type: float32,
         unit_of_measurement: W, scan_interval: 1}}
      - {{name: Building energy, slave: 1, address: 2, input_type: input, data_type: float32,
         unit_of_measurement: kWh, scan_interval: 1}}
      - {{name: Building energy wh, slave: 1, address: 4, input_type: input, data_type: uint32,
         scale: 0.001, precision: 3, unit_of_measurement: kWh, scan_interval: 1}}
      - {{name: House power, slave: 2, address: 0, input_type: input, data_type: float32,
         unit_of_measurement: W, scan_interval: 1}}
      - {{name: House energy, slave: 2, address: 2, input_type: input, data_type: float32,
         unit_of_measurement: kWh, scan_interval: 1}}
"""

#: (modbus entity, simulator entity, factor from the modbus value to the simulator's unit,
#: tolerance in the simulator's unit: its display precision and float32's rounding).
PAIRS: list[tuple[str, str, float, float]] = [
    ("sensor.building_power", "sensor.main_meter_power", 0.001, 0.001),
    ("sensor.building_energy", "sensor.main_meter_energy", 1.0, 0.002),
    ("sensor.building_energy_wh", "sensor.main_meter_energy", 1.0, 0.002),
    ("sensor.house_power", "sensor.house_meter_power", 1.0, 0.1),
    ("sensor.house_energy", "sensor.house_meter_energy", 1.0, 0.002),
]


def _number(runtime: Runtime, entity_id: str) -> float | None:
    state = runtime.states.get(entity_id)
    if state is None:
        return None
    try:
        return float(state.state)
    except ValueError:
        return None


def _mismatches(runtime: Runtime) -> list[str]:
    wrong = []
    for modbus_id, sim_id, factor, tolerance in PAIRS:
        read, shown = _number(runtime, modbus_id), _number(runtime, sim_id)
        if (
            read is None
            or shown is None
            or not math.isclose(read * factor, shown, abs_tol=tolerance)
        ):
            wrong.append(f"{modbus_id}={read} vs {sim_id}={shown}")
    return wrong


async def until(runtime: Runtime, condition: Callable[[], bool], what: Callable[[], str]) -> None:
    """Move the FakeClock a second at a time (each a poll; a step every 30) until ``condition``.

    The limit is on real time and generous: the polls go over real TCP on a loaded machine.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30.0
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out: {what()}")
        await clock_of(runtime).advance_and_settle(timedelta(seconds=1))
        await asyncio.sleep(0.05)


async def test_modbus_integration_reads_the_meters_the_simulator_shows(tmp_path: Path) -> None:
    port = free_port()
    yaml = SITE.format(port=port) + MODBUS.format(port=port)
    async with running(tmp_path, yaml, START) as runtime:
        await until(runtime, lambda: not _mismatches(runtime), lambda: str(_mismatches(runtime)))
        first = _number(runtime, "sensor.main_meter_energy")
        assert first is not None
        # An hour of simulated time later the meters moved, and Modbus still shows what they show.
        await clock_of(runtime).advance_and_settle(timedelta(minutes=1))

        def moved_and_matching() -> bool:
            energy = _number(runtime, "sensor.building_energy")
            return energy is not None and energy > first + 0.01 and not _mismatches(runtime)

        await until(runtime, moved_and_matching, lambda: str(_mismatches(runtime)))
        power = _number(runtime, "sensor.house_power")
        assert power is not None
        assert power > 0


async def test_register_map_read_by_a_plain_client(tmp_path: Path) -> None:
    """Another client (pymodbus's own) reads the documented map; other devices/addresses fail."""
    port = free_port()
    async with running(tmp_path, SITE.format(port=port), START) as runtime:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=0)
        await client.connect()
        try:
            building = await client.read_input_registers(0, count=6, device_id=1)
            house = await client.read_input_registers(0, count=6, device_id=2)
            beyond = await client.read_input_registers(6, count=1, device_id=1)
        finally:
            client.close()
        assert not building.isError()
        assert not house.isError()
        assert beyond.isError()
        power_kw = _number(runtime, "sensor.main_meter_power")
        assert power_kw is not None
        watts = client.convert_from_registers(building.registers[0:2], client.DATATYPE.FLOAT32)
        assert isinstance(watts, float)
        assert math.isclose(watts / 1000, power_kw, abs_tol=0.001)
        energy = client.convert_from_registers(house.registers[4:6], client.DATATYPE.UINT32)
        house_kwh = _number(runtime, "sensor.house_meter_energy")
        assert house_kwh is not None
        assert isinstance(energy, int)
        assert math.isclose(energy / 1000, house_kwh, abs_tol=0.002)


def test_meter_registers_layout() -> None:
    assert meter_registers(1.0, 2.0) == [0x3F80, 0, 0x4000, 0, 0, 2000]
    assert meter_registers(0.0, 70_000.5)[4:] == [70_000_500 >> 16, 70_000_500 & 0xFFFF]


async def test_port_in_use_is_an_error_naming_it_and_the_simulation_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="integrations.simulator"):
            async with running(tmp_path, SITE.format(port=port), START) as runtime:
                loaded = runtime.loader.get("simulator")
                assert loaded is not None
                assert loaded.status is IntegrationStatus.RUNNING
                energy = _number(runtime, "sensor.main_meter_energy")
                await clock_of(runtime).advance_and_settle(timedelta(seconds=30))
                later = _number(runtime, "sensor.main_meter_energy")
                assert energy is not None
                assert later is not None
                assert later > energy
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"127.0.0.1:{port}" in e and "in use" in e for e in errors), errors
