"""The simulator's AHU and chillers as a BACnet device, read and commanded by the ``bacnet``
integration in the same runtime.

The simulator's device is bacpypes3 on 127.0.0.2:<free port>, the integration's client on
127.0.0.3:<another free port> (bacpypes3 never sends to a 127.x address on its own port).
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
from bacpypes3.primitivedata import Real

from core.integration import IntegrationStatus
from core.runtime import Runtime
from integrations.bacnet.client import priority_slots
from integrations.simulator import SERVERS
from integrations.simulator.bacnet_server import SimBacnetDevice
from tests.integrations._runtime import clock_of, running
from tests.integrations.bacnet.device import CLIENT_HOST, DEVICE_HOST, free_udp_port

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
  home: false
  bacnet:
    address: {device_host}
    port: {device_port}
    instance: 4711
"""

BACNET = """\
bacnet:
  local:
    instance: 599001
    address: {client_host}/8
    port: {client_port}
  timeout: 2
  devices:
    - name: Sim AHU
      instance: 4711
      address: {device_host}:{device_port}
      scan_interval: 1
      points:
        - object: analog-input,1
          name: Supply air temperature
        - object: analog-value,1
          name: Supply air setpoint
          min: 10
          max: 20
          min_write_interval: 0
        - object: binary-value,1
          name: Chiller 1 enable
          min_write_interval: 0
"""


def _yaml(device_port: int, *, client: bool = True) -> str:
    values = {
        "device_host": DEVICE_HOST,
        "device_port": device_port,
        "client_host": CLIENT_HOST,
        "client_port": free_udp_port(CLIENT_HOST),
    }
    return SITE.format(**values) + (BACNET.format(**values) if client else "")


def _state(runtime: Runtime, entity_id: str) -> str | None:
    found = runtime.states.get(entity_id)
    return None if found is None else found.state


def _number(runtime: Runtime, entity_id: str) -> float | None:
    try:
        return float(_state(runtime, entity_id) or "")
    except ValueError:
        return None


async def until(runtime: Runtime, condition: Callable[[], bool], what: Callable[[], str]) -> None:
    """Move the FakeClock a second at a time (a poll each; a step every 30) until ``condition``.

    The limit is on real time and generous: the polls go over real UDP on a loaded machine.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30.0
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out: {what()}")
        await clock_of(runtime).advance_and_settle(timedelta(seconds=1))
        await asyncio.sleep(0.05)


def _device(runtime: Runtime) -> SimBacnetDevice:
    servers = runtime.data.get(SERVERS)
    assert servers is not None
    (device,) = [s for s in servers if isinstance(s, SimBacnetDevice)]
    return device


async def test_bacnet_reads_the_ahu_and_commands_its_setpoint(tmp_path: Path) -> None:
    async with running(tmp_path, _yaml(free_udp_port(DEVICE_HOST)), START) as runtime:
        sim_setpoint = "number.ahu_supply_air_setpoint"
        bac_setpoint = "number.sim_ahu_supply_air_setpoint"
        assert _state(runtime, sim_setpoint) == "13.0"

        def temperatures_match() -> bool:
            read = _number(runtime, "sensor.sim_ahu_supply_air_temperature")
            shown = _number(runtime, "sensor.ahu_supply_air_temperature")
            if read is None or shown is None:
                return False
            return math.isclose(read, shown, abs_tol=0.01)

        await until(
            runtime,
            lambda: temperatures_match() and _number(runtime, bac_setpoint) == 13.0,
            lambda: (
                f"BACnet points {_state(runtime, 'sensor.sim_ahu_supply_air_temperature')}, "
                f"{_state(runtime, bac_setpoint)}"
            ),
        )

        # A write at priority 8 (the integration's default) drives the simulated AHU at once.
        await runtime.services.call(
            "number", "set_value", {"entity_id": bac_setpoint, "value": 16.5}, blocking=True
        )
        device = _device(runtime)
        assert priority_slots(device.setpoint.priorityArray) == {8: 16.5}
        assert _state(runtime, sim_setpoint) == "16.5"
        # A local change does not beat the command: the priority array decides at the next step.
        await runtime.services.call(
            "number", "set_value", {"entity_id": sim_setpoint, "value": 12.0}, blocking=True
        )
        await until(
            runtime,
            lambda: _state(runtime, sim_setpoint) == "16.5",
            lambda: f"{sim_setpoint} is {_state(runtime, sim_setpoint)}",
        )

        # Relinquishing priority 8 gives the setpoint back to the relinquish default.
        await runtime.services.call(
            "bacnet", "relinquish", {"entity_id": bac_setpoint}, blocking=True
        )
        assert priority_slots(device.setpoint.priorityArray) == {}
        assert _state(runtime, sim_setpoint) == "13.0"
        await until(
            runtime,
            lambda: _number(runtime, bac_setpoint) == 13.0,
            lambda: f"{bac_setpoint} is {_state(runtime, bac_setpoint)}",
        )

        # Without a command, a local change shows on BACnet after the next step.
        await runtime.services.call(
            "number", "set_value", {"entity_id": sim_setpoint, "value": 14.0}, blocking=True
        )
        await until(
            runtime,
            lambda: _number(runtime, bac_setpoint) == 14.0,
            lambda: f"{bac_setpoint} is {_state(runtime, bac_setpoint)}",
        )


async def test_chiller_enable_over_bacnet(tmp_path: Path) -> None:
    async with running(tmp_path, _yaml(free_udp_port(DEVICE_HOST)), START) as runtime:
        await until(
            runtime,
            lambda: _state(runtime, "switch.sim_ahu_chiller_1_enable") == "on",
            lambda: f"chiller enable is {_state(runtime, 'switch.sim_ahu_chiller_1_enable')}",
        )
        await runtime.services.call(
            "switch", "turn_off", {"entity_id": "switch.sim_ahu_chiller_1_enable"}, blocking=True
        )
        assert _state(runtime, "switch.chiller_1_enable") == "off"
        await runtime.services.call(
            "bacnet", "relinquish", {"entity_id": "switch.sim_ahu_chiller_1_enable"}, blocking=True
        )
        assert _state(runtime, "switch.chiller_1_enable") == "on"


async def test_a_setpoint_beyond_the_model_bounds_is_clamped(tmp_path: Path) -> None:
    """Another BACnet client may write anything; the simulated AHU takes 10 to 20 °C."""
    async with running(tmp_path, _yaml(free_udp_port(DEVICE_HOST), client=False), START) as rt:
        device = _device(rt)
        await device.setpoint.write_property("presentValue", Real(50.0), priority=8)
        assert _state(rt, "number.ahu_supply_air_setpoint") == "20.0"
        await device.setpoint.write_property("presentValue", Real(-5.0), priority=3)
        assert _state(rt, "number.ahu_supply_air_setpoint") == "10.0"


async def test_port_in_use_is_an_error_naming_it_and_the_simulation_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((DEVICE_HOST, 0))
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="integrations.simulator"):
            async with running(tmp_path, _yaml(port, client=False), START) as runtime:
                loaded = runtime.loader.get("simulator")
                assert loaded is not None
                assert loaded.status is IntegrationStatus.RUNNING
                assert runtime.data.get(SERVERS) == []
                energy = _number(runtime, "sensor.main_meter_energy")
                await clock_of(runtime).advance_and_settle(timedelta(seconds=30))
                later = _number(runtime, "sensor.main_meter_energy")
                assert energy is not None
                assert later is not None
                assert later > energy
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"{DEVICE_HOST}:{port}" in e and "UDP port" in e for e in errors), errors
