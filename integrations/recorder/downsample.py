"""Downsampled history for charts: N buckets per series, computed by the database.

See ``get_downsampled``. Re-exported by ``history.py``, where the other history queries are.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from .queries import (
    NO_VALUE_STATES,
    STATE,
    STATE_CHANGED,
    ConnectionSource,
    chunks,
    iso,
    lookup_metadata_ids,
    period_clause,
    read_start_rows,
    timestamp_of,
)
from .sql import in_list

if TYPE_CHECKING:
    from .sql import Connection


class DownsampledBucket(TypedDict):
    """The numeric states of one time bucket: ``t`` is the bucket's start (ISO 8601, UTC)."""

    t: str
    mean: float
    min: float
    max: float
    count: int


class DownsampledChange(TypedDict):
    """A state of a non-numeric entity: the last of its bucket (``t`` is when it was set)."""

    t: str
    state: str


Downsampled = list[DownsampledBucket] | list[DownsampledChange]


#: A state that is one number, as PostgreSQL's CAST reads it (``_looks_numeric``).
_NUMBER_PATTERN = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"
#: A number that PostgreSQL's CAST to DOUBLE PRECISION takes when it is also at most 200
#: characters long: its exponent has at most two digits, so it is within 1e-299..1e299.
_CASTABLE_PATTERN = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9][0-9]?)?$"


def _looks_numeric(dialect: str) -> str:
    """True where the state reads as a number, so that casting it is safe and meaningful.

    On SQLite, a state that starts with a digit, a sign or a point (two string comparisons, the
    cheapest test there is; CAST reads the leading number of anything else). PostgreSQL's CAST
    fails on anything but a number, so there the whole state must be one (the pattern is the
    parameter ``:number_pattern``, ``_NUMBER_PATTERN``).
    """
    if dialect == "sqlite":
        return "(state >= '+' AND state < ':')"
    return "(state ~ :number_pattern)"


#: One query per entity on SQLite: a scan of each bucket's rows in order, through the states
#: index alone, which holds the state. (``GROUP BY`` a computed bucket index makes SQLite sort
#: every row first, which takes longer than the aggregates.) Each bucket comes back as one text,
#: read back exactly: how many rows, how many of them numbers, and the numbers' mean, min, max.
#: ``LIMIT -1`` keeps the inner query whole, so that each row's state is cast once, not once per
#: aggregate. ``{rows}`` is ``_SQLITE_ROWS``, or ``_SQLITE_FINITE_ROWS`` (below).
_SQLITE_BUCKETS = """
WITH RECURSIVE buckets(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM buckets WHERE i < :last)
SELECT i, (
    SELECT printf('%d %d %!.17g %!.17g %!.17g', count(*), count(v), avg(v), min(v), max(v))
    FROM ({rows})
) FROM buckets
"""
_SQLITE_ROWS = """
SELECT iif(state >= '+' AND state < ':', CAST(state AS REAL), NULL) AS v FROM states
WHERE metadata_id = :metadata_id
  AND last_updated_ts >= :start + i * :width
  AND last_updated_ts < iif(i = :last, :end, :start + (i + 1) * :width)
LIMIT -1
"""
#: A number too large for a double (``1e400``) casts to ±Inf: an entity whose buckets come back
#: with one is asked again with such numbers left out of the aggregates, as the statistics leave
#: out what is not finite (a second query only then: the test costs a third of the scan).
_SQLITE_FINITE_ROWS = (
    f"SELECT iif(abs(v) <= 1.7976931348623157e308, v, NULL) AS v FROM ({_SQLITE_ROWS})"  # noqa: S608 - constant text
)
_SQLITE_NUMBER_BUCKETS = _SQLITE_BUCKETS.format(rows=_SQLITE_ROWS)
_SQLITE_FINITE_BUCKETS = _SQLITE_BUCKETS.format(rows=_SQLITE_FINITE_ROWS)

_Bucket = tuple[int, float, float, float, int]  # index, mean, min, max, count


async def _buckets_sqlite(
    conn: Connection, metadata_id: int, *, start_ts: float, end_ts: float, points: int
) -> tuple[list[_Bucket], int]:
    """The entity's buckets that hold a number, and how many rows the period has in all."""
    params = {
        "metadata_id": metadata_id,
        "start": start_ts,
        "end": end_ts,
        "width": (end_ts - start_ts) / points,
        "last": points - 1,
    }
    for sql in (_SQLITE_NUMBER_BUCKETS, _SQLITE_FINITE_BUCKETS):
        buckets: list[_Bucket] = []
        rows = 0
        for index, packed in await conn.execute(sql, params):
            total, count, *numbers = packed.split()
            rows += int(total)
            if count != "0":
                mean, low, high = (float(n) for n in numbers)
                buckets.append((index, mean, low, high, int(count)))
        if all(math.isfinite(b[1]) for b in buckets):
            break
    return buckets, rows


#: Every entity's buckets in one ``GROUP BY`` (PostgreSQL aggregates by hashing, unsorted),
#: and in the same scan how many of each bucket's states are text (neither a number nor
#: unknown/unavailable). ``floor``, not CAST alone: PostgreSQL's CAST rounds to the nearest
#: integer. CAST to DOUBLE PRECISION fails, and with it the whole query, on a number out of its
#: range, so only ``_CASTABLE_PATTERN``'s numbers are cast; one beyond (``1e400``) is not text
#: either (``_NUMBER_PATTERN``, tested only for what is not castable): it is left out of the
#: aggregates, as the statistics leave out what is not finite. The inner query tests each state
#: once (``OFFSET 0`` keeps PostgreSQL from folding it into the outer ones, which would test
#: again).
_GROUPED_BUCKETS = """
SELECT metadata_id, bucket, avg(v), min(v), max(v), count(v),
    count(*) FILTER (WHERE NOT is_number AND NOT {numeric} AND state NOT IN ({no_values}))
FROM (
    SELECT metadata_id, state, is_number,
        LEAST(
            CAST(floor(
                (last_updated_ts - CAST(:start AS DOUBLE PRECISION))
                / CAST(:width AS DOUBLE PRECISION)
            ) AS INTEGER),
            CAST(:last AS INTEGER)
        ) AS bucket,
        CASE WHEN is_number THEN CAST(state AS DOUBLE PRECISION) END AS v
    FROM (
        SELECT metadata_id, state, last_updated_ts,
            (state ~ :castable_pattern AND length(state) <= 200) AS is_number
        FROM states
        WHERE metadata_id IN ({ids}) AND {period}
        OFFSET 0
    ) AS tested
) AS rows
GROUP BY metadata_id, bucket
ORDER BY metadata_id, bucket
"""


async def _buckets_grouped(
    conn: Connection, metadata_ids: list[int], *, start_ts: float, end_ts: float, points: int
) -> dict[int, list[_Bucket]]:
    """The buckets that hold a number of every entity whose states in the period are all
    numbers (unknown/unavailable aside), by ``GROUP BY`` (for a database server)."""
    period, period_params = period_clause(start_ts, end_ts)
    no_values, no_value_params = in_list("no_value", NO_VALUE_STATES)
    numeric = _looks_numeric(conn.dialect)
    result: dict[int, list[_Bucket]] = {}
    textual: set[int] = set()
    for chunk in chunks(metadata_ids):
        ids, params = in_list("metadata_id", chunk)
        params |= (
            period_params
            | no_value_params
            | {
                "start": start_ts,
                "width": (end_ts - start_ts) / points,
                "last": points - 1,
                "number_pattern": _NUMBER_PATTERN,
                "castable_pattern": _CASTABLE_PATTERN,
            }
        )
        sql = _GROUPED_BUCKETS.format(ids=ids, period=period, numeric=numeric, no_values=no_values)
        rows = await conn.execute(sql, params)
        for metadata_id, index, mean, low, high, count, texts in rows:
            if texts:
                textual.add(metadata_id)
            elif count:
                result.setdefault(metadata_id, []).append(
                    (index, float(mean), float(low), float(high), count)
                )
    return {m: buckets for m, buckets in result.items() if m not in textual}


def _bucket_items(buckets: list[_Bucket], start_ts: float, width: float) -> list[DownsampledBucket]:
    return [
        {"t": iso(start_ts + index * width), "mean": mean, "min": low, "max": high, "count": n}
        for index, mean, low, high, n in buckets
    ]


async def _has_text_sqlite(
    conn: Connection, metadata_id: int, start_ts: float, end_ts: float
) -> bool:
    """Whether the entity has a state in the period that is no number (unknown/unavailable
    aside), on SQLite (a server's ``_GROUPED_BUCKETS`` tells in its own scan)."""
    period, params = period_clause(start_ts, end_ts)
    no_values, no_value_params = in_list("no_value", NO_VALUE_STATES)
    sql = (
        "SELECT 1 FROM states "  # noqa: S608 - constant text and placeholders
        f"WHERE metadata_id = :metadata_id AND {period} AND NOT {_looks_numeric('sqlite')} "
        f"AND state NOT IN ({no_values}) LIMIT 1"
    )
    found = await conn.scalar(sql, params | no_value_params | {"metadata_id": metadata_id})
    return found is not None


async def get_downsampled(
    recorder: ConnectionSource,
    entity_ids: Sequence[str],
    start: datetime,
    end: datetime,
    points: int = 500,
) -> dict[str, Downsampled]:
    """The history of ``entity_ids`` in ``[start, end)`` reduced to at most ``points`` items each.

    The period is split into ``points`` buckets of equal width. A numeric entity (every state in
    the period a number, ``unknown``/``unavailable`` aside) gets one ``DownsampledBucket`` per
    bucket that holds a number: mean, min, max and count of its numbers, computed by the database
    (the mean is of samples, not time-weighted). Any other entity gets its changes of state as
    ``DownsampledChange``s, the last of each bucket, the first being the state it had at
    ``start``.

    Returns:
        ``entity_id → items`` in time order; entities with nothing in the period are absent.

    Raises:
        ValueError: when ``points`` < 1 or ``end`` is not after ``start``.
    """
    start_ts, end_ts = timestamp_of(start), timestamp_of(end)
    if points < 1 or end_ts <= start_ts:
        raise ValueError(f"need points >= 1 and end after start, got {points}, {start}, {end}")
    width = (end_ts - start_ts) / points
    async with recorder.connect() as conn:
        meta = await lookup_metadata_ids(conn, entity_ids)
        if not meta:
            return {}
        buckets: dict[int, list[_Bucket]] = {}
        if conn.dialect == "sqlite":
            for metadata_id in meta:
                entity_buckets, rows = await _buckets_sqlite(
                    conn, metadata_id, start_ts=start_ts, end_ts=end_ts, points=points
                )
                # Every row a number (the common case) shows in the counts; only otherwise is
                # the period scanned for text.
                numbers = sum(bucket[4] for bucket in entity_buckets)
                if numbers and (
                    numbers == rows
                    or not await _has_text_sqlite(conn, metadata_id, start_ts, end_ts)
                ):
                    buckets[metadata_id] = entity_buckets
        else:
            buckets = await _buckets_grouped(
                conn, list(meta), start_ts=start_ts, end_ts=end_ts, points=points
            )
        result: dict[str, Downsampled] = {
            meta[m]: _bucket_items(entity_buckets, start_ts, width)
            for m, entity_buckets in buckets.items()
            if entity_buckets
        }
        # No numbers in the period (text, only unknown, or no row at all): the changes of state.
        others = {m: e for m, e in meta.items() if e not in result}
        if others:
            changes = await _downsampled_changes(
                conn, others, start_ts=start_ts, end_ts=end_ts, width=width, points=points
            )
            result.update(changes)
    return {e: result[e] for e in meta.values() if e in result}


async def _downsampled_changes(
    conn: Connection,
    meta: dict[int, str],
    *,
    start_ts: float,
    end_ts: float,
    width: float,
    points: int,
) -> dict[str, Downsampled]:
    """The last state change of each bucket, with the state at ``start`` in bucket 0."""
    period, period_params = period_clause(start_ts, end_ts)
    rows: list[tuple[int, float, str]] = []
    for chunk in chunks(meta):
        ids, params = in_list("metadata_id", chunk)
        sql = (
            "SELECT metadata_id, last_updated_ts, state FROM states "  # noqa: S608 - placeholders
            f"WHERE metadata_id IN ({ids}) AND {period} AND {STATE_CHANGED} "
            "AND state IS NOT NULL ORDER BY metadata_id, last_updated_ts, state_id"
        )
        rows += await conn.execute(sql, params | period_params)
    start_rows = await read_start_rows(conn, meta, start_ts)
    by_entity = {m: list(g) for m, g in itertools.groupby(rows, key=lambda r: r[0])}
    result: dict[str, Downsampled] = {}
    for metadata_id, entity_id in meta.items():
        last_per_bucket: dict[int, tuple[float, str]] = {}
        if (start_row := start_rows.get(metadata_id)) is not None and start_row[STATE]:
            last_per_bucket[0] = (start_ts, start_row[STATE])
        for _meta, ts, state in by_entity.get(metadata_id, ()):
            if state is None:
                continue
            last_per_bucket[min(int((ts - start_ts) // width), points - 1)] = (ts, state)
        items: list[DownsampledChange] = []
        for ts, state in last_per_bucket.values():
            if not items or items[-1]["state"] != state:
                items.append({"t": iso(ts), "state": state})
        if items:
            result[entity_id] = items
    return result
