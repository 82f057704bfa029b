"""The central database: the narrow points table, created on first connect, and batched writes.

``asyncpg`` is imported here only, and this module only from the historian's writer, so a site
without ``timescale:`` never loads it.

Where the ``timescaledb`` extension is installed the table becomes a hypertable, compressed
segment-by site and entity, with a compression policy and (with ``retain_days``) a retention
policy. Where it is not, it stays a plain table with a (BRIN) time index, and :meth:`purge` deletes
what is older than ``retain_days``.

A batch is split between ``SEND_CONNECTIONS`` connections and each part written with COPY in a
transaction of its own, at the same time. A part whose commit was in doubt (or that committed
while the other failed), sent again, fails that COPY on the unique key (site_id, entity_id, time)
and is then merged: COPY into a temporary table, ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING``. Nothing is written twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from core.json import postgres_safe

from .buffer import Row
from .const import CONNECT_TIMEOUT, SEND_CONNECTIONS, SEND_TIMEOUT
from .schema import TimescaleConfig

_LOGGER = logging.getLogger(__name__)

_COLUMNS = ("time", "site_id", "entity_id", "value", "text_value", "quality", "unit", "attributes")

#: PostgreSQL's epoch (2000-01-01 UTC) in Unix microseconds.
_PG_EPOCH_US = 946_684_800_000_000

#: Errors that mean "the central database is away or failing": retried later.
CENTRAL_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


class Central:
    """The connections to the central database, owned by the historian's writer task.

    ``SEND_CONNECTIONS`` connections: a batch is split between them and each part written in a
    transaction of its own at the same time, so the server's work on a batch (mostly the unique
    key's index) runs on as many cores. The first connection also creates the table and purges.
    """

    def __init__(self, config: TimescaleConfig) -> None:
        self.config = config
        self.table = config.table
        self._conns: list[asyncpg.Connection] = []
        #: Whether the ``timescaledb`` extension was found on the last connect.
        self.timescale = False

    @property
    def _conn(self) -> asyncpg.Connection | None:
        """The first connection (schema, purge), or None."""
        return self._conns[0] if self._conns else None

    @property
    def connected(self) -> bool:
        return bool(self._conns) and not any(conn.is_closed() for conn in self._conns)

    async def connect(self) -> None:
        """Connect and make sure the table (and, with TimescaleDB, its policies) exist."""
        conns: list[asyncpg.Connection] = []
        try:
            for n in range(SEND_CONNECTIONS):
                conn = await asyncpg.connect(
                    self.config.db_url,
                    timeout=CONNECT_TIMEOUT,
                    command_timeout=SEND_TIMEOUT,
                    server_settings={
                        "application_name": f"edgewise-historian[{self.config.site_id}]"
                    },
                )
                conns.append(conn)
                # timestamptz as PostgreSQL's own (microseconds since 2000,): a row's time
                # costs one subtraction instead of a datetime built and taken apart again (most
                # of COPY's encoding time). These connections read no timestamps.
                await conn.set_type_codec(
                    "timestamptz", schema="pg_catalog", encoder=tuple, decoder=tuple, format="tuple"
                )
                if n == 0:
                    await self._ensure_schema(conn)
                await conn.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE {self.table}) "
                    "ON COMMIT DELETE ROWS"
                )
        except BaseException:
            for conn in conns:
                conn.terminate()
            raise
        self._conns = conns

    async def _ensure_schema(self, conn: asyncpg.Connection) -> None:
        table = self.table
        self.timescale = bool(
            await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        )
        async with conn.transaction():
            # Serialise concurrent sites creating the table for the first time.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", table)
            # Ids compared byte by byte (COLLATE "C"): the unique key's index is most of what
            # a row costs the server, and a locale's comparison rules only slow it down.
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {table} (
                    time timestamptz NOT NULL,
                    site_id text COLLATE "C" NOT NULL,
                    entity_id text COLLATE "C" NOT NULL,
                    value double precision,
                    text_value text,
                    quality text NOT NULL,
                    unit text,
                    attributes jsonb,
                    UNIQUE (site_id, entity_id, time)
                )"""
            )
            if self.timescale:
                await self._ensure_timescale(conn)
            else:
                # Rows arrive roughly in time order: a BRIN index serves time ranges and the
                # purge for a fraction of a B-tree's upkeep on every COPY.
                await conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_time ON {table} USING brin (time)"
                )

    async def _ensure_timescale(self, conn: asyncpg.Connection) -> None:
        table, config = self.table, self.config
        await conn.execute(
            "SELECT create_hypertable($1::regclass, 'time', if_not_exists => TRUE, "
            "migrate_data => TRUE)",
            table,
        )
        await conn.execute(
            f"ALTER TABLE {table} SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'site_id, entity_id', "
            "timescaledb.compress_orderby = 'time DESC')"
        )
        await conn.execute(
            "SELECT add_compression_policy($1::regclass, $2::interval, if_not_exists => TRUE)",
            table,
            timedelta(days=config.compress_after_days),
        )
        if config.retain_days is not None:
            await conn.execute(
                "SELECT add_retention_policy($1::regclass, $2::interval, if_not_exists => TRUE)",
                table,
                timedelta(days=config.retain_days),
            )

    async def close(self) -> None:
        """Close the connections (at once if one is stuck)."""
        conns, self._conns = self._conns, []
        for conn in conns:
            try:
                await conn.close(timeout=2)
            except Exception:  # already broken: drop it
                conn.terminate()

    def abandon(self) -> None:
        """Drop connections that failed mid-transaction without waiting for the server."""
        conns, self._conns = self._conns, []
        for conn in conns:
            conn.terminate()

    def records(self, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
        """The COPY records of buffered ``rows`` (blocking but pure: run it off the loop)."""
        site = self.config.site_id
        epoch = _PG_EPOCH_US
        return [
            (
                (round(when * 1_000_000) - epoch,),
                site,
                entity_id,
                value,
                postgres_safe(text_value),
                quality,
                postgres_safe(unit),
                attributes,
            )
            for when, entity_id, value, text_value, quality, unit, attributes in rows
        ]

    async def send(self, records: Sequence[tuple[Any, ...]]) -> int:
        """Write ``records`` (from :meth:`records`); answer how many were new.

        The records are split between the connections, each part in a transaction of its own,
        written at the same time. Raises the first error after every part has finished: a part
        committed before another failed is simply there already when the batch is sent again.
        """
        conns = self._conns
        if not conns:
            raise ConnectionError("not connected to the central database")
        size = -(-len(records) // len(conns))
        parts = [records[n : n + size] for n in range(0, len(records), size)]
        if len(parts) <= 1:
            return await self._send_part(conns[0], records)
        results = await asyncio.gather(
            *(self._send_part(conn, part) for conn, part in zip(conns, parts, strict=False)),
            return_exceptions=True,
        )
        written = 0
        for result in results:
            if isinstance(result, BaseException):
                raise result
            written += result
        return written

    async def _send_part(self, conn: asyncpg.Connection, records: Sequence[tuple[Any, ...]]) -> int:
        """Write ``records`` in one transaction on ``conn``; answer how many were new.

        First COPY straight into the table; if some rows are there already (a batch whose commit
        was in doubt, sent again) that transaction fails on the unique key and the part is
        merged instead: COPY into a temporary table, then ``INSERT ... ON CONFLICT DO NOTHING``.
        """
        try:
            async with conn.transaction():
                await conn.copy_records_to_table(self.table, records=records, columns=_COLUMNS)
        except asyncpg.UniqueViolationError:
            _LOGGER.debug("A batch of %d rows was partly written before: merging", len(records))
        else:
            return len(records)
        async with conn.transaction():
            await conn.copy_records_to_table("incoming", records=records, columns=_COLUMNS)
            status = await conn.execute(
                f"INSERT INTO {self.table} SELECT * FROM incoming "  # noqa: S608
                "ON CONFLICT (site_id, entity_id, time) DO NOTHING"
            )
        return int(status.rsplit(" ", 1)[-1])

    async def purge(self) -> int:
        """Delete this site's rows older than ``retain_days`` (plain PostgreSQL only)."""
        if self.timescale or self.config.retain_days is None or self._conn is None:
            return 0
        cutoff = datetime.now(UTC) - timedelta(days=self.config.retain_days)
        status = await self._conn.execute(
            f"DELETE FROM {self.table} WHERE site_id = $1 AND time < $2",  # noqa: S608
            self.config.site_id,
            (round(cutoff.timestamp() * 1_000_000) - _PG_EPOCH_US,),
        )
        return int(status.rsplit(" ", 1)[-1])


def attributes_json(attributes: dict[str, Any]) -> str:
    """Attributes as the JSON text the jsonb column takes (``postgres_safe``)."""
    return json.dumps(postgres_safe(attributes), default=str, separators=(",", ":"))
