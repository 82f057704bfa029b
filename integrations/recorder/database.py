"""The recorder's SQL side: engine, schema and run, batched writes, and the id caches.

Imported by the writer task once the runtime is ready (``core.Recorder._run_writer``), never by
the integration's setup: this is where SQLAlchemy and the database drivers load. One
``RecorderDatabase`` belongs to one ``Recorder``; every write runs under the recorder's
``asyncio.Lock`` (``Recorder.write_transaction``), so SQLite never sees two writers.

Entity ids, event types, attribute sets and event payloads are looked up once and their ids kept
in memory, so a steady-state write is one INSERT per state. Ids created in a transaction that
failed are forgotten with it, so nothing cached points at a row that was never committed.

A transaction whose connection fails after its rows were sent is *in doubt*: the COMMIT may
have reached the database. Its last state or event id (allocated by the writer) is looked up
before the next write; when it is there, the batch is taken as written rather than written
twice (``write``).

``old_state_id`` links a state to the previous state of its entity written in this run (the
links live in memory). The first state of an entity after a restart has none, as in Home
Assistant, whose state machine also starts without old states; no history query uses the link.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import InstrumentedAttribute

from core.bus import Event, EventOrigin
from core.const import EVENT_STATE_CHANGED
from core.state import State

from .const import ATTRIBUTES_CACHE_SIZE, STOP_FLUSH_TIMEOUT
from .migration import migrate
from .models import (
    EventData,
    Events,
    EventTypes,
    RecorderRun,
    StateAttributes,
    States,
    StatesMeta,
)
from .util import attrs_hash, context_id_to_bytes, json_dumps

_LOGGER = logging.getLogger(__name__)

#: Kibibytes of database pages each SQLite connection keeps in memory (``PRAGMA cache_size``).
SQLITE_CACHE_KIB = 4096
#: The SQLite settings of every connection (WAL, which is kept in the file, is switched on by
#: ``migration.migrate`` once the schema version is known to be ours). foreign_keys stays OFF:
#: the writer inserts referenced rows first and the purge deletes children first, and checking
#: every insert costs a lookup per row on an SD card. (PostgreSQL enforces the keys.)
SQLITE_PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA temp_store=MEMORY",
    # Each connection keeps up to 4 MiB of pages (SQLite's default is 2): the pages a batch
    # writes (the tables' last pages, one index leaf per busy entity) fit many times over, and
    # what a purge, a statistics compile or a history query reads once does not stay resident
    # for hours (with 16 MiB, each pooled connection could grow the process by that much). The
    # operating system's file cache keeps the rest of the file warm.
    f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}",
    # Checkpoint the write-ahead log every 10,000 pages (about 40 MB) rather than SQLite's 1,000:
    # a busy site's batches rewrite the same index pages, and a checkpoint writes (and syncs)
    # each page once however often the log holds it, so the SD card sees fewer writes and the
    # writer stops for a checkpoint a tenth as often.
    "PRAGMA wal_autocheckpoint=10000",
    # Shorter than STOP_FLUSH_TIMEOUT: a database locked by another process must not hold
    # the writer (and so shutdown) longer than the stop budget; the writer retries instead.
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=OFF",
)
#: Seconds a connection attempt to a database server may take.
CONNECT_TIMEOUT = 10.0
#: Seconds the reachability check after a failed batch may take.
PING_TIMEOUT = 10.0
#: Most rows in one INSERT statement: 10 columns each stays within SQLite's 32,766 parameters
#: and PostgreSQL's 32,767.
INSERT_CHUNK_ROWS = 1_000
#: Home Assistant's order of event origins, stored as ``events.origin_idx``.
ORIGIN_IDX = {EventOrigin.local: 0, EventOrigin.remote: 1}

#: The errors that opening or writing the database may raise, for the writer to sort.
DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


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


@dataclass(frozen=True, slots=True)
class _InDoubt:
    """A batch whose transaction failed on the connection after its rows were sent."""

    items: int
    last_state_id: int | None
    last_event_id: int | None
    ids: _BatchIds


class RecorderDatabase:
    """The engine, the recorder run and the id caches of one recorder. Use it from the loop.

    Args:
        db_url: a SQLAlchemy async URL.
        lock: the recorder's write lock, held around every transaction that writes.
    """

    def __init__(self, db_url: str, lock: asyncio.Lock) -> None:
        self.engine: AsyncEngine = _create_engine(db_url)
        #: Whether the schema is in place and this run is open (``open`` succeeded).
        self.ready = False
        self._lock = lock
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._run_id: int | None = None
        self._meta: dict[str, int] = {}
        self._attributes: OrderedDict[str, int] = OrderedDict()
        self._event_types: dict[str, int] = {}
        self._event_data: OrderedDict[str, int] = OrderedDict()
        self._last_state: dict[int, int] = {}
        #: entity_id -> (attributes mapping, its JSON): the state machine shares the mapping
        #: between states whose attributes did not change, so most states skip json_dumps.
        self._last_attrs: dict[str, tuple[object, str]] = {}
        self._in_doubt: _InDoubt | None = None

    def session(self) -> AsyncSession:
        """A session for READ queries."""
        return self._sessions()

    async def open(self) -> None:
        """Create or migrate the schema and open this run (closing one left open as killed).

        Raises:
            SchemaTooNewError: the database is newer than this code; nothing was touched.
            SQLAlchemyError, OSError, TimeoutError: the database failed (``is_connection_error``
                tells an outage from a database that cannot be used).
        """
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
            self.ready = True
        _LOGGER.info("Recorder writing to %s", self.engine.url.render_as_string())

    async def close(self) -> None:
        """Close the recorder run (when it was opened) and dispose of the engine."""
        if self.ready and self._run_id is not None:
            try:
                async with (
                    asyncio.timeout(STOP_FLUSH_TIMEOUT),
                    self._lock,
                    self.engine.begin() as conn,
                ):
                    await conn.execute(
                        update(RecorderRun)
                        .where(RecorderRun.run_id == self._run_id)
                        .values(end_ts=time.time())
                    )
            except DATABASE_ERRORS as err:
                _LOGGER.warning("Could not close the recorder run: %s", err)
        await self.engine.dispose()

    async def is_outage(self, err: BaseException) -> bool:
        """Whether a failed write failed because the database is away (so retry it later)."""
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

    def forget_ids(
        self,
        *,
        state_ids: Iterable[int] = (),
        metadata_ids: Iterable[int] = (),
        attributes_ids: Iterable[int] = (),
        event_type_ids: Iterable[int] = (),
        data_ids: Iterable[int] = (),
    ) -> None:
        """Drop deleted rows' ids from the caches. Call inside ``Recorder.write_transaction``."""
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

    async def write(self, batch: list[Event[Any]]) -> int:
        """Write a batch in one transaction, in multi-row INSERTs of ``INSERT_CHUNK_ROWS`` rows.

        Each chunk is sent as soon as it is built, so the loop runs while the database writes
        it, and a batch of tens of thousands of rows never holds the loop for long.

        State and event ids are allocated here (after the highest ones in the tables) rather
        than returned by the database row by row, so that ``old_state_id`` links inside the
        batch are known before anything is inserted, and so that a batch whose COMMIT failed
        on the connection can be looked up: it may have been committed all the same. The
        recorder is the only writer of ``states`` and ``events``.

        ``batch`` must start with the items of a batch that failed that way (the queue's
        head, which the writer keeps until it is written): that batch is looked up first, and
        when it was committed, nothing is written again and its length is returned.

        Returns:
            How many items from the start of ``batch`` are now in the database.

        Raises:
            Exception: whatever the database or the driver raised; nothing was committed, or
                (on a connection error) the batch is in doubt until the next call.
        """
        if self._in_doubt is not None and (committed := await self._settle_in_doubt()):
            return min(committed, len(batch))
        ids = _BatchIds()
        states = _RowSender(States, _STATE_COLUMNS)
        events = _RowSender(Events, _EVENT_COLUMNS)
        async with self._lock:
            try:
                async with self.engine.begin() as conn:
                    next_state_id = await _next_id(conn, States.state_id)
                    next_event_id = await _next_id(conn, Events.event_id)
                    for item in batch:
                        if item.event_type == EVENT_STATE_CHANGED:
                            row = self._state_row(item, ids, next_state_id)
                            if row is None:
                                # An entity or attribute set whose id is not cached yet.
                                await self._look_up_ids(conn, item, ids)
                                row = self._state_row(item, ids, next_state_id)
                                assert row is not None  # noqa: S101 - both ids are cached now
                            next_state_id += 1
                            if states.add(row):
                                await states.send(conn)
                        else:
                            row = await self._event_row(conn, item, ids, next_event_id)
                            next_event_id += 1
                            if events.add(row):
                                await events.send(conn)
                    await states.finish(conn)
                    await events.finish(conn)
            except BaseException as err:
                if (states.last_id or events.last_id) and is_connection_error(err):
                    # The connection failed with the rows sent: perhaps during the COMMIT, which
                    # the database may have carried out. The next write looks them up first.
                    self._in_doubt = _InDoubt(len(batch), states.last_id, events.last_id, ids)
                raise
            self._commit_ids(ids)
        return len(batch)

    async def _settle_in_doubt(self) -> int:
        """Whether the batch in doubt was committed after all: its length if so, else 0.

        Raises:
            Exception: the database could not be asked (the batch stays in doubt).
        """
        doubt = self._in_doubt
        if doubt is None:
            return 0
        async with self.engine.connect() as conn:
            if doubt.last_state_id is not None:
                found = await conn.scalar(
                    select(States.state_id).where(States.state_id == doubt.last_state_id)
                )
            else:
                found = await conn.scalar(
                    select(Events.event_id).where(Events.event_id == doubt.last_event_id)
                )
            await conn.rollback()
        self._in_doubt = None
        if found is None:
            return 0
        _LOGGER.warning(
            "The recorder's last %d item(s) were committed although the connection failed "
            "during the COMMIT; they are not written twice",
            doubt.items,
        )
        self._commit_ids(doubt.ids)
        return doubt.items

    def _commit_ids(self, ids: _BatchIds) -> None:
        """Make the ids created in a committed transaction permanent in the caches."""
        self._meta.update(ids.meta)
        self._event_types.update(ids.event_types)
        _lru_update(self._attributes, ids.attributes)
        _lru_update(self._event_data, ids.event_data)
        for metadata_id, state_id in ids.last_state.items():
            if state_id is None:
                self._last_state.pop(metadata_id, None)
            else:
                self._last_state[metadata_id] = state_id

    def _state_row(self, item: Event[Any], ids: _BatchIds, state_id: int) -> tuple[Any, ...] | None:
        """The ``states`` row (``_STATE_COLUMNS``) of a ``state_changed`` event.

        None when the entity's or the attribute set's id is not known yet: ``_look_up_ids``
        finds (or creates) them, after which this returns the row. A steady-state row is built
        here without awaiting anything.
        """
        entity_id: str = item.data["entity_id"]
        new: State | None = item.data["new_state"]
        metadata_id = ids.meta.get(entity_id) or self._meta.get(entity_id)
        if metadata_id is None:
            return None
        if new is None:
            # A removal is recorded as a row without a state, as Home Assistant does.
            self._last_attrs.pop(entity_id, None)
            state = attributes_id = last_changed = None
            last_updated = item.time_fired_timestamp
        else:
            attributes_id = self._cached_attributes_id(entity_id, new, ids)
            if attributes_id is None:
                return None
            state = new.state
            last_updated = new.last_updated_timestamp
            changed = new.last_changed_timestamp
            last_changed = None if changed == last_updated else changed
        last_state = ids.last_state
        old_state_id = (
            last_state[metadata_id]
            if metadata_id in last_state
            else self._last_state.get(metadata_id)
        )
        last_state[metadata_id] = None if new is None else state_id
        context = item.context
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

    def _cached_attributes_id(self, entity_id: str, state: State, ids: _BatchIds) -> int | None:
        """The id of the state's attribute set when it is known, else None."""
        attributes = state.attributes
        last = self._last_attrs.get(entity_id)
        if last is not None and last[0] is attributes:
            # The state machine shared the mapping: the attributes did not change.
            shared = last[1]
            found = ids.attributes.get(shared) or self._attributes.get(shared)
        else:
            shared = json_dumps(dict(attributes))
            self._last_attrs[entity_id] = (attributes, shared)
            found = ids.attributes.get(shared)
            if found is None and (found := self._attributes.get(shared)) is not None:
                self._attributes.move_to_end(shared)
        return found

    async def _look_up_ids(self, conn: AsyncConnection, item: Event[Any], ids: _BatchIds) -> None:
        """Find or create the ids a ``state_changed`` row needs, into ``ids``."""
        entity_id: str = item.data["entity_id"]
        if entity_id not in ids.meta and entity_id not in self._meta:
            ids.meta[entity_id] = await _name_id(
                conn, StatesMeta, StatesMeta.metadata_id, StatesMeta.entity_id, entity_id
            )
        new: State | None = item.data["new_state"]
        if new is not None and self._cached_attributes_id(entity_id, new, ids) is None:
            shared = self._last_attrs[entity_id][1]
            await _shared_id(conn, _ATTRIBUTES_TABLE, shared, self._attributes, ids.attributes)

    async def _event_row(
        self, conn: AsyncConnection, item: Event[Any], ids: _BatchIds, event_id: int
    ) -> tuple[Any, ...]:
        """The ``events`` row (``_EVENT_COLUMNS``) of an event other than ``state_changed``."""
        event_type = item.event_type
        type_id = ids.event_types.get(event_type) or self._event_types.get(event_type)
        if type_id is None:
            type_id = await _name_id(
                conn, EventTypes, EventTypes.event_type_id, EventTypes.event_type, event_type
            )
            ids.event_types[event_type] = type_id
        data_id = None
        if item.data:
            shared = json_dumps(dict(item.data))
            data_id = await _shared_id(
                conn, _EVENT_DATA_TABLE, shared, self._event_data, ids.event_data
            )
        context = item.context
        return (
            event_id,
            type_id,
            data_id,
            ORIGIN_IDX.get(item.origin, 0),
            item.time_fired_timestamp,
            context_id_to_bytes(context.id),
            context.user_id,
            context_id_to_bytes(context.parent_id),
        )


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


async def _name_id(
    conn: AsyncConnection,
    model: type[StatesMeta] | type[EventTypes],
    id_column: InstrumentedAttribute[int],
    name_column: InstrumentedAttribute[str],
    name: str,
) -> int:
    """The id of a name stored once (an entity id, an event type), inserted if new."""
    found = (await conn.execute(select(id_column).where(name_column == name))).scalar()
    if found is None:
        found = (
            await conn.execute(insert(model).values({name_column.key: name}).returning(id_column))
        ).scalar_one()
    return int(found)


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


async def _next_id(conn: AsyncConnection, column: InstrumentedAttribute[int]) -> int:
    """One more than the highest id in ``column`` (1 for an empty table)."""
    highest = (await conn.execute(select(func.coalesce(func.max(column), 0)))).scalar_one()
    return int(highest) + 1


async def _advance_sequence(conn: AsyncConnection, table: str, column: str, last: int) -> None:
    """On PostgreSQL, keep the column's sequence ahead of the ids the writer gave."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, :column), :last)"),
            {"table": table, "column": column, "last": last},
        )


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
    "event_id",
    "event_type_id",
    "data_id",
    "origin_idx",
    "time_fired_ts",
    "context_id_bin",
    "context_user_id",
    "context_parent_id_bin",
)
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "numeric_dollar": "${}", "numeric": ":{}"}


class _RowSender:
    """The rows of one table (its id first), sent in INSERTs of ``INSERT_CHUNK_ROWS``."""

    def __init__(self, model: type[States | Events], columns: tuple[str, ...]) -> None:
        self.model = model
        self.columns = columns
        self.rows: list[tuple[Any, ...]] = []
        #: The id of the last row sent to the database, or None.
        self.last_id: int | None = None

    def add(self, row: tuple[Any, ...]) -> bool:
        """Keep a row; True once a chunk is full (then ``send`` it)."""
        self.rows.append(row)
        return len(self.rows) >= INSERT_CHUNK_ROWS

    async def send(self, conn: AsyncConnection) -> None:
        """Insert the rows kept so far."""
        if self.rows:
            self.last_id = self.rows[-1][0]
            await _insert_rows(conn, self.model, self.columns, self.rows)
            self.rows = []

    async def finish(self, conn: AsyncConnection) -> None:
        """Send the last rows; on PostgreSQL, keep the id sequence ahead of the ids given."""
        await self.send(conn)
        if self.last_id is not None:
            await _advance_sequence(conn, self.model.__tablename__, self.columns[0], self.last_id)


async def _insert_rows(
    conn: AsyncConnection,
    model: type[States | Events],
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order, at most ``INSERT_CHUNK_ROWS``) at once.

    One multi-row INSERT rather than ``executemany``: the driver steps into the database once
    for the lot rather than once per row. With SQLite that matters: each step gives up Python's
    GIL and must win it back from the loop's thread, which at high rates is busy with the
    site's own work (measured: 16.6 µs a row instead of 9 with the loop a third busy).
    """
    sql = _insert_sql(conn.dialect.paramstyle, model.__tablename__, columns, len(rows))
    await conn.exec_driver_sql(sql, tuple(itertools.chain.from_iterable(rows)))


@functools.lru_cache(maxsize=32)
def _insert_sql(style: str, table: str, columns: tuple[str, ...], rows: int) -> str:
    """A plain INSERT of ``rows`` rows in the driver's own parameter style.

    Handing the values straight to the driver skips SQLAlchemy's per-row parameter
    processing, which was most of the writer's time at tens of thousands of rows per second.
    """
    if style not in _PLACEHOLDERS:
        raise RuntimeError(f"Unsupported parameter style {style!r}")
    marker = _PLACEHOLDERS[style]
    width = len(columns)
    values = ", ".join(
        "(" + ", ".join(marker.format(row * width + i) for i in range(1, width + 1)) + ")"
        for row in range(rows)
    )
    # Table and column names are this module's constants, never input: no injection here.
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"  # noqa: S608
