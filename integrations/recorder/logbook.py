"""Recorded events for the logbook: the events of given types in a period, decoded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from .history import SessionSource
from .models import EventData, Events, EventTypes
from .util import bytes_to_context_id, json_loads


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One recorded event."""

    event_type: str
    data: dict[str, Any]
    time_fired_ts: float
    context_id: str | None
    context_user_id: str | None
    context_parent_id: str | None


async def events_during_period(
    recorder: SessionSource,
    start: datetime,
    end: datetime | None,
    event_types: Sequence[str],
) -> list[RecordedEvent]:
    """The events of ``event_types`` fired in ``[start, end)``, oldest first."""
    if not event_types:
        return []
    where = [
        EventTypes.event_type.in_(list(event_types)),
        Events.time_fired_ts >= start.timestamp(),
    ]
    if end is not None:
        where.append(Events.time_fired_ts < end.timestamp())
    stmt = (
        select(
            EventTypes.event_type,
            EventData.shared_data,
            Events.time_fired_ts,
            Events.context_id_bin,
            Events.context_user_id,
            Events.context_parent_id_bin,
        )
        .join(EventTypes, Events.event_type_id == EventTypes.event_type_id)
        .outerjoin(EventData, Events.data_id == EventData.data_id)
        .where(*where)
        .order_by(Events.time_fired_ts, Events.event_id)
    )
    async with recorder.session() as session:
        conn = await session.connection()
        rows = (await conn.execute(stmt)).all()
    return [
        RecordedEvent(
            event_type=row[0],
            data=json_loads(row[1]) if row[1] else {},
            time_fired_ts=row[2],
            context_id=bytes_to_context_id(row[3]),
            context_user_id=row[4],
            context_parent_id=bytes_to_context_id(row[5]),
        )
        for row in rows
    ]
