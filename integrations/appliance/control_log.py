"""The control log: every action asked of an appliance, who asked, and what became of it.

An entry says when, which appliance, the action, who or what asked (``Source``: a user, an
automation, a schedule, the autopilot, the assistant; with the context ids and a detail such as
the automation's name), the state before, the result, the time to confirmation and any error.

Entries are kept in memory (the newest ``MEMORY_LOG_SIZE``) and written to the recorder's
database, in the ``appliance_control_log`` table this integration owns (``store.py``), through
the recorder's own write transactions. Queries (by appliance, time range, source) read the
table when the recorder is there, else memory.

Who asked is found from the call's context: a context registered with ``tag_context`` (the
appliance's own schedules do this; the autopilot and the assistant call it before they act),
then a context an automation or a script ran under (from ``automation_triggered`` and
``script_started``), then a user id, else ``system``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core import Context, Event, Runtime, RuntimeKey, callback

from .const import CONTEXT_SOURCES_KEPT, MEMORY_LOG_SIZE, STORE_OPEN_TIMEOUT, Result, Source

if TYPE_CHECKING:
    from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ControlLogEntry:
    """One action asked of an appliance."""

    time: datetime
    appliance: str
    action: str
    source: Source
    source_detail: str | None
    user_id: str | None
    context_id: str
    parent_context_id: str | None
    state_before: str
    result: Result
    confirmation_ms: float | None
    error: str | None
    params: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "time": self.time.isoformat(),
            "appliance": self.appliance,
            "action": self.action,
            "source": self.source.value,
            "source_detail": self.source_detail,
            "user_id": self.user_id,
            "context_id": self.context_id,
            "parent_context_id": self.parent_context_id,
            "state_before": self.state_before,
            "result": self.result.value,
            "confirmation_ms": self.confirmation_ms,
            "error": self.error,
            "params": self.params,
        }


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which entries to return: newest first, at most ``limit``."""

    appliance: str | None = None
    source: Source | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 100

    def matches(self, entry: ControlLogEntry) -> bool:
        """Whether ``entry`` is one of those asked for."""
        return (
            (self.appliance is None or entry.appliance == self.appliance)
            and (self.source is None or entry.source == self.source)
            and (self.start is None or entry.time >= self.start)
            and (self.end is None or entry.time < self.end)
        )


class ContextSources:
    """Which contexts came from what: an LRU of context id → (source, detail)."""

    def __init__(self, size: int = CONTEXT_SOURCES_KEPT) -> None:
        self._size = size
        self._sources: OrderedDict[str, tuple[Source, str | None]] = OrderedDict()

    def tag(self, context_id: str, source: Source, detail: str | None) -> None:
        """Remember that ``context_id`` is ``source``'s doing."""
        self._sources[context_id] = (source, detail)
        self._sources.move_to_end(context_id)
        while len(self._sources) > self._size:
            self._sources.popitem(last=False)

    def classify(self, context: Context) -> tuple[Source, str | None]:
        """Who asked, from the context or the context it derives from."""
        for context_id in (context.id, context.parent_id):
            if context_id is not None and (found := self._sources.get(context_id)) is not None:
                return found
        if context.user_id is not None:
            return Source.USER, None
        return Source.SYSTEM, None


#: The runtime's context sources; see ``tag_context``.
CONTEXT_SOURCES: RuntimeKey[ContextSources] = RuntimeKey("appliance.context_sources")


def tag_context(runtime: Runtime, context: Context, source: Source, detail: str | None) -> None:
    """Say that actions asked under ``context`` are ``source``'s (the autopilot, the assistant).

    Call it before calling an appliance service with ``context``; the control log then names
    ``source`` and ``detail`` as who asked.
    """
    runtime.data.setdefault(CONTEXT_SOURCES, ContextSources).tag(context.id, source, detail)


def listen_for_sources(runtime: Runtime) -> Callable[[], None]:
    """Tag the contexts automations and scripts run under; returns the unsubscribe function."""
    sources = runtime.data.setdefault(CONTEXT_SOURCES, ContextSources)

    # Tagged in the event filter, which the bus runs inside fire(): the automation's actions
    # start right after it fires ``automation_triggered``, before listeners would be called.
    @callback
    def automation(event: Event[Any]) -> bool:
        name = event.data.get("name") or event.data.get("entity_id")
        sources.tag(event.context.id, Source.AUTOMATION, str(name) if name else None)
        return False

    @callback
    def script(event: Event[Any]) -> bool:
        name = event.data.get("name") or event.data.get("entity_id")
        sources.tag(event.context.id, Source.AUTOMATION, f"script {name}" if name else "script")
        return False

    @callback
    def never(_event: Event[Any]) -> None:
        """Not called: the filters above decline every event once they have tagged it."""

    removers = [
        runtime.bus.listen("automation_triggered", never, automation),
        runtime.bus.listen("script_started", never, script),
    ]

    def remove() -> None:
        for remover in removers:
            remover()

    return remove


class ControlLog:
    """The entries in memory, and their way to the recorder's table. Use on the loop."""

    def __init__(self, runtime: Runtime, size: int = MEMORY_LOG_SIZE) -> None:
        self.runtime = runtime
        self._memory: deque[ControlLogEntry] = deque(maxlen=size)
        self._pending: list[ControlLogEntry] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._store: Any = None
        self._store_failed = False
        self._store_lock = asyncio.Lock()
        self._flush_lock = asyncio.Lock()
        self._listeners: list[Callable[[ControlLogEntry], None]] = []

    def start(self) -> None:
        """Start writing entries to the recorder's database, if there is a recorder."""
        self._task = self.runtime.create_task(self._write_loop(), name="appliance.control_log")

    async def stop(self) -> None:
        """Write what is pending (bounded by the integration's stop timeout), then stop."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._pending and await self._ensure_store() is not None:
            await self._flush()

    def subscribe(self, listener: Callable[[ControlLogEntry], None]) -> Callable[[], None]:
        """Call ``listener`` with each new entry; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def add(self, entry: ControlLogEntry) -> None:
        """Keep ``entry``, tell the listeners, and queue it for the database."""
        self._memory.append(entry)
        self._pending.append(entry)
        self._wake.set()
        for listener in list(self._listeners):
            try:
                listener(entry)
            except Exception:
                _LOGGER.exception("A control-log listener failed")

    async def query(self, query: LogQuery) -> list[ControlLogEntry]:
        """The entries asked for, newest first: from the table when there is one."""
        store = await self._ensure_store()
        if store is not None:
            await self._flush()
            try:
                entries: list[ControlLogEntry] = await store.query(query)
                return entries
            except Exception as err:
                _LOGGER.warning("Reading the control log from the database failed: %s", err)
        return [entry for entry in reversed(self._memory) if query.matches(entry)][: query.limit]

    async def _ensure_store(self) -> Any:
        """The table's store once the recorder's database is open; None without one."""
        if self._store is not None or self._store_failed:
            return self._store
        async with self._store_lock:
            if self._store is not None or self._store_failed:
                return self._store
            from integrations.recorder.core import RECORDER  # noqa: PLC0415 - with a recorder

            recorder = self.runtime.data.get(RECORDER)
            if recorder is None:
                _LOGGER.info("No recorder: the control log is kept in memory only")
                self._store_failed = True
                return None
            try:
                async with asyncio.timeout(STORE_OPEN_TIMEOUT):
                    # The table is created in the recorder's database, which its writer opens
                    # after start-up: wait for that first attempt.
                    await recorder.wait_started()
                    from .store import ControlLogStore  # noqa: PLC0415 - with a recorder only

                    store = ControlLogStore(recorder)
                    await store.create()
            except Exception as err:
                _LOGGER.error("The control log cannot use the recorder's database: %s", err)
                self._store_failed = True
                return None
            self._store = store
            return store

    async def _write_loop(self) -> None:
        if await self._ensure_store() is None:
            return
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        """Write the pending entries; returns once whatever was pending before is committed."""
        # One flush at a time: a query waits for the write in flight, so it reads its own writes.
        async with self._flush_lock:
            if not self._pending or self._store is None:
                return
            batch, self._pending = self._pending, []
            try:
                await self._store.write(batch)
            except Exception as err:
                _LOGGER.warning("Writing %d control-log entries failed: %s", len(batch), err)
                # Kept for the next try, never more than memory keeps: the oldest go first.
                self._pending[:0] = batch
                del self._pending[: max(0, len(self._pending) - (self._memory.maxlen or 0))]
