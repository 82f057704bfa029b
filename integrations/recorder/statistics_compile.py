"""Compiling long-term statistics from the ``states`` table (the rules: ``statistics.py``).

Reads run on their own connection (``StatisticsRecorder.connect``); the writes of a period (its
5-minute rows, the hour it completes, its ``statistics_runs`` row) go in one transaction through
the recorder's ``write_transaction``, so a compile takes turns with the writer's batches instead
of being a second writer on SQLite. Every statement is SQL text that SQLite and PostgreSQL both
run (``sql.py``); this module loads no SQLAlchemy.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Final, Literal

from core.entities.sensor import SensorStateClass
from core.runtime import RuntimeKey
from core.state import finite_number

from .sql import in_list
from .statistics import (
    ATTR_FRIENDLY_NAME,
    ATTR_LAST_RESET,
    ATTR_STATE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    HOUR,
    MAX_CATCH_UP,
    RESET_DROP_RATIO,
    SHORT_TERM_PERIOD,
    SOURCE,
    StatisticsRecorder,
    aware_utc,
    short_term_period_start,
    utc_from_timestamp,
)
from .util import json_loads

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .sql import Connection

_LOGGER = logging.getLogger(__name__)

_STATE_CLASSES: Final = frozenset(SensorStateClass)
#: Entities already warned about (unstable unit, dips, negative values), per runtime.
_WARNED: RuntimeKey[set[tuple[str, str]]] = RuntimeKey("recorder.statistics.warned")

#: The hourly and the 5-minute statistics tables (``models.Statistics``, ``StatisticsShortTerm``).
StatisticsTable = Literal["statistics", "statistics_short_term"]
#: The columns of a compiled row, in the order ``_compile_once`` and ``_compile_hour`` build it.
_STATISTICS_COLUMNS: Final = (
    "metadata_id", "start_ts", "created_ts", "mean", "min", "max", "state", "sum", "last_reset_ts",
)  # fmt: skip
#: Most rows in one INSERT: 9 columns each stays within SQLite's and PostgreSQL's 32,766
#: parameters.
_INSERT_CHUNK_ROWS: Final = 1_000


@dataclass(slots=True)
class _Sample:
    """One numeric recorded state."""

    ts: float
    value: float
    attrs: Mapping[str, Any]


@dataclass(slots=True)
class LastStat:
    """Where the previous period left a sum."""

    state: float | None
    sum: float | None
    last_reset_ts: float | None


# --- warnings -------------------------------------------------------------------------------------


def _warn_once(runtime: Runtime, entity_id: str, kind: str, message: str, *args: object) -> None:
    warned = runtime.data.get(_WARNED)
    if warned is None:
        warned = set()
        runtime.data[_WARNED] = warned
    if (entity_id, kind) in warned:
        _LOGGER.debug(message, *args)
        return
    warned.add((entity_id, kind))
    _LOGGER.warning(message, *args)


# --- reading the states of a period -----------------------------------------------------------


#: Each entity's last state before ``:start`` whose attributes mention a state class, found
#: per entity through the (metadata_id, last_updated_ts, ...) index, never by scanning history.
_CARRIED_IN_SQL: Final = (
    "SELECT m.entity_id, s.state_id, s.last_updated_ts, s.state, a.shared_attrs FROM states s "
    "JOIN states_meta m ON m.metadata_id = s.metadata_id "
    "JOIN state_attributes a ON a.attributes_id = s.attributes_id "
    "JOIN (SELECT c.metadata_id AS metadata_id, "
    "(SELECT MAX(b.last_updated_ts) FROM states b "
    "WHERE b.metadata_id = c.metadata_id AND b.last_updated_ts < :start) AS ts "
    "FROM states_meta c) carried "
    "ON s.metadata_id = carried.metadata_id AND s.last_updated_ts = carried.ts "
    "WHERE a.shared_attrs LIKE :state_class"
)
#: The states of ``[:start, :end)`` whose attributes mention a state class, oldest first.
_PERIOD_SQL: Final = (
    "SELECT m.entity_id, s.state_id, s.last_updated_ts, s.state, a.shared_attrs FROM states s "
    "JOIN states_meta m ON m.metadata_id = s.metadata_id "
    "JOIN state_attributes a ON a.attributes_id = s.attributes_id "
    "WHERE a.shared_attrs LIKE :state_class "
    "AND s.last_updated_ts >= :start AND s.last_updated_ts < :end "
    "ORDER BY s.last_updated_ts, s.state_id"
)


async def _load_states(
    conn: Connection, start_ts: float, end_ts: float
) -> dict[str, list[tuple[float, str | None, str]]]:
    """Each candidate entity's states in ``[start, end)``, led by the one carried in before.

    Only states whose attributes mention ``state_class`` are read. The carried-in state is found
    per entity through the (metadata_id, last_updated_ts, ...) index, never by scanning history.
    """
    like = f'%"{ATTR_STATE_CLASS}"%'
    result: dict[str, list[tuple[float, str | None, str]]] = {}
    carried_in: dict[str, tuple[int, float, str | None, str]] = {}
    for entity_id, state_id, ts, state, attrs in await conn.execute(
        _CARRIED_IN_SQL, {"start": start_ts, "state_class": like}
    ):
        # Two rows of one entity may share a timestamp: the later row wins.
        if entity_id not in carried_in or state_id > carried_in[entity_id][0]:
            carried_in[entity_id] = (state_id, ts, state, attrs)
    for entity_id, (_, ts, state, attrs) in carried_in.items():
        result[entity_id] = [(ts, state, attrs)]
    rows = await conn.execute(_PERIOD_SQL, {"start": start_ts, "end": end_ts, "state_class": like})
    for entity_id, _, ts, state, attrs in rows:
        result.setdefault(entity_id, []).append((ts, state, attrs))
    return result


def _parse_last_reset(value: object, entity_id: str, tz: tzinfo, runtime: Runtime) -> float | None:
    """The ``last_reset`` attribute as a POSIX time (naive means local time), or None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).timestamp()
    _warn_once(
        runtime, entity_id, "last_reset", "Ignoring invalid last_reset %r of %s", value, entity_id
    )
    return None


# --- the computations -----------------------------------------------------------------------------


def time_weighted_mean(
    samples: Sequence[tuple[float, float]], start_ts: float, end_ts: float
) -> float:
    """The mean of ``(ts, value)`` samples, each weighted by how long it held within the period.

    A sample from before ``start_ts`` holds from ``start_ts``; when nothing was carried in, the
    mean covers only the time from the first sample on (there is no value before it).
    """
    accumulated = 0.0
    prev_value: float | None = None
    prev_ts = start_ts
    for ts, value in samples:
        at = max(ts, start_ts)
        if prev_value is None:
            start_ts = at
        else:
            accumulated += prev_value * (at - prev_ts)
        prev_value, prev_ts = value, at
    if prev_value is None:
        raise ValueError("time_weighted_mean needs at least one sample")
    accumulated += prev_value * (end_ts - prev_ts)
    if end_ts <= start_ts:
        # The only sample came at the very end of the period: nothing measurable to weigh.
        return prev_value
    return accumulated / (end_ts - start_ts)


def _compile_sum(
    runtime: Runtime,
    entity_id: str,
    state_class: SensorStateClass,
    samples: Sequence[_Sample],
    last: LastStat | None,
) -> tuple[float, float, float | None] | None:
    """``(state, sum, last_reset_ts)`` for one period, continuing from ``last`` (HA's algorithm).

    ``old_state`` is the zero point of the current cycle and ``new_state`` the latest value; on a
    new cycle the finished cycle's growth is added to the sum and the zero point becomes 0.
    """
    tz = runtime.core.tzinfo
    total = 0.0
    old_state: float | None = None
    new_state: float | None = None
    last_reset: float | None = None
    old_last_reset: float | None = None
    if last is not None:
        last_reset = old_last_reset = last.last_reset_ts
        new_state = old_state = last.state
        total = last.sum or 0.0
    for sample in samples:
        value = sample.value
        reset = False
        if state_class is not SensorStateClass.TOTAL_INCREASING and (
            (
                last_reset := _parse_last_reset(
                    sample.attrs.get(ATTR_LAST_RESET), entity_id, tz, runtime
                )
            )
            is not None
            and last_reset != old_last_reset
        ):
            if old_state is not None:
                _LOGGER.info(
                    "New cycle of %s: last_reset is now %s",
                    entity_id,
                    utc_from_timestamp(last_reset),
                )
            reset = True
        elif old_state is None and last_reset is None:
            _LOGGER.info("Starting the sum of %s; zero point %s", entity_id, value)
            reset = True
        elif state_class is SensorStateClass.TOTAL_INCREASING:
            if value < 0:
                _warn_once(
                    runtime, entity_id, "negative",
                    "%s has state class total_increasing but a negative state %s; skipped",
                    entity_id, value,
                )  # fmt: skip
                continue
            if old_state is None or (
                new_state is not None and value < RESET_DROP_RATIO * new_state
            ):
                _LOGGER.info("New cycle of %s: dropped from %s to %s", entity_id, new_state, value)
                reset = True
            elif new_state is not None and value < new_state:
                _warn_once(
                    runtime, entity_id, "dip",
                    "%s has state class total_increasing but dipped from %s to %s",
                    entity_id, new_state, value,
                )  # fmt: skip
        if reset:
            if old_state is not None and new_state is not None:
                total += new_state - old_state
            new_state = value
            old_last_reset = last_reset
            # An existing statistic starts its new cycle at 0; a new one at its first value.
            old_state = 0.0 if old_state is not None else value
        else:
            new_state = value
    if new_state is None or old_state is None:
        return None
    total += new_state - old_state
    return new_state, total, last_reset


# --- compiling ------------------------------------------------------------------------------------


async def _period_done(conn: Connection, start_ts: float) -> bool:
    found = await conn.scalar(
        "SELECT run_id FROM statistics_runs WHERE start_ts = :start LIMIT 1", {"start": start_ts}
    )
    return found is not None


async def last_stats(
    conn: Connection, table: StatisticsTable, metadata_ids: Collection[int], before_ts: float
) -> dict[int, LastStat]:
    """The latest row before ``before_ts`` of each statistic, found through the unique index.

    Args:
        table: ``"statistics"`` (hourly) or ``"statistics_short_term"`` (5-minute).
    """
    if not metadata_ids:
        return {}
    ids_sql, params = in_list("id", metadata_ids)
    # ``table`` is one of two constants (StatisticsTable), never input.
    rows = await conn.execute(
        f"SELECT t.metadata_id, t.state, t.sum, t.last_reset_ts FROM {table} t "  # noqa: S608 - a StatisticsTable
        "JOIN (SELECT m.id AS metadata_id, "
        f"(SELECT MAX(b.start_ts) FROM {table} b "
        "WHERE b.metadata_id = m.id AND b.start_ts < :before) AS ts "
        f"FROM statistics_meta m WHERE m.id IN ({ids_sql})) wanted "
        "ON t.metadata_id = wanted.metadata_id AND t.start_ts = wanted.ts",
        params | {"before": before_ts},
    )
    return {
        metadata_id: LastStat(state, total, last_reset)
        for metadata_id, state, total, last_reset in rows
    }


async def compile_statistics(recorder: StatisticsRecorder, period_start: datetime) -> bool:
    """Compile the 5-minute statistics of ``[period_start, +5 min)``, and the hour it completes.

    Idempotent: a period already in ``statistics_runs`` is left alone. Runs on the loop; the
    database work is a few indexed queries and one transaction.

    Returns:
        Whether the period was compiled now (False: it had been already).

    Raises:
        ValueError: ``period_start`` is naive or not on a 5-minute boundary.
    """
    start = aware_utc(period_start, "period_start")
    if start != short_term_period_start(start):
        raise ValueError(f"period_start {period_start} is not on a 5-minute boundary")
    for attempt in range(2):
        try:
            return await _compile_once(recorder, start)
        except Exception as err:
            if not recorder.is_duplicate(err):
                raise
            # Another compile of the same period (or a new statistic) committed first.
            async with recorder.connect() as conn:
                if await _period_done(conn, start.timestamp()):
                    return False
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


#: A statistic's metadata: (id, unit, has_mean, has_sum, name).
_Meta = tuple[int, str | None, bool, bool, str | None]


async def _compile_once(recorder: StatisticsRecorder, start: datetime) -> bool:
    runtime = recorder.runtime
    start_ts = start.timestamp()
    end_ts = (start + SHORT_TERM_PERIOD).timestamp()
    async with recorder.connect() as conn:
        if await _period_done(conn, start_ts):
            return False
        per_entity = await _load_states(conn, start_ts, end_ts)
        candidates = _candidates(runtime, per_entity)
        metas: dict[str, _Meta] = {}
        if candidates:
            ids_sql, params = in_list("sid", candidates)
            rows = await conn.execute(
                "SELECT statistic_id, id, unit_of_measurement, has_mean, has_sum, name "  # noqa: S608 - placeholders only
                f"FROM statistics_meta WHERE statistic_id IN ({ids_sql})",
                params,
            )
            # SQLite gives booleans back as 0 and 1.
            metas = {
                sid: (mid, unit, bool(mean), bool(has_sum), name)
                for sid, mid, unit, mean, has_sum, name in rows
            }
        sum_ids = [
            metas[entity_id][0]
            for entity_id, (state_class, _) in candidates.items()
            if entity_id in metas and state_class is not SensorStateClass.MEASUREMENT
        ]
        previous = await last_stats(conn, "statistics_short_term", sum_ids, start_ts)
        if missing := [mid for mid in sum_ids if mid not in previous]:
            # Short-term rows older than purge_keep_days are gone; the hourly ones never are.
            previous |= await last_stats(conn, "statistics", missing, start_ts)

    created_ts = runtime.clock.now().timestamp()
    # The writes take turns with the recorder's batches (one writer on SQLite).
    async with recorder.write_transaction() as conn:
        new_rows: list[tuple[Any, ...]] = []
        for entity_id, (state_class, samples) in candidates.items():
            unit = samples[-1].attrs.get(ATTR_UNIT_OF_MEASUREMENT)
            units = {sample.attrs.get(ATTR_UNIT_OF_MEASUREMENT) for sample in samples}
            meta = metas.get(entity_id)
            if len(units) > 1 or (meta is not None and meta[1] != unit):
                _warn_once(
                    runtime, entity_id, "unit",
                    "The unit of %s changed (%s, statistics in %s); its statistics are suppressed "
                    "until the unit is back", entity_id, sorted(map(str, units)),
                    meta[1] if meta else None,
                )  # fmt: skip
                continue
            has_mean = state_class is SensorStateClass.MEASUREMENT
            name = samples[-1].attrs.get(ATTR_FRIENDLY_NAME)
            name = str(name) if name is not None else None
            # (mean, min, max, state, sum, last_reset_ts)
            figures: tuple[float | None, ...]
            if has_mean:
                values = [sample.value for sample in samples]
                mean = time_weighted_mean(
                    [(sample.ts, sample.value) for sample in samples], start_ts, end_ts
                )
                figures = (mean, min(values), max(values), None, None, None)
            else:
                last = previous.get(meta[0]) if meta is not None else None
                compiled = _compile_sum(runtime, entity_id, state_class, samples, last)
                if compiled is None:
                    continue
                figures = (None, None, None, *compiled)
            if meta is None:
                metadata_id = await conn.scalar(
                    "INSERT INTO statistics_meta "
                    "(statistic_id, source, unit_of_measurement, has_mean, has_sum, name) "
                    "VALUES (:statistic_id, :source, :unit, :has_mean, :has_sum, :name) "
                    "RETURNING id",
                    {
                        "statistic_id": entity_id, "source": SOURCE, "unit": unit,
                        "has_mean": has_mean, "has_sum": not has_mean, "name": name,
                    },
                )  # fmt: skip
                if metadata_id is None:
                    raise RuntimeError(f"No id for the new statistic {entity_id}")
            else:
                metadata_id = meta[0]
                if (meta[2], meta[3], meta[4]) != (has_mean, not has_mean, name):
                    await conn.execute(
                        "UPDATE statistics_meta SET has_mean = :has_mean, has_sum = :has_sum, "
                        "name = :name WHERE id = :id",
                        {"has_mean": has_mean, "has_sum": not has_mean, "name": name,
                         "id": metadata_id},
                    )  # fmt: skip
            new_rows.append((int(metadata_id), start_ts, created_ts, *figures))
        await _insert_statistics(conn, "statistics_short_term", new_rows)
        if start.minute == 55:
            await _compile_hour(conn, start + SHORT_TERM_PERIOD - HOUR, created_ts)
        await conn.execute(
            "INSERT INTO statistics_runs (start_ts) VALUES (:start)", {"start": start_ts}
        )
    _LOGGER.debug("Compiled statistics of %s for %d statistic(s)", start, len(new_rows))
    return True


async def _insert_statistics(
    conn: Connection, table: StatisticsTable, rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert rows (``_STATISTICS_COLUMNS``) in multi-row INSERTs of ``_INSERT_CHUNK_ROWS``."""
    for first in range(0, len(rows), _INSERT_CHUNK_ROWS):
        await conn.insert_rows(table, _STATISTICS_COLUMNS, rows[first : first + _INSERT_CHUNK_ROWS])


def _candidates(
    runtime: Runtime, per_entity: Mapping[str, Sequence[tuple[float, str | None, str]]]
) -> dict[str, tuple[SensorStateClass, list[_Sample]]]:
    """The entities with a state class and numeric states, with those states, by entity id."""
    parsed: dict[str, Any] = {}
    result: dict[str, tuple[SensorStateClass, list[_Sample]]] = {}
    for entity_id, rows in per_entity.items():
        samples: list[_Sample] = []
        state_class: SensorStateClass | None = None
        for ts, state, attrs_text in rows:
            if attrs_text not in parsed:
                try:
                    parsed[attrs_text] = json_loads(attrs_text)
                except ValueError:
                    parsed[attrs_text] = None
            attrs = parsed[attrs_text]
            if not isinstance(attrs, dict):
                continue
            if (cls := attrs.get(ATTR_STATE_CLASS)) in _STATE_CLASSES:
                # The latest state decides the class, as the current state does in HA.
                state_class = SensorStateClass(cls)
            if (value := finite_number(state)) is not None:
                samples.append(_Sample(ts, value, attrs))
        if state_class is not None and samples:
            result[entity_id] = (state_class, samples)
    return result


async def _compile_hour(conn: Connection, hour_start: datetime, created_ts: float) -> None:
    """Make the hourly rows of ``[hour_start, +1 h)`` from its 5-minute rows (once each)."""
    bounds = {"start": hour_start.timestamp(), "end": (hour_start + HOUR).timestamp()}
    done = {
        metadata_id
        for (metadata_id,) in await conn.execute(
            "SELECT metadata_id FROM statistics WHERE start_ts = :start", bounds
        )
    }
    summary = await conn.execute(
        "SELECT metadata_id, AVG(mean), MIN(min), MAX(max) FROM statistics_short_term "
        "WHERE start_ts >= :start AND start_ts < :end GROUP BY metadata_id",
        bounds,
    )
    rows: dict[int, list[Any]] = {
        metadata_id: [metadata_id, bounds["start"], created_ts, mean, low, high, None, None, None]
        for metadata_id, mean, low, high in summary
        if metadata_id not in done
    }
    last_rows = await conn.execute(
        "SELECT t.metadata_id, t.state, t.sum, t.last_reset_ts FROM statistics_short_term t "
        "JOIN (SELECT metadata_id, MAX(start_ts) AS ts FROM statistics_short_term "
        "WHERE start_ts >= :start AND start_ts < :end GROUP BY metadata_id) latest "
        "ON t.metadata_id = latest.metadata_id AND t.start_ts = latest.ts",
        bounds,
    )
    for metadata_id, state, total, last_reset in last_rows:
        if metadata_id in rows:
            rows[metadata_id][6:] = [state, total, last_reset]
    await _insert_statistics(conn, "statistics", [tuple(row) for row in rows.values()])


async def compile_missing_statistics(
    recorder: StatisticsRecorder, now: datetime, *, max_catch_up: timedelta = MAX_CATCH_UP
) -> int:
    """Compile every complete 5-minute period since the last compiled one, oldest first.

    Without any compiled period yet, start at the first recorded state. Never goes back more than
    ``max_catch_up`` before ``now``.

    Returns:
        How many periods were compiled.

    Raises:
        ValueError: ``now`` is naive.
    """
    now = aware_utc(now, "now")
    last_complete = short_term_period_start(now - SHORT_TERM_PERIOD)
    async with recorder.connect() as conn:
        last_run = await conn.scalar("SELECT MAX(start_ts) FROM statistics_runs")
        if last_run is not None:
            start = utc_from_timestamp(last_run) + SHORT_TERM_PERIOD
        else:
            first_state = await conn.scalar("SELECT MIN(last_updated_ts) FROM states")
            start = (
                short_term_period_start(utc_from_timestamp(first_state))
                if first_state
                else last_complete
            )
    start = max(start, short_term_period_start(now - max_catch_up))
    compiled = 0
    while start <= last_complete:
        if await compile_statistics(recorder, start):
            compiled += 1
        start += SHORT_TERM_PERIOD
    if compiled > 1:
        _LOGGER.info("Compiled statistics of %d missed 5-minute period(s)", compiled)
    return compiled
