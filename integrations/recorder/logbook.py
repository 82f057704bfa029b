"""Recorded events for the logbook: the events of given types in a period, decoded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .queries import ConnectionSource
from .sql import in_list
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


#: The recorded events of some types in a period, oldest first (``{types}``, ``{period}``).
_EVENTS = """
SELECT t.event_type, d.shared_data, e.time_fired_ts, e.context_id_bin, e.context_user_id,
    e.context_parent_id_bin
FROM events e
JOIN event_types t ON e.event_type_id = t.event_type_id
LEFT JOIN event_data d ON e.data_id = d.data_id
WHERE t.event_type IN ({types}) AND {period}
ORDER BY e.time_fired_ts, e.event_id
"""


async def events_during_period(
    recorder: ConnectionSource,
    start: datetime,
    end: datetime | None,
    event_types: Sequence[str],
) -> list[RecordedEvent]:
    """The events of ``event_types`` fired in ``[start, end)``, oldest first."""
    if not event_types:
        return []
    types, params = in_list("event_type", event_types)
    params["start_ts"] = start.timestamp()
    period = "e.time_fired_ts >= :start_ts"
    if end is not None:
        period += " AND e.time_fired_ts < :end_ts"
        params["end_ts"] = end.timestamp()
    async with recorder.connect() as conn:
        rows = await conn.execute(_EVENTS.format(types=types, period=period), params)
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
