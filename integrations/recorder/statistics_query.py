"""Reading long-term statistics: ``statistics_during_period`` by 5 minutes, hour or calendar."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Final, Protocol, cast

from .queries import chunks
from .sql import in_list
from .statistics import (
    HOUR,
    PERIODS,
    SHORT_TERM_PERIOD,
    STATISTIC_TYPES,
    Period,
    StatisticsRow,
    StatisticType,
    aware_utc,
)
from .units import Conversion, check_units, conversion

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .sql import Connection


class StatisticsReader(Protocol):
    """What reading statistics needs of the recorder (``core.Recorder`` fits)."""

    @property
    def runtime(self) -> Runtime:
        """The runtime the recorder belongs to (its time zone makes the calendar periods)."""

    def connect(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reading."""


#: The tables of 5-minute and of hourly statistics (constants: they go into statement text).
SHORT_TERM_TABLE: Final = "statistics_short_term"
HOURLY_TABLE: Final = "statistics"
#: The rows of some statistics in a period (``{table}``, ``{ids}``, ``{period}``).
_ROWS = """
SELECT metadata_id, start_ts, mean, min, max, last_reset_ts, state, sum FROM {table}
WHERE metadata_id IN ({ids}) AND {period}
ORDER BY metadata_id, start_ts
"""

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
    recorder: StatisticsReader,
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
    table = SHORT_TERM_TABLE if period == "5minute" else HOURLY_TABLE
    duration = (SHORT_TERM_PERIOD if period == "5minute" else HOUR).total_seconds()
    tz = recorder.runtime.core.tzinfo
    async with recorder.connect() as conn:
        ids, recorded_units = await _metadata(conn, statistic_ids)
        if not ids:
            return {}
        raw: dict[str, list[StatisticsRow]] = {}
        period_sql = "start_ts >= :start_ts" + ("" if end_ts is None else " AND start_ts < :end_ts")
        period_params = {"start_ts": start_ts} | ({} if end_ts is None else {"end_ts": end_ts})
        for chunk in chunks(sorted(ids)):
            placeholders, params = in_list("metadata_id", chunk)
            sql = _ROWS.format(table=table, ids=placeholders, period=period_sql)
            for metadata_id, ts, mean, low, high, last_reset, state, total in await conn.execute(
                sql, params | period_params
            ):
                raw.setdefault(ids[metadata_id], []).append(
                    StatisticsRow(
                        start=ts, end=ts + duration, mean=mean, min=low, max=high,
                        last_reset=last_reset, state=state, sum=total,
                    )
                )  # fmt: skip
        previous: dict[int, float | None] = {}
        if "change" in wanted and raw:
            present = [mid for mid, sid in ids.items() if sid in raw]
            previous = await _sums_before(conn, table, present, start_ts)
    by_id = {sid: mid for mid, sid in ids.items()}
    result: dict[str, list[StatisticsRow]] = {}
    for statistic_id, table_rows in raw.items():
        rows = table_rows if period in ("5minute", "hour") else _reduce(table_rows, period, tz)
        if "change" in wanted:
            prev_sum = previous.get(by_id[statistic_id]) or 0.0
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


async def _metadata(
    conn: Connection, statistic_ids: Collection[str] | None
) -> tuple[dict[int, str], dict[str, str | None]]:
    """``id → statistic_id`` of the statistics asked for (all when None), and their units."""
    select = "SELECT id, statistic_id, unit_of_measurement FROM statistics_meta"
    if statistic_ids is None:
        rows = await conn.execute(select)
    else:
        rows = []
        for chunk in chunks(dict.fromkeys(statistic_ids)):
            placeholders, params = in_list("statistic_id", chunk)
            sql = f"{select} WHERE statistic_id IN ({placeholders})"
            rows += await conn.execute(sql, params)
    ids: dict[int, str] = {}
    units: dict[str, str | None] = {}
    for metadata_id, statistic_id, unit in rows:
        ids[metadata_id] = statistic_id
        units[statistic_id] = unit
    return ids, units


#: The sum of each statistic's latest row before ``:before_ts`` (through the unique index on
#: ``(metadata_id, start_ts)``).
_SUMS_BEFORE = """
SELECT t.metadata_id, t.sum FROM {table} t
JOIN (
    SELECT m.id AS metadata_id, (
        SELECT max(p.start_ts) FROM {table} p
        WHERE p.metadata_id = m.id AND p.start_ts < :before_ts
    ) AS start_ts
    FROM statistics_meta m WHERE m.id IN ({ids})
) latest ON t.metadata_id = latest.metadata_id AND t.start_ts = latest.start_ts
"""


async def _sums_before(
    conn: Connection, table: str, metadata_ids: list[int], before_ts: float
) -> dict[int, float | None]:
    """``metadata_id → sum`` of each statistic's latest row before ``before_ts`` in ``table``
    (absent: no row before)."""
    sums: dict[int, float | None] = {}
    for chunk in chunks(metadata_ids):
        ids, params = in_list("metadata_id", chunk)
        params["before_ts"] = before_ts
        sums.update(await conn.execute(_SUMS_BEFORE.format(table=table, ids=ids), params))
    return sums


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
