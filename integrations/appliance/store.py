"""The control log's table in the recorder's database, owned by the appliance integration.

The table lives in its own SQLAlchemy ``MetaData`` (not the recorder's schema, whose
migrations it must not disturb) and is created with ``CREATE TABLE IF NOT EXISTS`` through the
recorder's engine. Writes go through ``Recorder.write_transaction`` so they take turns with the
recorder's batches; reads use ``Recorder.connect``. Imported after start-up only (SQLAlchemy).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)

from .const import TABLE_CONTROL_LOG, Result, Source
from .control_log import ControlLogEntry, LogQuery

if TYPE_CHECKING:
    from integrations.recorder.core import Recorder

METADATA = MetaData()

CONTROL_LOG = Table(
    TABLE_CONTROL_LOG,
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("appliance", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("source_detail", String(255)),
    Column("user_id", String(64)),
    Column("context_id", String(36), nullable=False),
    Column("parent_context_id", String(36)),
    Column("state_before", String(32), nullable=False),
    Column("result", String(16), nullable=False),
    Column("confirmation_ms", Float),
    Column("error", Text),
    Column("params", Text),
    Index("ix_appliance_control_log_appliance_time", "appliance", "time"),
    Index("ix_appliance_control_log_time", "time"),
)


def _utc(value: datetime) -> datetime:
    # SQLite gives naive datetimes back: they were written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ControlLogStore:
    """Writes and reads the control-log table through the recorder."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def create(self) -> None:
        """Create the table and its indexes unless they exist."""
        async with self.recorder.write_transaction() as conn:
            await conn.run_sync(METADATA.create_all, checkfirst=True)

    async def write(self, entries: list[ControlLogEntry]) -> None:
        """Insert ``entries`` in one transaction."""
        rows = [
            {
                "time": entry.time.astimezone(UTC),
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
        ]
        async with self.recorder.write_transaction() as conn:
            await conn.execute(insert(CONTROL_LOG), rows)

    async def query(self, query: LogQuery) -> list[ControlLogEntry]:
        """The entries asked for, newest first."""
        table = CONTROL_LOG
        statement = (
            select(table).order_by(table.c.time.desc(), table.c.id.desc()).limit(query.limit)
        )
        if query.appliance is not None:
            statement = statement.where(table.c.appliance == query.appliance)
        if query.source is not None:
            statement = statement.where(table.c.source == query.source.value)
        if query.start is not None:
            statement = statement.where(table.c.time >= query.start.astimezone(UTC))
        if query.end is not None:
            statement = statement.where(table.c.time < query.end.astimezone(UTC))
        async with self.recorder.connect() as conn:
            rows = (await conn.execute(statement)).mappings().all()
        return [_entry(row) for row in rows]


def _entry(row: Any) -> ControlLogEntry:
    params = orjson.loads(row["params"]) if row["params"] else {}
    return ControlLogEntry(
        time=_utc(row["time"]),
        appliance=row["appliance"],
        action=row["action"],
        source=Source(row["source"]),
        source_detail=row["source_detail"],
        user_id=row["user_id"],
        context_id=row["context_id"],
        parent_context_id=row["parent_context_id"],
        state_before=row["state_before"],
        result=Result(row["result"]),
        confirmation_ms=row["confirmation_ms"],
        error=row["error"],
        params=params if isinstance(params, dict) else {},
    )
