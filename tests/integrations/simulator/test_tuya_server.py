"""The simulator's plugs as Tuya devices, switched by the ``tuya`` integration in the same runtime
and by tinytuya's own client."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import tinytuya

from integrations.simulator import SERVERS
from integrations.simulator.const import ApplianceKind
from integrations.simulator.tuya_server import SimTuyaServer, device_id
from tests.integrations._runtime import running
from tests.integrations.tuya.conftest import state_becomes

START = datetime(2024, 7, 3, 12, 0, tzinfo=UTC)
KEY = "edgewise-sim-key"


def _two_free_ports() -> int:
    """A port whose next one is free as well."""
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return int(port)


def _site(port: int) -> str:
    return f"""\
http: {{server_host: 127.0.0.1, server_port: 0}}
simulator:
  building: false
  home: {{appliances: [dishwasher, ev_charger], schedules: false}}
  tuya: {{port: {port}, version: 3.3, versions: {{ev_charger: 3.5}}}}
tuya:
  devices:
    - {{device_id: {device_id(ApplianceKind.DISHWASHER)}, local_key: {KEY}, host: 127.0.0.1,
       port: {port}, name: Dishwasher smart plug}}
    - {{device_id: {device_id(ApplianceKind.EV_CHARGER)}, local_key: {KEY}, host: 127.0.0.1,
       port: {port + 1}, name: EV smart plug}}
"""


async def test_tuya_switches_a_simulated_plug_of_each_version(tmp_path: Path) -> None:
    port = _two_free_ports()
    async with running(tmp_path, _site(port), START) as runtime:
        server = next(s for s in runtime.data[SERVERS] if isinstance(s, SimTuyaServer))
        await state_becomes(runtime, "switch.ev_smart_plug", "on")
        await state_becomes(runtime, "switch.dishwasher_smart_plug", "on")
        voltage = runtime.states.get("sensor.ev_smart_plug_voltage")
        ev_version = server.devices[ApplianceKind.EV_CHARGER].version

        await runtime.services.call(
            "switch", "turn_off", target={"entity_id": "switch.ev_smart_plug"}
        )
        await runtime.services.call(
            "switch", "turn_off", target={"entity_id": "switch.dishwasher_smart_plug"}
        )
        simulation_plugs = {kind: double.dps["1"] for kind, double in server.devices.items()}
        sim_switch = await state_becomes(runtime, "sensor.ev_smart_plug_power", "0.0")

    assert ev_version == 3.5
    assert voltage is not None
    assert voltage.state == "230.0"
    assert simulation_plugs == {ApplianceKind.DISHWASHER: False, ApplianceKind.EV_CHARGER: False}
    assert sim_switch.state == "0.0"


async def test_tinytuya_reads_a_simulated_plug(tmp_path: Path) -> None:
    port = _two_free_ports()
    site = _site(port).split("tuya:\n  devices")[0]  # the simulator only
    async with running(tmp_path, site, START) as runtime:
        client = tinytuya.OutletDevice(
            device_id(ApplianceKind.EV_CHARGER),
            "127.0.0.1",
            KEY,
            version=3.5,
            port=port + 1,
            connection_timeout=2,
        )
        status = await asyncio.to_thread(client.status)
        await asyncio.to_thread(client.turn_off)
        client.close()
        home = runtime.data[SERVERS][0]._simulation.home

    assert status["dps"]["20"] == 2300
    assert home is not None
    assert home.appliances[ApplianceKind.EV_CHARGER].plug_on is False
