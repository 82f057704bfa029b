"""The building blocks of the history queries (``history.py``, ``downsample.py``).

Times, the ``[start, end)`` period clause, entity ids to ``metadata_id``s, each entity's state
at the start of a period, and ``fetch_rows``, which returns long results as the driver's own
tuples instead of SQLAlchemy rows. The row layout (``ROW_COLUMNS``) is shared by both modules.
"""

from __future__ import annotations

import itertools
import typing
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.const import STATE_UNAVAILABLE, STATE_UNKNOWN

from .models import States, StatesMeta

#: States that are no value: left out of numeric aggregates.
NO_VALUE_STATES = (STATE_UNKNOWN, STATE_UNAVAILABLE, "")

#: Most bound parameters one ``IN (...)`` list gets (SQLite's old limit is 999).
IN_CHUNK = 900


class SessionSource(Protocol):
    """What the queries need of the recorder: a read session (``Recorder`` is one)."""

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """An async context manager yielding a session for reading."""


def timestamp_of(when: datetime) -> float:
    """POSIX time of ``when``; a naive datetime is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def iso(timestamp: float) -> str:
    """``timestamp`` as ISO 8601 text in UTC."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def state_changed() -> ColumnElement[bool]:
    """Rows where the state string changed, not only attributes (``last_changed_ts`` NULL)."""
    return or_(States.last_changed_ts.is_(None), States.last_changed_ts == States.last_updated_ts)


def chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    """``ids`` in lists short enough for one ``IN (...)``."""
    it = iter(ids)
    while chunk := list(itertools.islice(it, IN_CHUNK)):
        yield chunk


async def fetch_rows(
    conn: AsyncConnection, stmt: Select[*tuple[Any, ...]]
) -> Sequence[Sequence[Any]]:
    """The rows of ``stmt`` as the driver returns them (tuples or records).

    SQLAlchemy builds a ``Row`` per result row; for the long results of a history that is a
    good part of the time, so the statement is compiled here and run on the driver's own
    connection (the columns read here need no result processing: numbers, text, bytes).
    """
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    driver = (await conn.get_raw_connection()).driver_connection
    if conn.dialect.driver == "aiosqlite" and driver is not None:
        return typing.cast(
            Sequence[Sequence[Any]], await driver.execute_fetchall(str(compiled), params)
        )
    if conn.dialect.driver == "asyncpg" and driver is not None:
        return typing.cast(Sequence[Sequence[Any]], await driver.fetch(str(compiled), *params))
    return list((await conn.execute(stmt)).all())


# The columns of a states row as the queries select them, and their positions.
ROW_COLUMNS = (
    States.state,
    States.attributes_id,
    States.last_updated_ts,
    States.last_changed_ts,
    States.context_id_bin,
    States.context_user_id,
    States.context_parent_id_bin,
)
STATE: Final = 0
ATTRS: Final = 1
UPDATED: Final = 2
CHANGED: Final = 3
CTX: Final = 4
CTX_USER: Final = 5
CTX_PARENT: Final = 6
StateRow = Sequence[Any]  # (state, attributes_id, updated, changed, ctx, user, parent ctx)


async def lookup_metadata_ids(
    conn: AsyncConnection, entity_ids: Sequence[str] | None
) -> dict[int, str]:
    """``metadata_id → entity_id`` of the given entities (all when None) that were recorded."""
    stmt = select(StatesMeta.metadata_id, StatesMeta.entity_id)
    if entity_ids is None:
        return dict((await conn.execute(stmt)).all())
    wanted = list(dict.fromkeys(e.lower() for e in entity_ids))
    found: dict[int, str] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        result = await conn.execute(stmt.where(StatesMeta.entity_id.in_(chunk)))
        found.update(result.all())
    order = {e: i for i, e in enumerate(wanted)}
    return dict(sorted(found.items(), key=lambda item: order[item[1]]))


async def read_start_rows(
    conn: AsyncConnection, metadata_ids: Iterable[int], start_ts: float
) -> dict[int, StateRow]:
    """Each entity's latest row before ``start_ts``, if it held a state then."""
    latest = (
        select(States.state_id)
        .where(States.metadata_id == StatesMeta.metadata_id, States.last_updated_ts < start_ts)
        .order_by(States.last_updated_ts.desc(), States.state_id.desc())
        .limit(1)
        .correlate(StatesMeta)
        .scalar_subquery()
    )
    rows: dict[int, StateRow] = {}
    for chunk in chunks(metadata_ids):
        ids_stmt = select(latest).where(StatesMeta.metadata_id.in_(chunk))
        state_ids = [s for s in (await conn.scalars(ids_stmt)) if s is not None]
        if not state_ids:
            continue
        stmt = select(States.metadata_id, *ROW_COLUMNS).where(States.state_id.in_(state_ids))
        for metadata_id, *row in await conn.execute(stmt):
            if row[STATE] is not None:
                rows[metadata_id] = tuple(row)
    return rows


def period_clause(start_ts: float, end_ts: float | None) -> ColumnElement[bool]:
    """States updated in ``[start_ts, end_ts)`` (no end: until now)."""
    if end_ts is None:
        return States.last_updated_ts >= start_ts
    return and_(States.last_updated_ts >= start_ts, States.last_updated_ts < end_ts)
