"""Recorded history as one time-ordered stream of state changes and events, read in chunks.

The states and the events of ``[start, end)`` are read by keyset pagination (time, then id) in
chunks of ``chunk_rows`` rows each, through the ``last_updated_ts`` / ``time_fired_ts`` indexes,
and merged by time. The next chunk is read while the current one is replayed, so the database
thread and the loop work at the same time; at most two chunks of each table are in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from types import MappingProxyType
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from integrations.recorder.models import (
    EventData,
    Events,
    EventTypes,
    StateAttributes,
    States,
)
from integrations.recorder.queries import chunks, fetch_rows, lookup_metadata_ids, read_start_rows
from integrations.recorder.util import json_loads

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


@dataclass(frozen=True, slots=True)
class Extent:
    """What the recorder holds: its oldest and newest rows (None when it holds none)."""

    oldest: float | None
    newest: float | None


class RecordedHistory:
    """Reads one period of the recorder's database; one instance per replay."""

    def __init__(self, engine: Any, start_ts: float, end_ts: float, chunk_rows: int) -> None:
        self._engine = engine
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
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(func.min(States.last_updated_ts), func.max(States.last_updated_ts))
                )
            ).one()
        return Extent(row[0], row[1])

    async def start_states(self) -> list[StateItem]:
        """Every entity's state at the start of the period (its latest row before it)."""
        async with self._engine.connect() as conn:
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

    async def _load_attributes(self, conn: AsyncConnection, ids: set[int]) -> None:
        missing = ids - self._attributes.keys()
        for chunk in chunks(missing):
            stmt = select(StateAttributes.attributes_id, StateAttributes.shared_attrs).where(
                StateAttributes.attributes_id.in_(chunk)
            )
            for attributes_id, text in (await conn.execute(stmt)).all():
                try:
                    value = json_loads(text) if text else {}
                except ValueError:
                    value = {}
                self._attributes[attributes_id] = (
                    MappingProxyType(value) if isinstance(value, dict) and value else _EMPTY
                )

    async def _state_chunk(self, after: tuple[float, int]) -> list[Sequence[Any]]:
        ts, state_id = after
        stmt = (
            select(
                States.last_updated_ts,
                States.state_id,
                States.metadata_id,
                States.state,
                States.attributes_id,
                States.last_changed_ts,
            )
            .where(
                and_(
                    States.last_updated_ts >= ts,
                    States.last_updated_ts < self.end_ts,
                    ~and_(States.last_updated_ts == ts, States.state_id <= state_id),
                )
            )
            .order_by(States.last_updated_ts, States.state_id)
            .limit(self.chunk_rows)
        )
        async with self._engine.connect() as conn:
            rows = list(await fetch_rows(conn, stmt))
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
        stmt = (
            select(
                Events.time_fired_ts, Events.event_id, EventTypes.event_type, EventData.shared_data
            )
            .join(EventTypes, EventTypes.event_type_id == Events.event_type_id)
            .outerjoin(EventData, EventData.data_id == Events.data_id)
            .where(
                and_(
                    Events.time_fired_ts >= ts,
                    Events.time_fired_ts < self.end_ts,
                    ~and_(Events.time_fired_ts == ts, Events.event_id <= event_id),
                )
            )
            .order_by(Events.time_fired_ts, Events.event_id)
            .limit(self.chunk_rows)
        )
        async with self._engine.connect() as conn:
            return list(await fetch_rows(conn, stmt))

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
