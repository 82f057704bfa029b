"""Compiling long-term statistics from the ``states`` table (the rules: ``statistics.py``).

Reads run on their own connection; the writes of a period (its 5-minute rows, the hour it
completes, its ``statistics_runs`` row) go in one transaction through the recorder's
``write_transaction``, so a compile takes turns with the writer's batches instead of being a
second writer on SQLite.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Select, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.entities.sensor import SensorStateClass
from core.runtime import RuntimeKey

from .models import (
    StateAttributes,
    States,
    StatesMeta,
    Statistics,
    StatisticsMeta,
    StatisticsRuns,
    StatisticsShortTerm,
)
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

_LOGGER = logging.getLogger(__name__)

_STATE_CLASSES: Final = frozenset(SensorStateClass)
#: Entities already warned about (unstable unit, dips, negative values), per runtime.
_WARNED: RuntimeKey[set[tuple[str, str]]] = RuntimeKey("recorder.statistics.warned")

StatisticsTable = type[Statistics] | type[StatisticsShortTerm]


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


def _states_columns() -> Select[str, int, float, str | None, str]:
    return (
        select(
            StatesMeta.entity_id,
            States.state_id,
            States.last_updated_ts,
            States.state,
            StateAttributes.shared_attrs,
        )
        .join(StatesMeta, StatesMeta.metadata_id == States.metadata_id)
        .join(StateAttributes, StateAttributes.attributes_id == States.attributes_id)
        .where(StateAttributes.shared_attrs.like(f'%"{ATTR_STATE_CLASS}"%'))
    )


async def _load_states(
    conn: AsyncConnection, start_ts: float, end_ts: float
) -> dict[str, list[tuple[float, str | None, str]]]:
    """Each candidate entity's states in ``[start, end)``, led by the one carried in before.

    Only states whose attributes mention ``state_class`` are read. The carried-in state is found
    per entity through the (metadata_id, last_updated_ts, ...) index, never by scanning history.
    """
    last_before = (
        select(func.max(States.last_updated_ts))
        .where(States.metadata_id == StatesMeta.metadata_id, States.last_updated_ts < start_ts)
        .correlate(StatesMeta)
        .scalar_subquery()
    )
    carried = select(
        StatesMeta.metadata_id.label("metadata_id"), last_before.label("ts")
    ).subquery()
    carry_stmt = _states_columns().join(
        carried,
        and_(States.metadata_id == carried.c.metadata_id, States.last_updated_ts == carried.c.ts),
    )
    period_stmt = _states_columns().where(
        States.last_updated_ts >= start_ts, States.last_updated_ts < end_ts
    )
    result: dict[str, list[tuple[float, str | None, str]]] = {}
    carried_in: dict[str, tuple[int, float, str | None, str]] = {}
    for entity_id, state_id, ts, state, attrs in await conn.execute(carry_stmt):
        # Two rows of one entity may share a timestamp: the later row wins.
        if entity_id not in carried_in or state_id > carried_in[entity_id][0]:
            carried_in[entity_id] = (state_id, ts, state, attrs)
    for entity_id, (_, ts, state, attrs) in carried_in.items():
        result[entity_id] = [(ts, state, attrs)]
    rows = await conn.execute(
        period_stmt.order_by(States.last_updated_ts, States.state_id),
    )
    for entity_id, _, ts, state, attrs in rows:
        result.setdefault(entity_id, []).append((ts, state, attrs))
    return result


def _as_float(state: str | None) -> float | None:
    """The state as a finite number, or None (``unknown``, ``unavailable``, text, NaN, inf)."""
    if state is None:
        return None
    try:
        value = float(state)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


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


async def _period_done(conn: AsyncConnection, start_ts: float) -> bool:
    found = await conn.scalar(
        select(StatisticsRuns.run_id).where(StatisticsRuns.start_ts == start_ts).limit(1)
    )
    return found is not None


async def last_stats(
    conn: AsyncConnection, table: StatisticsTable, metadata_ids: Collection[int], before_ts: float
) -> dict[int, LastStat]:
    """The latest row before ``before_ts`` of each statistic, found through the unique index."""
    if not metadata_ids:
        return {}
    latest = (
        select(func.max(table.start_ts))
        .where(table.metadata_id == StatisticsMeta.id, table.start_ts < before_ts)
        .correlate(StatisticsMeta)
        .scalar_subquery()
    )
    wanted = (
        select(StatisticsMeta.id.label("metadata_id"), latest.label("ts"))
        .where(StatisticsMeta.id.in_(metadata_ids))
        .subquery()
    )
    stmt = select(table.metadata_id, table.state, table.sum, table.last_reset_ts).join(
        wanted, and_(table.metadata_id == wanted.c.metadata_id, table.start_ts == wanted.c.ts)
    )
    return {
        metadata_id: LastStat(state, total, last_reset)
        for metadata_id, state, total, last_reset in await conn.execute(stmt)
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
        except IntegrityError:
            # Another compile of the same period (or a new statistic) committed first.
            async with recorder.engine.connect() as conn:
                if await _period_done(conn, start.timestamp()):
                    return False
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _compile_once(recorder: StatisticsRecorder, start: datetime) -> bool:
    runtime = recorder.runtime
    start_ts = start.timestamp()
    end_ts = (start + SHORT_TERM_PERIOD).timestamp()
    async with recorder.engine.connect() as conn:
        if await _period_done(conn, start_ts):
            return False
        per_entity = await _load_states(conn, start_ts, end_ts)
        candidates = _candidates(runtime, per_entity)
        metas: dict[str, tuple[int, str | None, bool, bool, str | None]] = {}
        if candidates:
            rows = await conn.execute(
                select(
                    StatisticsMeta.statistic_id,
                    StatisticsMeta.id,
                    StatisticsMeta.unit_of_measurement,
                    StatisticsMeta.has_mean,
                    StatisticsMeta.has_sum,
                    StatisticsMeta.name,
                ).where(StatisticsMeta.statistic_id.in_(list(candidates)))
            )
            metas = {
                sid: (mid, unit, mean, has_sum, name)
                for sid, mid, unit, mean, has_sum, name in rows
            }
        sum_ids = [
            metas[entity_id][0]
            for entity_id, (state_class, _) in candidates.items()
            if entity_id in metas and state_class is not SensorStateClass.MEASUREMENT
        ]
        previous = await last_stats(conn, StatisticsShortTerm, sum_ids, start_ts)
        if missing := [mid for mid in sum_ids if mid not in previous]:
            # Short-term rows older than purge_keep_days are gone; the hourly ones never are.
            previous |= await last_stats(conn, Statistics, missing, start_ts)
        await conn.rollback()

    created_ts = runtime.clock.now().timestamp()
    # The writes take turns with the recorder's batches (one writer on SQLite).
    async with recorder.write_transaction() as conn:
        new_rows: list[dict[str, Any]] = []
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
            row: dict[str, Any] = dict.fromkeys(("mean", "min", "max", "state", "sum"))
            row.update(start_ts=start_ts, created_ts=created_ts, last_reset_ts=None)
            if has_mean:
                values = [sample.value for sample in samples]
                row["mean"] = time_weighted_mean(
                    [(sample.ts, sample.value) for sample in samples], start_ts, end_ts
                )
                row["min"], row["max"] = min(values), max(values)
            else:
                last = previous.get(meta[0]) if meta is not None else None
                compiled = _compile_sum(runtime, entity_id, state_class, samples, last)
                if compiled is None:
                    continue
                row["state"], row["sum"], row["last_reset_ts"] = compiled
            if meta is None:
                result = await conn.execute(
                    insert(StatisticsMeta).values(
                        statistic_id=entity_id,
                        source=SOURCE,
                        unit_of_measurement=unit,
                        has_mean=has_mean,
                        has_sum=not has_mean,
                        name=name,
                    )
                )
                inserted = result.inserted_primary_key
                if inserted is None:
                    raise RuntimeError(f"No id for the new statistic {entity_id}")
                metadata_id = int(inserted[0])
            else:
                metadata_id = meta[0]
                if (meta[2], meta[3], meta[4]) != (has_mean, not has_mean, name):
                    await conn.execute(
                        update(StatisticsMeta)
                        .where(StatisticsMeta.id == metadata_id)
                        .values(has_mean=has_mean, has_sum=not has_mean, name=name)
                    )
            row["metadata_id"] = metadata_id
            new_rows.append(row)
        if new_rows:
            await conn.execute(insert(StatisticsShortTerm), new_rows)
        if start.minute == 55:
            await _compile_hour(conn, start + SHORT_TERM_PERIOD - HOUR, created_ts)
        await conn.execute(insert(StatisticsRuns).values(start_ts=start_ts))
    _LOGGER.debug("Compiled statistics of %s for %d statistic(s)", start, len(new_rows))
    return True


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
            if (value := _as_float(state)) is not None:
                samples.append(_Sample(ts, value, attrs))
        if state_class is not None and samples:
            result[entity_id] = (state_class, samples)
    return result


async def _compile_hour(conn: AsyncConnection, hour_start: datetime, created_ts: float) -> None:
    """Make the hourly rows of ``[hour_start, +1 h)`` from its 5-minute rows (once each)."""
    sst = StatisticsShortTerm
    start_ts = hour_start.timestamp()
    end_ts = (hour_start + HOUR).timestamp()
    in_hour = and_(sst.start_ts >= start_ts, sst.start_ts < end_ts)
    done = set(
        (
            await conn.scalars(
                select(Statistics.metadata_id).where(Statistics.start_ts == start_ts)
            )
        ).all()
    )
    summary = await conn.execute(
        select(sst.metadata_id, func.avg(sst.mean), func.min(sst.min), func.max(sst.max))
        .where(in_hour)
        .group_by(sst.metadata_id)
    )
    rows: dict[int, dict[str, Any]] = {
        metadata_id: {
            "metadata_id": metadata_id,
            "start_ts": start_ts,
            "created_ts": created_ts,
            "mean": mean,
            "min": low,
            "max": high,
            "state": None,
            "sum": None,
            "last_reset_ts": None,
        }
        for metadata_id, mean, low, high in summary
        if metadata_id not in done
    }
    latest = (
        select(sst.metadata_id.label("metadata_id"), func.max(sst.start_ts).label("ts"))
        .where(in_hour)
        .group_by(sst.metadata_id)
        .subquery()
    )
    last_rows = await conn.execute(
        select(sst.metadata_id, sst.state, sst.sum, sst.last_reset_ts).join(
            latest, and_(sst.metadata_id == latest.c.metadata_id, sst.start_ts == latest.c.ts)
        )
    )
    for metadata_id, state, total, last_reset in last_rows:
        if metadata_id in rows:
            rows[metadata_id].update(state=state, sum=total, last_reset_ts=last_reset)
    if rows:
        await conn.execute(insert(Statistics), list(rows.values()))


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
    async with recorder.engine.connect() as conn:
        last_run = await conn.scalar(select(func.max(StatisticsRuns.start_ts)))
        if last_run is not None:
            start = utc_from_timestamp(last_run) + SHORT_TERM_PERIOD
        else:
            first_state = await conn.scalar(select(func.min(States.last_updated_ts)))
            start = (
                short_term_period_start(utc_from_timestamp(first_state))
                if first_state
                else last_complete
            )
        await conn.rollback()
    start = max(start, short_term_period_start(now - max_catch_up))
    compiled = 0
    while start <= last_complete:
        if await compile_statistics(recorder, start):
            compiled += 1
        start += SHORT_TERM_PERIOD
    if compiled > 1:
        _LOGGER.info("Compiled statistics of %d missed 5-minute period(s)", compiled)
    return compiled
