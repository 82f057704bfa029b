"""Reading long-term statistics: ``statistics_during_period`` by 5 minutes, hour or calendar."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import cast

from sqlalchemy import select

from .models import Statistics, StatisticsMeta, StatisticsShortTerm
from .statistics import (
    HOUR,
    PERIODS,
    SHORT_TERM_PERIOD,
    STATISTIC_TYPES,
    Period,
    StatisticsRecorder,
    StatisticsRow,
    StatisticType,
    aware_utc,
)
from .statistics_compile import LastStat, StatisticsTable, last_stats
from .units import Conversion, check_units, conversion

#: Row fields that are values (converted as such) and differences (converted by scale only).
_VALUE_FIELDS = ("mean", "min", "max", "state")
_DELTA_FIELDS = ("sum", "change")

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
        units: ``{unit class: unit}`` (``units.py``): statistics recorded in a unit of a class
            named here come back in the unit asked for; others as recorded.
        types: which values each row carries (all when None); ``start``/``end`` always.

    Returns:
        ``{statistic_id: [row, ...]}`` with POSIX times, oldest first; ids without rows are left
        out.

    Raises:
        ValueError: a time is naive, ``period`` is unknown, or ``units`` names a unit class or
            a unit that ``units.py`` does not know (or a unit of another class).
    """
    if period not in PERIODS:
        raise ValueError(f"Unknown statistics period {period!r}")
    if units:
        check_units(units)
    wanted: set[str] = set(STATISTIC_TYPES if types is None else types)
    start_ts = aware_utc(start_time, "start_time").timestamp()
    end_ts = aware_utc(end_time, "end_time").timestamp() if end_time is not None else None
    table: StatisticsTable = StatisticsShortTerm if period == "5minute" else Statistics
    duration = (SHORT_TERM_PERIOD if period == "5minute" else HOUR).total_seconds()
    tz = recorder.runtime.core.tzinfo
    async with recorder.engine.connect() as conn:
        meta_stmt = select(
            StatisticsMeta.id, StatisticsMeta.statistic_id, StatisticsMeta.unit_of_measurement
        )
        if statistic_ids is not None:
            meta_stmt = meta_stmt.where(StatisticsMeta.statistic_id.in_(list(statistic_ids)))
        ids: dict[int, str] = {}
        recorded_units: dict[str, str | None] = {}
        for metadata_id, statistic_id, unit in await conn.execute(meta_stmt):
            ids[metadata_id] = statistic_id
            recorded_units[statistic_id] = unit
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
        previous: dict[int, LastStat] = {}
        if "change" in wanted and raw:
            present = [mid for mid, sid in ids.items() if sid in raw]
            previous = await last_stats(conn, table, present, start_ts)
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
        if units and (convert := conversion(recorded_units[statistic_id], units)) is not None:
            _convert_rows(rows, convert)
        result[statistic_id] = [
            cast(
                StatisticsRow,
                {k: v for k, v in row.items() if k in wanted or k in ("start", "end")},
            )
            for row in rows
        ]
    return result


def _convert_rows(rows: list[StatisticsRow], convert: Conversion) -> None:
    """Convert the values of ``rows`` in place (None stays None)."""
    for row in rows:
        values = cast(dict[str, float | None], row)
        for key in _VALUE_FIELDS:
            if (value := values.get(key)) is not None:
                values[key] = convert.value(value)
        for key in _DELTA_FIELDS:
            if (value := values.get(key)) is not None:
                values[key] = convert.delta(value)
