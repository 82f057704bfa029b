"""One link to Modbus equipment: a pymodbus client, its lock, its pacing and its reconnects.

A TCP or UDP hub opens one ``Connection`` per device, so that its devices are polled in
parallel; a serial bus (and RTU over TCP, a serial bus behind a gateway) has one, whose lock
lets one request on the line at a time, ``message_wait`` apart.

The connection never reconnects on its own in the background: pymodbus's reconnect is off. A
request on a closed connection tries to connect once when the backoff allows, else fails at
once with ``DeviceConnectError``; the hub schedules the next attempt on the runtime's clock.
The backoff doubles from ``reconnect_delay`` to ``reconnect_delay_max`` with a little jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core import DeviceConnectError, DeviceProtocolError, DeviceTimeout

from .const import BUSY_RETRIES, BUSY_RETRY_DELAY, HubType, InputType

if TYPE_CHECKING:
    from pymodbus.client import ModbusBaseClient
    from pymodbus.pdu import ModbusPDU

    from core.clock import Clock

    from .model import HubConfig

_LOGGER = logging.getLogger(__name__)

#: Exception codes of the Modbus application protocol (v1.1b3, section 7).
ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
DEVICE_FAILURE = 4
DEVICE_BUSY = 6

EXCEPTION_NAMES = {
    ILLEGAL_FUNCTION: "illegal function",
    ILLEGAL_ADDRESS: "illegal data address",
    ILLEGAL_VALUE: "illegal data value",
    DEVICE_FAILURE: "device failure",
    5: "acknowledge",
    DEVICE_BUSY: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}

_READ_METHODS = {
    InputType.COIL: "read_coils",
    InputType.DISCRETE_INPUT: "read_discrete_inputs",
    InputType.HOLDING: "read_holding_registers",
    InputType.INPUT: "read_input_registers",
}


class LinkState(StrEnum):
    """Where a connection is."""

    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    CLOSED = "closed"


class ModbusExceptionResponse(DeviceProtocolError):
    """The device answered with an exception code; ``code`` is that code."""


class Connection:
    """A pymodbus client for one link, used on the event loop only.

    Args:
        hub: the hub's configuration.
        label: names the link in logs and errors (``plant`` or ``plant/3``).
        clock: the runtime's clock, for the reconnect backoff.
        on_state: called with the new state whenever the link comes up or goes down.
    """

    def __init__(
        self,
        hub: HubConfig,
        label: str,
        clock: Clock,
        on_state: Callable[[Connection], None],
    ) -> None:
        self.hub = hub
        self.label = label
        self._clock = clock
        self._on_state = on_state
        self._client: ModbusBaseClient | None = None
        self._lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._last_request_end = 0.0
        self._backoff = 0.0
        self.state = LinkState.DISCONNECTED
        #: When (clock monotonic seconds) the next connection attempt may start.
        self.next_attempt = 0.0
        #: The last connection error, for the connectivity sensor's attributes.
        self.last_error: str | None = None
        #: How many times the link has been opened.
        self.connects = 0

    @property
    def connected(self) -> bool:
        """Whether the link is up."""
        return self.state is LinkState.CONNECTED

    def _make_client(self) -> ModbusBaseClient:
        from pymodbus.client import (  # noqa: PLC0415 - heavy library, loaded on setup only
            AsyncModbusSerialClient,
            AsyncModbusTcpClient,
            AsyncModbusUdpClient,
        )
        from pymodbus.framer import FramerType  # noqa: PLC0415 - see above

        hub = self.hub
        common: dict[str, Any] = {
            "timeout": hub.timeout,
            "retries": hub.retries,
            "reconnect_delay": 0,
            "trace_connect": self._traced_connect,
        }
        if hub.type is HubType.SERIAL:
            assert hub.serial_port is not None  # noqa: S101 - the schema requires it
            return AsyncModbusSerialClient(
                hub.serial_port,
                framer=FramerType.ASCII if hub.method == "ascii" else FramerType.RTU,
                baudrate=hub.baudrate,
                bytesize=hub.bytesize,
                parity=hub.parity,
                stopbits=hub.stopbits,
                **common,
            )
        assert hub.host is not None  # noqa: S101 - the schema requires it
        assert hub.port is not None  # noqa: S101 - the schema requires it
        if hub.type is HubType.UDP:
            return AsyncModbusUdpClient(hub.host, port=hub.port, **common)
        framer = FramerType.RTU if hub.type is HubType.RTU_OVER_TCP else FramerType.SOCKET
        return AsyncModbusTcpClient(hub.host, port=hub.port, framer=framer, **common)

    def _traced_connect(self, connected: bool) -> None:
        """pymodbus tells that the transport came up or went down."""
        if not connected and self.state is LinkState.CONNECTED:
            self._mark_lost("the connection was closed")

    def _mark_lost(self, reason: str) -> None:
        self._lost.set()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.state is not LinkState.CONNECTED:
            return
        self.state = LinkState.DISCONNECTED
        self.last_error = reason
        self._schedule_backoff(first=True)
        _LOGGER.warning("Modbus %s: connection lost (%s); reconnecting", self.label, reason)
        self._on_state(self)

    def _schedule_backoff(self, *, first: bool) -> None:
        hub = self.hub
        self._backoff = (
            hub.reconnect_delay if first else min(self._backoff * 2, hub.reconnect_delay_max)
        )
        # Jitter keeps many links that dropped together from knocking at the same moment.
        jitter = 1.0 + random.uniform(-0.1, 0.1)  # noqa: S311 - timing jitter, not security
        self.next_attempt = self._clock.monotonic() + self._backoff * jitter

    @property
    def retry_in(self) -> float:
        """Seconds until the next connection attempt may start."""
        return max(self.next_attempt - self._clock.monotonic(), 0.0)

    async def connect(self) -> None:
        """Open the link now, whatever the backoff says.

        Raises:
            DeviceConnectError: it could not be opened; the backoff grows.
        """
        if self.state is LinkState.CLOSED:
            raise DeviceConnectError("the hub is stopped", device=self.label)
        if self._client is not None:
            self._client.close()
        client = self._make_client()
        self._client = client
        try:
            ok = await client.connect()
        except Exception as err:  # pymodbus raises what the transport raised
            ok = False
            self.last_error = str(err) or type(err).__name__
        if not ok or not client.connected:
            client.close()
            if self._client is client:
                self._client = None
            self.last_error = self.last_error or "connection refused"
            first = self._backoff == 0.0
            self._schedule_backoff(first=first)
            # Once per outage at warning level, then quietly until the link is back.
            _LOGGER.log(
                logging.WARNING if first else logging.DEBUG,
                "Modbus %s: cannot connect to %s (%s); retrying in %.1f s",
                self.label,
                self._where(),
                self.last_error,
                self.retry_in,
            )
            raise DeviceConnectError(
                f"cannot connect to {self._where()}; next attempt in {self.retry_in:.1f} s",
                device=self.label,
            )
        self._lost = asyncio.Event()
        self._backoff = 0.0
        self.last_error = None
        self.state = LinkState.CONNECTED
        self.connects += 1
        _LOGGER.info("Modbus %s: connected to %s", self.label, self._where())
        if self.hub.delay:
            # Some devices need a moment after the connection opens before they answer.
            await asyncio.sleep(self.hub.delay)
        self._on_state(self)

    async def reconnect(self) -> None:
        """Open the link if it is down, waiting for any request in flight first.

        Raises:
            DeviceConnectError: it could not be opened; the backoff grows.
        """
        async with self._lock:
            if self.state is LinkState.DISCONNECTED:
                await self.connect()

    def _where(self) -> str:
        hub = self.hub
        if hub.type is HubType.SERIAL:
            return str(hub.serial_port)
        return f"{hub.host}:{hub.port} ({hub.type.value})"

    async def close(self) -> None:
        """Close the link for good (the hub stops)."""
        self.state = LinkState.CLOSED
        self._lost.set()
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- requests ---------------------------------------------------------------------------

    async def read(
        self, slave: int, table: InputType, address: int, count: int
    ) -> list[int] | list[bool]:
        """Read ``count`` items of ``table`` from ``address`` of device ``slave``.

        Raises:
            ModbusExceptionResponse: the device answered with an exception code.
            DeviceTimeout: no answer.
            DeviceConnectError: the link is down or went down.
        """
        method = _READ_METHODS[table]
        where = f"{table.value} {address} (+{count})"

        async def call(client: ModbusBaseClient) -> ModbusPDU:
            result: ModbusPDU = await getattr(client, method)(address, count=count, device_id=slave)
            return result

        response = await self._request(slave, where, call)
        if table.is_bits:
            return list(response.bits[:count])
        return list(response.registers)

    async def write_registers(
        self, slave: int, address: int, values: Sequence[int], *, single: bool
    ) -> None:
        """Write registers: function 6 when ``single`` (one value), else function 16."""
        where = f"holding {address}"

        async def call(client: ModbusBaseClient) -> ModbusPDU:
            if single:
                result: ModbusPDU = await client.write_register(address, values[0], device_id=slave)
            else:
                result = await client.write_registers(address, list(values), device_id=slave)
            return result

        await self._request(slave, where, call)

    async def write_coils(
        self, slave: int, address: int, values: Sequence[bool], *, single: bool
    ) -> None:
        """Write coils: function 5 when ``single`` (one value), else function 15."""
        where = f"coil {address}"

        async def call(client: ModbusBaseClient) -> ModbusPDU:
            if single:
                result: ModbusPDU = await client.write_coil(address, values[0], device_id=slave)
            else:
                result = await client.write_coils(address, list(values), device_id=slave)
            return result

        await self._request(slave, where, call)

    async def _ensure_connected(self) -> ModbusBaseClient:
        if self.state is LinkState.CLOSED:
            raise DeviceConnectError("the hub is stopped", device=self.label)
        if self.state is not LinkState.CONNECTED or self._client is None:
            if self.retry_in > 0:
                raise DeviceConnectError(
                    f"not connected ({self.last_error or 'no connection yet'}); "
                    f"next attempt in {self.retry_in:.1f} s",
                    device=self.label,
                )
            await self.connect()
        assert self._client is not None  # noqa: S101 - connect() set it or raised
        return self._client

    async def _request(
        self,
        slave: int,
        where: str,
        call: Callable[[ModbusBaseClient], Awaitable[ModbusPDU]],
    ) -> ModbusPDU:
        from pymodbus.exceptions import (  # noqa: PLC0415 - heavy library, loaded on setup only
            ConnectionException,
            ModbusIOException,
        )

        device = f"{self.label}/{slave}"
        async with self._lock:
            for attempt in range(BUSY_RETRIES + 1):
                client = await self._ensure_connected()
                await self._message_wait()
                try:
                    response = await self._race(call(client))
                except ConnectionException as err:
                    self._mark_lost(str(err) or "not connected")
                    raise DeviceConnectError(
                        f"{where}: connection lost", device=device, address=where
                    ) from err
                except (ModbusIOException, TimeoutError) as err:
                    if not client.connected:
                        self._mark_lost("no answer, connection closed")
                    raise DeviceTimeout(
                        f"{where}: no answer within {self.hub.timeout:g} s",
                        device=device,
                        address=where,
                    ) from err
                finally:
                    self._last_request_end = time.monotonic()
                if not response.isError():
                    return response
                code = int(getattr(response, "exception_code", 0) or 0)
                if code == DEVICE_BUSY and attempt < BUSY_RETRIES:
                    _LOGGER.debug("Modbus %s: %s busy, asking again", device, where)
                    await asyncio.sleep(BUSY_RETRY_DELAY * (attempt + 1))
                    continue
                raise ModbusExceptionResponse(
                    f"{where}: exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})",
                    device=device,
                    address=where,
                    code=code,
                )
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _race(self, request: Awaitable[ModbusPDU]) -> ModbusPDU:
        """Await ``request`` unless the link goes down first (a peer that closes mid-request)."""
        from pymodbus.exceptions import ConnectionException  # noqa: PLC0415 - see _request

        task = asyncio.ensure_future(request)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait((task, lost), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            lost.cancel()
        if task.done():
            return task.result()
        task.cancel()
        # We cancelled it ourselves: whatever it ends with is of no interest.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise ConnectionException("the connection closed while waiting for the answer")

    async def _message_wait(self) -> None:
        """Keep ``message_wait`` between the end of one request and the start of the next."""
        wait = self.hub.message_wait
        if not wait:
            return
        remaining = self._last_request_end + wait - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)
