"""The hub against a real pymodbus server: coalescing, splitting, exceptions, reconnects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusSerialServer, ModbusUdpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from core.runtime import Runtime
from integrations.modbus import HUBS
from integrations.modbus.hub import ModbusHub
from tests._helpers import free_port, wait_for
from tests._tools import require_tool
from tests.integrations._runtime import clock_of

from .conftest import ModbusTestServer, Request, hub_yaml, running_site, tables, wait_state


def hub_of(runtime: Runtime, name: str = "plant") -> ModbusHub:
    return runtime.data[HUBS][name].hub


async def scans_done(runtime: Runtime, name: str = "plant") -> None:
    hub = hub_of(runtime, name)
    await wait_for(
        lambda: all(g.task is None or g.task.done() for g in hub.groups), what="scans to end"
    )


async def advance(runtime: Runtime, seconds: float) -> None:
    await clock_of(runtime).advance_and_settle(timedelta(seconds=seconds))


def sensors(addresses: list[int], *, prefix: str = "s", data_type: str = "uint16") -> str:
    return "sensors:\n" + "\n".join(
        f"  - {{name: {prefix}{a}, address: {a}, data_type: {data_type}, scan_interval: 10}}"
        for a in addresses
    )


async def test_reads_are_coalesced_per_device_table_and_interval(
    tmp_path: Path, modbus_server
) -> None:
    server = await modbus_server(
        {
            1: tables(
                holding={0: list(range(300))},
                inputs={0: [7] * 10},
                coils={0: [True] * 48, 1600: [True] * 16},
            )
        }
    )
    body = "\n".join(
        [
            sensors(list(range(40)))  # 0-39, one register each
            + "\n"
            + "\n".join(  # 45-64: a gap of 5 registers, bridged
                f"  - {{name: w{a}, address: {a}, data_type: int32, scan_interval: 10}}"
                for a in range(45, 65, 2)
            )
            + "\n"
            + "\n".join(  # 200-209: too far, a request of its own
                f"  - {{name: f{a}, address: {a}, scan_interval: 10}}" for a in range(200, 210)
            )
            + "\n"
            + "\n".join(
                f"  - {{name: i{a}, address: {a}, input_type: input, scan_interval: 10}}"
                for a in range(3)
            ),
            "binary_sensors:",
            *(f"  - {{name: c{a}, address: {a}, scan_interval: 10}}" for a in range(30)),
            "  - {name: far, address: 1600, scan_interval: 10}",
        ]
    )
    async with running_site(tmp_path, hub_yaml(server.port, body)) as runtime:
        await wait_state(runtime, "sensor.s39", "39")
        await wait_state(runtime, "binary_sensor.far", "on")
        await scans_done(runtime)
        first = sorted((r.function_code, r.address, r.count) for r in server.reads())
        assert first == [
            (1, 0, 30),  # coils 0-29
            (1, 1600, 1),  # coil 1600: a gap of more than 160 bits is not bridged
            (3, 0, 65),  # holding 0-64
            (3, 200, 10),  # holding 200-209
            (4, 0, 3),  # input 0-2
        ]
        server.requests.clear()
        await server.set_registers(1, 5, [555])
        await advance(runtime, 10)
        await wait_state(runtime, "sensor.s5", "555")
        await scans_done(runtime)
        assert len(server.reads()) == 5
        connectivity = runtime.states.get("binary_sensor.plant_connectivity")
        assert connectivity is not None
        assert connectivity.state == "on"
        assert connectivity.attributes["requests_per_scan"] == 5
        assert connectivity.attributes["reads"] == 94
        metrics = runtime.metrics.render().decode()
        assert 'modbus_requests_total{hub="plant"} 10.0' in metrics
        assert 'modbus_connected{hub="plant"} 1.0' in metrics
        (scans,) = [
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith('modbus_poll_seconds_count{hub="plant"}')
        ]
        assert scans >= 6  # 3 groups (holding, input, coil), 2 scans each


async def test_device_limits_and_forbidden_ranges_shape_the_requests(
    tmp_path: Path, modbus_server
) -> None:
    server = await modbus_server({1: tables(holding={0: list(range(100))})})
    extra = """\
devices:
  - slave: 1
    max_read_registers: 20
    forbidden:
      - {input_type: holding, start: 30, end: 34}
"""
    body = sensors([*range(30), *range(35, 40)])
    async with running_site(tmp_path, hub_yaml(server.port, body, extra=extra)) as runtime:
        await wait_state(runtime, "sensor.s39", "39")
        await scans_done(runtime)
        assert sorted((r.address, r.count) for r in server.reads()) == [(0, 20), (20, 10), (35, 5)]


async def test_a_refused_register_is_isolated_and_reported_while_the_rest_works(
    tmp_path: Path, modbus_server, caplog: pytest.LogCaptureFixture
) -> None:
    # Register 20 does not exist on the device: any read that covers it is refused.
    server = await modbus_server({1: tables(holding={0: list(range(20)), 21: list(range(21, 50))})})
    async with running_site(tmp_path, hub_yaml(server.port, sensors(list(range(50))))) as runtime:
        await wait_state(runtime, "sensor.s49", "49")
        await wait_state(runtime, "sensor.s20", "unavailable")
        for address in (*range(20), *range(21, 50)):
            assert runtime.states.get(f"sensor.s{address}").state == str(address)  # type: ignore[union-attr]
        await scans_done(runtime)
        connectivity = runtime.states.get("binary_sensor.plant_connectivity")
        assert connectivity is not None
        refused = connectivity.attributes["refused"]
        assert list(refused) == ["sensor.s20"]
        assert "exception 2 (illegal data address)" in refused["sensor.s20"]
        assert 'modbus_errors_total{hub="plant",kind="refused"} 1.0' in (
            runtime.metrics.render().decode()
        )
        reported = [r for r in caplog.records if "sensor.s20" in r.getMessage()]
        assert len(reported) == 1
        assert reported[0].levelno == logging.ERROR
        # The plan keeps the pieces: the next scan costs a handful of requests, not 50.
        server.requests.clear()
        await advance(runtime, 10)
        await scans_done(runtime)
        requests = server.reads()
        assert 2 <= len(requests) <= 8
        assert Request(1, 3, 20, 1) in requests
        # The device gets the register (a firmware update): the entity comes back.
        await server.stop()
        server._devices[1] = tables(holding={0: list(range(50))})
        await server.start()
        await advance(runtime, 10)
        await wait_state(runtime, "sensor.s20", "20")
        await scans_done(runtime)
        assert runtime.states.get("binary_sensor.plant_connectivity").attributes["refused"] == {}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("code", "split"),
    [
        (ExcCodes.ILLEGAL_VALUE, True),
        (ExcCodes.DEVICE_BUSY, False),
        (ExcCodes.DEVICE_FAILURE, False),
    ],
)
async def test_exception_responses_make_entities_unavailable_until_the_device_answers(
    tmp_path: Path, modbus_server, code: ExcCodes, split: bool
) -> None:
    server = await modbus_server({1: tables(holding={0: [0, 1, 2]})})
    server.faults[(1, 3, 1)] = code
    async with running_site(tmp_path, hub_yaml(server.port, sensors([0, 1, 2]))) as runtime:
        await wait_state(runtime, "sensor.s1", "unavailable")
        await scans_done(runtime)
        if split:
            # Illegal value is how some devices refuse a range: split, the others keep working.
            await wait_state(runtime, "sensor.s0", "0")
            await wait_state(runtime, "sensor.s2", "2")
        else:
            # Busy and failure are the device's state, not the range: nothing to isolate.
            assert runtime.states.get("sensor.s0").state == "unavailable"  # type: ignore[union-attr]
        if code is ExcCodes.DEVICE_BUSY:
            # A busy device is asked again within the scan before the scan gives up.
            assert len(server.reads()) == 3
        del server.faults[(1, 3, 1)]
        await advance(runtime, 10)
        for address in range(3):
            await wait_state(runtime, f"sensor.s{address}", str(address))


async def test_a_timeout_makes_the_entities_unavailable_and_the_next_answer_restores_them(
    tmp_path: Path, modbus_server
) -> None:
    server = await modbus_server({1: tables(holding={0: [4, 5]}), 2: tables(holding={0: [6]})})
    release = asyncio.Event()

    async def hook(device_id: int, _code: int, _address: int) -> None:
        if device_id == 1:
            await release.wait()  # device 1 answers only when the test lets it

    server.hooks.append(hook)
    body = """\
sensors:
  - {name: slow, address: 0, slave: 1, scan_interval: 10}
  - {name: quick, address: 0, slave: 2, scan_interval: 10}
"""
    async with running_site(tmp_path, hub_yaml(server.port, body)) as runtime:
        await wait_state(runtime, "sensor.quick", "6")
        await wait_state(runtime, "sensor.slow", "unavailable")
        await scans_done(runtime)
        # The late answer goes out now and is dropped by the client: nobody waits for it.
        release.set()
        await wait_for(lambda: server.responses == len(server.requests), what="the late answer")
        await advance(runtime, 10)
        await wait_state(runtime, "sensor.slow", "4")
        assert runtime.states.get("sensor.quick").state == "6"  # type: ignore[union-attr]


async def test_reconnects_after_the_server_restarts(tmp_path: Path, modbus_server) -> None:
    server = await modbus_server({1: tables(holding={0: [42]})})
    body = "sensors:\n  - {name: answer, address: 0, scan_interval: 10}\n"
    async with running_site(tmp_path, hub_yaml(server.port, body)) as runtime:
        await wait_state(runtime, "sensor.answer", "42")
        await wait_state(runtime, "binary_sensor.plant_connectivity", "on")
        await server.stop()
        # The link drops at once; the entity is unavailable without waiting for a poll.
        await wait_state(runtime, "sensor.answer", "unavailable")
        await wait_state(runtime, "binary_sensor.plant_connectivity", "off")
        # Attempts while the server is down fail, and back off.
        for _ in range(3):
            await advance(runtime, 10)
            await scans_done(runtime)
        assert runtime.states.get("sensor.answer").state == "unavailable"  # type: ignore[union-attr]
        await server.start()
        await server.set_registers(1, 0, [43])
        await advance(runtime, 5)  # more than reconnect_delay_max (4 s, jitter included)
        await wait_state(runtime, "sensor.answer", "43")
        await wait_state(runtime, "binary_sensor.plant_connectivity", "on")


async def test_a_server_that_is_down_at_start_is_reached_later(
    tmp_path: Path, modbus_server
) -> None:
    port = free_port()
    body = "sensors:\n  - {name: late, address: 0, scan_interval: 10}\n"
    async with running_site(tmp_path, hub_yaml(port, body)) as runtime:
        await scans_done(runtime)
        await wait_state(runtime, "sensor.late", "unavailable")
        assert runtime.states.get("binary_sensor.plant_connectivity").state == "off"  # type: ignore[union-attr]
        await modbus_server({1: tables(holding={0: [9]})}, port=port)
        await advance(runtime, 5)
        await wait_state(runtime, "sensor.late", "9")


class ClosingProxy:
    """Forwards TCP to the server until told to close the next connection mid-request."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.close_next_request = False
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, requests: bool
        ) -> None:
            try:
                while data := await src.read(4096):
                    if requests and self.close_next_request:
                        # The request arrived, and the peer hangs up without an answer.
                        self.close_next_request = False
                        break
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                for w in (writer, up_writer):
                    w.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))


async def test_a_server_that_closes_mid_request(tmp_path: Path, modbus_server) -> None:
    server = await modbus_server({1: tables(holding={0: [5]})})
    proxy = ClosingProxy(server.port)
    await proxy.start()
    yaml = hub_yaml(proxy.port, "sensors:\n  - {name: relay, address: 0, scan_interval: 10}\n")
    # A long timeout: the hub must notice the closed connection, not wait for the timeout.
    yaml = yaml.replace("timeout: 0.5", "timeout: 30")
    try:
        async with running_site(tmp_path, yaml) as runtime:
            await wait_state(runtime, "sensor.relay", "5")
            await scans_done(runtime)
            proxy.close_next_request = True
            await advance(runtime, 10)
            await wait_state(runtime, "sensor.relay", "unavailable", within=10)
            await wait_state(runtime, "binary_sensor.plant_connectivity", "off")
            await advance(runtime, 5)
            await wait_state(runtime, "sensor.relay", "5")
    finally:
        await proxy.stop()


async def test_devices_of_a_tcp_hub_are_polled_in_parallel(tmp_path: Path, modbus_server) -> None:
    server = await modbus_server({1: tables(holding={0: [1]}), 2: tables(holding={0: [2]})})
    other_device_asked = asyncio.Event()

    async def hook(device_id: int, _code: int, _address: int) -> None:
        # Device 1 answers only once device 2 has been asked: a hub that polled one device
        # after the other would time out on device 1.
        if device_id == 2:
            other_device_asked.set()
        else:
            await other_device_asked.wait()

    server.hooks.append(hook)
    body = """\
sensors:
  - {name: one, address: 0, slave: 1}
  - {name: two, address: 0, slave: 2}
"""
    yaml = hub_yaml(server.port, body).replace("timeout: 0.5", "timeout: 10")
    async with running_site(tmp_path, yaml) as runtime:
        await wait_state(runtime, "sensor.one", "1")
        await wait_state(runtime, "sensor.two", "2")
        assert server.connections == 2
        assert set(hub_of(runtime).describe()["links"]) == {"plant/1", "plant/2"}  # type: ignore[arg-type]


async def test_a_serial_bus_sends_one_request_at_a_time(tmp_path: Path, modbus_server) -> None:
    """RTU over TCP is a serial line behind a gateway: one request on the line at a time."""
    server: ModbusTestServer = await modbus_server(
        {d: tables(holding={0: [d] * 4}, inputs={0: [d]}) for d in (1, 2, 3)},
        framer=FramerType.RTU,
    )
    in_flight = 0
    most = 0

    async def hook(_device: int, _code: int, _address: int) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1

    server.hooks.append(hook)
    body = "sensors:\n" + "\n".join(
        f"  - {{name: d{d}{t}, address: 0, slave: {d}, input_type: {t}}}"
        for d in (1, 2, 3)
        for t in ("holding", "input")
    )
    yaml = (
        hub_yaml(server.port, body)
        .replace("type: tcp", "type: rtuovertcp")
        .replace("timeout: 0.5", "timeout: 5")
    )
    yaml += "    message_wait_milliseconds: 5\n"
    async with running_site(tmp_path, yaml) as runtime:
        for d in (1, 2, 3):
            await wait_state(runtime, f"sensor.d{d}holding", str(d))
            await wait_state(runtime, f"sensor.d{d}input", str(d))
        assert len(server.reads()) == 6
        assert most == 1
        assert server.connections == 1


@pytest.fixture
async def serial_line(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """Two ends of a virtual serial line (a pty pair joined by socat): device end, hub end."""
    socat = require_tool("socat", "socat")
    device_end, hub_end = tmp_path / "ttyDEV", tmp_path / "ttyHUB"
    proc = await asyncio.create_subprocess_exec(
        socat,
        f"pty,raw,echo=0,link={device_end}",
        f"pty,raw,echo=0,link={hub_end}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_for(lambda: device_end.exists() and hub_end.exists(), what="the pty pair")
        yield str(device_end), str(hub_end)
    finally:
        proc.terminate()
        await proc.wait()


async def test_a_serial_hub_polls_its_devices_over_a_real_serial_line(
    tmp_path: Path, serial_line: tuple[str, str]
) -> None:
    device_end, hub_end = serial_line
    requests: list[tuple[int, int, int]] = []

    def trace(sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            requests.append((pdu.dev_id, pdu.function_code, pdu.address))
        return pdu

    devices = [
        SimDevice(
            id=d,
            simdata=(
                [SimData(0, values=[d % 2 == 0] * 16, datatype=SimType.BITS)],
                [SimData(0, values=[False] * 16, datatype=SimType.BITS)],
                [SimData(0, values=[10 * d, 10 * d + 1], datatype=SimType.REGISTERS)],
                [SimData(0, values=[0], datatype=SimType.REGISTERS)],
            ),
        )
        for d in (1, 2)
    ]
    server = ModbusSerialServer(devices, port=device_end, baudrate=38400, trace_pdu=trace)
    await server.serve_forever(background=True)
    body = "\n".join(
        [
            "sensors:",
            *(f"  - {{name: r{d}{a}, slave: {d}, address: {a}}}" for d in (1, 2) for a in (0, 1)),
            "binary_sensors:",
            "  - {name: bit2, slave: 2, address: 0}",
        ]
    )
    yaml = (
        "modbus:\n  - name: line\n    type: serial\n"
        f"    port: {hub_end}\n    baudrate: 38400\n    bytesize: 8\n    method: rtu\n"
        "    parity: N\n    stopbits: 1\n    timeout: 2\n    retries: 0\n"
        + "\n".join(f"    {line}" for line in body.splitlines())
        + "\n"
    )
    try:
        async with running_site(tmp_path, yaml) as runtime:
            for d in (1, 2):
                await wait_state(runtime, f"sensor.r{d}0", str(10 * d))
                await wait_state(runtime, f"sensor.r{d}1", str(10 * d + 1))
            await wait_state(runtime, "binary_sensor.bit2", "on")
            await wait_state(runtime, "binary_sensor.line_connectivity", "on")
            await scans_done(runtime, "line")
            # One request per device and table: the two registers of each device coalesced.
            assert sorted(requests) == [(1, 3, 0), (2, 1, 0), (2, 3, 0)]
            assert hub_of(runtime, "line").config.message_wait == 0.03
    finally:
        await server.shutdown()


async def test_a_udp_hub_reads_its_device(tmp_path: Path) -> None:
    port = free_port()
    device = SimDevice(
        id=1,
        simdata=(
            [SimData(0, values=[False] * 16, datatype=SimType.BITS)],
            [SimData(0, values=[False] * 16, datatype=SimType.BITS)],
            [SimData(0, values=[0x4148, 0x0000], datatype=SimType.REGISTERS)],
            [SimData(0, values=[0], datatype=SimType.REGISTERS)],
        ),
    )
    server = ModbusUdpServer(device, address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    body = "sensors:\n  - {name: gauge, address: 0, data_type: float32}\n"
    try:
        async with running_site(
            tmp_path, hub_yaml(port, body).replace("type: tcp", "type: udp")
        ) as runtime:
            await wait_state(runtime, "sensor.gauge", "12.5")
    finally:
        await server.shutdown()


async def test_lazy_error_count_keeps_the_last_value_through_a_glitch(
    tmp_path: Path, modbus_server
) -> None:
    server = await modbus_server({1: tables(holding={0: [7]})})
    body = "sensors:\n  - {name: steady, address: 0, scan_interval: 10, lazy_error_count: 1}\n"
    async with running_site(tmp_path, hub_yaml(server.port, body)) as runtime:
        await wait_state(runtime, "sensor.steady", "7")
        await scans_done(runtime)
        server.faults[(1, 3, 0)] = ExcCodes.DEVICE_FAILURE
        await advance(runtime, 10)
        await scans_done(runtime)
        assert runtime.states.get("sensor.steady").state == "7"  # type: ignore[union-attr]
        await advance(runtime, 10)
        await wait_state(runtime, "sensor.steady", "unavailable")
        del server.faults[(1, 3, 0)]
        await advance(runtime, 10)
        await wait_state(runtime, "sensor.steady", "7")
