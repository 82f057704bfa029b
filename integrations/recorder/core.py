"""The recorder: writes every state change and event to a SQL database, in batches.

One ``@callback`` bus listener filters each event and appends it to an in-memory queue; one
task, ``recorder.writer``, drains the queue, writing up to ``MAX_BATCH_SIZE`` items per
transaction every ``commit_interval`` seconds, or as soon as a whole batch is queued (each item
at once when the interval is 0).

This module is light on purpose: the integration's setup imports it, registers the listener and
starts the writer task, and returns, so ``/ready`` never waits for the database. The writer
waits until the runtime has started, imports ``database.py`` (the drivers, ``sql.py``) in the
executor, opens the database, migrates the schema and opens the run; everything fired meanwhile is
queued (status STARTING) and written once the database is open. ``Recorder.wait_started()``
returns once that first attempt is over.

When the database fails, the batch stays at the head of the queue and is retried every
``db_retry_wait`` seconds (status DEGRADED, one warning per outage); the queue grows up to
``max_queue`` items, after which new ones are dropped and counted (status FULL). A batch that
fails for a reason other than the connection (an unexpected value) is written in halves, down to
the items that fail on their own, which are logged and skipped.

A database that can never be used (a schema newer than this code, ``SchemaTooNewError``; a URL,
driver or file that is not a database) ends the recorder for this run: the listener is removed,
the queue dropped, the recorder taken out of ``runtime.data``, and the integration reported as
failed through ``Runtime.integration_failed`` (status ``failed``, with the error).

Every write to the database, the writer's, the purge's and the statistics compiler's, runs under
one ``asyncio.Lock`` (``write_transaction``), so SQLite never sees two writers and a purge chunk,
a compile and a batch take turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.bus import Event, callback
from core.const import EVENT_EDGEWISE_STARTED, EVENT_STATE_CHANGED, MATCH_ALL
from core.limits import safe_repr
from core.runtime import RuntimeKey

from .const import (
    AUTO_PURGE_TIME,
    DEFAULT_DB_FILE,
    DOMAIN,
    EXCLUDED_EVENT_TYPES,
    MAX_BATCH_SIZE,
    STOP_FLUSH_TIMEOUT,
    RecorderStatus,
)
from .disk_guard import DiskGuard, sqlite_directory
from .errors import RecorderUnavailableError, SchemaTooNewError
from .filters import EntityFilter, RecordFilter
from .schema import RecorderConfig

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .database import RecorderDatabase
    from .sql import Connection

__all__ = [
    "RECORDER",
    "EntityFilter",
    "Recorder",
    "RecorderConfig",
    "RecorderStatus",
    "SchemaTooNewError",
    "get_recorder",
]

_LOGGER = logging.getLogger(__name__)

#: Where a running recorder is kept in ``runtime.data``.
RECORDER: RuntimeKey[Recorder] = RuntimeKey("recorder")

#: The module with the SQL side, imported by the writer (in the executor) or on first use.
_DATABASE_MODULE = f"{__package__}.database"


def get_recorder(runtime: Runtime) -> Recorder:
    """The runtime's recorder.

    Raises:
        KeyError: the recorder is not set up (or failed for good).
    """
    recorder = runtime.data.get(RECORDER)
    if recorder is None:
        raise KeyError("the recorder is not set up")
    return recorder


def default_db_url(config_dir: Path) -> str:
    """The SQLite database in the configuration directory."""
    return f"sqlite+aiosqlite:///{config_dir / DEFAULT_DB_FILE}"


class Recorder:
    """Owns the queue, the writer task and (through ``RecorderDatabase``) the database.

    Use it from the event loop. Creating one imports nothing heavy; the database is opened by
    the writer (``connect()`` and ``write_transaction()`` wait for it).
    """

    def __init__(self, runtime: Runtime, config: RecorderConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.db_url = config.db_url or default_db_url(runtime.config_dir)
        #: Pauses the writer while the database's disk is nearly full (see ``disk_guard``).
        self.disk_guard = DiskGuard(runtime, sqlite_directory(self.db_url))
        self.status = RecorderStatus.STARTING
        #: Items not recorded because the queue was full.
        self.dropped = 0
        #: Why the recorder gave up for this run (a database it cannot use), or None.
        self.failure: BaseException | None = None
        self._filter = RecordFilter(config.include, config.exclude)
        self._queue: deque[Event[Any]] = deque()
        self._accepted = 0
        self._done = 0
        self._purges: set[asyncio.Task[Any]] = set()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._flush_now = asyncio.Event()
        #: Set once the runtime has started (or the recorder is stopping): the writer may begin.
        self._go = asyncio.Event()
        #: Set once the first attempt to open the database is over, whatever its outcome.
        self._first_attempt = asyncio.Event()
        self._lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._stopping = False
        self._database: RecorderDatabase | None = None
        self._failure_callbacks: list[Callable[[], Awaitable[None]]] = []
        metrics = runtime.metrics
        metrics.value("recorder_queue_depth", "Changes waiting to be written", self._depth)
        metrics.value(
            "recorder_dropped",
            "Changes not recorded: the queue was full",
            self._dropped,
            counter=True,
        )
        self._commit_seconds = metrics.histogram(
            "recorder_commit_seconds",
            "Time to write one batch to the database",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def _depth(self) -> float:
        return len(self._queue)

    def _dropped(self) -> float:
        return self.dropped

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to the bus and start the writer task; touches no database. On the loop.

        The writer opens the database once the runtime has started; until then (and while the
        database is away) events are queued.
        """
        self._unsubscribe.append(self.runtime.bus.listen(MATCH_ALL, self._on_event))
        if self.runtime.ready:
            self._go.set()
        else:
            self._unsubscribe.append(
                self.runtime.bus.listen_once(EVENT_EDGEWISE_STARTED, self._on_started)
            )
        self._writer = self.runtime.create_task(self._run_writer(), "recorder.writer")
        if self.config.auto_purge and self.runtime.has_scheduler:
            self._unsubscribe.append(
                self.runtime.scheduler.daily(
                    AUTO_PURGE_TIME, self._auto_purge, name="recorder.auto_purge"
                )
            )

    def on_failure(self, callback_: Callable[[], Awaitable[None]]) -> None:
        """Have ``callback_`` awaited if the recorder gives up (a database it cannot use)."""
        self._failure_callbacks.append(callback_)

    @callback
    def _on_started(self, _event: Event[Any]) -> None:
        self._go.set()

    async def wait_started(self) -> RecorderStatus:
        """Wait until the writer's first attempt to open the database is over; the status then.

        OK: the database is open; DEGRADED: it is away and retried; STOPPED: the recorder gave
        up (``failure`` says why) or was stopped.
        """
        if self._writer is not None and not self._writer.done():
            waiter = asyncio.ensure_future(self._first_attempt.wait())
            await asyncio.wait({waiter, self._writer}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        return self.status

    async def stop(self) -> None:
        """Stop listening, write what is queued (at most ``STOP_FLUSH_TIMEOUT`` s), close."""
        if self._stopping:
            return
        self._stopping = True
        self._go.set()
        self._unsubscribe_all()
        if purges := [task for task in self._purges if not task.done()]:
            for task in purges:
                task.cancel()
            await asyncio.wait(purges, timeout=STOP_FLUSH_TIMEOUT)
        if self._writer is not None and not self._writer.done():
            try:
                async with asyncio.timeout(STOP_FLUSH_TIMEOUT):
                    await self.flush()
            except TimeoutError:
                _LOGGER.error(
                    "The recorder stopped with %d item(s) not written: the database is %s",
                    len(self._queue),
                    self.status,
                )
            self._writer.cancel()
            # Not ``await self._writer``: a writer stuck in the driver's thread would hold the
            # runtime's shutdown, and awaiting it would swallow the runtime's own cancellation.
            _, running = await asyncio.wait({self._writer}, timeout=STOP_FLUSH_TIMEOUT)
            if running:
                _LOGGER.error("The recorder's writer is still blocked in the database driver")
        try:
            await self._close_database()
        finally:
            self.status = RecorderStatus.STOPPED
        _LOGGER.info("Recorder stopped")

    async def _close_database(self) -> None:
        """Release waiters, close the recorder run and the database's connections."""
        for waiter in self._waiters:
            if not waiter[1].done():
                waiter[1].cancel()
        self._waiters.clear()
        if self._database is not None:
            await self._database.close()

    def _unsubscribe_all(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()

    # --- public API ----------------------------------------------------------------------------

    @property
    def queue_size(self) -> int:
        """Items accepted and not yet committed."""
        return len(self._queue)

    @property
    def database_ready(self) -> bool:
        """Whether the schema is in place and the writer is writing (or retrying a batch)."""
        return self._database is not None and self._database.ready

    def database(self) -> RecorderDatabase:
        """The SQL side, made (importing the drivers, on the loop) on first use if need be."""
        if self._database is None:
            module = importlib.import_module(_DATABASE_MODULE)
            self._database = module.RecorderDatabase(self.db_url, self._lock)
        return self._database

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or the database server's dialect name (``"postgresql"``)."""
        return self.database().db.dialect

    async def ready(self) -> RecorderDatabase:
        """The open database, once the writer's first attempt to open it is over.

        Raises:
            RecorderUnavailableError: the database could not be opened (or is away).
        """
        if not self._first_attempt.is_set():
            await self.wait_started()
        if not self.database_ready:
            raise RecorderUnavailableError(self.status.value)
        return self.database()

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        """A connection for READ queries, once the database is open (see ``ready()``).

        Statements are SQL text with ``:name`` parameters (``sql.py``); reads see what is
        committed.
        """
        database = await self.ready()
        async with database.db.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[Connection]:
        """A transaction that takes turns with the writer's batches; commits on exit.

        Use it for every write outside the writer (purge, statistics), so that SQLite never has
        two writers and a batch never waits for more than one such transaction.
        """
        database = await self.ready()
        async with self._lock, database.db.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def writes_paused(self) -> AsyncIterator[None]:
        """Hold the writer (and every ``write_transaction``) back, e.g. for a VACUUM."""
        async with self._lock:
            yield

    async def flush(self) -> None:
        """Return once the database was tried and every item accepted so far is committed.

        (Or skipped as unwritable.) Waits as long as the database is away; bound it with
        ``asyncio.timeout``.

        Raises:
            RecorderUnavailableError: the recorder gave up (``failure`` says why), before or
                while waiting.
        """
        # Events fired just before this call are still queued on the bus: one loop turn lets the
        # bus deliver them, so "accepted so far" includes everything fired before flush().
        await asyncio.sleep(0)
        target = self._accepted
        if self.failure is not None:
            raise RecorderUnavailableError(f"{self.status.value}: {self.failure}")
        if self._writer is None or self._writer.done():
            return
        if not self._first_attempt.is_set():
            await self.wait_started()
        if self._done >= target or self._writer.done():
            return
        future: asyncio.Future[None] = self.runtime.loop.create_future()
        self._waiters.append((target, future))
        self._flush_now.set()
        self._wake.set()
        await future

    async def wait_idle(self) -> None:
        """Same as :meth:`flush`: wait until the queue so far is committed (for tests)."""
        await self.flush()

    async def purge(self, keep_days: int | None = None, *, repack: bool = False) -> None:
        """Delete states and events older than ``keep_days`` (default ``purge_keep_days``)."""
        from .purge import purge_old_data, repack_database  # noqa: PLC0415 - on use

        days = self.config.purge_keep_days if keep_days is None else keep_days
        task = asyncio.current_task()
        if task is not None:
            # stop() cancels a purge in progress and waits for it before closing the database;
            # only while it is in progress: the caller's task goes on afterwards (and may be the
            # one that stops the runtime).
            self._purges.add(task)
        try:
            await purge_old_data(self, days)
            if repack:
                await repack_database(self)
        finally:
            if task is not None:
                self._purges.discard(task)

    def forget_ids(
        self,
        *,
        state_ids: Iterable[int] = (),
        metadata_ids: Iterable[int] = (),
        attributes_ids: Iterable[int] = (),
        event_type_ids: Iterable[int] = (),
        data_ids: Iterable[int] = (),
    ) -> None:
        """Drop deleted rows' ids from the writer's caches. Call inside ``write_transaction``."""
        if self._database is not None:
            self._database.forget_ids(
                state_ids=state_ids,
                metadata_ids=metadata_ids,
                attributes_ids=attributes_ids,
                event_type_ids=event_type_ids,
                data_ids=data_ids,
            )

    # --- the bus side --------------------------------------------------------------------------

    @callback
    def _on_event(self, event: Event[Any]) -> None:
        """Queue an event to record; runs on the loop for every event, so it is kept cheap."""
        event_type = event.event_type
        if event_type in EXCLUDED_EVENT_TYPES or not self._filter.event_recorded(event_type):
            return
        if event_type == EVENT_STATE_CHANGED and not self._filter.entity_recorded(
            event.data["entity_id"]
        ):
            return
        if len(self._queue) >= self.config.max_queue:
            self.dropped += 1
            if self.status is not RecorderStatus.FULL:
                self._set_status(RecorderStatus.FULL)
            return
        queue = self._queue
        queue.append(event)
        self._accepted += 1
        if not self._wake.is_set():
            self._wake.set()
        # A whole batch is waiting: the writer need not sit out the rest of commit_interval.
        if len(queue) >= MAX_BATCH_SIZE and not self._flush_now.is_set():
            self._flush_now.set()

    def _set_status(self, status: RecorderStatus, err: BaseException | None = None) -> None:
        """Change the status, logging each transition once."""
        previous, self.status = self.status, status
        if status is previous:
            return
        if status is RecorderStatus.DEGRADED:
            _LOGGER.warning(
                "Recorder database unavailable (%s); queuing changes and retrying every %g s",
                err,
                self.config.db_retry_wait,
            )
        elif status is RecorderStatus.FULL:
            _LOGGER.warning(
                "Recorder queue is full (%d items): new changes are dropped until it drains",
                self.config.max_queue,
            )
        elif status is RecorderStatus.OK and previous in (
            RecorderStatus.DEGRADED,
            RecorderStatus.FULL,
        ):
            _LOGGER.info(
                "Recorder database available again; writing %d queued item(s), %d dropped",
                len(self._queue),
                self.dropped,
            )

    # --- the writer ----------------------------------------------------------------------------

    async def _run_writer(self) -> None:
        """Run :meth:`_write_loop`; if it ever ends on an error, give up visibly (``_fail``).

        One item cannot end it (``_write_apart`` skips what fails on its own), but should a
        bug do so, the integration is reported failed, a notification raised and every
        ``flush()`` waiter released with the error, rather than history freezing silently.
        """
        try:
            await self._write_loop()
        except Exception as err:  # isolation boundary: the writer's last resort
            _LOGGER.exception("The recorder's writer stopped on an unexpected error")
            await self._fail(err)

    async def _write_loop(self) -> None:
        """Open the database once the runtime has started, then drain the queue until cancelled.

        Cancelling leaves uncommitted items queued.
        """
        await self._go.wait()
        try:
            database = await self._open()
        finally:
            self._first_attempt.set()
        if database is None:
            return
        interval = self.config.commit_interval
        while True:
            if not database.ready:
                await asyncio.sleep(self.config.db_retry_wait)
                if await self._open() is None:
                    return
                continue
            if not self._queue:
                self._wake.clear()
                self._notify_waiters()
                await self._wake.wait()
                continue
            # A backlog of a whole batch or more is written at once: waiting would only let the
            # queue grow faster than it drains.
            if (
                interval > 0
                and not self._waiters
                and not self._stopping
                and len(self._queue) < MAX_BATCH_SIZE
            ):
                self._flush_now.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(interval):
                        await self._flush_now.wait()
            await self.disk_guard.wait_for_room()
            if not await self._commit_batch(database):
                await asyncio.sleep(self.config.db_retry_wait)

    async def _open(self) -> RecorderDatabase | None:
        """One attempt to open the database: ready, away (DEGRADED), or None: failed for good."""
        try:
            # The drivers take a noticeable part of a second to import: off the loop.
            await self.runtime.run_in_executor(importlib.import_module, _DATABASE_MODULE)
            database = self.database()
            if not database.ready:
                await database.open()
        except SchemaTooNewError as err:
            await self._fail(err)
            return None
        except Exception as err:  # sorted below: an outage is retried, anything else is fatal
            if self._database is None or not self._database_error(err):
                await self._fail(err)
                return None
            if self.status is RecorderStatus.DEGRADED:
                _LOGGER.debug("Recorder database still unavailable: %s", err)
            else:
                self._set_status(RecorderStatus.DEGRADED, err)
            return self._database
        if self.status is RecorderStatus.STARTING or self.status is RecorderStatus.DEGRADED:
            self._set_status(RecorderStatus.OK)
        return database

    def is_duplicate(self, err: BaseException) -> bool:
        """Whether ``err`` is a unique-constraint violation (another writer inserted the row)."""
        return self.database().db.is_duplicate(err)

    def _database_error(self, err: BaseException) -> bool:
        """Whether ``err`` says the database is away (retry) rather than unusable (give up)."""
        return self.database().db.is_connection_error(err)

    async def _fail(self, err: BaseException) -> None:
        """Give up for this run: stop listening, drop the queue, report the integration failed."""
        self.failure = err
        self.status = RecorderStatus.STOPPED
        self._unsubscribe_all()
        lost = len(self._queue)
        self._queue.clear()
        self._done = self._accepted
        unavailable = RecorderUnavailableError(f"{self.status.value}: {err}")
        for _target, waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(unavailable)
        self._waiters.clear()
        if self.runtime.data.get(RECORDER) is self:
            del self.runtime.data[RECORDER]
        self.runtime.integration_failed(DOMAIN, err)
        if lost:
            _LOGGER.error("The recorder dropped %d queued item(s): it cannot write", lost)
        for failure_callback in self._failure_callbacks:
            try:
                await failure_callback()
            except Exception:  # isolation boundary: the clean-up of one part
                _LOGGER.exception("Error cleaning up after the recorder failed")
        if self._database is not None:
            # Closes the run when it was opened (a writer that stopped), then the connections.
            await self._database.close()

    async def _commit_batch(self, database: RecorderDatabase) -> bool:
        """Write the head of the queue in one transaction; False when the database failed."""
        batch = list(itertools.islice(self._queue, MAX_BATCH_SIZE))
        try:
            with self._commit_seconds.time():
                written = await database.write(batch)
        except Exception as err:  # sorted below: an outage, or bad data
            if await database.is_outage(err):
                self._on_outage(err)
                return False
            _LOGGER.warning("Recorder batch failed (%s); writing it in parts", err)
            done = await self._write_apart(database, batch, err)
            self._pop(done)
            return done == len(batch)
        self._pop(written)
        return True

    def _pop(self, count: int) -> None:
        for _ in range(count):
            self._queue.popleft()
        self._done += count
        # Leave FULL only once half the queue is free, so a site at the limit logs one warning
        # per episode rather than one per dropped change.
        if count and (
            self.status is RecorderStatus.DEGRADED
            or self.status is RecorderStatus.STARTING
            or (
                self.status is RecorderStatus.FULL and len(self._queue) < self.config.max_queue // 2
            )
        ):
            self._set_status(RecorderStatus.OK)
        self._notify_waiters()

    async def _write_apart(
        self, database: RecorderDatabase, items: list[Event[Any]], err: Exception
    ) -> int:
        """Write items that failed together with ``err`` (bad data, not an outage) in halves.

        Halves that fail are split again, down to the items that fail on their own, which are
        logged and skipped: a bad item among thousands costs a few dozen transactions rather
        than one per item. Stops at an outage.

        Returns:
            How many items from the start of ``items`` were written or skipped.
        """
        if len(items) == 1:
            # The item may be what broke the write (too deep to encode, say): nothing here may
            # format it in full, or the log call raises the same error again.
            _LOGGER.error(
                "Recorder could not write a %s event (%s); skipped",
                items[0].event_type,
                safe_repr(items[0].data),
                exc_info=err,
            )
            return 1
        handled = 0
        middle = len(items) // 2
        for part in (items[:middle], items[middle:]):
            try:
                done = await database.write(part)
            except Exception as part_err:  # sorted below, as in _commit_batch
                if await database.is_outage(part_err):
                    self._on_outage(part_err)
                    return handled
                done = await self._write_apart(database, part, part_err)
            handled += done
            if done < len(part):
                return handled
        return handled

    def _on_outage(self, err: BaseException) -> None:
        if self.status is RecorderStatus.OK or self.status is RecorderStatus.STARTING:
            self._set_status(RecorderStatus.DEGRADED, err)
        else:
            _LOGGER.debug("Recorder database still unavailable: %s", err)

    def _notify_waiters(self) -> None:
        if not self._waiters:
            return
        done = self._done
        still: list[tuple[int, asyncio.Future[None]]] = []
        for target, future in self._waiters:
            if done >= target:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((target, future))
        self._waiters = still

    # --- housekeeping --------------------------------------------------------------------------

    async def _auto_purge(self, when: datetime) -> None:
        """The nightly purge; on the second Sunday of the month, also repack."""
        scheduler = self.runtime.scheduler
        today: date = when.astimezone(scheduler.tz if scheduler is not None else None).date()
        repack = self.config.auto_repack and today.weekday() == 6 and 8 <= today.day <= 14
        if not self.database_ready:
            _LOGGER.warning("Nightly recorder purge skipped: the database is not open")
            return
        try:
            await self.purge(repack=repack)
        except Exception as err:  # isolation boundary: a nightly job; tomorrow retries
            _LOGGER.warning("Nightly recorder purge failed: %s", err)
