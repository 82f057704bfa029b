"""Long-term statistics: 5-minute and hourly mean/min/max and sums of numeric sensors.

Home Assistant's semantics, compiled from the ``states`` table:

* An entity takes part when its recorded attributes carry ``state_class`` ``measurement``,
  ``total`` or ``total_increasing`` and its state is a finite number; ``unknown``,
  ``unavailable`` and other non-numbers are left out (the previous number carries on).
* ``measurement``: a time-weighted mean over the 5-minute period (each value weighted by how long
  it held, the value carried in from before the period included), min and max.
* ``total`` / ``total_increasing``: ``state`` is the last value and ``sum`` grows by the change
  of the value, summed over meter cycles. The first value ever seen is the zero point. A new
  cycle starts from 0: for ``total`` when the ``last_reset`` attribute changes, for
  ``total_increasing`` when the value drops below 90 % of the previous one. A smaller dip is no
  new cycle (Home Assistant's rule, against meters that jitter): the sum follows the value down
  and back up, so a dip that recovers nets to nothing. Negative ``total_increasing`` values are
  skipped.
* When a period completes an hour (UTC), the hourly row is made from that hour's 5-minute rows:
  mean of means, min of mins, max of maxes, state/sum/last_reset of the last one.

Each compiled period is noted in ``statistics_runs``, so compiling is idempotent and a restart
catches up on the periods it missed (at most ``MAX_CATCH_UP`` back). Statistics are never purged
here; the purge removes 5-minute rows older than ``purge_keep_days``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypedDict, cast, get_args

import voluptuous as vol
from sqlalchemy import Select, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.entities.sensor import SensorStateClass
from core.errors import IntegrationError, ServiceValidationError
from core.runtime import RuntimeKey
from core.services import ServiceCall, ServiceResponse, SupportsResponse

from .const import DOMAIN
from .models import (
    StateAttributes,
    States,
    StatesMeta,
    Statistics,
    StatisticsMeta,
    StatisticsRuns,
    StatisticsShortTerm,
)
from .util import json_loads

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

SOURCE: Final = "recorder"
SERVICE_GET_STATISTICS: Final = "get_statistics"

SHORT_TERM_PERIOD: Final = timedelta(minutes=5)
HOUR: Final = timedelta(hours=1)
#: How far back a (re)start compiles missed periods.
MAX_CATCH_UP: Final = timedelta(days=10)
#: The compile job runs this long after each 5-minute boundary, once the period's states are in.
COMPILE_DELAY: Final = timedelta(seconds=10)
#: Longest wait for the recorder to commit its queue before a compile.
FLUSH_TIMEOUT: Final = 30.0
#: A ``total_increasing`` value below this share of the previous one starts a new meter cycle.
RESET_DROP_RATIO: Final = 0.9

ATTR_STATE_CLASS: Final = "state_class"
ATTR_UNIT_OF_MEASUREMENT: Final = "unit_of_measurement"
ATTR_FRIENDLY_NAME: Final = "friendly_name"
ATTR_LAST_RESET: Final = "last_reset"

Period = Literal["5minute", "hour", "day", "week", "month", "year"]
StatisticType = Literal["mean", "min", "max", "state", "sum", "last_reset", "change"]
PERIODS: Final[tuple[str, ...]] = get_args(Period)
STATISTIC_TYPES: Final[frozenset[str]] = frozenset(get_args(StatisticType))

_STATE_CLASSES: Final = frozenset(SensorStateClass)
#: Entities already warned about (unstable unit, dips, negative values), per runtime.
_WARNED: RuntimeKey[set[tuple[str, str]]] = RuntimeKey("recorder.statistics.warned")

_StatisticsTable = type[Statistics] | type[StatisticsShortTerm]


class StatisticsRecorder(Protocol):
    """What statistics need of the recorder (``core.Recorder`` fits; tests may use a stand-in)."""

    @property
    def runtime(self) -> Runtime:
        """The runtime the recorder belongs to (clock, time zone, scheduler, services)."""

    @property
    def engine(self) -> AsyncEngine:
        """The database engine."""

    async def flush(self) -> None:
        """Commit everything queued so far."""


class StatisticsRow(TypedDict, total=False):
    """One period of one statistic, as ``statistics_during_period`` returns it (POSIX times)."""

    start: float
    end: float
    mean: float | None
    min: float | None
    max: float | None
    last_reset: float | None
    state: float | None
    sum: float | None
    change: float | None


@dataclass(slots=True)
class _Sample:
    """One numeric recorded state."""

    ts: float
    value: float
    attrs: Mapping[str, Any]


@dataclass(slots=True)
class _LastStat:
    """Where the previous period left a sum."""

    state: float | None
    sum: float | None
    last_reset_ts: float | None


# --- time helpers ---------------------------------------------------------------------------------


def _aware_utc(when: datetime, what: str) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {when!r}")
    return when.astimezone(UTC)


def short_term_period_start(when: datetime) -> datetime:
    """The start (UTC) of the 5-minute period ``when`` falls in.

    Raises:
        ValueError: ``when`` is naive.
    """
    when = _aware_utc(when, "when")
    return when.replace(minute=when.minute - when.minute % 5, second=0, microsecond=0)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


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
    per entity through the (metadata_id, last_updated_ts) index, never by scanning history.
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
    last: _LastStat | None,
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
                _LOGGER.info("New cycle of %s: last_reset is now %s", entity_id, _utc(last_reset))
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


async def _last_stats(
    conn: AsyncConnection, table: _StatisticsTable, metadata_ids: Collection[int], before_ts: float
) -> dict[int, _LastStat]:
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
        metadata_id: _LastStat(state, total, last_reset)
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
    start = _aware_utc(period_start, "period_start")
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
        last_stats = await _last_stats(conn, StatisticsShortTerm, sum_ids, start_ts)
        if missing := [mid for mid in sum_ids if mid not in last_stats]:
            # Short-term rows older than purge_keep_days are gone; the hourly ones never are.
            last_stats |= await _last_stats(conn, Statistics, missing, start_ts)
        await conn.rollback()

    created_ts = runtime.clock.now().timestamp()
    async with recorder.engine.begin() as conn:
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
                last = last_stats.get(meta[0]) if meta is not None else None
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
    now = _aware_utc(now, "now")
    last_complete = short_term_period_start(now - SHORT_TERM_PERIOD)
    async with recorder.engine.connect() as conn:
        last_run = await conn.scalar(select(func.max(StatisticsRuns.start_ts)))
        if last_run is not None:
            start = _utc(last_run) + SHORT_TERM_PERIOD
        else:
            first_state = await conn.scalar(select(func.min(States.last_updated_ts)))
            start = short_term_period_start(_utc(first_state)) if first_state else last_complete
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


# --- reading statistics ---------------------------------------------------------------------------


def _bucket(start_ts: float, period: Period, tz: tzinfo) -> tuple[float, float]:
    """The local calendar day/week/month/year containing ``start_ts``, as POSIX times."""
    day = datetime.fromtimestamp(start_ts, tz).date()
    first: date
    if period == "day":
        first, following = day, day + timedelta(days=1)
    elif period == "week":
        first = day - timedelta(days=day.weekday())
        following = first + timedelta(weeks=1)
    elif period == "month":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
    else:
        first, following = (
            day.replace(month=1, day=1),
            day.replace(year=day.year + 1, month=1, day=1),
        )
    return (
        datetime.combine(first, time(), tzinfo=tz).timestamp(),
        datetime.combine(following, time(), tzinfo=tz).timestamp(),
    )


def _reduce(rows: list[StatisticsRow], period: Period, tz: tzinfo) -> list[StatisticsRow]:
    """Hourly rows into calendar periods: mean of means, min/max, the last state/sum/last_reset."""
    reduced: list[StatisticsRow] = []
    group: list[StatisticsRow] = []
    bounds: tuple[float, float] | None = None

    def close() -> None:
        assert bounds is not None  # noqa: S101 - only called with a group
        means = [row["mean"] for row in group if row.get("mean") is not None]
        mins = [row["min"] for row in group if row.get("min") is not None]
        maxes = [row["max"] for row in group if row.get("max") is not None]
        last = group[-1]
        reduced.append(
            StatisticsRow(
                start=bounds[0],
                end=bounds[1],
                mean=sum(cast(list[float], means)) / len(means) if means else None,
                min=min(cast(list[float], mins)) if mins else None,
                max=max(cast(list[float], maxes)) if maxes else None,
                last_reset=last.get("last_reset"),
                state=last.get("state"),
                sum=last.get("sum"),
            )
        )

    for row in rows:
        row_bounds = _bucket(row["start"], period, tz)
        if bounds is not None and row_bounds != bounds:
            close()
            group = []
        bounds = row_bounds
        group.append(row)
    if group:
        close()
    return reduced


async def statistics_during_period(
    recorder: StatisticsRecorder,
    start_time: datetime,
    end_time: datetime | None,
    statistic_ids: Collection[str] | None,
    period: Period,
    *,
    units: Mapping[str, str] | None = None,
    types: Collection[StatisticType] | None = None,
) -> dict[str, list[StatisticsRow]]:
    """Statistics of ``[start_time, end_time)`` by ``period``, per statistic id.

    ``5minute`` reads ``statistics_short_term``; ``hour`` reads ``statistics``; ``day``,
    ``week`` (from Monday), ``month`` and ``year`` are made from the hourly rows in the site's
    local time. ``change`` is the growth of ``sum`` over each period: its sum minus the sum of
    the period before (the sum of the latest row before ``start_time``, or 0 without one).

    Args:
        units: accepted for Home Assistant compatibility; Edgewise converts no units yet, so
            values are always in the unit the statistic was recorded in.
        types: which values each row carries (all when None); ``start``/``end`` always.

    Returns:
        ``{statistic_id: [row, ...]}`` with POSIX times, oldest first; ids without rows are left
        out.

    Raises:
        ValueError: a time is naive or ``period`` is unknown.
    """
    if period not in PERIODS:
        raise ValueError(f"Unknown statistics period {period!r}")
    wanted: set[str] = set(STATISTIC_TYPES if types is None else types)
    start_ts = _aware_utc(start_time, "start_time").timestamp()
    end_ts = _aware_utc(end_time, "end_time").timestamp() if end_time is not None else None
    if units:
        _LOGGER.debug("Unit conversion %s asked for but not supported; values unconverted", units)
    table: _StatisticsTable = StatisticsShortTerm if period == "5minute" else Statistics
    duration = (SHORT_TERM_PERIOD if period == "5minute" else HOUR).total_seconds()
    tz = recorder.runtime.core.tzinfo
    async with recorder.engine.connect() as conn:
        meta_stmt = select(StatisticsMeta.id, StatisticsMeta.statistic_id)
        if statistic_ids is not None:
            meta_stmt = meta_stmt.where(StatisticsMeta.statistic_id.in_(list(statistic_ids)))
        ids: dict[int, str] = {}
        for metadata_id, statistic_id in await conn.execute(meta_stmt):
            ids[metadata_id] = statistic_id
        if not ids:
            return {}
        stmt = select(
            table.metadata_id, table.start_ts, table.mean, table.min, table.max,
            table.last_reset_ts, table.state, table.sum,
        ).where(table.metadata_id.in_(list(ids)), table.start_ts >= start_ts)  # fmt: skip
        if end_ts is not None:
            stmt = stmt.where(table.start_ts < end_ts)
        raw: dict[str, list[StatisticsRow]] = {}
        for metadata_id, ts, mean, low, high, last_reset, state, total in await conn.execute(
            stmt.order_by(table.metadata_id, table.start_ts)
        ):
            raw.setdefault(ids[metadata_id], []).append(
                StatisticsRow(
                    start=ts, end=ts + duration, mean=mean, min=low, max=high,
                    last_reset=last_reset, state=state, sum=total,
                )
            )  # fmt: skip
        previous: dict[int, _LastStat] = {}
        if "change" in wanted and raw:
            present = [mid for mid, sid in ids.items() if sid in raw]
            previous = await _last_stats(conn, table, present, start_ts)
        await conn.rollback()
    by_id = {sid: mid for mid, sid in ids.items()}
    result: dict[str, list[StatisticsRow]] = {}
    for statistic_id, table_rows in raw.items():
        rows = table_rows if period in ("5minute", "hour") else _reduce(table_rows, period, tz)
        if "change" in wanted:
            before = previous.get(by_id[statistic_id])
            prev_sum = (before.sum if before is not None else None) or 0.0
            for row in rows:
                total = row.get("sum")
                row["change"] = None if total is None else total - prev_sum
                prev_sum = total if total is not None else prev_sum
        result[statistic_id] = [
            cast(
                StatisticsRow,
                {k: v for k, v in row.items() if k in wanted or k in ("start", "end")},
            )
            for row in rows
        ]
    return result


# --- the service and the compile job ------------------------------------------------------------


def _datetime(value: object) -> datetime:
    """A datetime or ISO 8601 text (naive is local time, resolved by the handler)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise vol.Invalid(f"expected a date and time (ISO 8601), got {value!r}")


def _id_list(value: object) -> list[str]:
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
        raise vol.Invalid("expected a non-empty list of statistic ids")
    return items


def _type_list(value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise vol.Invalid("expected a non-empty list of statistic types")
    for item in items:
        if item not in STATISTIC_TYPES:
            raise vol.Invalid(
                f"unknown statistic type {item!r}; expected one of {sorted(STATISTIC_TYPES)}"
            )
    return items


GET_STATISTICS_SCHEMA: Final = vol.Schema(
    {
        vol.Required("statistic_ids"): _id_list,
        vol.Required("start_time"): _datetime,
        vol.Optional("end_time"): _datetime,
        vol.Required("period"): vol.In(PERIODS),
        vol.Optional("types"): _type_list,
        vol.Optional("units"): vol.Schema({str: str}),
    }
)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else _utc(ts).isoformat()


#: Seconds a cancelled compile run may take to let go of the database at shutdown.
STOP_TIMEOUT = 10.0


class _StatisticsJob:
    """Compiles missed periods, one run at a time, and logs a failing database once."""

    def __init__(self, recorder: StatisticsRecorder) -> None:
        self._recorder = recorder
        self._lock = asyncio.Lock()
        self._failing = False
        self._running: set[asyncio.Task[Any]] = set()

    async def run(self, _due: datetime | None = None) -> None:
        """Flush the recorder, then compile every complete period not compiled yet."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        async with self._lock:
            try:
                async with asyncio.timeout(FLUSH_TIMEOUT):
                    await self._recorder.flush()
                await compile_missing_statistics(self._recorder, self._recorder.runtime.clock.now())
            except Exception as err:  # isolation boundary: the next period retries
                if not self._failing:
                    _LOGGER.warning(
                        "Compiling statistics failed (retried every 5 minutes): %s", err
                    )
                    self._failing = True
                else:
                    _LOGGER.debug("Compiling statistics failed again: %s", err)
                return
            if self._failing:
                _LOGGER.info("Compiling statistics works again")
                self._failing = False

    async def stop(self) -> None:
        """Cancel the runs in progress and wait until they have let go of the database.

        The recorder disposes of its engine next: a run cancelled in the middle of a query must
        have finished unwinding (returning or closing its connection) before that.
        """
        running = [task for task in self._running if not task.done()]
        for task in running:
            task.cancel()
        if running:
            _, still = await asyncio.wait(running, timeout=STOP_TIMEOUT)
            if still:
                _LOGGER.warning("Statistics compilation still running at shutdown")

    async def get_statistics(self, call: ServiceCall) -> ServiceResponse:
        """``recorder.get_statistics``: ``{"statistics": {id: [row with ISO times]}}``."""
        tz = self._recorder.runtime.core.tzinfo

        def local(when: datetime) -> datetime:
            return when if when.tzinfo is not None else when.replace(tzinfo=tz)

        data = call.data
        start = local(data["start_time"])
        end = local(data["end_time"]) if "end_time" in data else None
        if end is not None and end <= start:
            raise ServiceValidationError(
                "end_time must be after start_time", domain=DOMAIN, service=SERVICE_GET_STATISTICS,
                key="end_time",
            )  # fmt: skip
        types = cast(list[StatisticType] | None, data.get("types"))
        stats = await statistics_during_period(
            self._recorder, start, end, data["statistic_ids"], cast(Period, data["period"]),
            units=data.get("units"), types=types,
        )  # fmt: skip
        response: dict[str, list[dict[str, Any]]] = {}
        for statistic_id, rows in stats.items():
            out = []
            for row in rows:
                item: dict[str, Any] = dict(row)
                item["start"], item["end"] = _iso(row["start"]), _iso(row["end"])
                if "last_reset" in item:
                    item["last_reset"] = _iso(row.get("last_reset"))
                out.append(item)
            response[statistic_id] = out
        return {"statistics": response}


def setup_statistics(
    runtime: Runtime, recorder: StatisticsRecorder
) -> Callable[[], Awaitable[None]]:
    """Register ``recorder.get_statistics`` and compile every 5 minutes (+10 s), catching up now.

    Call on the loop once the recorder has started. Returns the coroutine function that undoes
    it all: cancels the job and any run in progress (waiting for it to unwind), and removes the
    service. Await it before the recorder stops.

    Raises:
        IntegrationError: the runtime has no scheduler (it has not started).
    """
    scheduler = runtime.scheduler
    if scheduler is None:
        raise IntegrationError("statistics need the runtime's scheduler", integration=DOMAIN)
    job = _StatisticsJob(recorder)
    runtime.services.register(
        DOMAIN,
        SERVICE_GET_STATISTICS,
        job.get_statistics,
        GET_STATISTICS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
        description="Long-term statistics (mean, min, max, state, sum, change) of sensors.",
    )
    anchor = short_term_period_start(runtime.clock.now()) + COMPILE_DELAY
    cancel_job = scheduler.every(
        SHORT_TERM_PERIOD, job.run, name="recorder.statistics", start=anchor
    )
    runtime.create_task(job.run(), name="recorder.statistics.catch_up")

    async def stop() -> None:
        cancel_job()
        await job.stop()
        if runtime.services.has(DOMAIN, SERVICE_GET_STATISTICS):
            runtime.services.remove(DOMAIN, SERVICE_GET_STATISTICS)

    return stop
