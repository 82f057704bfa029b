"""A real pymodbus server on 127.0.0.1 for the Modbus tests, and the helpers around it.

The server is pymodbus's own (``ModbusTcpServer`` with the ``SimDevice`` data model). It counts
every request it receives (its ``trace_pdu`` hook), and a test can make an address answer with
an exception code or answer late (its ``action`` hook). It can be stopped and started again on
the same port, as a device that reboots.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from core.runtime import Runtime
from tests._helpers import free_port, wait_for
from tests.integrations._runtime import running

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

#: Function codes of reads, to count only what the poller sends.
READ_CODES = frozenset({1, 2, 3, 4})


@dataclass
class Table:
    """The contents of one table: runs of values by start address; everything else invalid."""

    runs: dict[int, list[int] | list[bool]] = field(default_factory=dict)

    def simdata(self, bits: bool) -> list[SimData]:
        datatype = DataType.BITS if bits else DataType.REGISTERS
        return [
            SimData(address, values=list(values), datatype=datatype)
            for address, values in sorted(self.runs.items())
        ]


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    device_id: int
    function_code: int
    address: int
    count: int


class ModbusTestServer:
    """pymodbus's TCP server with request counting and fault injection."""

    def __init__(
        self,
        devices: dict[int, tuple[Table, Table, Table, Table]],
        *,
        port: int | None = None,
        framer: FramerType = FramerType.SOCKET,
    ) -> None:
        self.port = port or free_port()
        self.framer = framer
        self._devices = devices
        self.requests: list[Request] = []
        #: (device id, function code, address) -> an exception code, or seconds to wait first.
        self.faults: dict[tuple[int, int, int], ExcCodes | float] = {}
        #: Coroutine functions called with (device id, function code, address) on each request.
        self.hooks: list[Callable[[int, int, int], Awaitable[None]]] = []
        #: Called with (device id, address, values) for each register write; may change values
        #: in place, as a device that clamps what it is given.
        self.write_filter: Callable[[int, int, list[int]], None] | None = None
        #: Responses sent so far.
        self.responses = 0
        #: Connections opened by clients so far.
        self.connections = 0
        self.server: ModbusTcpServer | None = None

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if sending:
            self.responses += 1
        else:
            count = getattr(pdu, "count", 0) or len(getattr(pdu, "registers", []) or [])
            self.requests.append(
                Request(pdu.dev_id, pdu.function_code, getattr(pdu, "address", 0), count)
            )
        return pdu

    def _trace_connect(self, connected: bool) -> None:
        if connected:
            self.connections += 1

    def _action_for(self, device_id: int) -> Callable[..., Any]:
        async def action(
            function_code: int,
            _start: int,
            address: int,
            count: int,
            _registers: list[int],
            values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            for hook in list(self.hooks):
                await hook(device_id, function_code, address)
            if self.write_filter is not None and function_code in (6, 16) and values:
                self.write_filter(device_id, address, values)
            for (dev, code, fault_address), fault in list(self.faults.items()):
                if dev != device_id or code != function_code:
                    continue
                if not address <= fault_address < address + max(count, 1):
                    continue
                if isinstance(fault, ExcCodes):
                    return fault
                await asyncio.sleep(fault)
            return None

        return action

    def _sim_devices(self) -> list[SimDevice]:
        return [
            SimDevice(
                id=device_id,
                simdata=(
                    tables[0].simdata(True),
                    tables[1].simdata(True),
                    tables[2].simdata(False),
                    tables[3].simdata(False),
                ),
                action=self._action_for(device_id),
            )
            for device_id, tables in self._devices.items()
        ]

    async def start(self) -> None:
        """Listen on 127.0.0.1:port (again, after ``stop``, with the values it had)."""
        self.server = ModbusTcpServer(
            self._sim_devices(),
            address=("127.0.0.1", self.port),
            framer=self.framer,
            trace_pdu=self._trace,
            trace_connect=self._trace_connect,
        )
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self.server is not None:
            # Keep the device's memory across a restart, as a rebooting device keeps its settings.
            await self.server.shutdown()
            self.server = None

    async def set_registers(self, device_id: int, address: int, values: list[int]) -> None:
        """Change holding registers on the device side."""
        assert self.server is not None
        await self.server.async_setValues(device_id, 3, address, values)

    async def set_input_registers(self, device_id: int, address: int, values: list[int]) -> None:
        """Change input registers on the device side."""
        assert self.server is not None
        await self.server.async_setValues(device_id, 4, address, values)

    async def get_registers(self, device_id: int, address: int, count: int) -> list[int]:
        """Holding registers as the device has them."""
        assert self.server is not None
        return [int(v) for v in await self.server.async_getValues(device_id, 3, address, count)]

    async def get_coils(self, device_id: int, address: int, count: int) -> list[bool]:
        """Coils as the device has them."""
        assert self.server is not None
        return [bool(v) for v in await self.server.async_getValues(device_id, 1, address, count)]

    def reads(self, device_id: int | None = None) -> list[Request]:
        """The read requests received so far (of one device, optionally)."""
        return [
            r
            for r in self.requests
            if r.function_code in READ_CODES and (device_id is None or r.device_id == device_id)
        ]


def tables(
    *,
    coils: dict[int, list[bool]] | None = None,
    discrete: dict[int, list[bool]] | None = None,
    holding: dict[int, list[int]] | None = None,
    inputs: dict[int, list[int]] | None = None,
) -> tuple[Table, Table, Table, Table]:
    """The four tables of a simulated device; an empty table still has one invalid bit/word."""
    return (
        Table(dict(coils or {0: [False] * 16})),
        Table(dict(discrete or {0: [False] * 16})),
        Table(dict(holding or {0: [0]})),
        Table(dict(inputs or {0: [0]})),
    )


@pytest.fixture
async def modbus_server() -> AsyncIterator[Callable[..., Any]]:
    """Start ``ModbusTestServer``s; all are stopped at teardown."""
    started: list[ModbusTestServer] = []

    async def start(
        devices: dict[int, tuple[Table, Table, Table, Table]], **kwargs: Any
    ) -> ModbusTestServer:
        server = ModbusTestServer(devices, **kwargs)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


async def wait_state(
    runtime: Runtime, entity_id: str, expected: str | Callable[[str], bool], within: float = 15.0
) -> str:
    """Wait until ``entity_id``'s state is ``expected`` (or satisfies it); return the state."""

    def check() -> bool:
        state = runtime.states.get(entity_id)
        if state is None:
            return False
        return expected(state.state) if callable(expected) else state.state == expected

    def what() -> str:
        state = runtime.states.get(entity_id)
        return f"{entity_id} to be {expected!r} (it is {None if state is None else state.state!r})"

    await wait_for(check, within=within, what=what)
    state = runtime.states.get(entity_id)
    assert state is not None
    return state.state


def hub_yaml(port: int, body: str, *, name: str = "plant", extra: str = "") -> str:
    """A ``modbus:`` section with one TCP hub on 127.0.0.1 and short timeouts."""
    indented = "\n".join(f"    {line}" if line else line for line in body.strip("\n").splitlines())
    extra_lines = "\n".join(f"    {line}" for line in extra.strip("\n").splitlines() if line)
    return (
        "modbus:\n"
        f"  - name: {name}\n"
        "    type: tcp\n"
        "    host: 127.0.0.1\n"
        f"    port: {port}\n"
        "    timeout: 0.5\n"
        "    retries: 0\n"
        "    reconnect_delay: 1\n"
        "    reconnect_delay_max: 4\n"
        + (extra_lines + "\n" if extra_lines else "")
        + indented
        + "\n"
    )


#: No fixed HTTP port: other tests (and other suites on the machine) run at the same time.
HTTP = "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"


def running_site(config_dir: Path, yaml: str) -> Any:
    """A started runtime on a FakeClock with ``yaml`` as its configuration."""
    return running(config_dir, HTTP + yaml, START)


def lines(items: Iterable[str]) -> str:
    """Join YAML lines."""
    return "\n".join(items)
