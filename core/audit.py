"""The device-control pipeline: every write to equipment is paced, run, and recorded here.

Whatever the protocol (Modbus, BACnet, Tuya, MQTT) and whether the appliance is real or virtual,
a domain service handler checks the bounds of the request and then calls ``audited_write``, which

1. paces the writes to one entity: when the entity sets ``write_min_interval``, two writes start
   at least that many seconds apart and never overlap. A write asked for sooner waits; when yet
   another arrives while it waits, the newer one replaces it (the replaced request is recorded as
   ``coalesced`` and its caller returns at once). So an automation that loops writes faster than
   the device allows reaches the device at the device's pace, and the last value asked for is
   the one written;
2. runs the write with the caller's context set on the entity, so that the state the write
   results in carries the context of the service call that caused it;
3. records an ``AuditRecord`` (who, what, when, outcome, how long) in the runtime's ``AuditLog``
   and fires ``equipment_write`` with it, for the recorder and the logbook.

A failed write is recorded with outcome ``error`` and its exception goes back to the caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, TypedDict
from weakref import WeakKeyDictionary

from .context import Context
from .entity import Entity
from .runtime import Runtime, RuntimeKey

_LOGGER = logging.getLogger(__name__)

#: Fired after every write to equipment (and every coalesced request) with an AuditRecordDict.
EVENT_EQUIPMENT_WRITE: Final = "equipment_write"

#: How many records the in-memory audit log keeps; the recorder keeps the long history.
DEFAULT_AUDIT_LOG_SIZE: Final = 1000

#: A write to the device: the coroutine function the domain service handler hands over.
WriteFunc = Callable[[], Awaitable[None]]


class WriteOutcome(StrEnum):
    """What became of a requested write."""

    OK = "ok"
    ERROR = "error"
    #: Replaced by a newer request to the same entity before it was due; never sent.
    COALESCED = "coalesced"


class AuditRecordDict(TypedDict):
    """The JSON form of an AuditRecord: the data of ``equipment_write``."""

    time: str
    entity_id: str
    action: str
    params: dict[str, Any]
    user_id: str | None
    context_id: str
    parent_context_id: str | None
    outcome: str
    error: str | None
    duration_ms: float


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One requested write to equipment: what, to which entity, for whom, and what became of it."""

    time: datetime
    entity_id: str
    action: str
    params: Mapping[str, Any]
    user_id: str | None
    context_id: str
    parent_context_id: str | None
    outcome: WriteOutcome
    error: str | None
    duration_ms: float

    def as_dict(self) -> AuditRecordDict:
        """The JSON-serialisable form."""
        return {
            "time": self.time.isoformat(),
            "entity_id": self.entity_id,
            "action": self.action,
            "params": dict(self.params),
            "user_id": self.user_id,
            "context_id": self.context_id,
            "parent_context_id": self.parent_context_id,
            "outcome": self.outcome.value,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


class AuditLog:
    """The most recent audit records of a runtime, oldest dropped first. Used on the loop."""

    def __init__(self, maxlen: int = DEFAULT_AUDIT_LOG_SIZE) -> None:
        self._records: deque[AuditRecord] = deque(maxlen=maxlen)

    def append(self, record: AuditRecord) -> None:
        """Keep ``record``."""
        self._records.append(record)

    def query(self, entity_id: str | None = None, limit: int = 100) -> list[AuditRecord]:
        """The newest ``limit`` records, newest first, optionally of one entity only."""
        result: list[AuditRecord] = []
        for record in reversed(self._records):
            if len(result) >= limit:
                break
            if entity_id is None or record.entity_id == entity_id:
                result.append(record)
        return result

    def __len__(self) -> int:
        return len(self._records)


#: The runtime's audit log; get it with ``audit_log(runtime)``.
AUDIT_LOG: RuntimeKey[AuditLog] = RuntimeKey("audit_log")


def audit_log(runtime: Runtime) -> AuditLog:
    """The runtime's ``AuditLog``, created on first use."""
    return runtime.data.setdefault(AUDIT_LOG, AuditLog)


@dataclass(slots=True)
class _Request:
    action: str
    params: Mapping[str, Any]
    context: Context
    write: WriteFunc
    #: Where a paced request's caller waits for its record; None for a write run at once.
    future: asyncio.Future[AuditRecord] | None = None


class _WriteGate:
    """The pacing state of one entity: when its last write started, and the one waiting."""

    __slots__ = ("last_start", "pending", "runner")

    def __init__(self) -> None:
        self.last_start: float | None = None
        self.pending: _Request | None = None
        self.runner: asyncio.Task[None] | None = None


# Keyed by the entity object, not its id, so that a rename does not lose the pacing.
_GATES: RuntimeKey[WeakKeyDictionary[Entity, _WriteGate]] = RuntimeKey("audit_write_gates")


async def audited_write(  # noqa: PLR0917 - the pipeline's documented call shape
    runtime: Runtime,
    entity: Entity,
    action: str,
    params: Mapping[str, Any],
    context: Context,
    write: WriteFunc,
) -> AuditRecord:
    """Run ``write`` to ``entity``'s equipment through the paced, audited pipeline.

    Args:
        runtime: the runtime the entity belongs to.
        entity: the entity written to; its ``write_min_interval`` paces the writes.
        action: the service asked for (``switch.turn_on``).
        params: the service data that matters for the write (``{"value": 21.5}``).
        context: the context of the service call.
        write: the coroutine function that writes to the device; bounds are already checked.

    Returns:
        The record of the write, or of its being coalesced into a newer one.

    Raises:
        Whatever ``write`` raised (a ``DeviceError``, typically), after it was recorded.
        asyncio.CancelledError: the caller, or the runtime's shutdown, cancelled the write.
    """
    request = _Request(action, dict(params), context, write)
    if not entity.write_min_interval:
        return await _run_write(runtime, entity, request)
    gates = runtime.data.setdefault(_GATES, WeakKeyDictionary)
    gate = gates.get(entity)
    if gate is None:
        gate = gates[entity] = _WriteGate()
    if (older := gate.pending) is not None:
        gate.pending = None
        if older.future is not None and not older.future.done():
            older.future.set_result(_record(runtime, entity, older, WriteOutcome.COALESCED))
            _LOGGER.debug("%s: %s coalesced into a newer write", entity.entity_id, older.action)
    future: asyncio.Future[AuditRecord] = runtime.loop.create_future()
    request.future = future
    gate.pending = request
    if gate.runner is None:
        gate.runner = runtime.create_task(
            _drain(runtime, entity, gate), name=f"audited_write[{entity.entity_id}]"
        )
    # Cancelling the caller cancels the future; the runner then drops the request unsent.
    return await future


async def _drain(runtime: Runtime, entity: Entity, gate: _WriteGate) -> None:
    """Run the entity's pending writes one at a time, each when the interval allows.

    Cancelling it (at shutdown) cancels the write in flight and the callers waiting.
    """
    loop = runtime.loop
    try:
        while (request := gate.pending) is not None and (future := request.future) is not None:
            interval = entity.write_min_interval or 0.0
            wait = 0.0 if gate.last_start is None else gate.last_start + interval - loop.time()
            if wait > 0:
                # Look at gate.pending again afterwards: a newer request may have replaced it.
                await asyncio.sleep(wait)
                continue
            gate.pending = None
            if future.done():
                continue  # its caller was cancelled while it waited
            gate.last_start = loop.time()
            try:
                record = await _run_write(runtime, entity, request)
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as err:
                if not future.done():
                    future.set_exception(err)
            else:
                if not future.done():
                    future.set_result(record)
    finally:
        gate.runner = None
        if gate.pending is not None:
            if gate.pending.future is not None:
                gate.pending.future.cancel()
            gate.pending = None


async def _run_write(runtime: Runtime, entity: Entity, request: _Request) -> AuditRecord:
    """Run one write now and record it."""
    started = time.perf_counter()
    # The state the write leads to is the call's doing: it carries the call's context.
    entity.set_context(request.context)
    try:
        await request.write()
    except asyncio.CancelledError:
        _record(
            runtime,
            entity,
            request,
            WriteOutcome.ERROR,
            error="cancelled",
            duration_ms=_ms_since(started),
        )
        raise
    except Exception as err:
        message = str(err) or type(err).__name__
        _record(
            runtime,
            entity,
            request,
            WriteOutcome.ERROR,
            error=message,
            duration_ms=_ms_since(started),
        )
        _LOGGER.warning("%s on %s failed: %s", request.action, entity.entity_id, message)
        raise
    return _record(runtime, entity, request, WriteOutcome.OK, duration_ms=_ms_since(started))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def _record(
    runtime: Runtime,
    entity: Entity,
    request: _Request,
    outcome: WriteOutcome,
    *,
    error: str | None = None,
    duration_ms: float = 0.0,
) -> AuditRecord:
    """Build the record of ``request``, keep it, and fire ``equipment_write`` with it."""
    context = request.context
    record = AuditRecord(
        time=runtime.clock.now(),
        entity_id=entity.entity_id,
        action=request.action,
        params=MappingProxyType(dict(request.params)),
        user_id=context.user_id,
        context_id=context.id,
        parent_context_id=context.parent_id,
        outcome=outcome,
        error=error,
        duration_ms=duration_ms,
    )
    audit_log(runtime).append(record)
    runtime.bus.fire(EVENT_EQUIPMENT_WRITE, record.as_dict(), context)
    return record
