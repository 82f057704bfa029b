"""The control log's table in the recorder's database, owned by the appliance integration.

The table is not part of the recorder's schema (whose migrations it must not disturb): it is
created here with ``CREATE TABLE IF NOT EXISTS``, in the types SQLAlchemy gave it when earlier
versions created it from a ``Table`` definition, so a table made by those versions is the same
table. Statements are SQL text for SQLite and PostgreSQL alike (``integrations.recorder.sql``).
Writes go through ``Recorder.write_transaction`` so they take turns with the recorder's batches;
reads use ``Recorder.connect``.

Times are stored in UTC: on PostgreSQL as ``TIMESTAMP WITH TIME ZONE``, on SQLite as text in
SQLAlchemy's layout for a ``DateTime`` column (``2026-01-15 12:00:00.000000``), which sorts and
compares as text in time order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import orjson

from .const import TABLE_CONTROL_LOG, Result, Source
from .control_log import ControlLogEntry, LogQuery

if TYPE_CHECKING:
    from integrations.recorder.core import Recorder

#: The columns of an entry, in the order ``_entry`` reads them (``id`` comes first in the table).
_COLUMNS: Final = (
    "time", "appliance", "action", "source", "source_detail", "user_id", "context_id",
    "parent_context_id", "state_before", "result", "confirmation_ms", "error", "params",
)  # fmt: skip

# The table and index names below are this module's constants.
_INSERT_SQL: Final = (
    f"INSERT INTO {TABLE_CONTROL_LOG} ({', '.join(_COLUMNS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join(f':{column}' for column in _COLUMNS)})"
)
_INDEXES_SQL: Final = (
    f"CREATE INDEX IF NOT EXISTS ix_{TABLE_CONTROL_LOG}_appliance_time "
    f"ON {TABLE_CONTROL_LOG} (appliance, time)",
    f"CREATE INDEX IF NOT EXISTS ix_{TABLE_CONTROL_LOG}_time ON {TABLE_CONTROL_LOG} (time)",
)


def _create_table_sql(dialect: str) -> str:
    """The table, as SQLAlchemy made it for ``Integer`` and ``DateTime(timezone=True)``."""
    sqlite = dialect == "sqlite"
    return (
        f"CREATE TABLE IF NOT EXISTS {TABLE_CONTROL_LOG} ("
        f"id {'INTEGER' if sqlite else 'SERIAL'} NOT NULL, "
        f"time {'DATETIME' if sqlite else 'TIMESTAMP WITH TIME ZONE'} NOT NULL, "
        "appliance VARCHAR(255) NOT NULL, "
        "action VARCHAR(64) NOT NULL, "
        "source VARCHAR(32) NOT NULL, "
        "source_detail VARCHAR(255), "
        "user_id VARCHAR(64), "
        "context_id VARCHAR(36) NOT NULL, "
        "parent_context_id VARCHAR(36), "
        "state_before VARCHAR(32) NOT NULL, "
        "result VARCHAR(16) NOT NULL, "
        "confirmation_ms FLOAT, "
        "error TEXT, "
        "params TEXT, "
        "PRIMARY KEY (id))"
    )


def _time_value(dialect: str, when: datetime) -> datetime | str:
    """``when`` as the table stores it (see the module's docstring)."""
    utc = when.astimezone(UTC)
    if dialect == "sqlite":
        return utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return utc


def _utc(value: datetime | str) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives back the text it keeps)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ControlLogStore:
    """Writes and reads the control-log table through the recorder."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def create(self) -> None:
        """Create the table and its indexes unless they exist."""
        async with self.recorder.write_transaction() as conn:
            await conn.execute(_create_table_sql(conn.dialect))
            for statement in _INDEXES_SQL:
                await conn.execute(statement)

    async def write(self, entries: list[ControlLogEntry]) -> None:
        """Insert ``entries`` in one transaction."""
        async with self.recorder.write_transaction() as conn:
            await conn.executemany(
                _INSERT_SQL,
                [
                    {
                        "time": _time_value(conn.dialect, entry.time),
                        "appliance": entry.appliance[:255],
                        "action": entry.action[:64],
                        "source": entry.source.value,
                        "source_detail": entry.source_detail[:255] if entry.source_detail else None,
                        "user_id": entry.user_id,
                        "context_id": entry.context_id,
                        "parent_context_id": entry.parent_context_id,
                        "state_before": entry.state_before[:32],
                        "result": entry.result.value,
                        "confirmation_ms": entry.confirmation_ms,
                        "error": entry.error,
                        "params": orjson.dumps(entry.params).decode() if entry.params else None,
                    }
                    for entry in entries
                ],
            )

    async def query(self, query: LogQuery) -> list[ControlLogEntry]:
        """The entries asked for, newest first."""
        async with self.recorder.connect() as conn:
            where: list[str] = []
            params: dict[str, Any] = {"limit": query.limit}
            if query.appliance is not None:
                where.append("appliance = :appliance")
                params["appliance"] = query.appliance
            if query.source is not None:
                where.append("source = :source")
                params["source"] = query.source.value
            if query.start is not None:
                where.append("time >= :start")
                params["start"] = _time_value(conn.dialect, query.start)
            if query.end is not None:
                where.append("time < :end")
                params["end"] = _time_value(conn.dialect, query.end)
            rows = await conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM {TABLE_CONTROL_LOG} "  # noqa: S608 - constants
                f"{'WHERE ' + ' AND '.join(where) if where else ''} "
                "ORDER BY time DESC, id DESC LIMIT :limit",
                params,
            )
        return [_entry(row) for row in rows]


def _entry(row: tuple[Any, ...]) -> ControlLogEntry:
    """An entry from a row of ``_COLUMNS``."""
    (
        time, appliance, action, source, source_detail, user_id, context_id, parent_context_id,
        state_before, result, confirmation_ms, error, params_text,
    ) = row  # fmt: skip
    params = orjson.loads(params_text) if params_text else {}
    return ControlLogEntry(
        time=_utc(time),
        appliance=appliance,
        action=action,
        source=Source(source),
        source_detail=source_detail,
        user_id=user_id,
        context_id=context_id,
        parent_context_id=parent_context_id,
        state_before=state_before,
        result=Result(result),
        confirmation_ms=confirmation_ms,
        error=error,
        params=params if isinstance(params, dict) else {},
    )
