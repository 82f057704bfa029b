"""The building blocks of the history queries (``history.py``, ``downsample.py``).

Times, the ``[start, end)`` period condition, entity ids to ``metadata_id``s and each entity's
state at the start of a period, as SQL text with ``:name`` parameters (``sql.py``) that runs
the same on SQLite and PostgreSQL. The row layout (``ROW_COLUMNS``) is shared by both modules.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from core.const import STATE_UNAVAILABLE, STATE_UNKNOWN

from .sql import in_list

if TYPE_CHECKING:
    from .sql import Connection

#: States that are no value: left out of numeric aggregates.
NO_VALUE_STATES = (STATE_UNKNOWN, STATE_UNAVAILABLE, "")

_T = TypeVar("_T")

#: Most bound parameters one ``IN (...)`` list gets (SQLite's old limit is 999).
IN_CHUNK = 900


class ConnectionSource(Protocol):
    """What the queries need of the recorder: read connections (``Recorder`` is one)."""

    def connect(self) -> AbstractAsyncContextManager[Connection]:
        """An async context manager yielding a connection for reading."""


def timestamp_of(when: datetime) -> float:
    """POSIX time of ``when``; a naive datetime is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def iso(timestamp: float) -> str:
    """``timestamp`` as ISO 8601 text in UTC."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


#: Rows where the state string changed, not only attributes (``last_changed_ts`` NULL means
#: equal to ``last_updated_ts``).
STATE_CHANGED: Final = "(last_changed_ts IS NULL OR last_changed_ts = last_updated_ts)"


def chunks(ids: Iterable[_T]) -> Iterator[list[_T]]:
    """``ids`` in lists short enough for one ``IN (...)``."""
    it = iter(ids)
    while chunk := list(itertools.islice(it, IN_CHUNK)):
        yield chunk


# The columns of a states row as the queries select them, and their positions.
ROW_COLUMNS: Final = (
    "state, attributes_id, last_updated_ts, last_changed_ts, "
    "context_id_bin, context_user_id, context_parent_id_bin"
)
STATE: Final = 0
ATTRS: Final = 1
UPDATED: Final = 2
CHANGED: Final = 3
CTX: Final = 4
CTX_USER: Final = 5
CTX_PARENT: Final = 6
StateRow = Sequence[Any]  # (state, attributes_id, updated, changed, ctx, user, parent ctx)


def period_clause(start_ts: float, end_ts: float | None) -> tuple[str, dict[str, float]]:
    """States updated in ``[start_ts, end_ts)`` (no end: until now): the condition and its
    parameters (``start_ts``, ``end_ts``)."""
    if end_ts is None:
        return "last_updated_ts >= :start_ts", {"start_ts": start_ts}
    return (
        "last_updated_ts >= :start_ts AND last_updated_ts < :end_ts",
        {"start_ts": start_ts, "end_ts": end_ts},
    )


async def lookup_metadata_ids(conn: Connection, entity_ids: Sequence[str] | None) -> dict[int, str]:
    """``metadata_id → entity_id`` of the given entities (all when None) that were recorded,
    in the order of ``entity_ids``."""
    select = "SELECT metadata_id, entity_id FROM states_meta"
    if entity_ids is None:
        return dict(await conn.execute(select))
    wanted = list(dict.fromkeys(e.lower() for e in entity_ids))
    found: dict[int, str] = {}
    for chunk in chunks(wanted):
        ids, params = in_list("entity_id", chunk)
        sql = f"{select} WHERE entity_id IN ({ids})"
        found.update(await conn.execute(sql, params))
    order = {e: i for i, e in enumerate(wanted)}
    return dict(sorted(found.items(), key=lambda item: order[item[1]]))


#: The id of each entity's latest row before ``:start_ts``, through the states index (one
#: lookup each); NULL for an entity without one.
_START_IDS = """
SELECT (
    SELECT s.state_id FROM states s
    WHERE s.metadata_id = m.metadata_id AND s.last_updated_ts < :start_ts
    ORDER BY s.last_updated_ts DESC, s.state_id DESC LIMIT 1
) FROM states_meta m WHERE m.metadata_id IN ({ids})
"""

#: Those rows (``{ids}``: their ids' placeholders).
_START_ROWS = (
    f"SELECT metadata_id, {ROW_COLUMNS} FROM states "  # noqa: S608 - constant columns
    "WHERE state_id IN ({ids})"
)


async def read_start_rows(
    conn: Connection, metadata_ids: Iterable[int], start_ts: float
) -> dict[int, StateRow]:
    """Each entity's latest row before ``start_ts``, if it held a state then.

    Two statements per chunk, the ids and then their rows by primary key: a plan that each
    database follows whatever its statistics say (one statement with ``state_id IN (SELECT
    ...)`` may have PostgreSQL scan the table).
    """
    rows: dict[int, StateRow] = {}
    for chunk in chunks(metadata_ids):
        ids, params = in_list("metadata_id", chunk)
        params["start_ts"] = start_ts
        found = await conn.execute(_START_IDS.format(ids=ids), params)
        state_ids = [row[0] for row in found if row[0] is not None]
        if not state_ids:
            continue
        wanted, params = in_list("state_id", state_ids)
        sql = _START_ROWS.format(ids=wanted)
        for metadata_id, *row in await conn.execute(sql, params):
            if row[STATE] is not None:
                rows[metadata_id] = tuple(row)
    return rows
