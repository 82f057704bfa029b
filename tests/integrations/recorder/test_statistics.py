"""Long-term statistics (integrations/recorder/statistics.py) on SQLite and PostgreSQL.

The databases come from conftest's ``db_url``. Most tests write ``states`` rows straight into a
fresh database (``add_states``) and compile through ``StatsDatabase``, a stand-in for the
recorder with just what statistics use: a real (not started) ``Runtime`` for the clock, time
zone, services and scheduler, the recorder's connections (``sql.py``), and a no-op ``flush``.
The last test goes end to end through a started Runtime whose real ``Recorder`` writes states
from the state machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.clock import FakeClock
from core.config import CoreConfig
from core.errors import ServiceValidationError
from core.runtime import Runtime
from core.timers import Scheduler
from integrations.recorder.core import Recorder
from integrations.recorder.models import (
    Base,
    StateAttributes,
    States,
    StatesMeta,
    Statistics,
    StatisticsMeta,
    StatisticsRuns,
    StatisticsShortTerm,
)
from integrations.recorder.sql import Connection, Database, open_database
from integrations.recorder.statistics import setup_statistics, short_term_period_start
from integrations.recorder.statistics_compile import (
    compile_missing_statistics,
    compile_statistics,
    time_weighted_mean,
)
from integrations.recorder.statistics_query import statistics_during_period
from integrations.recorder.util import attrs_hash, json_dumps
from tests.integrations.recorder.conftest import MakeRuntime, recorder_of

#: 2024-01-01 00:00 UTC (a Monday; 01:00 in Amsterdam), the first period of most tests.
START = datetime(2024, 1, 1, tzinfo=UTC)
T0 = START.timestamp()
FIVE = timedelta(minutes=5)

POWER = {"state_class": "measurement", "unit_of_measurement": "W", "friendly_name": "Power"}
ENERGY = {"state_class": "total_increasing", "unit_of_measurement": "kWh"}


class StatsDatabase:
    """What statistics need of a recorder (``runtime``, ``connect``, ``flush``, a write lock).

    ``sa_engine`` is the test's own SQLAlchemy engine, which writes and checks the rows; the
    code under test sees only the recorder's connections (``sql.py``).
    """

    database_ready = True

    def __init__(self, runtime: Runtime, database: Database, sa_engine: AsyncEngine) -> None:
        self.runtime = runtime
        self.database = database
        self.sa_engine = sa_engine
        self.lock = asyncio.Lock()

    async def flush(self) -> None:
        """Nothing is queued: rows are written straight to the database."""

    def is_duplicate(self, err: BaseException) -> bool:
        """As the recorder's: asks the database."""
        return self.database.is_duplicate(err)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        """A connection for reads, as the recorder's."""
        async with self.database.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[Connection]:
        """A transaction under the stand-in's write lock, as the recorder's."""
        async with self.lock, self.database.begin() as conn:
            yield conn


@pytest.fixture
async def db(db_url: str, tmp_path: Path) -> AsyncIterator[StatsDatabase]:
    """The recorder's schema, no rows, and a runtime in Europe/Amsterdam on a fake clock."""
    clock = FakeClock(START)
    runtime = Runtime(tmp_path, clock=clock)
    runtime.core = CoreConfig(time_zone="Europe/Amsterdam")
    runtime.scheduler = Scheduler(
        runtime.loop, tz=runtime.core.tzinfo, latitude=52.0, longitude=5.0, clock=clock
    )
    engine = create_async_engine(db_url)
    database = open_database(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield StatsDatabase(runtime, database, engine)
    finally:
        runtime.scheduler.close()
        await database.dispose()
        await engine.dispose()


async def add_states(
    db: StatsDatabase,
    entity_id: str,
    rows: Sequence[tuple[float, str | None, Mapping[str, Any] | None]],
) -> None:
    """Write ``(seconds after START, state, attributes)`` rows of one entity."""
    async with db.sa_engine.begin() as conn:
        metadata_id = await conn.scalar(
            select(StatesMeta.metadata_id).where(StatesMeta.entity_id == entity_id)
        )
        if metadata_id is None:
            result = await conn.execute(insert(StatesMeta).values(entity_id=entity_id))
            metadata_id = result.inserted_primary_key[0]  # type: ignore[index]  # one row
        for seconds, state, attributes in rows:
            attributes_id = None
            if attributes is not None:
                shared = json_dumps(attributes)
                attributes_id = await conn.scalar(
                    select(StateAttributes.attributes_id).where(
                        StateAttributes.shared_attrs == shared
                    )
                )
                if attributes_id is None:
                    result = await conn.execute(
                        insert(StateAttributes).values(hash=attrs_hash(shared), shared_attrs=shared)
                    )
                    attributes_id = result.inserted_primary_key[0]  # type: ignore[index]
            await conn.execute(
                insert(States).values(
                    metadata_id=metadata_id,
                    state=state,
                    attributes_id=attributes_id,
                    last_updated_ts=T0 + seconds,
                )
            )


async def short_term(db: StatsDatabase, entity_id: str) -> list[dict[str, Any]]:
    """The 5-minute rows of one statistic, oldest first, with ``start`` in seconds after START."""
    return await _rows(db, StatisticsShortTerm, entity_id)


async def hourly(db: StatsDatabase, entity_id: str) -> list[dict[str, Any]]:
    """The hourly rows of one statistic, oldest first."""
    return await _rows(db, Statistics, entity_id)


async def _rows(
    db: StatsDatabase, table: type[Statistics] | type[StatisticsShortTerm], entity_id: str
) -> list[dict[str, Any]]:
    async with db.sa_engine.connect() as conn:
        rows = await conn.execute(
            select(
                table.start_ts, table.mean, table.min, table.max, table.state, table.sum,
                table.last_reset_ts,
            )
            .join(StatisticsMeta, StatisticsMeta.id == table.metadata_id)
            .where(StatisticsMeta.statistic_id == entity_id)
            .order_by(table.start_ts)
        )  # fmt: skip
        keys = ("start", "mean", "min", "max", "state", "sum", "last_reset_ts")
        out = [dict(zip(keys, row, strict=True)) for row in rows]
    for row in out:
        row["start"] -= T0
    return out


async def _count(db: StatsDatabase, table: type[Base]) -> int:
    async with db.sa_engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


# --- measurement ---------------------------------------------------------------------------------


async def test_mean_is_time_weighted_with_the_carried_in_state(db: StatsDatabase) -> None:
    await add_states(
        db,
        "sensor.power",
        [
            (-60, "10", POWER),  # held from before the period: weighs 60 s
            (60, "20", POWER),  # 180 s (unavailable is skipped, 20 carries on)
            (120, "unavailable", POWER),
            (240, "40", POWER),  # 60 s
        ],
    )
    assert await compile_statistics(db, START)
    [row] = await short_term(db, "sensor.power")
    assert row["mean"] == pytest.approx((10 * 60 + 20 * 180 + 40 * 60) / 300)
    assert (row["min"], row["max"]) == (10, 40)
    assert row["sum"] is None
    async with db.sa_engine.connect() as conn:
        meta = (await conn.execute(select(StatisticsMeta))).one()
    assert (meta.statistic_id, meta.source, meta.unit_of_measurement, meta.name) == (
        "sensor.power",
        "recorder",
        "W",
        "Power",
    )
    assert (meta.has_mean, meta.has_sum) == (True, False)


async def test_mean_without_earlier_state_covers_the_time_since_the_first(
    db: StatsDatabase,
) -> None:
    await add_states(db, "sensor.power", [(60, "10", POWER), (180, "20", POWER)])
    await compile_statistics(db, START)
    [row] = await short_term(db, "sensor.power")
    assert row["mean"] == pytest.approx(15)


async def test_steady_sensor_gets_a_row_from_its_carried_in_state(db: StatsDatabase) -> None:
    await add_states(db, "sensor.power", [(-3600, "7.5", POWER)])
    await compile_statistics(db, START)
    assert [(r["mean"], r["min"], r["max"]) for r in await short_term(db, "sensor.power")] == [
        (7.5, 7.5, 7.5)
    ]


async def test_entities_without_state_class_or_number_are_left_out(db: StatsDatabase) -> None:
    await add_states(db, "sensor.text", [(10, "on", POWER)])
    await add_states(db, "sensor.plain", [(10, "5", {"unit_of_measurement": "W"})])
    await add_states(db, "sensor.gone", [(10, "unavailable", POWER), (20, "unknown", POWER)])
    assert await compile_statistics(db, START)
    assert await _count(db, StatisticsMeta) == 0
    assert await _count(db, StatisticsRuns) == 1


def test_time_weighted_mean_of_a_sample_at_the_very_end_is_that_sample() -> None:
    assert time_weighted_mean([(300.0, 4.0)], 0.0, 300.0) == 4.0


# --- sums ----------------------------------------------------------------------------------------


async def test_total_increasing_sum_counts_a_meter_reset_from_zero(db: StatsDatabase) -> None:
    # 100 is the zero point; 150 adds 50; 5 is below 90 % of 150: new cycle from 0 (+5); +15.
    await add_states(
        db,
        "sensor.energy",
        [(0, "100", ENERGY), (60, "150", ENERGY), (120, "5", ENERGY), (180, "20", ENERGY)],
    )
    await compile_statistics(db, START)
    await add_states(db, "sensor.energy", [(360, "22", ENERGY)])
    await compile_statistics(db, START + FIVE)
    rows = await short_term(db, "sensor.energy")
    assert [(r["state"], r["sum"]) for r in rows] == [(20, 70), (22, 72)]
    assert rows[0]["mean"] is None


async def test_total_increasing_dip_under_ten_percent_is_no_new_cycle(db: StatsDatabase) -> None:
    # HA's rule: 95 >= 0.9 * 100, so the sum follows the value down and back up (net +10);
    # had it been a reset the sum would be 95 + 15 = 110.
    await add_states(
        db, "sensor.energy", [(0, "100", ENERGY), (60, "95", ENERGY), (120, "110", ENERGY)]
    )
    await compile_statistics(db, START)
    [row] = await short_term(db, "sensor.energy")
    assert (row["state"], row["sum"]) == (110, 10)


async def test_total_increasing_skips_negative_values(db: StatsDatabase) -> None:
    await add_states(
        db, "sensor.energy", [(0, "10", ENERGY), (60, "-3", ENERGY), (120, "12", ENERGY)]
    )
    await compile_statistics(db, START)
    [row] = await short_term(db, "sensor.energy")
    assert (row["state"], row["sum"]) == (12, 2)


async def test_total_starts_a_new_cycle_when_last_reset_changes(db: StatsDatabase) -> None:
    first = "2024-01-01T00:00:00+00:00"
    second = "2024-01-01T00:02:00+00:00"
    total = {"state_class": "total", "unit_of_measurement": "kWh"}
    await add_states(
        db,
        "sensor.net",
        [
            (0, "10", total | {"last_reset": first}),
            (60, "15", total | {"last_reset": first}),
            (120, "3", total | {"last_reset": second}),
            (180, "7", total | {"last_reset": second}),
        ],
    )
    await compile_statistics(db, START)
    [row] = await short_term(db, "sensor.net")
    assert (row["state"], row["sum"]) == (7, 5 + 7)
    assert row["last_reset_ts"] == datetime.fromisoformat(second).timestamp()


async def test_total_without_last_reset_may_go_down(db: StatsDatabase) -> None:
    total = {"state_class": "total", "unit_of_measurement": "kWh"}
    await add_states(db, "sensor.net", [(0, "10", total), (60, "4", total), (120, "6", total)])
    await compile_statistics(db, START)
    [row] = await short_term(db, "sensor.net")
    assert (row["state"], row["sum"]) == (6, -4)


# --- runs, hours, catch-up -----------------------------------------------------------------------


async def test_compile_is_idempotent(db: StatsDatabase) -> None:
    await add_states(db, "sensor.energy", [(0, "1", ENERGY), (60, "3", ENERGY)])
    assert await compile_statistics(db, START) is True
    await add_states(db, "sensor.energy", [(120, "9", ENERGY)])
    assert await compile_statistics(db, START) is False
    assert [(r["state"], r["sum"]) for r in await short_term(db, "sensor.energy")] == [(3, 2)]
    assert await _count(db, StatisticsRuns) == 1


async def test_compile_writes_only_through_the_recorders_write_lock(db: StatsDatabase) -> None:
    await add_states(db, "sensor.power", [(0, "3", POWER)])
    async with db.lock:  # the recorder's writer is in the middle of a batch
        compile_task = asyncio.create_task(compile_statistics(db, START))
        _, pending = await asyncio.wait({compile_task}, timeout=1)
        assert pending, "the compile committed while the writer held the lock"
        assert await _count(db, StatisticsRuns) == 0
    assert await compile_task is True
    assert await _count(db, StatisticsRuns) == 1


async def test_a_compile_that_loses_the_race_for_its_period_returns_false(
    db: StatsDatabase,
) -> None:
    # Both compiles read the period (not compiled yet) before either writes: the second one's
    # writes break a unique constraint, after which it finds the period compiled.
    await add_states(db, "sensor.power", [(0, "3", POWER)])
    write_transaction = db.write_transaction
    arrived = 0
    both_read = asyncio.Event()

    @asynccontextmanager
    async def counted() -> AsyncIterator[Connection]:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both_read.set()
        async with write_transaction() as conn:
            yield conn

    db.write_transaction = counted  # type: ignore[method-assign]  # counts, then the real one
    async with asyncio.timeout(30):
        async with db.lock:
            compiles = [asyncio.create_task(compile_statistics(db, START)) for _ in range(2)]
            await both_read.wait()
        assert sorted(await asyncio.gather(*compiles)) == [False, True]
    assert await _count(db, StatisticsRuns) == 1
    assert [r["mean"] for r in await short_term(db, "sensor.power")] == [3]


async def test_compile_rejects_a_start_off_the_five_minute_grid(db: StatsDatabase) -> None:
    with pytest.raises(ValueError, match="5-minute boundary"):
        await compile_statistics(db, START + timedelta(minutes=2))
    with pytest.raises(ValueError, match="naive"):
        await compile_statistics(db, START.replace(tzinfo=None))


async def test_hour_is_compiled_from_its_twelve_short_term_rows(db: StatsDatabase) -> None:
    for k in range(12):
        await add_states(db, "sensor.power", [(k * 300, str(k), POWER)])
        await add_states(db, "sensor.energy", [(k * 300, str(100 + 2 * k), ENERGY)])
    for k in range(12):
        await compile_statistics(db, START + k * FIVE)
    assert len(await short_term(db, "sensor.power")) == 12
    [power] = await hourly(db, "sensor.power")
    assert (power["start"], power["mean"], power["min"], power["max"]) == (0, 5.5, 0, 11)
    [energy] = await hourly(db, "sensor.energy")
    assert (energy["state"], energy["sum"], energy["mean"]) == (122, 22, None)


async def test_restart_catches_up_missed_periods_only(db: StatsDatabase) -> None:
    await add_states(db, "sensor.energy", [(0, "1", ENERGY), (400, "2", ENERGY)])
    # At 00:20:10 four periods are complete: 00:00, 00:05, 00:10, 00:15.
    assert await compile_missing_statistics(db, START + timedelta(minutes=20, seconds=10)) == 4
    # "Down" for half an hour, then a restart at 00:50:10 compiles 00:20 .. 00:45.
    await add_states(db, "sensor.energy", [(1900, "5", ENERGY)])
    assert await compile_missing_statistics(db, START + timedelta(minutes=50, seconds=10)) == 6
    assert await compile_missing_statistics(db, START + timedelta(minutes=50, seconds=20)) == 0
    rows = await short_term(db, "sensor.energy")
    assert [r["start"] for r in rows] == [k * 300 for k in range(10)]
    assert rows[-1]["sum"] == 4
    assert await _count(db, StatisticsRuns) == 10


async def test_catch_up_goes_back_at_most_max_catch_up(db: StatsDatabase) -> None:
    await add_states(db, "sensor.power", [(0, "1", POWER)])
    now = START + timedelta(hours=2, minutes=1)
    # The default bound is MAX_CATCH_UP (10 days); an hour keeps this test quick.
    assert await compile_missing_statistics(db, now, max_catch_up=timedelta(hours=1)) == 12
    async with db.sa_engine.connect() as conn:
        first = await conn.scalar(select(func.min(StatisticsRuns.start_ts)))
    assert first == (START + timedelta(hours=1)).timestamp()


# --- reading statistics --------------------------------------------------------------------------


async def _hourly_sums(db: StatsDatabase, hours: int, *, before: float | None = None) -> None:
    """Hourly rows of ``sensor.energy`` from START: row i has sum i + 1 and mean i."""
    async with db.sa_engine.begin() as conn:
        result = await conn.execute(
            insert(StatisticsMeta).values(
                statistic_id="sensor.energy", source="recorder", unit_of_measurement="kWh",
                has_mean=False, has_sum=True,
            )
        )  # fmt: skip
        metadata_id = result.inserted_primary_key[0]  # type: ignore[index]
        rows = [
            {"metadata_id": metadata_id, "start_ts": T0 + 3600 * i, "created_ts": T0,
             "mean": float(i), "min": float(i), "max": float(i) + 1, "state": float(i + 1),
             "sum": float(i + 1)}
            for i in range(hours)
        ]  # fmt: skip
        if before is not None:
            rows.append(
                {"metadata_id": metadata_id, "start_ts": T0 - 3600, "created_ts": T0,
                 "mean": None, "min": None, "max": None, "state": before, "sum": before}
            )  # fmt: skip
        await conn.execute(insert(Statistics), rows)


async def test_statistics_during_period_by_hour(db: StatsDatabase) -> None:
    await _hourly_sums(db, 4)
    result = await statistics_during_period(
        db, START + timedelta(hours=1), START + timedelta(hours=3), ["sensor.energy"], "hour"
    )
    assert [
        (r["start"] - T0, r["end"] - T0, r["sum"], r["change"]) for r in result["sensor.energy"]
    ] == [
        (3600, 7200, 2, 2 - 1),
        (7200, 10800, 3, 1),
    ]


async def test_statistics_by_local_day_with_change_since_the_row_before(db: StatsDatabase) -> None:
    await _hourly_sums(db, 48, before=0.5)
    result = await statistics_during_period(
        db, START, None, ["sensor.energy"], "day", types={"change", "mean", "max"}
    )
    days = result["sensor.energy"]
    # Amsterdam is UTC+1: 1 January local ends after 23 of the hourly rows.
    local_midnight = datetime(2023, 12, 31, 23, tzinfo=UTC).timestamp()
    assert [d["start"] for d in days] == [local_midnight + 86400 * k for k in range(3)]
    assert [d["end"] - d["start"] for d in days] == [86400] * 3
    assert [d["change"] for d in days] == [23 - 0.5, 47 - 23, 48 - 47]
    assert days[0]["mean"] == pytest.approx(sum(range(23)) / 23)
    assert days[0]["max"] == 23
    assert set(days[0]) == {"start", "end", "change", "mean", "max"}


async def test_statistics_by_week_and_month_and_unknown_ids(db: StatsDatabase) -> None:
    await _hourly_sums(db, 24 * 8)
    week = await statistics_during_period(db, START, None, None, "week", types={"sum"})
    assert [r["sum"] for r in week["sensor.energy"]] == [24 * 7 - 1, 24 * 8]
    month = await statistics_during_period(db, START, None, ["sensor.energy", "sensor.x"], "month")
    assert [r["change"] for r in month["sensor.energy"]] == [24 * 8]
    assert "sensor.x" not in month


async def test_units_convert_values_and_sums(db: StatsDatabase) -> None:
    await _hourly_sums(db, 2, before=0.5)
    result = await statistics_during_period(
        db, START, None, ["sensor.energy"], "hour", units={"energy": "Wh"}
    )
    [first, second] = result["sensor.energy"]
    assert (first["mean"], first["max"], first["state"]) == (0.0, 1000.0, 1000.0)
    assert (first["sum"], first["change"]) == (1000.0, 500.0)
    assert (second["sum"], second["change"]) == (2000.0, 1000.0)
    # A unit class the statistic is not in leaves it as recorded.
    same = await statistics_during_period(
        db, START, None, ["sensor.energy"], "hour", units={"power": "kW"}
    )
    assert same["sensor.energy"][0]["sum"] == 1.0


async def test_units_that_do_not_fit_are_errors(db: StatsDatabase) -> None:
    await _hourly_sums(db, 1)
    with pytest.raises(ValueError, match="'W' is not a unit of energy"):
        await statistics_during_period(
            db, START, None, ["sensor.energy"], "hour", units={"energy": "W"}
        )
    with pytest.raises(ValueError, match="unknown unit class 'speed'"):
        await statistics_during_period(
            db, START, None, ["sensor.energy"], "hour", units={"speed": "m/s"}
        )


# --- the service ---------------------------------------------------------------------------------


async def test_get_statistics_service_returns_response_and_rejects_bad_input(
    db: StatsDatabase,
) -> None:
    await _hourly_sums(db, 3)
    cancel = setup_statistics(db.runtime, db)
    try:
        response = await db.runtime.services.call(
            "recorder",
            "get_statistics",
            {
                "statistic_ids": ["sensor.energy"],
                "start_time": "2024-01-01T01:00:00",  # naive: local time, i.e. 00:00 UTC
                "period": "hour",
                "types": ["sum", "change"],
            },
            return_response=True,
        )
        assert response is not None
        rows = response["statistics"]["sensor.energy"]
        assert rows[0] == {
            "start": "2024-01-01T00:00:00+00:00",
            "end": "2024-01-01T01:00:00+00:00",
            "sum": 1.0,
            "change": 1.0,
        }
        assert len(rows) == 3
        base = {"statistic_ids": ["sensor.energy"], "start_time": "2024-01-01T01:00:00"}
        with pytest.raises(ServiceValidationError, match="period"):
            await db.runtime.services.call(
                "recorder", "get_statistics", base | {"period": "fortnight"}, return_response=True
            )
        with pytest.raises(ServiceValidationError, match="types"):
            await db.runtime.services.call(
                "recorder",
                "get_statistics",
                base | {"period": "hour", "types": ["median"]},
                return_response=True,
            )
        with pytest.raises(ServiceValidationError, match="end_time"):
            await db.runtime.services.call(
                "recorder",
                "get_statistics",
                base | {"period": "hour", "end_time": "2024-01-01T00:00:00"},
                return_response=True,
            )
        converted = await db.runtime.services.call(
            "recorder",
            "get_statistics",
            base | {"period": "hour", "types": ["sum"], "units": {"energy": "MWh"}},
            return_response=True,
        )
        assert converted is not None
        assert converted["statistics"]["sensor.energy"][0]["sum"] == pytest.approx(0.001)
        with pytest.raises(ServiceValidationError, match="not a unit of energy"):
            await db.runtime.services.call(
                "recorder",
                "get_statistics",
                base | {"period": "hour", "units": {"energy": "°C"}},
                return_response=True,
            )
        with pytest.raises(ServiceValidationError, match="only returns a response"):
            await db.runtime.services.call("recorder", "get_statistics", base | {"period": "day"})
    finally:
        await cancel()
    assert not db.runtime.services.has("recorder", "get_statistics")


async def test_setup_schedules_the_compile_five_minutes_apart_plus_ten_seconds(
    db: StatsDatabase,
) -> None:
    assert db.runtime.scheduler is not None
    await add_states(db, "sensor.power", [(0, "3", POWER)])
    cancel = setup_statistics(db.runtime, db)
    try:
        [job] = [j for j in db.runtime.scheduler.jobs() if j.name == "recorder.statistics"]
        assert job.next_run == START + timedelta(seconds=10)  # the clock is at 00:00:00
        clock = db.runtime.clock
        assert isinstance(clock, FakeClock)
        await clock.advance_and_settle(timedelta(minutes=10, seconds=10))
        for _ in range(50):
            if await _count(db, StatisticsRuns) == 2:
                break
            await clock.advance_and_settle(timedelta(0))
        assert [r["start"] for r in await short_term(db, "sensor.power")] == [0, 300]
    finally:
        await cancel()


# --- end to end ----------------------------------------------------------------------------------


async def _wait_recorded(recorder: Recorder) -> None:
    """``flush`` until the queue is empty (one flush has been seen to return early on SQLite)."""
    async with asyncio.timeout(10):
        while True:
            await recorder.flush()
            if recorder.queue_size == 0:
                return
            await asyncio.sleep(0.02)


async def test_end_to_end_through_the_real_recorder(make_runtime: MakeRuntime, db_url: str) -> None:
    runtime = await make_runtime(db_url, commit_interval=0, exclude={"domains": ["sun"]})
    recorder = recorder_of(runtime)
    period = short_term_period_start(runtime.clock.now()) - timedelta(hours=1)
    at = period.timestamp()
    runtime.states.set("sensor.power", "10", POWER, timestamp=at)
    runtime.states.set("sensor.power", "unavailable", POWER, timestamp=at + 60)
    runtime.states.set("sensor.power", "20", POWER, timestamp=at + 150)
    runtime.states.set("sensor.energy", "100", ENERGY, timestamp=at)
    runtime.states.set("sensor.energy", "150", ENERGY, timestamp=at + 100)
    runtime.states.set("sensor.energy", "5", ENERGY, timestamp=at + 200)
    await _wait_recorded(recorder)
    assert await compile_statistics(recorder, period)
    cancel = (
        None
        if runtime.services.has("recorder", "get_statistics")
        else setup_statistics(runtime, recorder)
    )
    try:
        response = await runtime.services.call(
            "recorder",
            "get_statistics",
            {
                "statistic_ids": ["sensor.power", "sensor.energy"],
                "start_time": period.isoformat(),
                "end_time": (period + FIVE).isoformat(),
                "period": "5minute",
            },
            return_response=True,
        )
    finally:
        if cancel is not None:
            await cancel()
    assert response is not None
    [power] = response["statistics"]["sensor.power"]
    assert (power["mean"], power["min"], power["max"]) == (15, 10, 20)
    assert power["start"] == period.isoformat()
    [energy] = response["statistics"]["sensor.energy"]
    assert (energy["state"], energy["sum"], energy["change"]) == (5, 55, 55)
