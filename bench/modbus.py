"""Modbus benchmarks: requests per scan, time per scan, recovery after a server restart.

Run: ``python bench/modbus.py`` (from the repository, with Edgewise installed). A pymodbus TCP
server on 127.0.0.1 holds one device with 1,000 holding registers; a real Runtime with the
``modbus`` integration reads 200 sensors spread over them (int16, int32, float32 and uint64,
every fifth register). Requests are counted on the server side (its ``trace_pdu`` hook). The
per-entity method (one request per entity, as Home Assistant reads) is run against the same
server by a plain pymodbus client, so both figures come from the same run. Prints one JSON
object per figure on standard output; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from figures import emit  # bench/ is the script directory, so on sys.path
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

import integrations.modbus
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from integrations.modbus import HUBS

ENTITIES = 200
REGISTERS = 1000
SPACING = REGISTERS // ENTITIES
#: (data type, registers) of the sensors, in turn.
TYPES = [("int16", 1), ("int32", 2), ("float32", 2), ("uint64", 4)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def layout() -> list[tuple[int, str, int]]:
    """(address, data type, registers) of each sensor."""
    return [(i * SPACING, *TYPES[i % len(TYPES)]) for i in range(ENTITIES)]


class Server:
    """pymodbus's server with the benchmark device, counting the requests it receives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.requests = 0
        self.server: ModbusTcpServer | None = None
        self._registers = [0] * REGISTERS

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self.requests += 1
        return pdu

    async def start(self) -> None:
        device = SimDevice(
            id=1,
            simdata=(
                [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
                [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
                [SimData(0, values=list(self._registers), datatype=DataType.REGISTERS)],
                [SimData(0, values=[0], datatype=DataType.REGISTERS)],
            ),
        )
        self.server = ModbusTcpServer(
            device, address=("127.0.0.1", self.port), trace_pdu=self._trace
        )
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            self._registers = [
                int(v) for v in await self.server.async_getValues(1, 3, 0, REGISTERS)
            ]
            await self.server.shutdown()
            self.server = None

    async def set_values(self, step: int) -> None:
        """Give every sensor a new value (outside the timed part)."""
        assert self.server is not None
        registers = [0] * REGISTERS
        for address, data_type, count in layout():
            fmt = {"int16": ">h", "int32": ">i", "float32": ">f", "uint64": ">Q"}[data_type]
            value: float = step + address
            if data_type == "float32":
                value += 0.5
            data = struct.pack(fmt, value if data_type == "float32" else int(value))
            registers[address : address + count] = [
                int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)
            ]
        await self.server.async_setValues(1, 3, 0, registers)


def config_yaml(port: int) -> str:
    sensors = "\n".join(
        f"      - {{name: m{address}, address: {address}, data_type: {data_type}, "
        "scan_interval: 3600}"
        for address, data_type, _ in layout()
    )
    return (
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
        "modbus:\n"
        "  - name: bench\n"
        "    type: tcp\n"
        "    host: 127.0.0.1\n"
        f"    port: {port}\n"
        "    timeout: 2\n"
        "    retries: 0\n"
        "    sensors:\n" + sensors + "\n"
    )


async def wait_until(condition: Callable[[], bool], limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.002)


def all_available(runtime: Runtime) -> bool:
    return all(
        (s := runtime.states.get(f"sensor.m{address}")) is not None
        and s.state not in ("unavailable", "unknown")
        for address, _, _ in layout()
    )


def none_available(runtime: Runtime) -> bool:
    return all(
        (s := runtime.states.get(f"sensor.m{address}")) is not None and s.state == "unavailable"
        for address, _, _ in layout()
    )


async def per_entity_method(server: Server, runs: int) -> tuple[list[int], list[float]]:
    """One request per entity, the way Home Assistant reads: requests and ms per scan."""
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=2, retries=0)
    await client.connect()
    counts: list[int] = []
    times: list[float] = []
    try:
        for _ in range(runs):
            before = server.requests
            started = time.perf_counter()
            for address, _, count in layout():
                await client.read_holding_registers(address, count=count, device_id=1)
            times.append((time.perf_counter() - started) * 1000.0)
            counts.append(server.requests - before)
    finally:
        client.close()
    return counts, times


async def main(runs: int, recoveries: int) -> None:
    server = Server(free_port())
    await server.start()
    await server.set_values(0)
    with tempfile.TemporaryDirectory() as tmp:
        config_dir = Path(tmp)
        (config_dir / "configuration.yaml").write_text(config_yaml(server.port))
        # Modbus alone: the recorder (a default integration) would share the loop and the scans
        # would measure its commits too.
        loader = IntegrationLoader()
        loader.register(integrations.modbus, source="bench")
        runtime = Runtime(config_dir, loader=loader)
        await runtime.start()
        try:
            hub = runtime.data[HUBS]["bench"].hub
            await wait_until(lambda: all_available(runtime))
            await wait_until(lambda: all(g.task is None or g.task.done() for g in hub.groups))
            counts: list[int] = []
            times: list[float] = []
            for step in range(1, runs + 1):
                await server.set_values(step)
                before = server.requests
                started = time.perf_counter()
                await hub.scan_all()
                times.append((time.perf_counter() - started) * 1000.0)
                counts.append(server.requests - before)
            entity_counts, entity_times = await per_entity_method(server, max(3, runs // 5))
            emit(
                "modbus_requests_per_scan",
                counts,
                "count",
                f"{ENTITIES} sensors over {REGISTERS} registers, one device; server-side count",
            )
            emit(
                "modbus_requests_per_scan_per_entity_method",
                entity_counts,
                "count",
                "one request per entity (Home Assistant's method), same server, same run",
            )
            emit(
                "modbus_scan_ms",
                times,
                "ms",
                f"hub.scan_all() on loopback, {ENTITIES} states written, server in the same "
                f"process, no recorder; median of {runs}",
            )
            emit(
                "modbus_scan_ms_per_entity_method",
                entity_times,
                "ms",
                "one request per entity, plain pymodbus client, same server",
            )
            recovery: list[float] = []
            for _ in range(recoveries):
                await server.stop()
                await wait_until(lambda: none_available(runtime))
                await server.start()
                started = time.perf_counter()
                await wait_until(lambda: all_available(runtime))
                recovery.append(time.perf_counter() - started)
            emit(
                "modbus_recovery_s",
                recovery,
                "s",
                "server restarted until every entity is available again (default backoff "
                "0.5 s first attempt)",
            )
        finally:
            await runtime.stop()
            await server.stop()


def _args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50, help="scans timed (default 50)")
    parser.add_argument("--recoveries", type=int, default=5, help="server restarts (default 5)")
    return parser.parse_args()


if __name__ == "__main__":
    args = _args()
    asyncio.run(main(args.runs, args.recoveries))
