"""The recorder's database connections: SQLite through aiosqlite, a server through SQLAlchemy.

Every statement the recorder runs is plain SQL text with ``:name`` parameters, a form both
sqlite3 and SQLAlchemy's ``text()`` take as they are, so one statement serves both databases:

- SQLite (the default, on the Pi) runs on aiosqlite, the standard library's ``sqlite3`` in a
  thread per connection. SQLAlchemy is never imported: it is about 20 MiB of a Pi's memory, a
  third of the idle site's. The schema is still defined and migrated with SQLAlchemy
  (``models.py``, ``migration.py``), in a short-lived child process when the file's schema is not
  the current one (``migrate_sqlite``).
- A database server (PostgreSQL) runs on a SQLAlchemy engine, executing the same text.

Rows come back as tuples (SQLAlchemy's ``Row`` is one), in the order the statement selects
them. Values are what the driver returns: SQLite gives 0 and 1 for booleans (convert with
``bool()`` where a boolean leaves the recorder) and PostgreSQL gives ``True`` and ``False``.

``:name`` parameters are the only placeholders: a literal ``:`` followed by a name (PostgreSQL's
``::`` casts) must not appear in statement text; write ``CAST(x AS type)``. Lists go in with
``in_list``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiosqlite
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "Connection",
    "Database",
    "in_list",
    "open_database",
    "sqlite_path",
]

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
#: Idle SQLite connections kept open (each is a thread and up to ``SQLITE_CACHE_KIB`` of pages).
SQLITE_IDLE_CONNECTIONS = 3
#: Seconds a connection attempt to a database server may take.
CONNECT_TIMEOUT = 10.0

_SQLITE_URL = re.compile(r"^sqlite(\+\w+)?://(?P<path>/.*)?$")


def sqlite_path(url: str) -> str | None:
    """The file (or ``:memory:``) of a SQLite URL, None for any other database's URL.

    ``sqlite+aiosqlite:////abs/path.db`` and ``sqlite:///relative.db`` name files, as in
    SQLAlchemy; ``sqlite://`` and ``sqlite:///:memory:`` an in-memory database.
    """
    found = _SQLITE_URL.match(url.split("?", 1)[0])
    if found is None:
        return None
    path = found["path"]
    if path is None or path in ("/", "/:memory:"):
        return ":memory:"
    return path[1:]


def in_list(name: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """``IN (...)`` parameters: the placeholders' text and their values.

    ``sql, params = in_list("ids", ids)`` then ``f"... WHERE x IN ({sql})"``. An empty list gives
    ``NULL``, which matches nothing.
    """
    params = {f"{name}_{i}": value for i, value in enumerate(values)}
    if not params:
        return "NULL", {}
    return ", ".join(f":{key}" for key in params), params


class Connection:
    """One connection, in a transaction (``Database.begin``) or reading (``Database.connect``)."""

    #: ``"sqlite"`` or the server's SQLAlchemy dialect name (``"postgresql"``).
    dialect: str

    async def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Run one statement; its rows (tuples), or ``[]`` when it returns none."""
        raise NotImplementedError

    async def executemany(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement for each set of parameters."""
        raise NotImplementedError

    async def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None when there is no row."""
        rows = await self.execute(sql, params)
        return rows[0][0] if rows else None

    async def insert_rows(
        self, table: str, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert ``rows`` (tuples in ``columns`` order) in one multi-row INSERT.

        Handing the values straight to the driver, in one statement, skips per-row parameter
        processing and steps into the database once for the lot: the writer's hot path.
        ``table`` and ``columns`` must be the caller's constants, never input.
        """
        raise NotImplementedError

    async def commit(self) -> None:
        """Commit what this connection did so far (reads: nothing to commit)."""
        raise NotImplementedError

    async def rollback(self) -> None:
        """Roll back what this connection did since its last commit."""
        raise NotImplementedError


class Database:
    """Connections to one database. Use it from the event loop."""

    #: ``"sqlite"`` or the server's SQLAlchemy dialect name (``"postgresql"``).
    dialect: str
    #: The URL, with any password hidden, for logs.
    display_url: str

    def connect(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """A connection for reads (each statement sees what is committed); rolled back after."""
        raise NotImplementedError

    def begin(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """A transaction, committed when the block ends, rolled back when it raises."""
        raise NotImplementedError

    def autocommit(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """A connection outside any transaction, each statement committed on its own: for the
        statements that cannot run inside one (``VACUUM``)."""
        raise NotImplementedError

    async def dispose(self) -> None:
        """Close every connection; the database can be used again afterwards."""
        raise NotImplementedError

    def errors(self) -> tuple[type[BaseException], ...]:
        """The exceptions that statements on this database may raise."""
        raise NotImplementedError

    def is_connection_error(self, err: BaseException) -> bool:
        """Whether ``err`` says the database could not be reached (as opposed to bad data)."""
        raise NotImplementedError

    def is_duplicate(self, err: BaseException) -> bool:
        """Whether ``err`` is a unique-constraint violation (another writer inserted the row)."""
        raise NotImplementedError


def open_database(url: str) -> Database:
    """The database at a SQLAlchemy-style URL (``sqlite+aiosqlite:///...``,
    ``postgresql+asyncpg://...``). Connects on first use."""
    path = sqlite_path(url)
    if path is not None:
        return SqliteDatabase(url, path)
    return ServerDatabase(url)


# --- SQLite ------------------------------------------------------------------------------------


class _SqliteConnection(Connection):
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.raw = conn

    async def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        return list(await self.raw.execute_fetchall(sql, params or {}))

    async def executemany(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None:
        if params:
            await self.raw.executemany(sql, params)

    async def insert_rows(
        self, table: str, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        if rows:
            sql = _insert_sql("qmark", table, columns, len(rows))
            await self.raw.execute(sql, tuple(itertools.chain.from_iterable(rows)))

    async def commit(self) -> None:
        if self.raw.in_transaction:
            await self.raw.commit()

    async def rollback(self) -> None:
        if self.raw.in_transaction:
            await self.raw.rollback()


class SqliteDatabase(Database):
    """A SQLite file (or an in-memory database) on aiosqlite, with a small pool of connections.

    Connections run in autocommit mode: a read sees what is committed, statement by statement,
    and ``begin`` opens an explicit ``BEGIN IMMEDIATE`` transaction, which takes the write lock
    at once rather than on its first write (a deferred transaction that reads first can fail to
    upgrade with "database is locked" where an immediate one waits its turn).
    """

    dialect = "sqlite"

    def __init__(self, url: str, path: str) -> None:
        self.path = path
        self.display_url = url
        self._idle: list[aiosqlite.Connection] = []
        self._generation = 0
        #: ``:memory:`` is one database per connection: every user shares the one.
        self._memory: aiosqlite.Connection | None = None
        self._memory_lock = asyncio.Lock()

    async def _new_connection(self) -> aiosqlite.Connection:
        import aiosqlite  # noqa: PLC0415 - the recorder's writer loads it, not the site's start

        if self.path != ":memory:":
            # sqlite3 would create a missing file, not its directory.
            parent = Path(self.path).parent
            if not parent.is_dir():
                raise sqlite3.OperationalError(f"unable to open database file: {parent} is missing")
        conn = await aiosqlite.connect(self.path, isolation_level=None, timeout=5.0)
        try:
            for pragma in SQLITE_PRAGMAS:
                await conn.execute(pragma)
        except BaseException:
            await conn.close()
            raise
        return conn

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[aiosqlite.Connection]:
        if self.path == ":memory:":
            async with self._memory_lock:
                if self._memory is None:
                    self._memory = await self._new_connection()
            yield self._memory
            return
        conn = self._idle.pop() if self._idle else await self._new_connection()
        generation = self._generation
        keep = False
        try:
            yield conn
            # A connection whose statement failed is closed, not pooled: it may be broken.
            keep = generation == self._generation and len(self._idle) < SQLITE_IDLE_CONNECTIONS
        finally:
            if keep and conn.in_transaction:
                try:
                    await conn.rollback()
                except Exception:  # a connection that cannot roll back is not pooled
                    keep = False
            if keep:
                self._idle.append(conn)
            else:
                with contextlib.suppress(Exception):
                    await conn.close()

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        async with self._connection() as conn:
            wrapped = _SqliteConnection(conn)
            try:
                yield wrapped
            finally:
                if conn.in_transaction:
                    await conn.rollback()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[Connection]:
        async with self._connection() as conn:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteConnection(conn)
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(Exception):
                        await conn.rollback()
                raise
            if conn.in_transaction:
                await conn.commit()

    def autocommit(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        # Every connection is in autocommit mode already (``isolation_level=None``).
        return self.connect()

    async def dispose(self) -> None:
        self._generation += 1
        idle, self._idle = self._idle, []
        if self._memory is not None:
            idle.append(self._memory)
            self._memory = None
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close()

    def errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error, OSError, TimeoutError)

    def is_connection_error(self, err: BaseException) -> bool:
        # Locked, missing, unreadable or full: SQLite's OperationalError, as SQLAlchemy sorts it.
        return isinstance(
            err, sqlite3.OperationalError | sqlite3.InterfaceError | OSError | TimeoutError
        )

    def is_duplicate(self, err: BaseException) -> bool:
        return isinstance(err, sqlite3.IntegrityError)


# --- a database server, through SQLAlchemy ---------------------------------------------------


@functools.lru_cache(maxsize=512)
def _text(sql: str) -> Any:
    from sqlalchemy import text  # noqa: PLC0415 - loaded with the engine

    return text(sql)


class _ServerConnection(Connection):
    def __init__(self, conn: AsyncConnection) -> None:
        self.raw = conn
        self.dialect = conn.dialect.name

    async def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        result = await self.raw.execute(_text(sql), dict(params) if params else {})
        return list(result.all()) if result.returns_rows else []

    async def executemany(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None:
        if params:
            await self.raw.execute(_text(sql), [dict(p) for p in params])

    async def insert_rows(
        self, table: str, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        if rows:
            sql = _insert_sql(self.raw.dialect.paramstyle, table, columns, len(rows))
            await self.raw.exec_driver_sql(sql, tuple(itertools.chain.from_iterable(rows)))

    async def commit(self) -> None:
        await self.raw.commit()

    async def rollback(self) -> None:
        await self.raw.rollback()


class ServerDatabase(Database):
    """A database server (PostgreSQL) through a SQLAlchemy async engine."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415 - servers only

        connect_args: dict[str, Any] = {}
        if url.startswith("postgresql+asyncpg"):
            connect_args["timeout"] = CONNECT_TIMEOUT
        self.engine = create_async_engine(url, pool_pre_ping=True, connect_args=connect_args)
        self.dialect = self.engine.dialect.name
        self.display_url = self.engine.url.render_as_string()

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        async with self.engine.connect() as conn:
            yield _ServerConnection(conn)

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[Connection]:
        async with self.engine.begin() as conn:
            yield _ServerConnection(conn)

    @contextlib.asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Connection]:
        async with self.engine.connect() as conn:
            yield _ServerConnection(await conn.execution_options(isolation_level="AUTOCOMMIT"))

    async def dispose(self) -> None:
        await self.engine.dispose()

    def errors(self) -> tuple[type[BaseException], ...]:
        from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - loaded with the engine

        return (SQLAlchemyError, OSError, TimeoutError)

    def is_connection_error(self, err: BaseException) -> bool:
        from sqlalchemy.exc import (  # noqa: PLC0415 - loaded with the engine
            DBAPIError,
            InterfaceError,
            OperationalError,
        )

        if isinstance(err, OperationalError | InterfaceError | OSError | TimeoutError):
            return True
        return isinstance(err, DBAPIError) and err.connection_invalidated

    def is_duplicate(self, err: BaseException) -> bool:
        from sqlalchemy.exc import IntegrityError  # noqa: PLC0415 - loaded with the engine

        return isinstance(err, IntegrityError)


_PLACEHOLDERS = {"qmark": "?", "format": "%s", "numeric_dollar": "${}", "numeric": ":{}"}


@functools.lru_cache(maxsize=32)
def _insert_sql(style: str, table: str, columns: tuple[str, ...], rows: int) -> str:
    """A plain INSERT of ``rows`` rows in the driver's own parameter style."""
    if style not in _PLACEHOLDERS:
        raise RuntimeError(f"Unsupported parameter style {style!r}")
    marker = _PLACEHOLDERS[style]
    width = len(columns)
    values = ", ".join(
        "(" + ", ".join(marker.format(row * width + i) for i in range(1, width + 1)) + ")"
        for row in range(rows)
    )
    # Table and column names are the callers' constants, never input: no injection here.
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"  # noqa: S608
