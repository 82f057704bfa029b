"""A Modbus hub: its connections, its poll groups, their plans, and writes.

Reads are grouped by device, table and scan interval (a ``PollGroup``); each group keeps a plan
of blocks (``planner.plan``) and runs it every ``scan_interval`` seconds on the runtime's
scheduler, so a fake clock drives the polling in tests. A block the device refuses with an
illegal-address or illegal-value exception is split until the refused read is isolated; that
read is reported (logged once, listed on the hub's connectivity sensor) and its entity is
unavailable while the others keep their values.

When a link goes down every entity on it turns unavailable at once; the hub tries again after
the connection's backoff and, when the link is back, scans at once so entities return without
waiting for their next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core import DeviceConnectError, DeviceError, DeviceProtocolError, DeviceTimeout, callback

from .connection import ILLEGAL_ADDRESS, ILLEGAL_VALUE, Connection, ModbusExceptionResponse
from .const import MAX_WRITE_COILS, MAX_WRITE_REGISTERS, InputType
from .planner import Block, Read, plan, split

if TYPE_CHECKING:
    from core import Runtime
    from core.timers import Cancel

    from .model import HubConfig

_LOGGER = logging.getLogger(__name__)

#: Exception codes after which a refused block is split to find the read the device refuses.
_SPLIT_CODES = frozenset({ILLEGAL_ADDRESS, ILLEGAL_VALUE})


@dataclass(eq=False, slots=True)
class PollGroup:
    """The reads of one device and table that share a scan interval, and their plan."""

    connection: Connection
    slave: int
    table: InputType
    interval: float
    reads: list[Read] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    task: asyncio.Task[int] | None = None
    #: Requests sent by the last scan (for the benchmark and diagnostics).
    last_requests: int = 0

    @property
    def name(self) -> str:
        """``plant/1 holding every 15 s``."""
        return f"{self.connection.label}/{self.slave} {self.table.value} every {self.interval:g} s"


class ModbusHub:
    """Owns one hub's connections and poll groups; used on the event loop.

    Create it, ``add_read`` what the entities need, then ``start``; ``stop`` closes everything.
    """

    def __init__(self, runtime: Runtime, config: HubConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.name = config.name
        self._connections: dict[int | None, Connection] = {}
        self._groups: dict[tuple[int, InputType, float], PollGroup] = {}
        self._cancels: list[Cancel] = []
        self._reconnect_cancel: dict[Connection, Cancel] = {}
        self._state_listeners: list[Callable[[], None]] = []
        #: Reads the device refused, by owner: the report of bad entities.
        self.refused: dict[str, str] = {}
        self._started = False
        metrics = runtime.metrics
        self._poll_seconds = metrics.histogram(
            "modbus_poll_seconds", "Time to scan one poll group of a Modbus hub", ["hub"]
        ).labels(hub=self.name)
        self._requests = metrics.counter(
            "modbus_requests", "Read requests sent by a Modbus hub", ["hub"]
        ).labels(hub=self.name)
        self._errors = metrics.counter(
            "modbus_errors",
            "Failed read requests of a Modbus hub, by kind (refused, exception, timeout, "
            "connection)",
            ["hub", "kind"],
        )
        self._connected = metrics.gauge(
            "modbus_connected", "1 when the links a Modbus hub polls through are up", ["hub"]
        ).labels(hub=self.name)

    # --- structure --------------------------------------------------------------------------

    def connection_for(self, slave: int) -> Connection:
        """The link that reaches device ``slave``: its own on a parallel hub, else the hub's."""
        key = slave if self.config.parallel else None
        connection = self._connections.get(key)
        if connection is None:
            label = self.name if key is None else f"{self.name}/{slave}"
            connection = Connection(self.config, label, self.runtime.clock, self._link_changed)
            self._connections[key] = connection
        return connection

    @property
    def connections(self) -> list[Connection]:
        """Every link the hub has opened or will open."""
        return list(self._connections.values())

    @property
    def groups(self) -> list[PollGroup]:
        """Every poll group."""
        return list(self._groups.values())

    def add_read(self, slave: int, table: InputType, interval: float, read: Read) -> None:
        """Have ``read`` served every ``interval`` seconds (0: never polled)."""
        if interval <= 0:
            return
        key = (slave, table, interval)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = PollGroup(
                self.connection_for(slave), slave, table, interval
            )
        group.reads.append(read)

    def listen_state(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when a link goes up or down; returns the unsubscribe."""
        self._state_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._state_listeners:
                self._state_listeners.remove(listener)

        return unsubscribe

    @property
    def connected(self) -> bool | None:
        """Whether the links the hub polls through are all up; None before any was tried.

        A link opened only for a service write to a device nobody polls does not count, unless
        the hub polls nothing at all.
        """
        polled = {g.connection for g in self._groups.values()}
        links = [c for c in self._connections.values() if c in polled] or list(
            self._connections.values()
        )
        if not links or all(c.connects == 0 and c.last_error is None for c in links):
            return None
        return all(c.connected for c in links)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Plan every group, schedule its scans, and scan everything once now."""
        scheduler = self.runtime.scheduler
        if scheduler is None:
            raise RuntimeError("the runtime has no scheduler")
        if not self._connections:
            self.connection_for(0)  # services can still write through the hub
        for group in self._groups.values():
            group.blocks = plan(group.reads, group.table, self.config.limits(group.slave))
            self._cancels.append(
                scheduler.every(
                    timedelta(seconds=group.interval),
                    functools.partial(self._scheduled_scan, group),
                    name=f"modbus[{group.name}]",
                )
            )
            _LOGGER.debug(
                "Modbus %s: %d reads in %d requests",
                group.name,
                len(group.reads),
                len(group.blocks),
            )
        self._started = True
        for group in self._groups.values():
            self._start_scan(group)

    async def stop(self) -> None:
        """Cancel the scans and the reconnects, and close every link."""
        self._started = False
        for cancel in self._cancels:
            cancel()
        self._cancels.clear()
        for cancel in self._reconnect_cancel.values():
            cancel()
        self._reconnect_cancel.clear()
        tasks = [g.task for g in self._groups.values() if g.task is not None and not g.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            # We cancelled our own tasks: their CancelledError is expected.
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for connection in self._connections.values():
            await connection.close()

    # --- scanning ---------------------------------------------------------------------------

    @callback
    def _scheduled_scan(self, group: PollGroup, _when: datetime) -> None:
        """The scheduler's action for ``group``: start a scan (the fire time is not needed)."""
        self._start_scan(group)

    def _start_scan(self, group: PollGroup) -> None:
        """Start a scan of ``group`` unless one is still running (a slow device)."""
        if not self._started:
            return
        if group.task is not None and not group.task.done():
            _LOGGER.debug("Modbus %s: previous scan still running, skipping", group.name)
            return
        group.task = self.runtime.create_task(self.scan(group), name=f"modbus[{group.name}].poll")

    async def scan(self, group: PollGroup) -> int:
        """Read every block of ``group`` once and hand the data to its reads.

        Returns:
            The number of requests sent.
        """
        started = time.perf_counter()
        try:
            return await self._scan(group)
        finally:
            self._poll_seconds.observe(time.perf_counter() - started)

    async def _scan(self, group: PollGroup) -> int:
        sent = 0
        planned = group.blocks
        blocks = list(planned)
        index = 0
        new_plan: list[Block] = []
        while index < len(blocks):
            block = blocks[index]
            index += 1
            sent += 1
            self._requests.inc()
            try:
                data = await group.connection.read(
                    group.slave, group.table, block.address, block.count
                )
            except ModbusExceptionResponse as err:
                splittable = err.code in _SPLIT_CODES
                if splittable and len(pieces := split(block)) > 1:
                    _LOGGER.debug(
                        "Modbus %s: %s refused (%s), splitting", group.name, _span(block), err
                    )
                    blocks[index:index] = pieces
                    continue
                new_plan.append(block)
                self._error("refused" if splittable else "exception")
                self._fail(group, block, err, refused=splittable)
                continue
            except DeviceConnectError as err:
                self._error("connection")
                # The link is down: everything left in this scan fails the same way.
                for rest in [block, *blocks[index:]]:
                    new_plan.append(rest)
                    self._fail(group, rest, err, refused=False)
                if not group.connection.connected:
                    self._schedule_reconnect(group.connection)
                    self._notify()
                break
            except DeviceError as err:
                self._error("timeout" if isinstance(err, DeviceTimeout) else "exception")
                new_plan.append(block)
                self._fail(group, block, err, refused=False)
                continue
            except Exception as err:  # an isolation boundary: one block of one group
                self._error("exception")
                _LOGGER.exception("Modbus %s: reading %s failed", group.name, _span(block))
                new_plan.append(block)
                self._fail(group, block, err, refused=False)
                continue
            new_plan.append(block)
            self._deliver(block, data)
        if group.blocks is planned:
            # Keep what the splits learned, unless the hub planned afresh meanwhile.
            group.blocks = new_plan
        group.last_requests = sent
        return sent

    async def scan_all(self) -> int:
        """Scan every group now, in parallel across links; returns the requests sent."""
        results = await asyncio.gather(*(self.scan(g) for g in self._groups.values()))
        return sum(results)

    def _deliver(self, block: Block, data: Sequence[int] | Sequence[bool]) -> None:
        for read in block.reads:
            offset = read.address - block.address
            if read.owner in self.refused:
                del self.refused[read.owner]
                _LOGGER.info("Modbus %s: %s is read again", self.name, read.owner)
                self._notify()
            read.deliver(data[offset : offset + read.count], None)

    def _fail(self, group: PollGroup, block: Block, err: Exception, *, refused: bool) -> None:
        for read in block.reads if refused else ():
            if read.owner not in self.refused:
                self.refused[read.owner] = f"{group.table.value} {_span(block)}: {err}"
                _LOGGER.error(
                    "Modbus %s: device %d refuses %s at %s %s (%s); it is unavailable, the "
                    "rest keeps working",
                    self.name,
                    group.slave,
                    read.owner,
                    group.table.value,
                    _span(block),
                    err,
                )
                self._notify()
        for read in block.reads:
            read.deliver(None, err)

    # --- links ------------------------------------------------------------------------------

    def _link_changed(self, connection: Connection) -> None:
        """A link went up or down: tell the entities, and plan the reconnect or the catch-up."""
        if connection.connected:
            if (cancel := self._reconnect_cancel.pop(connection, None)) is not None:
                cancel()
            if self._started:
                # Entities come back now rather than at their next interval, and a device that
                # was mended may take the coalesced requests again: plan afresh.
                for group in self._groups.values():
                    if group.connection is connection:
                        if connection.connects > 1:
                            group.blocks = plan(
                                group.reads, group.table, self.config.limits(group.slave)
                            )
                        self._start_scan(group)
        else:
            lost = DeviceConnectError(
                f"connection lost ({connection.last_error})", device=connection.label
            )
            for group in self._groups.values():
                if group.connection is connection:
                    for block in group.blocks:
                        for read in block.reads:
                            read.deliver(None, lost)
            self._schedule_reconnect(connection)
        self._notify()

    def _schedule_reconnect(self, connection: Connection) -> None:
        scheduler = self.runtime.scheduler
        if scheduler is None or not self._started or connection in self._reconnect_cancel:
            return
        when = self.runtime.clock.now() + timedelta(seconds=connection.retry_in)
        self._reconnect_cancel[connection] = scheduler.at(
            when,
            functools.partial(self._reconnect, connection),
            name=f"modbus[{connection.label}].reconnect",
        )

    @callback
    def _reconnect(self, connection: Connection, _when: datetime) -> None:
        """The scheduler's action: try the link again, in a task."""
        self._reconnect_cancel.pop(connection, None)
        if not self._started or connection.connected:
            return
        self.runtime.create_task(
            self._try_connect(connection), name=f"modbus[{connection.label}].connect"
        )

    async def _try_connect(self, connection: Connection) -> None:
        try:
            await connection.reconnect()
        except DeviceConnectError as err:
            _LOGGER.debug("Modbus %s: %s", connection.label, err)
            self._schedule_reconnect(connection)

    def _error(self, kind: str) -> None:
        self._errors.labels(hub=self.name, kind=kind).inc()

    def _notify(self) -> None:
        self._connected.set(1 if self.connected else 0)
        for listener in list(self._state_listeners):
            listener()

    # --- writes and one-off reads -----------------------------------------------------------

    async def read(
        self, slave: int, table: InputType, address: int, count: int
    ) -> list[int] | list[bool]:
        """Read items once, outside the plan (a write's verification)."""
        return await self.connection_for(slave).read(slave, table, address, count)

    async def write_registers(
        self, slave: int, address: int, values: Sequence[int], *, single: bool | None = None
    ) -> None:
        """Write 16-bit values from ``address``: function 6 for one value, else 16.

        Raises:
            DeviceProtocolError: too many values for one request.
            DeviceError: the device refused, did not answer, or cannot be reached.
        """
        if len(values) > MAX_WRITE_REGISTERS:
            raise DeviceProtocolError(
                f"{len(values)} registers do not fit one write ({MAX_WRITE_REGISTERS} at most)",
                device=f"{self.name}/{slave}",
                address=str(address),
            )
        use_single = len(values) == 1 if single is None else single
        await self.connection_for(slave).write_registers(slave, address, values, single=use_single)

    async def write_coils(
        self, slave: int, address: int, values: Sequence[bool], *, single: bool | None = None
    ) -> None:
        """Write coils from ``address``: function 5 for one, else 15."""
        if len(values) > MAX_WRITE_COILS:
            raise DeviceProtocolError(
                f"{len(values)} coils do not fit one write ({MAX_WRITE_COILS} at most)",
                device=f"{self.name}/{slave}",
                address=str(address),
            )
        use_single = len(values) == 1 if single is None else single
        await self.connection_for(slave).write_coils(slave, address, values, single=use_single)

    def refresh(self, slave: int, table: InputType) -> None:
        """Scan the groups of one device and table soon (after a write to them)."""
        for group in self._groups.values():
            if group.slave == slave and group.table is table:
                self._start_scan(group)

    def describe(self) -> dict[str, object]:
        """The hub's links, plans and refused reads, for the connectivity sensor's attributes."""
        return {
            "links": {
                c.label: c.state.value
                if c.last_error is None
                else f"{c.state.value}: {c.last_error}"
                for c in self._connections.values()
            },
            "requests_per_scan": sum(len(g.blocks) for g in self._groups.values()),
            "reads": sum(len(g.reads) for g in self._groups.values()),
            "refused": dict(self.refused),
        }


def _span(block: Block) -> str:
    last = block.address + block.count - 1
    return str(block.address) if last == block.address else f"{block.address}-{last}"
