"""History queries over the recorded states, with Home Assistant's semantics.

Every query first turns entity ids into ``metadata_id``s, then reads each entity's rows with one
query through the ``(metadata_id, last_updated_ts, state_id, state)`` index. A period is
``[start, end)``. The state an entity had at ``start`` (its latest row before ``start``) comes
first, its times clamped to ``start``, as Home Assistant does. A row whose state is NULL (the
entity was removed) is not a state and is left out. The queries read what the recorder has
committed: a caller that needs the last few seconds awaits ``Recorder.flush()`` first.

The functions:

* ``get_significant_states`` -> ``{entity_id: [State | {"state", "last_changed"}]}``; the
  States are ``RecordedState``s, whose Context is made (and its ULID decoded) only when read.
* ``get_significant_states_json`` -> the same selection as the JSON text of Home Assistant's
  ``GET /api/history/period`` (a list per entity of ``{"entity_id", "state", "attributes",
  "last_changed", "last_updated"}``, minimal items ``{"state", "last_changed"}``). **The fast
  path for the HTTP API**: built straight from the rows, with no State or Context and the stored
  attribute JSON passed through; about five times faster than States plus ``as_dict`` plus
  ``json.dumps`` for a day of a 1 Hz sensor. Same arguments as ``get_significant_states``.
* ``state_changes_during_period`` -> the changes of the state string (newest first, limited).
* ``get_downsampled`` -> N buckets per series for charts, computed by the database.

The statements are SQL text that runs the same on SQLite and PostgreSQL (``sql.py``); rows come
back as tuples. The first argument is anything with ``connect()`` (``ConnectionSource``): the
``Recorder``, or a ``sql.Database``. The database work runs off the loop (in aiosqlite's thread,
or on the server); turning rows into States or JSON runs on it, about a tenth of a second for
86,400 rows on a small machine (``bench/recorder.py``). Charts should ask for
``minimal_response`` or ``get_downsampled``.
"""

from __future__ import annotations

import itertools
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from operator import itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

from ulid_transform import ulid_now

from core.context import Context
from core.state import State

from .downsample import Downsampled, DownsampledBucket, DownsampledChange, get_downsampled
from .queries import (
    ATTRS,
    CHANGED,
    CTX,
    CTX_PARENT,
    CTX_USER,
    NO_VALUE_STATES,
    ROW_COLUMNS,
    STATE,
    STATE_CHANGED,
    UPDATED,
    ConnectionSource,
    StateRow,
    chunks,
    lookup_metadata_ids,
    period_clause,
    read_start_rows,
    timestamp_of,
)
from .sql import in_list
from .util import bytes_to_context_id, json_loads

if TYPE_CHECKING:
    from .sql import Connection

__all__ = [
    "NEED_ATTRIBUTE_DOMAINS",
    "NO_VALUE_STATES",
    "SIGNIFICANT_DOMAINS",
    "ConnectionSource",
    "Downsampled",
    "DownsampledBucket",
    "DownsampledChange",
    "HistoryItem",
    "MinimalState",
    "RecordedContext",
    "RecordedState",
    "get_downsampled",
    "get_significant_states",
    "get_significant_states_json",
    "iso_formatter",
    "state_changes_during_period",
]

#: Domains whose attribute-only changes are significant (a thermostat's set point).
SIGNIFICANT_DOMAINS = frozenset(
    {"climate", "device_tracker", "humidifier", "thermostat", "water_heater"}
)
#: Domains whose every state is returned in full even with ``minimal_response``.
NEED_ATTRIBUTE_DOMAINS = frozenset(
    {"climate", "humidifier", "input_datetime", "thermostat", "water_heater"}
)
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class MinimalState(TypedDict):
    """A state between the first and the last with ``minimal_response``: no attributes."""

    state: str
    last_changed: str


HistoryItem = State | MinimalState


class RecordedContext(Context):
    """A Context read from the database: its id is decoded from its bytes only when read."""

    __slots__ = ("_raw_id",)

    def __init__(self, raw_id: bytes | None, user_id: str | None, parent_id: str | None) -> None:
        self._id = None
        self._raw_id = raw_id
        self.user_id = user_id
        self.parent_id = parent_id

    @property
    def id(self) -> str:
        """The context's id, as it was recorded (a new ULID if none was)."""
        if self._id is None:
            self._id = bytes_to_context_id(self._raw_id) or ulid_now()
        return self._id


#: ``State.context``'s own slot, which ``RecordedState`` fills on first read.
_CONTEXT_SLOT = State.__dict__["context"]


class RecordedState(State):
    """A State read from the recorder: its Context is made from the row only when read.

    Most history is drawn or serialised without its contexts; making one per row (and
    decoding its ULID) was a good part of the time of a day of a 1 Hz sensor.
    """

    __slots__ = ("_row",)

    _row: StateRow

    @property
    def context(self) -> Context:
        """The state's context, as recorded."""
        try:
            return typing.cast(Context, _CONTEXT_SLOT.__get__(self, State))
        except AttributeError:
            row = self._row
            parent = row[CTX_PARENT]
            context = RecordedContext(
                row[CTX], row[CTX_USER], None if parent is None else bytes_to_context_id(parent)
            )
            _CONTEXT_SLOT.__set__(self, context)
            return context

    @context.setter
    def context(self, value: Context) -> None:
        _CONTEXT_SLOT.__set__(self, value)


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
        self, entity_id: str, rows: Iterable[StateRow], clamp_to: float | None = None
    ) -> list[State]:
        """The States of ``rows`` (those with a state); ``clamp_to`` sets both their times.

        One tight loop, as this is what a long history spends its time on.
        """
        domain, _, object_id = entity_id.partition(".")
        attributes = self.attributes
        new_state = RecordedState.trusted
        out: list[State] = []
        append = out.append
        last_attributes_id: int | None = None
        mapping = _EMPTY
        for row in rows:
            state = row[0]
            if state is None:
                continue  # the entity was removed
            if clamp_to is not None:
                updated = changed = clamp_to
            else:
                updated = row[2]
                changed = row[3]
                if changed is None:
                    changed = updated
            attributes_id = row[1]
            if attributes_id != last_attributes_id:
                mapping = attributes(attributes_id)
                last_attributes_id = attributes_id
            # The trusted constructor: State.__init__ would copy the shared attribute mapping
            # once per row, the largest cost of a long history. No context: made from the row
            # when first read.
            new = new_state(entity_id, state, mapping, changed, updated, None, domain, object_id)
            new._row = row  # noqa: SLF001 - RecordedState's own field, set as its __init__ would
            append(new)
        return out


async def _attribute_texts(conn: Connection, ids: set[int]) -> dict[int, str]:
    """``attributes_id → JSON`` for ``ids``: fetched once each, not once per row."""
    texts: dict[int, str] = {}
    for chunk in chunks(ids):
        placeholders, params = in_list("attributes_id", chunk)
        sql = (
            "SELECT attributes_id, shared_attrs FROM state_attributes "  # noqa: S608 - placeholders
            f"WHERE attributes_id IN ({placeholders})"
        )
        texts.update(await conn.execute(sql, params))
    return texts


async def _entity_rows(
    conn: Connection,
    meta: Mapping[int, str],
    where: str,
    params: Mapping[str, Any],
    *,
    significant_changes_only: bool,
    descending: bool = False,
    limit: int | None = None,
) -> dict[int, Sequence[StateRow]]:
    """Each entity's rows in time order, one indexed query per entity (no rows: absent).

    ``where`` is a condition on ``states`` with ``params``; ties of time are broken by
    ``state_id``.
    """
    by_entity: dict[int, Sequence[StateRow]] = {}
    order = "last_updated_ts DESC, state_id DESC" if descending else "last_updated_ts, state_id"
    tail = f" ORDER BY {order}" + ("" if limit is None else " LIMIT :limit")
    base = (
        f"SELECT {ROW_COLUMNS} FROM states "  # noqa: S608 - constant text and the caller's
        f"WHERE metadata_id = :metadata_id AND {where}"
    )
    all_rows = base + tail
    changed_rows = f"{base} AND {STATE_CHANGED}{tail}"
    values = {**params, "limit": limit} if limit is not None else dict(params)
    for metadata_id, entity_id in meta.items():
        sql = all_rows
        if significant_changes_only and entity_id.partition(".")[0] not in SIGNIFICANT_DOMAINS:
            sql = changed_rows
        values["metadata_id"] = metadata_id
        if rows := await conn.execute(sql, values):
            by_entity[metadata_id] = rows
    return by_entity


async def get_significant_states(
    recorder: ConnectionSource,
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
        recorder: the recorder (anything that opens read connections).
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
    start_ts = timestamp_of(start)
    found = await _significant_rows(
        recorder,
        start_ts,
        timestamp_of(end) if end is not None else None,
        entity_ids,
        include_start_time_state=include_start_time_state,
        significant_changes_only=significant_changes_only,
        minimal_response=minimal_response,
        no_attributes=no_attributes,
    )
    meta, by_entity, start_rows, plans, texts = found
    decoder = _Decoder(texts, no_attributes)
    iso = iso_formatter()
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
                    items.append({"state": row[STATE] or "", "last_changed": iso(row[UPDATED])})
        if items:
            result[entity_id] = items
    return result


async def get_significant_states_json(
    recorder: ConnectionSource,
    start: datetime,
    end: datetime | None = None,
    entity_ids: Sequence[str] | None = None,
    *,
    include_start_time_state: bool = True,
    significant_changes_only: bool = True,
    minimal_response: bool = False,
    no_attributes: bool = False,
) -> str:
    """``get_significant_states`` as the JSON text of Home Assistant's ``/api/history/period``.

    The same arguments select the same items; they come out as a JSON array with one array per
    entity that has any (in the order of ``entity_ids``). A full item is
    ``{"entity_id", "state", "attributes", "last_changed", "last_updated"}`` (no context, as
    Home Assistant's history API; ``attributes`` is ``{}`` with ``no_attributes``); a minimal
    one is ``{"state", "last_changed"}``. Times are ISO 8601 in UTC.

    Built straight from the rows: no State, no Context, and the attribute sets go out as the
    JSON text they are stored as.
    """
    start_ts = timestamp_of(start)
    meta, by_entity, start_rows, plans, texts = await _significant_rows(
        recorder,
        start_ts,
        timestamp_of(end) if end is not None else None,
        entity_ids,
        include_start_time_state=include_start_time_state,
        significant_changes_only=significant_changes_only,
        minimal_response=minimal_response,
        no_attributes=no_attributes,
    )
    iso = iso_formatter()
    encode = encode_basestring
    entities: list[str] = []
    for metadata_id, entity_id in meta.items():
        head = '{"entity_id":' + encode(entity_id) + ',"state":'
        items: list[str] = []
        append = items.append
        start_row = start_rows.get(metadata_id)
        if start_row is not None:
            append(_full_item(head, start_row, iso, texts, start_ts))
        if (plan := plans.get(metadata_id)) is None:
            # _full_item, inlined: this loop runs once per row of a long history.
            for row in by_entity.get(metadata_id, ()):
                state = row[STATE]
                if state is None:
                    continue
                updated = iso(row[UPDATED])
                changed_ts = row[CHANGED]
                changed = updated if changed_ts is None else iso(changed_ts)
                attributes_id = row[ATTRS]
                attributes = "{}" if attributes_id is None else texts.get(attributes_id, "{}")
                append(
                    f'{head}{encode(state)},"attributes":{attributes},'
                    f'"last_changed":"{changed}","last_updated":"{updated}"}}'
                )
        else:
            for row, is_full in plan:
                if row is start_row:
                    continue
                if is_full:
                    append(_full_item(head, row, iso, texts))
                else:
                    append(f'{{"state":{encode(row[STATE])},"last_changed":"{iso(row[UPDATED])}"}}')
        if items:
            entities.append("[" + ",".join(items) + "]")
    return "[" + ",".join(entities) + "]"


def _full_item(
    head: str,
    row: StateRow,
    iso: Callable[[float], str],
    texts: Mapping[int, str],
    clamp_to: float | None = None,
) -> str:
    """One full item of ``get_significant_states_json``; ``head`` opens it up to the state.

    ``texts`` holds the attribute sets wanted (none with ``no_attributes``): others are ``{}``.
    """
    if clamp_to is not None:
        changed = updated = iso(clamp_to)
    else:
        updated = iso(row[UPDATED])
        row_changed = row[CHANGED]
        changed = updated if row_changed is None else iso(row_changed)
    attributes = "{}" if row[ATTRS] is None else texts.get(row[ATTRS], "{}")
    return (
        f'{head}{encode_basestring(row[STATE])},"attributes":{attributes},'
        f'"last_changed":"{changed}","last_updated":"{updated}"}}'
    )


def iso_formatter() -> Callable[[float], str]:
    """A function doing ``datetime.fromtimestamp(ts, UTC).isoformat()``, faster for a series.

    The text up to the minute is kept from the previous call, so times that share their minute
    format only seconds and microseconds (rounded half to even, as ``datetime`` does).
    """
    cached_minute: int | None = None
    prefix = ""
    from_timestamp = datetime.fromtimestamp

    def iso(timestamp: float) -> str:
        nonlocal cached_minute, prefix
        seconds = int(timestamp)
        micro = round((timestamp - seconds) * 1e6)
        if micro >= 1_000_000:
            seconds += 1
            micro -= 1_000_000
        elif micro < 0:
            seconds -= 1
            micro += 1_000_000
        minute = seconds // 60
        if minute != cached_minute:
            cached_minute = minute
            prefix = from_timestamp(minute * 60, UTC).isoformat()[:17]
        second = seconds - minute * 60
        if micro:
            return f"{prefix}{second:02d}.{micro:06d}+00:00"
        return f"{prefix}{second:02d}+00:00"

    return iso


class _Significant(NamedTuple):
    """What the significant-states queries read, before it is turned into States or JSON."""

    meta: dict[int, str]
    by_entity: dict[int, Sequence[StateRow]]
    start_rows: dict[int, StateRow]
    #: metadata_id -> the minimal response's rows and whether each is full (minimal only).
    plans: dict[int, list[tuple[StateRow, bool]]]
    #: attributes_id -> JSON text, for the rows that carry attributes.
    texts: dict[int, str]


async def _significant_rows(
    recorder: ConnectionSource,
    start_ts: float,
    end_ts: float | None,
    entity_ids: Sequence[str] | None,
    *,
    include_start_time_state: bool,
    significant_changes_only: bool,
    minimal_response: bool,
    no_attributes: bool,
) -> _Significant:
    """The rows of ``get_significant_states`` (same arguments, as POSIX times)."""
    async with recorder.connect() as conn:
        meta = await lookup_metadata_ids(conn, entity_ids)
        if not meta:
            return _Significant({}, {}, {}, {}, {})
        period, params = period_clause(start_ts, end_ts)
        by_entity = await _entity_rows(
            conn, meta, period, params, significant_changes_only=significant_changes_only
        )
        start_rows = await read_start_rows(conn, meta, start_ts) if include_start_time_state else {}
        # minimal_response: which rows stay, and which of them are full States.
        plans = {
            m: _minimal_plan(by_entity.get(m, ()), start_rows.get(m))
            for m, e in meta.items()
            if minimal_response and e.partition(".")[0] not in NEED_ATTRIBUTE_DOMAINS
        }
        texts: dict[int, str] = {}
        if not no_attributes:
            wanted = {r[ATTRS] for r in start_rows.values()}
            for metadata_id, entity_rows in by_entity.items():
                if (plan := plans.get(metadata_id)) is None:
                    wanted.update(map(itemgetter(ATTRS), entity_rows))
                else:
                    wanted.update(r[ATTRS] for r, full in plan if full)
            wanted.discard(None)
            texts = await _attribute_texts(conn, typing.cast(set[int], wanted))
    return _Significant(meta, by_entity, start_rows, plans, texts)


def _minimal_plan(
    rows: Iterable[StateRow], start_row: StateRow | None
) -> list[tuple[StateRow, bool]]:
    """The rows a minimal response keeps, and whether each is a full State.

    The first and the last are; in between, only rows where the state string changed are kept
    (attribute changes do not show in a minimal item).
    """
    plan: list[tuple[StateRow, bool]] = []
    previous: str | None = None
    for row in itertools.chain(() if start_row is None else (start_row,), rows):
        state = row[STATE]
        if state is None or state == previous:
            continue
        plan.append((row, not plan))
        previous = state
    if len(plan) > 1:
        plan[-1] = (plan[-1][0], True)
    return plan


async def state_changes_during_period(
    recorder: ConnectionSource,
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
        recorder: the recorder (anything that opens read connections).
        start: the start of the period; naive datetimes are UTC.
        end: the end of the period (excluded); None for "until now".
        entity_id: the entity.
        no_attributes: return States without attributes.
        descending: newest first.
        limit: at most this many changes per entity (the newest ones when ``descending``).
        include_start_time_state: add the state at ``start`` (clamped to ``start``) when the
            changes returned reach back to ``start``, i.e. when ``limit`` did not cut them.

    Returns:
        ``entity_id → States``; an entity with nothing in the period is absent.
    """
    start_ts = timestamp_of(start)
    end_ts = timestamp_of(end) if end is not None else None
    async with recorder.connect() as conn:
        meta = await lookup_metadata_ids(conn, None if entity_id is None else [entity_id])
        if not meta:
            return {}
        period, params = period_clause(start_ts, end_ts)
        where = f"{period} AND {STATE_CHANGED} AND state IS NOT NULL"
        by_entity = await _entity_rows(
            conn,
            meta,
            where,
            params,
            significant_changes_only=False,
            descending=descending,
            limit=limit,
        )
        start_rows: dict[int, StateRow] = {}
        if include_start_time_state:
            uncut = [m for m in meta if limit is None or len(by_entity.get(m, ())) < limit]
            start_rows = await read_start_rows(conn, uncut, start_ts)
        texts: dict[int, str] = {}
        if not no_attributes:
            wanted = {r[ATTRS] for r in itertools.chain(*by_entity.values(), start_rows.values())}
            texts = await _attribute_texts(conn, {a for a in wanted if a is not None})
    decoder = _Decoder(texts, no_attributes)
    result: dict[str, list[State]] = {}
    for metadata_id, entity in meta.items():
        states = decoder.states(entity, by_entity.get(metadata_id, ()))
        if (start_row := start_rows.get(metadata_id)) is not None:
            first = decoder.states(entity, (start_row,), clamp_to=start_ts)
            states = [*states, *first] if descending else [*first, *states]
        if states:
            result[entity] = states
    return result
