"""Read-only production sources: queries against any PostgreSQL, never a write.

Read-only by construction, three times over: every connection starts with
``default_transaction_read_only=on`` and a ``statement_timeout`` as server settings; every
query runs inside an explicit ``READ ONLY`` transaction that is always rolled back (so even a
``SET`` in a query does not outlive it); and asyncpg's extended protocol refuses several
statements in one query. A query that tries to write fails with :class:`SourceWriteError`.
Parameters are always bound (``$1``...), never formatted into the SQL. Results are cached for
``cache_ttl`` seconds per (query, parameters).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from .errors import SourceError, SourceWriteError

_LOGGER = logging.getLogger(__name__)

#: Seconds the server lets one source statement run.
DEFAULT_STATEMENT_TIMEOUT = 10.0
#: Seconds a result stays in the cache.
DEFAULT_CACHE_TTL = 5.0
#: Most rows a source query returns (the rest are not fetched).
MAX_ROWS = 10_000
#: Most cached results kept per source.
MAX_CACHED = 256
#: Connections one source keeps.
POOL_SIZE = 2

_WRITE_ERRORS = (asyncpg.ReadOnlySQLTransactionError,)


class ReadOnlySource:
    """A pool of read-only connections to one PostgreSQL database, with a result cache."""

    def __init__(
        self,
        dsn: str,
        *,
        name: str,
        statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
        cache_ttl: float = DEFAULT_CACHE_TTL,
    ) -> None:
        self.dsn = dsn
        self.name = name
        self.statement_timeout = statement_timeout
        self.cache_ttl = cache_ttl
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._cache: dict[tuple[str, tuple[Any, ...]], tuple[float, list[dict[str, Any]]]] = {}

    async def _get_pool(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=0,
                    max_size=POOL_SIZE,
                    timeout=self.statement_timeout,
                    command_timeout=self.statement_timeout + 1,
                    server_settings={
                        "default_transaction_read_only": "on",
                        "statement_timeout": str(int(self.statement_timeout * 1000)),
                        "application_name": f"edgewise-source[{self.name}]"[:63],
                    },
                )
            return self._pool

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows of ``sql`` with ``args`` bound, as dicts (cached for ``cache_ttl`` seconds).

        Raises:
            SourceWriteError: the query tried to write.
            SourceError: anything else went wrong (connection, syntax, timeout).
        """
        key = (sql, tuple(args))
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            pool = await self._get_pool()
            async with pool.acquire() as conn:
                transaction = conn.transaction(readonly=True)
                await transaction.start()
                try:
                    records = await conn.fetch(sql, *args)
                finally:
                    await transaction.rollback()
        except _WRITE_ERRORS as err:
            raise SourceWriteError(
                f"source {self.name!r}: the query tried to write, and sources are read-only "
                f"({err})",
                source=self.name,
            ) from err
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            raise SourceError(
                f"source {self.name!r}: {type(err).__name__}: {err}", source=self.name
            ) from err
        rows = [dict(record) for record in records[:MAX_ROWS]]
        if len(self._cache) >= MAX_CACHED:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
        self._cache[key] = (now + self.cache_ttl, rows)
        return rows

    async def close(self) -> None:
        """Close the pool's connections."""
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5)
            except TimeoutError:
                pool.terminate()


#: Aggregates ``timescale.query`` offers, as fixed SQL (never formatted from input).
AGGREGATES: dict[str, str] = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "count": "count(*)::double precision",
    "last": "(array_agg(value ORDER BY time DESC))[1]",
    "first": "(array_agg(value ORDER BY time))[1]",
}


def series_query(table: str, aggregate: str | None) -> str:
    """The SQL of one series read: raw points, or ``aggregate`` per ``$5`` bucket.

    ``table`` is the validated identifier from the configuration; ``aggregate`` a key of
    :data:`AGGREGATES`. Parameters: $1 site, $2 entity, $3 start, $4 end (and $5 the bucket).
    """
    where = "site_id = $1 AND entity_id = $2 AND time >= $3 AND time < $4"
    if aggregate is None:
        return (
            f"SELECT time, value, text_value, quality FROM {table} "  # noqa: S608
            f"WHERE {where} ORDER BY time LIMIT {MAX_ROWS}"
        )
    return (
        f"SELECT date_bin($5::interval, time, TIMESTAMPTZ 'epoch') AS time, "  # noqa: S608
        f"{AGGREGATES[aggregate]} AS value FROM {table} WHERE {where} "
        f"GROUP BY 1 ORDER BY 1 LIMIT {MAX_ROWS}"
    )


def rows_as_points(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their times as ISO text, for a service response."""
    return [
        {key: (value.isoformat() if key == "time" else value) for key, value in row.items()}
        for row in rows
    ]
