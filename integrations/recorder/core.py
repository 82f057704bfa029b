"""The recorder: writes every state change and event to a SQL database, in batches.

One ``@callback`` bus listener filters each event and appends it to an in-memory queue; one
task, ``recorder.writer``, drains the queue, writing up to ``MAX_BATCH_SIZE`` items per
transaction every ``commit_interval`` seconds (or each item at once when that is 0). Entity ids,
event types, attribute sets and event payloads are looked up once and their ids kept in memory,
so a steady-state write is one INSERT per state.

When the database fails, the batch stays at the head of the queue and is retried every
``db_retry_wait`` seconds (status DEGRADED, one warning per outage); the queue grows up to
``max_queue`` items, after which new ones are dropped and counted (status FULL). Ids created in a
transaction that failed are forgotten with it, so nothing cached points at a row that was never
committed. A batch that fails for a reason other than the connection (an unexpected value) is
written item by item, and the items that still fail are logged and skipped.

Every write to the database, the writer's and the purge's, runs under one ``asyncio.Lock``
(``write_transaction``), so SQLite never sees two writers and a purge chunk and a batch take
turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import InstrumentedAttribute

from core.bus import Event, EventOrigin, callback
from core.const import EVENT_STATE_CHANGED, MATCH_ALL
from core.runtime import RuntimeKey
from core.state import State

from .const import (
    ATTRIBUTES_CACHE_SIZE,
    AUTO_PURGE_TIME,
    DEFAULT_DB_FILE,
    EXCLUDED_EVENT_TYPES,
    MAX_BATCH_SIZE,
    STOP_FLUSH_TIMEOUT,
    RecorderStatus,
)
from .filters import EntityFilter, RecordFilter
from .migration import SchemaTooNewError, migrate
from .models import (
    EventData,
    Events,
    EventTypes,
    RecorderRun,
    StateAttributes,
    States,
    StatesMeta,
)
from .schema import RecorderConfig
from .util import attrs_hash, context_id_to_bytes, json_dumps

if TYPE_CHECKING:
    from core.runtime import Runtime

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

#: The SQLite settings of every connection (WAL, which is kept in the file, is switched on by
#: ``migration.migrate`` once the schema version is known to be ours). foreign_keys stays OFF:
#: the writer inserts referenced rows first and the purge deletes children first, and checking
#: every insert costs a lookup per row on an SD card. (PostgreSQL enforces the keys.)
SQLITE_PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-16384",
    # Shorter than STOP_FLUSH_TIMEOUT: a database locked by another process must not hold
    # the writer (and so shutdown) longer than the stop budget; the writer retries instead.
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=OFF",
)
#: Seconds a connection attempt to a database server may take.
CONNECT_TIMEOUT = 10.0
#: Seconds the reachability check after a failed batch may take.
PING_TIMEOUT = 10.0
#: Home Assistant's order of event origins, stored as ``events.origin_idx``.
ORIGIN_IDX = {EventOrigin.local: 0, EventOrigin.remote: 1}


def get_recorder(runtime: Runtime) -> Recorder:
    """The runtime's recorder.

    Raises:
        KeyError: the recorder is not set up.
    """
    recorder = runtime.data.get(RECORDER)
    if recorder is None:
        raise KeyError("the recorder is not set up")
    return recorder


def default_db_url(config_dir: Path) -> str:
    """The SQLite database in the configuration directory."""
    return f"sqlite+aiosqlite:///{config_dir / DEFAULT_DB_FILE}"


def is_connection_error(err: BaseException) -> bool:
    """Whether ``err`` says the database could not be reached (as opposed to bad data)."""
    if isinstance(err, OperationalError | InterfaceError | OSError | TimeoutError):
        return True
    return isinstance(err, DBAPIError) and err.connection_invalidated


@dataclass(slots=True)
class _BatchIds:
    """Ids created or changed inside one transaction, made permanent only when it commits."""

    meta: dict[str, int] = field(default_factory=dict)
    attributes: dict[str, int] = field(default_factory=dict)
    event_types: dict[str, int] = field(default_factory=dict)
    event_data: dict[str, int] = field(default_factory=dict)
    #: metadata_id -> the last state_id written, or None once the entity was removed.
    last_state: dict[int, int | None] = field(default_factory=dict)


class Recorder:
    """Owns the database engine, the queue and the writer task. Use it from the event loop."""

    def __init__(self, runtime: Runtime, config: RecorderConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.db_url = config.db_url or default_db_url(runtime.config_dir)
        self.engine: AsyncEngine = _create_engine(self.db_url)
        self.status = RecorderStatus.STARTING
        #: Items not recorded because the queue was full.
        self.dropped = 0
        self._filter = RecordFilter(config.include, config.exclude)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._queue: deque[Event[Any]] = deque()
        self._accepted = 0
        self._done = 0
        self._purges: set[asyncio.Task[Any]] = set()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._db_ready = False
        self._stopping = False
        self._run_id: int | None = None
        self._meta: dict[str, int] = {}
        self._attributes: OrderedDict[str, int] = OrderedDict()
        self._event_types: dict[str, int] = {}
        self._event_data: OrderedDict[str, int] = OrderedDict()
        self._last_state: dict[int, int] = {}
        #: entity_id -> (attributes mapping, its JSON): the state machine shares the mapping
        #: between states whose attributes did not change, so most states skip json_dumps.
        self._last_attrs: dict[str, tuple[object, str]] = {}
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

    async def start(self) -> None:
        """Subscribe to the bus, create or migrate the schema, open a run, start the writer.

        A database that cannot be reached is retried by the writer (status DEGRADED); events
        are queued meanwhile.

        Raises:
            SchemaTooNewError: the database is newer than this code; nothing was touched.
        """
        self._unsubscribe.append(self.runtime.bus.listen(MATCH_ALL, self._on_event))
        try:
            await self._setup_database()
        except SchemaTooNewError:
            self._unsubscribe_all()
            self.status = RecorderStatus.STOPPED
            await self.engine.dispose()
            raise
        except (SQLAlchemyError, OSError, TimeoutError) as err:
            if not is_connection_error(err):
                self._unsubscribe_all()
                await self.engine.dispose()
                raise
            self._set_status(RecorderStatus.DEGRADED, err)
        else:
            self._set_status(RecorderStatus.OK)
        self._writer = self.runtime.create_task(self._run_writer(), "recorder.writer")
        if self.config.auto_purge and self.runtime.scheduler is not None:
            self._unsubscribe.append(
                self.runtime.scheduler.daily(
                    AUTO_PURGE_TIME, self._auto_purge, name="recorder.auto_purge"
                )
            )

    async def stop(self) -> None:
        """Stop listening, write what is queued (at most ``STOP_FLUSH_TIMEOUT`` s), close."""
        if self._stopping:
            return
        self._stopping = True
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
        """Close the recorder run, release waiters, and dispose of the engine."""
        if self._db_ready and self._run_id is not None:
            try:
                async with asyncio.timeout(STOP_FLUSH_TIMEOUT), self.write_transaction() as conn:
                    await conn.execute(
                        update(RecorderRun)
                        .where(RecorderRun.run_id == self._run_id)
                        .values(end_ts=time.time())
                    )
            except (SQLAlchemyError, OSError, TimeoutError) as err:
                _LOGGER.warning("Could not close the recorder run: %s", err)
        for waiter in self._waiters:
            if not waiter[1].done():
                waiter[1].cancel()
        self._waiters.clear()
        await self.engine.dispose()

    def _unsubscribe_all(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()

    async def _setup_database(self) -> None:
        async with self._lock:
            async with self.engine.connect() as conn:
                await conn.run_sync(migrate)
            now = time.time()
            async with self.engine.begin() as conn:
                # A run without an end is one that did not stop cleanly.
                await conn.execute(
                    update(RecorderRun)
                    .where(RecorderRun.end_ts.is_(None))
                    .values(end_ts=now, closed_incorrect=True)
                )
                result = await conn.execute(
                    insert(RecorderRun)
                    .values(start_ts=now, closed_incorrect=False)
                    .returning(RecorderRun.run_id)
                )
                self._run_id = result.scalar_one()
            self._db_ready = True
        _LOGGER.info("Recorder writing to %s", self.engine.url.render_as_string())

    # --- public API ----------------------------------------------------------------------------

    @property
    def queue_size(self) -> int:
        """Items accepted and not yet committed."""
        return len(self._queue)

    def session(self) -> AsyncSession:
        """A session for READ queries: ``async with recorder.session() as session: ...``."""
        return self._sessions()

    @contextlib.asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that takes turns with the writer's batches; commits on exit.

        Use it for every write outside the writer (purge, statistics), so that SQLite never has
        two writers and a batch never waits for more than one such transaction.
        """
        async with self._lock, self.engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def writes_paused(self) -> AsyncIterator[None]:
        """Hold the writer (and every ``write_transaction``) back, e.g. for a VACUUM."""
        async with self._lock:
            yield

    async def flush(self) -> None:
        """Return once every item accepted so far is committed (or skipped as unwritable).

        Waits as long as the database is away; bound it with ``asyncio.timeout``.
        """
        # Events fired just before this call are still queued on the bus: one loop turn lets the
        # bus deliver them, so "accepted so far" includes everything fired before flush().
        await asyncio.sleep(0)
        target = self._accepted
        if self._done >= target or self._writer is None or self._writer.done():
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
        from .purge import purge_old_data, repack_database  # noqa: PLC0415 - no import cycle

        days = self.config.purge_keep_days if keep_days is None else keep_days
        task = asyncio.current_task()
        if task is not None:
            # stop() cancels a purge in progress and waits for it before closing the engine.
            self._purges.add(task)
            task.add_done_callback(self._purges.discard)
        await purge_old_data(self, days)
        if repack:
            await repack_database(self)

    def forget_ids(
        self,
        *,
        state_ids: Iterable[int] = (),
        metadata_ids: Iterable[int] = (),
        attributes_ids: Iterable[int] = (),
        event_type_ids: Iterable[int] = (),
        data_ids: Iterable[int] = (),
    ) -> None:
        """Drop deleted rows' ids from the caches. Call inside ``write_transaction``."""
        if metadata_ids := set(metadata_ids):
            _forget_values(self._meta, metadata_ids)
            for metadata_id in metadata_ids:
                self._last_state.pop(metadata_id, None)
        if attributes_ids := set(attributes_ids):
            _forget_values(self._attributes, attributes_ids)
        if event_type_ids := set(event_type_ids):
            _forget_values(self._event_types, event_type_ids)
        if data_ids := set(data_ids):
            _forget_values(self._event_data, data_ids)
        if state_ids := set(state_ids):
            _forget_values(self._last_state, state_ids)

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
        self._queue.append(event)
        self._accepted += 1
        if not self._wake.is_set():
            self._wake.set()

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
        """Drain the queue until cancelled; cancelling leaves uncommitted items queued."""
        interval = self.config.commit_interval
        while True:
            if not self._db_ready:
                try:
                    await self._setup_database()
                except SchemaTooNewError:
                    _LOGGER.exception("The recorder cannot use this database")
                    self.status = RecorderStatus.STOPPED
                    self._unsubscribe_all()
                    return
                except (SQLAlchemyError, OSError, TimeoutError) as err:
                    _LOGGER.debug("Recorder database still unavailable: %s", err)
                    await asyncio.sleep(self.config.db_retry_wait)
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
            if not await self._commit_batch():
                await asyncio.sleep(self.config.db_retry_wait)

    async def _commit_batch(self) -> bool:
        """Write the head of the queue in one transaction; False when the database failed."""
        batch = list(itertools.islice(self._queue, MAX_BATCH_SIZE))
        try:
            with self._commit_seconds.time():
                await self._write(batch)
        except Exception as err:  # sorted below: an outage, or bad data
            if await self._is_outage(err):
                self._on_outage(err)
                return False
            _LOGGER.warning("Recorder batch failed (%s); writing its items one by one", err)
            done = await self._write_one_by_one(batch)
            self._pop(done)
            return done == len(batch)
        self._pop(len(batch))
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

    async def _write_one_by_one(self, batch: list[Event[Any]]) -> int:
        """Write each item in its own transaction; return how many were handled."""
        for index, item in enumerate(batch):
            try:
                await self._write([item])
            except Exception as err:  # sorted below, as in _commit_batch
                if await self._is_outage(err):
                    self._on_outage(err)
                    return index
                _LOGGER.exception("Recorder could not write %r; skipped", item)
        return len(batch)

    async def _is_outage(self, err: BaseException) -> bool:
        if is_connection_error(err):
            return True
        if not isinstance(err, SQLAlchemyError):
            return False
        try:
            async with asyncio.timeout(PING_TIMEOUT), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any failure to ping is an outage
            return True
        return False

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

    async def _write(self, batch: list[Event[Any]]) -> None:
        """Write a batch in one transaction: one multi-row INSERT for states, one for events.

        State ids are allocated here (after the highest one in the table) rather than returned
        by the database row by row, so that ``old_state_id`` links inside the batch are known
        before anything is inserted. The recorder is the only writer of ``states``.
        """
        ids = _BatchIds()
        async with self._lock:
            async with self.engine.begin() as conn:
                state_rows: list[tuple[Any, ...]] = []
                event_rows: list[tuple[Any, ...]] = []
                next_state_id = (
                    await conn.execute(select(func.coalesce(func.max(States.state_id), 0)))
                ).scalar_one() + 1
                for item in batch:
                    if item.event_type == EVENT_STATE_CHANGED:
                        row = await self._state_row(conn, item, ids, next_state_id)
                        state_rows.append(row)
                        next_state_id += 1
                    else:
                        event_rows.append(await self._event_row(conn, item, ids))
                if state_rows:
                    await conn.exec_driver_sql(
                        _insert_sql(conn, States, _STATE_COLUMNS), state_rows
                    )
                    if conn.dialect.name == "postgresql":
                        # Keep the column's sequence ahead of the ids given here.
                        await conn.execute(
                            text(
                                "SELECT setval(pg_get_serial_sequence('states', 'state_id'), :last)"
                            ),
                            {"last": next_state_id - 1},
                        )
                if event_rows:
                    await conn.exec_driver_sql(
                        _insert_sql(conn, Events, _EVENT_COLUMNS), event_rows
                    )
            # Committed: the ids created in it are real now.
            self._meta.update(ids.meta)
            self._event_types.update(ids.event_types)
            _lru_update(self._attributes, ids.attributes)
            _lru_update(self._event_data, ids.event_data)
            for metadata_id, state_id in ids.last_state.items():
                if state_id is None:
                    self._last_state.pop(metadata_id, None)
                else:
                    self._last_state[metadata_id] = state_id

    async def _state_row(
        self, conn: AsyncConnection, item: Event[Any], ids: _BatchIds, state_id: int
    ) -> tuple[Any, ...]:
        """The ``states`` row (``_STATE_COLUMNS``) of a ``state_changed`` event."""
        entity_id: str = item.data["entity_id"]
        new: State | None = item.data["new_state"]
        # The cached ids are looked up here, so a steady-state row awaits nothing.
        metadata_id = (
            ids.meta.get(entity_id)
            or self._meta.get(entity_id)
            or await self._metadata_id(conn, entity_id, ids)
        )
        old_state_id = (
            ids.last_state[metadata_id]
            if metadata_id in ids.last_state
            else self._last_state.get(metadata_id)
        )
        context = item.context
        if new is None:
            # A removal is recorded as a row without a state, as Home Assistant does.
            self._last_attrs.pop(entity_id, None)
            state = attributes_id = last_changed = None
            last_updated = item.time_fired_timestamp
        else:
            state = new.state
            attributes_id = await self._attributes_id(conn, entity_id, new, ids)
            last_updated = new.last_updated_timestamp
            changed = new.last_changed_timestamp
            last_changed = None if changed == last_updated else changed
        ids.last_state[metadata_id] = None if new is None else state_id
        return (
            state_id,
            metadata_id,
            state,
            attributes_id,
            last_updated,
            last_changed,
            old_state_id,
            context_id_to_bytes(context.id),
            context.user_id,
            context_id_to_bytes(context.parent_id),
        )

    async def _metadata_id(self, conn: AsyncConnection, entity_id: str, ids: _BatchIds) -> int:
        found = ids.meta.get(entity_id) or self._meta.get(entity_id)
        if found is not None:
            return found
        found = (
            await conn.execute(
                select(StatesMeta.metadata_id).where(StatesMeta.entity_id == entity_id)
            )
        ).scalar()
        if found is None:
            found = (
                await conn.execute(
                    insert(StatesMeta).values(entity_id=entity_id).returning(StatesMeta.metadata_id)
                )
            ).scalar_one()
        ids.meta[entity_id] = found
        return found

    async def _attributes_id(
        self, conn: AsyncConnection, entity_id: str, state: State, ids: _BatchIds
    ) -> int:
        attributes = state.attributes
        last = self._last_attrs.get(entity_id)
        if last is not None and last[0] is attributes:
            shared = last[1]
            found = ids.attributes.get(shared) or self._attributes.get(shared)
            if found is not None:
                return found
        else:
            shared = json_dumps(dict(attributes))
            self._last_attrs[entity_id] = (attributes, shared)
        return await _shared_id(conn, _ATTRIBUTES_TABLE, shared, self._attributes, ids.attributes)

    async def _event_row(
        self, conn: AsyncConnection, item: Event[Any], ids: _BatchIds
    ) -> tuple[Any, ...]:
        """The ``events`` row (``_EVENT_COLUMNS``) of an event other than ``state_changed``."""
        event_type = item.event_type
        type_id = ids.event_types.get(event_type) or self._event_types.get(event_type)
        if type_id is None:
            type_id = (
                await conn.execute(
                    select(EventTypes.event_type_id).where(EventTypes.event_type == event_type)
                )
            ).scalar()
            if type_id is None:
                type_id = (
                    await conn.execute(
                        insert(EventTypes)
                        .values(event_type=event_type)
                        .returning(EventTypes.event_type_id)
                    )
                ).scalar_one()
            ids.event_types[event_type] = type_id
        data_id = None
        if item.data:
            shared = json_dumps(dict(item.data))
            data_id = await _shared_id(
                conn, _EVENT_DATA_TABLE, shared, self._event_data, ids.event_data
            )
        context = item.context
        return (
            type_id,
            data_id,
            ORIGIN_IDX.get(item.origin, 0),
            item.time_fired_timestamp,
            context_id_to_bytes(context.id),
            context.user_id,
            context_id_to_bytes(context.parent_id),
        )

    # --- housekeeping --------------------------------------------------------------------------

    async def _auto_purge(self, when: datetime) -> None:
        """The nightly purge; on the second Sunday of the month, also repack."""
        scheduler = self.runtime.scheduler
        today: date = when.astimezone(scheduler.tz if scheduler is not None else None).date()
        repack = self.config.auto_repack and today.weekday() == 6 and 8 <= today.day <= 14
        try:
            await self.purge(repack=repack)
        except (SQLAlchemyError, OSError, TimeoutError) as err:
            _LOGGER.warning("Nightly recorder purge failed: %s", err)


@dataclass(frozen=True, slots=True)
class _SharedTable:
    """A table of deduplicated JSON rows: attribute sets or event payloads."""

    model: type[StateAttributes] | type[EventData]
    id: InstrumentedAttribute[int]
    hash: InstrumentedAttribute[int]
    text: InstrumentedAttribute[str]


_ATTRIBUTES_TABLE = _SharedTable(
    StateAttributes,
    StateAttributes.attributes_id,
    StateAttributes.hash,
    StateAttributes.shared_attrs,
)
_EVENT_DATA_TABLE = _SharedTable(
    EventData, EventData.data_id, EventData.hash, EventData.shared_data
)


async def _shared_id(
    conn: AsyncConnection,
    table: _SharedTable,
    shared: str,
    cache: OrderedDict[str, int],
    batch: dict[str, int],
) -> int:
    """The id of a deduplicated JSON row, inserted if new; new ids go to ``batch``."""
    found = batch.get(shared)
    if found is not None:
        return found
    found = cache.get(shared)
    if found is not None:
        cache.move_to_end(shared)
        return found
    digest = attrs_hash(shared)
    rows = await conn.execute(select(table.id, table.text).where(table.hash == digest))
    for row_id, text_value in rows:
        if text_value == shared:
            found = int(row_id)
            break
    else:
        found = (
            await conn.execute(
                insert(table.model)
                .values({table.hash.key: digest, table.text.key: shared})
                .returning(table.id)
            )
        ).scalar_one()
    batch[shared] = found
    return found


def _lru_update(cache: OrderedDict[str, int], new: dict[str, int]) -> None:
    for key, value in new.items():
        cache[key] = value
        cache.move_to_end(key)
    while len(cache) > ATTRIBUTES_CACHE_SIZE:
        cache.popitem(last=False)


def _forget_values(cache: dict[Any, int], values: set[int]) -> None:
    for key in [k for k, v in cache.items() if v in values]:
        del cache[key]


def _create_engine(url: str) -> AsyncEngine:
    """An async engine with the recorder's settings for SQLite or a database server."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url)

        @sa_event.listens_for(engine.sync_engine, "connect")
        def _set_pragmas(dbapi_connection: Any, _record: object) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql+asyncpg"):
        connect_args["timeout"] = CONNECT_TIMEOUT
    return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args)


#: The columns of a ``states`` row as ``_state_row`` builds it.
_STATE_COLUMNS = (
    "state_id",
    "metadata_id",
    "state",
    "attributes_id",
    "last_updated_ts",
    "last_changed_ts",
    "old_state_id",
    "context_id_bin",
    "context_user_id",
    "context_parent_id_bin",
)
#: The columns of an ``events`` row as ``_event_row`` builds it.
_EVENT_COLUMNS = (
    "event_type_id",
    "data_id",
    "origin_idx",
    "time_fired_ts",
    "context_id_bin",
    "context_user_id",
    "context_parent_id_bin",
)
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "numeric_dollar": "${}", "numeric": ":{}"}


def _insert_sql(conn: AsyncConnection, model: type[States | Events], columns: Sequence[str]) -> str:
    """A plain INSERT in the driver's own parameter style, for ``executemany`` of tuples.

    Handing tuples straight to the driver skips SQLAlchemy's per-row parameter processing,
    which was most of the writer's time at tens of thousands of rows per second.
    """
    style = conn.dialect.paramstyle
    if style not in _PLACEHOLDERS:
        raise RuntimeError(f"Unsupported parameter style {style!r} of {conn.dialect.name}")
    marker = _PLACEHOLDERS[style]
    values = ", ".join(marker.format(i) for i in range(1, len(columns) + 1))
    names = ", ".join(columns)
    # Table and column names are this module's constants, never input: no injection here.
    return f"INSERT INTO {model.__tablename__} ({names}) VALUES ({values})"  # noqa: S608
