"""History queries over the recorded states, with Home Assistant's semantics.

Every query first turns entity ids into ``metadata_id``s, so that it reads the states table through
its ``(metadata_id, last_updated_ts)`` index. A period is ``[start, end)``. The state an entity had
at ``start`` (its latest row before ``start``) comes first, its times clamped to ``start``, as
Home Assistant does. A row whose state is NULL (the entity was removed) is not a state and is left
out. The queries read what the recorder has committed: a caller that needs the last few seconds
awaits ``Recorder.flush()`` first.

The database work runs off the loop (in the driver's thread, or on the server), but turning rows
into States runs on it: a full day of a 1 Hz sensor (86,400 States) holds the loop for a couple
of hundred milliseconds on a small machine (``bench/recorder.py``). Charts should ask for
``minimal_response`` or ``get_downsampled``, whose work is in the database.
"""

from __future__ import annotations

import itertools
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Protocol, TypedDict

from sqlalchemy import Float, Integer, and_, cast, func, literal, not_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from core.context import Context
from core.state import State

from .models import StateAttributes, States, StatesMeta
from .util import bytes_to_context_id, json_loads

#: Domains whose attribute-only changes are significant (a thermostat's set point).
SIGNIFICANT_DOMAINS = frozenset(
    {"climate", "device_tracker", "humidifier", "thermostat", "water_heater"}
)
#: Domains whose every state is returned in full even with ``minimal_response``.
NEED_ATTRIBUTE_DOMAINS = frozenset(
    {"climate", "humidifier", "input_datetime", "thermostat", "water_heater"}
)
#: States that are no value: left out of numeric aggregates.
NO_VALUE_STATES = (STATE_UNKNOWN, STATE_UNAVAILABLE, "")

#: Most bound parameters one ``IN (...)`` list gets (SQLite's old limit is 999).
_IN_CHUNK = 900
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class SessionSource(Protocol):
    """What the queries need of the recorder: a read session (``Recorder`` is one)."""

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """An async context manager yielding a session for reading."""


class MinimalState(TypedDict):
    """A state between the first and the last with ``minimal_response``: no attributes."""

    state: str
    last_changed: str


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


HistoryItem = State | MinimalState
Downsampled = list[DownsampledBucket] | list[DownsampledChange]


def _timestamp(when: datetime) -> float:
    """POSIX time of ``when``; a naive datetime is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _state_changed() -> ColumnElement[bool]:
    """Rows where the state string changed, not only attributes (``last_changed_ts`` NULL)."""
    return or_(States.last_changed_ts.is_(None), States.last_changed_ts == States.last_updated_ts)


def _by_metadata_id(row: _StateRow) -> int:
    return row[_META]


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    it = iter(ids)
    while chunk := list(itertools.islice(it, _IN_CHUNK)):
        yield chunk


# The columns of a states row as the queries select them, and their positions.
_ROW_COLUMNS = (
    States.metadata_id,
    States.state,
    States.attributes_id,
    States.last_updated_ts,
    States.last_changed_ts,
    States.context_id_bin,
    States.context_user_id,
    States.context_parent_id_bin,
)
_META: Final = 0
_STATE: Final = 1
_ATTRS: Final = 2
_UPDATED: Final = 3
_CHANGED: Final = 4
_CTX: Final = 5
_CTX_USER: Final = 6
_CTX_PARENT: Final = 7
_StateRow = tuple[
    int, str | None, int | None, float, float | None, bytes | None, str | None, bytes | None
]


class _Decoder:
    """Turns states rows into States, decoding each distinct attribute set once."""

    def __init__(self, attributes: Mapping[int, str], no_attributes: bool) -> None:
        self._json = attributes
        self._no_attributes = no_attributes
        self._decoded: dict[int, Mapping[str, Any]] = {}

    def attributes(self, attributes_id: int | None) -> Mapping[str, Any]:
        """The attributes of ``attributes_id``: one read-only mapping shared by its states."""
        if attributes_id is None or self._no_attributes:
            return _EMPTY
        decoded = self._decoded.get(attributes_id)
        if decoded is None:
            text = self._json.get(attributes_id)
            # Missing only if a purge removed it between our two queries: no attributes then.
            decoded = MappingProxyType(json_loads(text)) if text else _EMPTY
            self._decoded[attributes_id] = decoded
        return decoded

    def states(
        self, entity_id: str, rows: Iterable[_StateRow], clamp_to: float | None = None
    ) -> list[State]:
        """The States of ``rows`` (those with a state); ``clamp_to`` sets both their times.

        One tight loop, as this is what a long history spends its time on.
        """
        domain, _, object_id = entity_id.partition(".")
        attributes = self.attributes
        context_id = bytes_to_context_id
        new_state = State.__new__
        out: list[State] = []
        append = out.append
        last_attributes_id: int | None = None
        mapping = _EMPTY
        for _meta, state, attributes_id, row_updated, row_changed, ctx, user, parent in rows:
            if state is None:
                continue  # the entity was removed
            if clamp_to is not None:
                updated = changed = clamp_to
            else:
                updated = row_updated
                changed = row_updated if row_changed is None else row_changed
            if attributes_id != last_attributes_id:
                mapping = attributes(attributes_id)
                last_attributes_id = attributes_id
            # Built field by field as StateMachine.set does: State.__init__ would copy the
            # shared attribute mapping once per row, the largest cost of a long history.
            new = new_state(State)
            new.entity_id = entity_id
            new.state = state
            new.attributes = mapping
            new.last_changed_timestamp = changed
            new.last_updated_timestamp = new.last_reported_timestamp = updated
            new.context = Context(
                user, None if parent is None else context_id(parent), context_id(ctx)
            )
            new.domain = domain
            new.object_id = object_id
            new._as_dict = None  # noqa: SLF001 - State's own cache, empty for a new State
            new._json = None  # noqa: SLF001 - same
            append(new)
        return out


async def _metadata_ids(conn: AsyncConnection, entity_ids: Sequence[str] | None) -> dict[int, str]:
    """``metadata_id → entity_id`` of the given entities (all when None) that were recorded."""
    stmt = select(StatesMeta.metadata_id, StatesMeta.entity_id)
    if entity_ids is None:
        return dict((await conn.execute(stmt)).all())
    wanted = list(dict.fromkeys(e.lower() for e in entity_ids))
    found: dict[int, str] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        result = await conn.execute(stmt.where(StatesMeta.entity_id.in_(chunk)))
        found.update(result.all())
    order = {e: i for i, e in enumerate(wanted)}
    return dict(sorted(found.items(), key=lambda item: order[item[1]]))


async def _attribute_texts(conn: AsyncConnection, ids: set[int]) -> dict[int, str]:
    """``attributes_id → JSON`` for ``ids``: fetched once each, not once per row."""
    texts: dict[int, str] = {}
    for chunk in _chunks(ids):
        stmt = select(StateAttributes.attributes_id, StateAttributes.shared_attrs).where(
            StateAttributes.attributes_id.in_(chunk)
        )
        texts.update((await conn.execute(stmt)).all())
    return texts


async def _start_rows(
    conn: AsyncConnection, metadata_ids: Iterable[int], start_ts: float
) -> dict[int, _StateRow]:
    """Each entity's latest row before ``start_ts``, if it held a state then."""
    latest = (
        select(States.state_id)
        .where(States.metadata_id == StatesMeta.metadata_id, States.last_updated_ts < start_ts)
        .order_by(States.last_updated_ts.desc(), States.state_id.desc())
        .limit(1)
        .correlate(StatesMeta)
        .scalar_subquery()
    )
    rows: dict[int, _StateRow] = {}
    for chunk in _chunks(metadata_ids):
        ids_stmt = select(latest).where(StatesMeta.metadata_id.in_(chunk))
        state_ids = [s for s in (await conn.scalars(ids_stmt)) if s is not None]
        if not state_ids:
            continue
        stmt = select(*_ROW_COLUMNS).where(States.state_id.in_(state_ids))
        for row in await conn.execute(stmt):
            if row[_STATE] is not None:
                rows[row[_META]] = row
    return rows


def _period(start_ts: float, end_ts: float | None) -> ColumnElement[bool]:
    if end_ts is None:
        return States.last_updated_ts >= start_ts
    return and_(States.last_updated_ts >= start_ts, States.last_updated_ts < end_ts)


async def get_significant_states(
    recorder: SessionSource,
    start: datetime,
    end: datetime | None = None,
    entity_ids: Sequence[str] | None = None,
    *,
    include_start_time_state: bool = True,
    significant_changes_only: bool = True,
    minimal_response: bool = False,
    no_attributes: bool = False,
) -> dict[str, list[HistoryItem]]:
    """The states of ``entity_ids`` (every recorded entity when None) during ``[start, end)``.

    Args:
        recorder: the recorder (anything that opens read sessions).
        start: the start of the period; naive datetimes are UTC.
        end: the end of the period (excluded); None for "until now".
        entity_ids: the entities; the result keeps their order.
        include_start_time_state: put first the state each entity had at ``start``, its
            ``last_changed``/``last_updated`` clamped to ``start``.
        significant_changes_only: leave out attribute-only changes, except for the domains in
            ``SIGNIFICANT_DOMAINS``.
        minimal_response: return the first and last items as States and those in between as
            ``{"state", "last_changed"}``, one per change of the state string (not for the domains
            in ``NEED_ATTRIBUTE_DOMAINS``, which are always returned in full).
        no_attributes: return States without attributes (faster).

    Returns:
        ``entity_id → items`` in time order; entities with nothing in the period are absent.
    """
    start_ts = _timestamp(start)
    end_ts = _timestamp(end) if end is not None else None
    async with recorder.session() as session:
        # Core rows, not the ORM's: the ORM's result processing costs more per row.
        conn = await session.connection()
        meta = await _metadata_ids(conn, entity_ids)
        if not meta:
            return {}
        where = [_period(start_ts, end_ts)]
        if entity_ids is not None:
            where.append(States.metadata_id.in_(list(meta)))
        if significant_changes_only:
            all_rows = [m for m, e in meta.items() if e.partition(".")[0] in SIGNIFICANT_DOMAINS]
            where.append(
                or_(_state_changed(), States.metadata_id.in_(all_rows))
                if all_rows
                else _state_changed()
            )
        stmt = (
            select(*_ROW_COLUMNS)
            .where(*where)
            .order_by(States.metadata_id, States.last_updated_ts, States.state_id)
        )
        rows = (await conn.execute(stmt)).all()
        start_rows = await _start_rows(conn, meta, start_ts) if include_start_time_state else {}
        by_entity = {m: list(g) for m, g in itertools.groupby(rows, key=_by_metadata_id)}
        # minimal_response: which rows stay, and which of them are full States.
        plans = {
            m: _minimal_plan(by_entity.get(m, ()), start_rows.get(m))
            for m, e in meta.items()
            if minimal_response and e.partition(".")[0] not in NEED_ATTRIBUTE_DOMAINS
        }
        texts: dict[int, str] = {}
        if not no_attributes:
            wanted = {r[_ATTRS] for r in start_rows.values()}
            for metadata_id, entity_rows in by_entity.items():
                if (plan := plans.get(metadata_id)) is None:
                    wanted.update(r[_ATTRS] for r in entity_rows)
                else:
                    wanted.update(r[_ATTRS] for r, full in plan if full)
            wanted.discard(None)
            texts = await _attribute_texts(conn, typing.cast(set[int], wanted))
    decoder = _Decoder(texts, no_attributes)
    result: dict[str, list[HistoryItem]] = {}
    for metadata_id, entity_id in meta.items():
        start_row = start_rows.get(metadata_id)
        items: list[HistoryItem] = []
        if start_row is not None:
            items.extend(decoder.states(entity_id, (start_row,), clamp_to=start_ts))
        if (plan := plans.get(metadata_id)) is None:
            items.extend(decoder.states(entity_id, by_entity.get(metadata_id, ())))
        else:
            for row, full in plan:
                if row is start_row:
                    continue
                if full:
                    items.extend(decoder.states(entity_id, (row,)))
                else:
                    items.append({"state": row[_STATE] or "", "last_changed": _iso(row[_UPDATED])})
        if items:
            result[entity_id] = items
    return result


def _minimal_plan(
    rows: Iterable[_StateRow], start_row: _StateRow | None
) -> list[tuple[_StateRow, bool]]:
    """The rows a minimal response keeps, and whether each is a full State.

    The first and the last are; in between, only rows where the state string changed are kept
    (attribute changes do not show in a minimal item).
    """
    plan: list[tuple[_StateRow, bool]] = []
    previous: str | None = None
    for row in itertools.chain(() if start_row is None else (start_row,), rows):
        state = row[_STATE]
        if state is None or state == previous:
            continue
        plan.append((row, not plan))
        previous = state
    if len(plan) > 1:
        plan[-1] = (plan[-1][0], True)
    return plan


async def state_changes_during_period(
    recorder: SessionSource,
    start: datetime,
    end: datetime | None = None,
    entity_id: str | None = None,
    *,
    no_attributes: bool = False,
    descending: bool = False,
    limit: int | None = None,
    include_start_time_state: bool = True,
) -> dict[str, list[State]]:
    """The changes of the state string of ``entity_id`` (every entity when None) in a period.

    Args:
        recorder: the recorder (anything that opens read sessions).
        start: the start of the period; naive datetimes are UTC.
        end: the end of the period (excluded); None for "until now".
        entity_id: the entity.
        no_attributes: return States without attributes.
        descending: newest first.
        limit: at most this many changes (the newest ones when ``descending``).
        include_start_time_state: add the state at ``start`` (clamped to ``start``) when the
            changes returned reach back to ``start``, i.e. when ``limit`` did not cut them.

    Returns:
        ``entity_id → States``; an entity with nothing in the period is absent.
    """
    start_ts = _timestamp(start)
    end_ts = _timestamp(end) if end is not None else None
    async with recorder.session() as session:
        # Core rows, not the ORM's: the ORM's result processing costs more per row.
        conn = await session.connection()
        meta = await _metadata_ids(conn, None if entity_id is None else [entity_id])
        if not meta:
            return {}
        where = [_period(start_ts, end_ts), _state_changed(), States.state.is_not(None)]
        if entity_id is not None:
            where.append(States.metadata_id.in_(list(meta)))
        ts_order = States.last_updated_ts.desc() if descending else States.last_updated_ts
        id_order = States.state_id.desc() if descending else States.state_id
        stmt = select(*_ROW_COLUMNS).where(*where)
        if entity_id is not None:
            stmt = stmt.order_by(ts_order, id_order)
        else:
            stmt = stmt.order_by(States.metadata_id, ts_order, id_order)
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = (await conn.execute(stmt)).all()
        start_rows: dict[int, _StateRow] = {}
        if include_start_time_state and (limit is None or len(rows) < limit):
            start_rows = await _start_rows(conn, meta, start_ts)
        texts: dict[int, str] = {}
        if not no_attributes:
            wanted = {r[_ATTRS] for r in itertools.chain(rows, start_rows.values())}
            texts = await _attribute_texts(conn, {a for a in wanted if a is not None})
    decoder = _Decoder(texts, no_attributes)
    by_entity = {m: list(g) for m, g in itertools.groupby(rows, key=_by_metadata_id)}
    result: dict[str, list[State]] = {}
    for metadata_id, entity in meta.items():
        states = decoder.states(entity, by_entity.get(metadata_id, ()))
        if (start_row := start_rows.get(metadata_id)) is not None:
            first = decoder.states(entity, (start_row,), clamp_to=start_ts)
            states = [*states, *first] if descending else [*first, *states]
        if states:
            result[entity] = states
    return result


def _looks_numeric(dialect: str) -> ColumnElement[bool]:
    """True where the state reads as a number, so that casting it is safe and meaningful.

    On SQLite, a state that starts with a digit, a sign or a point (two string comparisons, the
    cheapest test there is; CAST reads the leading number of anything else). PostgreSQL's CAST
    fails on anything but a number, so there the whole state must be one.
    """
    if dialect == "sqlite":
        return and_(States.state >= "+", States.state < ":")
    return States.state.regexp_match(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")


#: One query per numeric entity on SQLite: a scan of each bucket's rows through the index, in
#: order. (``GROUP BY`` a computed bucket index makes SQLite sort every row first, which takes
#: longer than the aggregates.) The four aggregates come back as one text, read back exactly.
_SQLITE_BUCKETS = text(
    """
WITH RECURSIVE buckets(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM buckets WHERE i < :last)
SELECT i, (
    SELECT printf('%d %!.17g %!.17g %!.17g', count(*), avg(v), min(v), max(v))
    FROM (
        SELECT CAST(state AS REAL) AS v FROM states
        WHERE metadata_id = :metadata_id
          AND last_updated_ts >= :start + i * :width
          AND last_updated_ts < iif(i = :last, :end, :start + (i + 1) * :width)
          AND state >= '+' AND state < ':'
    )
) FROM buckets
"""
)

_Bucket = tuple[int, float, float, float, int]  # index, mean, min, max, count


async def _buckets_sqlite(
    conn: AsyncConnection, metadata_id: int, *, start_ts: float, end_ts: float, points: int
) -> list[_Bucket]:
    params = {
        "metadata_id": metadata_id,
        "start": start_ts,
        "end": end_ts,
        "width": (end_ts - start_ts) / points,
        "last": points - 1,
    }
    buckets: list[_Bucket] = []
    for index, packed in await conn.execute(_SQLITE_BUCKETS, params):
        count, mean, low, high = packed.split()
        if count != "0":
            buckets.append((index, float(mean), float(low), float(high), int(count)))
    return buckets


async def _buckets_grouped(
    conn: AsyncConnection, metadata_ids: list[int], *, start_ts: float, end_ts: float, points: int
) -> dict[int, list[_Bucket]]:
    """Every entity's buckets in one ``GROUP BY`` (PostgreSQL aggregates by hashing, unsorted)."""
    width = (end_ts - start_ts) / points
    offset = (States.last_updated_ts - literal(start_ts, Float)) / literal(width, Float)
    # floor, not CAST alone: PostgreSQL's CAST rounds to the nearest integer.
    bucket = func.least(cast(func.floor(offset), Integer), points - 1).label("bucket")
    value = cast(States.state, Float)
    stmt = (
        select(
            States.metadata_id, bucket, func.avg(value), func.min(value), func.max(value),
            func.count(),
        )
        .where(
            States.metadata_id.in_(metadata_ids),
            _period(start_ts, end_ts),
            _looks_numeric(conn.dialect.name),
        )
        .group_by(States.metadata_id, bucket)
        .order_by(States.metadata_id, bucket)
    )  # fmt: skip
    result: dict[int, list[_Bucket]] = {}
    for metadata_id, index, mean, low, high, count in await conn.execute(stmt):
        result.setdefault(metadata_id, []).append(
            (index, float(mean), float(low), float(high), count)
        )
    return result


def _bucket_items(buckets: list[_Bucket], start_ts: float, width: float) -> list[DownsampledBucket]:
    return [
        {"t": _iso(start_ts + index * width), "mean": mean, "min": low, "max": high, "count": n}
        for index, mean, low, high, n in buckets
    ]


async def get_downsampled(
    recorder: SessionSource,
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
    start_ts, end_ts = _timestamp(start), _timestamp(end)
    if points < 1 or end_ts <= start_ts:
        raise ValueError(f"need points >= 1 and end after start, got {points}, {start}, {end}")
    width = (end_ts - start_ts) / points
    async with recorder.session() as session:
        conn = await session.connection()
        meta = await _metadata_ids(conn, entity_ids)
        if not meta:
            return {}
        # Which entities have a state that is no number (unknown/unavailable aside)?
        textual_stmt = (
            select(States.metadata_id)
            .where(
                States.metadata_id.in_(list(meta)),
                _period(start_ts, end_ts),
                not_(_looks_numeric(conn.dialect.name)),
                States.state.not_in(NO_VALUE_STATES),
            )
            .group_by(States.metadata_id)
        )
        textual = set((await conn.scalars(textual_stmt)).all())
        numeric = [m for m in meta if m not in textual]
        buckets: dict[int, list[_Bucket]] = {}
        if conn.dialect.name == "sqlite":
            for metadata_id in numeric:
                buckets[metadata_id] = await _buckets_sqlite(
                    conn, metadata_id, start_ts=start_ts, end_ts=end_ts, points=points
                )
        elif numeric:
            buckets = await _buckets_grouped(
                conn, numeric, start_ts=start_ts, end_ts=end_ts, points=points
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
    conn: AsyncConnection,
    meta: dict[int, str],
    *,
    start_ts: float,
    end_ts: float,
    width: float,
    points: int,
) -> dict[str, Downsampled]:
    """The last state change of each bucket, with the state at ``start`` in bucket 0."""
    stmt = (
        select(States.metadata_id, States.last_updated_ts, States.state)
        .where(
            States.metadata_id.in_(list(meta)),
            _period(start_ts, end_ts),
            _state_changed(),
            States.state.is_not(None),
        )
        .order_by(States.metadata_id, States.last_updated_ts, States.state_id)
    )
    rows = (await conn.execute(stmt)).all()
    start_rows = await _start_rows(conn, meta, start_ts)
    by_entity = {m: list(g) for m, g in itertools.groupby(rows, key=lambda r: r[0])}
    result: dict[str, Downsampled] = {}
    for metadata_id, entity_id in meta.items():
        last_per_bucket: dict[int, tuple[float, str]] = {}
        if (start_row := start_rows.get(metadata_id)) is not None and start_row[_STATE]:
            last_per_bucket[0] = (start_ts, start_row[_STATE])
        for _meta, ts, state in by_entity.get(metadata_id, ()):
            if state is None:
                continue
            last_per_bucket[min(int((ts - start_ts) // width), points - 1)] = (ts, state)
        items: list[DownsampledChange] = []
        for ts, state in last_per_bucket.values():
            if not items or items[-1]["state"] != state:
                items.append({"t": _iso(ts), "state": state})
        if items:
            result[entity_id] = items
    return result
