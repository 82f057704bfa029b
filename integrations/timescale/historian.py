"""The historian: accepted states -> local buffer -> central database, one writer task.

The bus listener turns each accepted ``state_changed`` into a row and keeps it in memory; every
``flush_interval`` (sooner when a batch is waiting) the writer moves those rows into the SQLite
buffer (``buffer.py``) and then sends the buffer's oldest rows to the central database
(``central.py``) batch by batch, removing each batch only after its commit. While the central
database is away the writer keeps moving rows into the buffer and retries every
``retry_wait``; when it is back the buffer is replayed oldest first while new rows keep
arriving behind it.

What a SIGKILL can lose: the rows still in memory, at most ``flush_interval`` worth. Everything
in the buffer is delivered exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.bus import Event, callback
from core.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE, STATE_UNKNOWN
from core.runtime import Runtime, RuntimeKey
from integrations.recorder.filters import RecordFilter

from .buffer import Appended, Batch, Buffer, Row, SeriesHour
from .const import (
    DEFAULT_BUFFER_FILE,
    DOMAIN,
    NOTIFICATION_CORRUPT,
    NOTIFICATION_DROPPED,
    PURGE_INTERVAL,
    STOP_FLUSH_TIMEOUT,
    Quality,
)
from .schema import TimescaleConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from core.state import State

    from .central import Central

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

#: A batch ready to send: the buffer's rows and their COPY records.
_Ready = tuple[Batch, list[Any]]

#: The running historian of a runtime.
HISTORIAN: RuntimeKey[Historian] = RuntimeKey("timescale.historian")


_GOOD = Quality.GOOD.value
_QUALITY = {STATE_UNAVAILABLE: Quality.BAD.value, STATE_UNKNOWN: Quality.UNCERTAIN.value}


def state_row(state: State, with_attributes: bool, when: float | None = None) -> Row:
    """The narrow row of one state: numeric value or text, quality from availability, unit.

    ``when`` replaces the state's own time (the historian's collision-free time).
    """
    raw = state.state
    quality = _QUALITY.get(raw, _GOOD)
    value: float | None = None
    text: str | None = None
    if quality == _GOOD:
        try:
            value = float(raw)
        except ValueError:
            text = raw
        else:
            if not math.isfinite(value):
                value, text = None, raw
    attributes = state.attributes
    unit = attributes.get("unit_of_measurement")
    attrs_json: str | None = None
    if with_attributes and attributes:
        from .central import attributes_json  # noqa: PLC0415 - only with attributes on

        attrs_json = attributes_json(dict(attributes))
    return (
        state.last_updated_timestamp if when is None else when,
        state.entity_id,
        value,
        text,
        quality,
        None if unit is None else str(unit),
        attrs_json,
    )


class Historian:
    """Owns the listener, the buffer, the central connection and the writer task."""

    def __init__(self, runtime: Runtime, config: TimescaleConfig) -> None:
        self.runtime = runtime
        self.config = config
        self._filter = RecordFilter(config.include, config.exclude)
        path = config.buffer_path or Path(DEFAULT_BUFFER_FILE)
        if not path.is_absolute():
            path = runtime.config_dir / path
        self.buffer = Buffer(path, config.buffer_max_rows, config.buffer_full_policy)
        self._pending: list[Row] = []
        #: Each entity's last row time in whole microseconds (the central column's resolution).
        self._last_us: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._unsubscribe: Callable[[], None] | None = None
        self._writer: asyncio.Task[None] | None = None
        # One thread: SQLite sees one caller at a time, in order.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="timescale-buffer")
        self._central: Central | None = None
        self._outage = False
        self._buffer_failing = False
        self._last_purge: float | None = None
        self.buffer_ready = asyncio.Event()
        #: Set after each pass that left the buffer empty with the central database reachable.
        self.drained = asyncio.Event()
        # Figures for the metrics and the tests.
        self.rows_accepted = 0
        self.rows_written = 0
        self.rows_sent = 0
        self.rows_dropped = 0
        self.send_failures = 0
        self.lag = 0.0

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to state changes and start the writer; touches no database. On the loop."""
        self._unsubscribe = self.runtime.bus.listen(EVENT_STATE_CHANGED, self._on_state_changed)
        self._writer = self.runtime.create_task(self._run(), f"{DOMAIN}.writer")
        metrics = self.runtime.metrics
        metrics.value(
            "edgewise_historian_rows_written",
            "Rows the central database committed (new or already there).",
            lambda: self.rows_sent,
            counter=True,
        )
        metrics.value(
            "edgewise_historian_rows_dropped",
            "Rows dropped by the store-and-forward buffer's size cap.",
            lambda: self.rows_dropped,
            counter=True,
        )
        metrics.value(
            "edgewise_historian_backlog_rows",
            "Rows waiting for the central database (buffer and memory).",
            lambda: self.buffer.count + len(self._pending),
        )
        metrics.value(
            "edgewise_historian_lag_seconds",
            "Age of the oldest row not yet in the central database.",
            lambda: self.lag,
        )

    async def stop(self) -> None:
        """Stop listening, buffer what is in memory, send what can be sent, close."""
        if self._stopping:
            return
        self._stopping = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._wake.set()
        if self._writer is not None:
            _, running = await asyncio.wait({self._writer}, timeout=STOP_FLUSH_TIMEOUT)
            if running:
                self._writer.cancel()
                await asyncio.wait({self._writer}, timeout=STOP_FLUSH_TIMEOUT)
        if self._central is not None:
            await self._central.close()
        await self._io_call(self.buffer.close)
        self._io.shutdown(wait=False)

    async def _io_call(self, func: Callable[..., _T], *args: Any) -> _T:
        return await self.runtime.loop.run_in_executor(self._io, func, *args)

    @property
    def writer_running(self) -> bool:
        """Whether the writer task is alive."""
        return self._writer is not None and not self._writer.done()

    @property
    def buffer_failing(self) -> bool:
        """Whether the last write to the buffer failed (a full or failing local disk)."""
        return self._buffer_failing

    # --- accepting -----------------------------------------------------------------------------

    @callback
    def _on_state_changed(self, event: Event[Any]) -> None:
        new_state = event.data.get("new_state")
        if new_state is None or not self._filter.entity_recorded(new_state.entity_id):
            return
        # The central key is (site, entity, time) at microsecond resolution: two changes of one
        # entity within one microsecond must not collide, so the second moves 1 µs on. A clock
        # stepped back keeps its own (earlier) times: rows are replayed in arrival order anyway.
        entity_id = new_state.entity_id
        when_us = round(new_state.last_updated_timestamp * 1_000_000)
        last_us = self._last_us.get(entity_id)
        if last_us is not None and last_us >= when_us > last_us - 1000:
            when_us = last_us + 1
        self._last_us[entity_id] = when_us
        self._pending.append(state_row(new_state, self.config.attributes, when_us / 1_000_000))
        self.rows_accepted += 1
        if len(self._pending) == self.config.batch_size:
            self._wake.set()

    # --- the writer ----------------------------------------------------------------------------

    async def _run(self) -> None:
        await self._io_call(self.buffer.open)
        if self.buffer.moved_aside is not None:
            self.runtime.notifications.create(
                f"The historian's buffer file was corrupt; it was moved to "
                f"{self.buffer.moved_aside} and a new one started. Rows it held are not "
                "delivered.",
                title="Historian buffer replaced",
                notification_id=NOTIFICATION_CORRUPT,
            )
        # Rows left from before a restart are a replay, for the completeness report.
        self._outage = self.buffer.count > 0
        self.buffer_ready.set()
        next_attempt = 0.0
        while True:
            if not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.flush_interval)
            self._wake.clear()
            if time.monotonic() >= next_attempt or self._stopping:
                # The central database is (probably) there: buffer one batch and send it; the
                # replay buffers the next ones while sending (``_replay``).
                await self._move_to_buffer(self.config.batch_size)
                if await self._send_backlog():
                    next_attempt = 0.0
                else:
                    next_attempt = time.monotonic() + self.config.retry_wait
            await self._move_to_buffer()
            if self._stopping:
                return

    async def _move_to_buffer(
        self, limit: int | None = None, central: Central | None = None
    ) -> _Ready | None:
        """Move the oldest ``limit`` rows in memory (all by default) to the buffer.

        With ``central``, answers the rows moved as a batch ready to send (with its COPY
        records, built in the buffer's thread), when they are all still held; else None.
        """
        if not self._pending:
            return None
        if limit is None or len(self._pending) <= limit:
            rows, self._pending = self._pending, []
        else:
            rows, self._pending = self._pending[:limit], self._pending[limit:]
        try:
            appended, records = await self._io_call(self._append, rows, central)
        except sqlite3.Error as err:
            # The local disk is full or failing: keep the rows in memory (bounded like the
            # buffer) and try again on the next pass.
            self._pending = rows + self._pending
            if not self._buffer_failing:
                _LOGGER.error(
                    "Cannot write the historian's buffer %s (%s); keeping rows in memory",
                    self.buffer.path,
                    err,
                )
            self._buffer_failing = True
            if (excess := len(self._pending) - self.config.buffer_max_rows) > 0:
                del self._pending[:excess]
                self._report_dropped(excess)
            return None
        if self._buffer_failing:
            _LOGGER.info("The historian's buffer is writable again")
            self._buffer_failing = False
        self.rows_written += len(rows) - appended.dropped
        if appended.dropped:
            self._report_dropped(appended.dropped)
        if appended.batch is None or records is None:
            return None
        return appended.batch, records

    def _append(
        self, rows: list[Row], central: Central | None
    ) -> tuple[Appended, list[Any] | None]:
        """In the buffer's thread: keep ``rows``; with ``central``, their COPY records too."""
        appended = self.buffer.append(rows)
        if central is None or appended.batch is None:
            return appended, None
        return appended, central.records(appended.batch.rows)

    def _report_dropped(self, dropped: int) -> None:
        """Count dropped rows; log them and say so in a persistent notification."""
        self.rows_dropped += dropped
        _LOGGER.warning(
            "The historian's buffer is full (%d rows): %d row(s) dropped (%s)",
            self.config.buffer_max_rows,
            dropped,
            self.config.buffer_full_policy,
        )
        self.runtime.notifications.create(
            f"The historian's buffer reached its cap of {self.config.buffer_max_rows} rows "
            f"while the central database was away; {self.rows_dropped} row(s) dropped so "
            f"far ({self.config.buffer_full_policy}).",
            title="Historian rows dropped",
            notification_id=NOTIFICATION_DROPPED,
        )

    async def _send_backlog(self) -> bool:
        """Send the buffer oldest first until it is empty; False when the central DB failed."""
        from .central import CENTRAL_ERRORS, Central  # noqa: PLC0415 - asyncpg, when configured

        if self._central is None:
            self._central = Central(self.config)
        central = self._central
        try:
            if not central.connected:
                await central.connect()
                if self._outage:
                    _LOGGER.info(
                        "The central database is back: replaying %d row(s)", self.buffer.count
                    )
            await self._replay(central)
            self.lag = 0.0
            self._outage = False
            await self._maybe_purge(central)
            self.drained.set()
            return True
        except CENTRAL_ERRORS as err:
            self.send_failures += 1
            self.drained.clear()
            central.abandon()
            if not self._outage:
                _LOGGER.warning(
                    "The central database is unreachable (%s: %s); keeping rows in the buffer",
                    type(err).__name__,
                    err,
                )
            else:
                _LOGGER.debug("The central database is still unreachable: %s", err)
            self._outage = True
            oldest = await self._io_call(self.buffer.oldest_time)
            self.lag = 0.0 if oldest is None else max(0.0, time.time() - oldest)
            return False

    def _read_batch(self, central: Central, after: int) -> _Ready:
        """In the buffer's thread: the next batch after ``after`` and its COPY records."""
        batch = self.buffer.oldest(self.config.batch_size, after)
        return batch, central.records(batch.rows)

    async def _replay(self, central: Central) -> None:
        """Send the buffer oldest first until it is empty.

        While one batch is sent, the next rows in memory are buffered and the batch before is
        removed: the buffer's thread and the central database work at the same time. Removal
        follows the order of the commits (one buffer thread), and a crash before a removal only
        means that batch is sent again.

        Once a batch read reaches the newest row held, the rows moved from memory meanwhile are
        the next batch as they are, with no read back from the file, for as long as they follow
        on directly; before that (a backlog) the next batch is read from the file meanwhile.
        """
        limit = self.config.batch_size
        batch, records = await self._io_call(self._read_batch, central, 0)
        at_end = batch.to_end
        removing: asyncio.Future[None] | None = None
        try:
            while batch.rows:
                self.lag = max(0.0, time.time() - batch.rows[0][0])
                # Tasks start in order: the rows are buffered before the next batch is read.
                moving = asyncio.ensure_future(
                    self._move_to_buffer(limit, central if at_end else None)
                )
                following = (
                    None
                    if at_end
                    else asyncio.ensure_future(self._io_call(self._read_batch, central, batch.last))
                )
                try:
                    moved = await self._send(central, records, moving)
                except BaseException:
                    if following is not None:
                        following.cancel()
                    raise
                if removing is not None:
                    await removing
                removing = asyncio.ensure_future(
                    self._io_call(self.buffer.remove_delivered, batch, self._outage)
                )
                self.rows_sent += len(batch.rows)
                if following is not None:
                    batch, records = await following
                    at_end = batch.to_end
                elif moved is not None and moved[0].first == batch.last + 1:
                    batch, records = moved
                else:  # nothing moved, or not straight after: read what the file holds
                    batch, records = await self._io_call(self._read_batch, central, batch.last)
                    at_end = batch.to_end
        finally:
            if removing is not None:
                await removing

    async def _send(
        self, central: Central, records: list[Any], moving: asyncio.Future[_Ready | None]
    ) -> _Ready | None:
        """Send ``records`` and answer what ``moving`` moved to the buffer meanwhile.

        While the central database takes longer than ``flush_interval`` (a lock, a slow disk,
        a slow link), the rows arriving meanwhile are moved to the buffer every
        ``flush_interval`` as they would be in an outage: a slow central database puts no more
        rows at risk of a crash than one that is down.
        """
        sending = asyncio.ensure_future(central.send(records))
        try:
            moved = await asyncio.shield(moving)
            while not sending.done():
                await asyncio.wait({sending}, timeout=self.config.flush_interval)
                if not sending.done():
                    await self._move_to_buffer()
            await sending  # its error, if any
        except BaseException:
            sending.cancel()
            raise
        return moved

    async def _maybe_purge(self, central: Central) -> None:
        now = time.monotonic()
        if self.config.retain_days is None or (
            self._last_purge is not None and now - self._last_purge < PURGE_INTERVAL
        ):
            return
        self._last_purge = now
        deleted = await central.purge()
        if deleted:
            _LOGGER.info("Purged %d row(s) older than %d days", deleted, self.config.retain_days)

    # --- the report ----------------------------------------------------------------------------

    async def completeness(
        self, entity_ids: Sequence[str] | None, start: float | None, end: float | None
    ) -> list[SeriesHour]:
        """The completeness report (``Buffer.completeness``); rows still in memory are not in it."""
        await self.buffer_ready.wait()
        return await self._io_call(self.buffer.completeness, entity_ids, start, end)
