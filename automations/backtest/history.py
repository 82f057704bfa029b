"""Recorded history as one time-ordered stream of state changes and events, read in chunks.

The states and the events of ``[start, end)`` are read by keyset pagination (time, then id) in
chunks of ``chunk_rows`` rows each, through the ``last_updated_ts`` / ``time_fired_ts`` indexes,
and merged by time. The next chunk is read while the current one is replayed, so the database
thread and the loop work at the same time; at most two chunks of each table are in memory. The
statements are SQL text on the recorder's own connections (``Recorder.connect()``), the same on
SQLite and PostgreSQL: a replay does not load SQLAlchemy.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from integrations.recorder.queries import (
    ConnectionSource,
    chunks,
    lookup_metadata_ids,
    read_start_rows,
)
from integrations.recorder.sql import in_list
from integrations.recorder.util import json_loads

if TYPE_CHECKING:
    from integrations.recorder.sql import Connection

#: A recorded state change: (time, entity_id, state or None (removed), attributes, last_changed).
StateItem = tuple[float, str, str | None, Mapping[str, Any], float]
#: A recorded event: (time, event_type, data).
EventItem = tuple[float, str, Mapping[str, Any]]

_EMPTY: Mapping[str, Any] = MappingProxyType({})

#: Positions in a raw state row.
ROW_TS = 0
ROW_META = 2
ROW_STATE = 3
ROW_ATTRS = 4
ROW_CHANGED = 5
_META_OF = itemgetter(ROW_META)
_ATTRS_OF = itemgetter(ROW_ATTRS)


#: The next ``:rows`` state rows after ``(:ts, :id)`` and before ``:end_ts``, in (time, id) order.
_STATE_CHUNK = """
SELECT last_updated_ts, state_id, metadata_id, state, attributes_id, last_changed_ts
FROM states
WHERE last_updated_ts >= :ts AND last_updated_ts < :end_ts
    AND NOT (last_updated_ts = :ts AND state_id <= :id)
ORDER BY last_updated_ts, state_id
LIMIT :rows
"""
#: The same for events, with their type and data.
_EVENT_CHUNK = """
SELECT e.time_fired_ts, e.event_id, t.event_type, d.shared_data
FROM events e
JOIN event_types t ON t.event_type_id = e.event_type_id
LEFT JOIN event_data d ON d.data_id = e.data_id
WHERE e.time_fired_ts >= :ts AND e.time_fired_ts < :end_ts
    AND NOT (e.time_fired_ts = :ts AND e.event_id <= :id)
ORDER BY e.time_fired_ts, e.event_id
LIMIT :rows
"""


@dataclass(frozen=True, slots=True)
class Extent:
    """What the recorder holds: its oldest and newest rows (None when it holds none)."""

    oldest: float | None
    newest: float | None


class RecordedHistory:
    """Reads one period of the recorder's database; one instance per replay."""

    def __init__(
        self, recorder: ConnectionSource, start_ts: float, end_ts: float, chunk_rows: int
    ) -> None:
        self._recorder = recorder
        self.start_ts = start_ts
        self.end_ts = end_ts
        self.chunk_rows = chunk_rows
        self._entity_ids: dict[int, str] = {}
        self._attributes: dict[int, Mapping[str, Any]] = {}
        #: Entity id → recorder metadata id, of every entity the recorder knows.
        self.meta_ids: dict[str, int] = {}
        #: Entities (metadata ids) that have a row in the period or a state at its start.
        self.seen_meta: set[int] = set()

    @property
    def seen(self) -> set[str]:
        """Entities that have a row in the period or a state at its start."""
        names = self._entity_ids
        return {names[m] for m in self.seen_meta if m in names}

    async def extent(self) -> Extent:
        """The recorder's oldest and newest state rows."""
        async with self._recorder.connect() as conn:
            rows = await conn.execute(
                "SELECT min(last_updated_ts), max(last_updated_ts) FROM states"
            )
        oldest, newest = rows[0]
        return Extent(oldest, newest)

    async def start_states(self) -> list[StateItem]:
        """Every entity's state at the start of the period (its latest row before it)."""
        async with self._recorder.connect() as conn:
            self._learn(await lookup_metadata_ids(conn, None))
            rows = await read_start_rows(conn, self._entity_ids, self.start_ts)
            await self._load_attributes(conn, {r[1] for r in rows.values() if r[1] is not None})
        items: list[StateItem] = []
        for metadata_id, row in rows.items():
            entity_id = self._entity_ids.get(metadata_id)
            if entity_id is None or row[0] is None:
                continue
            attrs = self._attributes.get(row[1], _EMPTY) if row[1] is not None else _EMPTY
            updated = float(row[2])
            changed = float(row[3]) if row[3] is not None else updated
            items.append((updated, entity_id, row[0], attrs, changed))
            self.seen_meta.add(metadata_id)
        return items

    async def _load_attributes(self, conn: Connection, ids: set[int]) -> None:
        missing = ids - self._attributes.keys()
        for chunk in chunks(missing):
            placeholders, params = in_list("attributes_id", chunk)
            sql = (
                "SELECT attributes_id, shared_attrs FROM state_attributes "  # noqa: S608 - placeholders
                f"WHERE attributes_id IN ({placeholders})"
            )
            for attributes_id, text in await conn.execute(sql, params):
                try:
                    value = json_loads(text) if text else {}
                except ValueError:
                    value = {}
                self._attributes[attributes_id] = (
                    MappingProxyType(value) if isinstance(value, dict) and value else _EMPTY
                )

    async def _state_chunk(self, after: tuple[float, int]) -> list[Sequence[Any]]:
        ts, state_id = after
        params = {"ts": ts, "id": state_id, "end_ts": self.end_ts, "rows": self.chunk_rows}
        async with self._recorder.connect() as conn:
            rows = await conn.execute(_STATE_CHUNK, params)
            metas = set(map(_META_OF, rows))
            self.seen_meta |= metas
            if metas - self._entity_ids.keys():
                self._learn(await lookup_metadata_ids(conn, None))
            attributes = set(map(_ATTRS_OF, rows))
            attributes.discard(None)
            await self._load_attributes(conn, attributes)
        return rows

    async def _event_chunk(self, after: tuple[float, int]) -> list[Sequence[Any]]:
        ts, event_id = after
        params = {"ts": ts, "id": event_id, "end_ts": self.end_ts, "rows": self.chunk_rows}
        async with self._recorder.connect() as conn:
            return await conn.execute(_EVENT_CHUNK, params)

    def _learn(self, found: Mapping[int, str]) -> None:
        self._entity_ids.update(found)
        for metadata_id, entity_id in found.items():
            self.meta_ids[entity_id] = metadata_id

    def materialize(self, row: Sequence[Any]) -> tuple[str, str, Mapping[str, Any], float]:
        """``(entity_id, state, attributes, last_changed)`` of a raw state row."""
        attrs_id = row[ROW_ATTRS]
        changed = row[ROW_CHANGED]
        return (
            self._entity_ids[row[ROW_META]],
            row[ROW_STATE],
            _EMPTY if attrs_id is None else self._attributes.get(attrs_id, _EMPTY),
            row[ROW_TS] if changed is None else changed,
        )

    def item(self, row: Sequence[Any]) -> StateItem:
        """The ``StateItem`` of a raw state row."""
        entity_id, state, attributes, changed = self.materialize(row)
        return (row[ROW_TS], entity_id, state, attributes, changed)

    async def states(self) -> AsyncGenerator[list[Sequence[Any]]]:
        """The raw state rows of the period, oldest first, a chunk at a time.

        Each row is ``(time, state_id, metadata_id, state, attributes_id, last_changed)``
        (positions ``ROW_*``); ``materialize`` and ``item`` read one.
        """
        after = (self.start_ts, -1)
        pending = asyncio.ensure_future(self._state_chunk(after))
        try:
            while True:
                rows = await pending
                if not rows:
                    return
                last = rows[-1]
                after = (float(last[ROW_TS]), int(last[1]))
                pending = asyncio.ensure_future(self._state_chunk(after))
                yield rows
        finally:
            pending.cancel()

    async def events(self) -> AsyncGenerator[list[EventItem]]:
        """The events of the period (other than state changes), oldest first, in chunks."""
        after = (self.start_ts, -1)
        while True:
            rows = await self._event_chunk(after)
            if not rows:
                return
            last = rows[-1]
            after = (float(last[0]), int(last[1]))
            items: list[EventItem] = []
            for fired, _eid, event_type, shared in rows:
                try:
                    data = json_loads(shared) if shared else {}
                except ValueError:
                    data = {}
                items.append(
                    (float(fired), str(event_type), data if isinstance(data, dict) else {})
                )
            yield items
