"""Read-only sources against the real PostgreSQL: ``sql:`` sensors and ``timescale.query``."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from core.runtime import Runtime
from integrations.timescale.errors import SourceWriteError
from integrations.timescale.sources import ReadOnlySource
from tests._helpers import settle, wait_for
from tests.integrations._runtime import SITE_YAML

from .conftest import MakeRuntime, historian_of


@pytest.fixture
async def plant_db(central_db: str) -> str:
    """A database with a table the sources read (and must never change)."""
    conn = await asyncpg.connect(central_db)
    try:
        await conn.execute(
            "CREATE TABLE alarms (id serial PRIMARY KEY, cleared boolean NOT NULL);"
            "INSERT INTO alarms (cleared) VALUES (false), (false), (true)"
        )
    finally:
        await conn.close()
    return central_db


async def count_alarms(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM alarms"))
    finally:
        await conn.close()


@pytest.fixture
async def source(plant_db: str) -> AsyncIterator[ReadOnlySource]:
    src = ReadOnlySource(plant_db, name="test", cache_ttl=0.0)
    yield src
    await src.close()


async def test_parameters_are_bound_and_rows_come_back(source: ReadOnlySource) -> None:
    rows = await source.fetch("SELECT count(*) AS n FROM alarms WHERE cleared = $1", False)
    assert rows == [{"n": 2}]
    # A hostile value stays a value.
    rows = await source.fetch("SELECT $1::text AS v", "x'; DROP TABLE alarms; --")
    assert rows == [{"v": "x'; DROP TABLE alarms; --"}]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO alarms (cleared) VALUES (true)",
        "DELETE FROM alarms",
        "UPDATE alarms SET cleared = true",
        "CREATE TABLE sneaky (x int)",
        "SELECT nextval('alarms_id_seq')",
        "WITH gone AS (DELETE FROM alarms RETURNING id) SELECT count(*) FROM gone",
    ],
)
async def test_a_query_that_writes_fails_clearly_and_changes_nothing(
    source: ReadOnlySource, plant_db: str, sql: str
) -> None:
    with pytest.raises(SourceWriteError, match="read-only"):
        await source.fetch(sql)
    assert await count_alarms(plant_db) == 3


async def test_a_set_in_one_query_does_not_unlock_the_next(
    source: ReadOnlySource, plant_db: str
) -> None:
    await source.fetch("SET default_transaction_read_only = off")
    with pytest.raises(SourceWriteError):
        await source.fetch("DELETE FROM alarms")
    assert await count_alarms(plant_db) == 3


async def test_a_slow_query_is_stopped_by_the_statement_timeout(plant_db: str) -> None:
    from integrations.timescale.errors import SourceError

    slow = ReadOnlySource(plant_db, name="slow", statement_timeout=0.2)
    try:
        with pytest.raises(SourceError, match=r"QueryCanceled|timeout"):
            await slow.fetch("SELECT pg_sleep(5)")
    finally:
        await slow.close()


async def test_results_are_cached_for_the_ttl(plant_db: str) -> None:
    cached = ReadOnlySource(plant_db, name="cached", cache_ttl=60.0)
    try:
        first = await cached.fetch("SELECT count(*) AS n FROM alarms")
        conn = await asyncpg.connect(plant_db)
        await conn.execute("INSERT INTO alarms (cleared) VALUES (false)")
        await conn.close()
        assert await cached.fetch("SELECT count(*) AS n FROM alarms") == first
    finally:
        await cached.close()


#: Three ``sql:`` sensors: one good, one that writes, one that names a missing column.
SQL_YAML = textwrap.dedent(
    """\
    sql:
      - name: Open alarms
        db_url: DB_URL
        query: "SELECT count(*) AS n FROM alarms WHERE NOT cleared"
        column: n
        unit_of_measurement: alarms
        state_class: measurement
        value_template: "{{ value * 10 }}"
      - name: Sneaky
        db_url: DB_URL
        query: "DELETE FROM alarms RETURNING id"
        column: id
      - name: Wrong column
        db_url: DB_URL
        query: "SELECT 1 AS a"
        column: b
    """
)


@contextlib.asynccontextmanager
async def sql_site(tmp_path: Path, sql_yaml: str) -> AsyncIterator[Runtime]:
    """A started runtime whose configuration holds ``sql_yaml``; stopped on leaving."""
    config_dir = tmp_path / "site"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text(SITE_YAML + sql_yaml)
    runtime = Runtime(config_dir)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def test_sql_sensors_from_home_assistant_yaml(plant_db: str, tmp_path: Path) -> None:
    async with sql_site(tmp_path, SQL_YAML.replace("DB_URL", plant_db)) as runtime:
        state = await wait_for(
            lambda: (s := runtime.states.get("sensor.open_alarms")) and s.state != "unknown" and s
        )
        assert state.state == "20"
        assert state.attributes["unit_of_measurement"] == "alarms"
        await wait_for(
            lambda: (s := runtime.states.get("sensor.wrong_column")) and s.state == "unavailable"
        )
        assert runtime.states.get("sensor.sneaky").state == "unavailable"  # type: ignore[union-attr]
        assert await count_alarms(plant_db) == 3


async def test_a_sql_value_longer_than_a_state_is_unavailable_and_the_others_still_read(
    plant_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The state machine refuses a state past 255 characters: the sensor stayed unknown with a
    # traceback every poll, and the start-up queries of the sensors after it waited a poll.
    yaml = textwrap.dedent(
        """\
        sql:
          - name: Long
            db_url: DB_URL
            query: "SELECT repeat('x', 300) AS v"
            column: v
          - name: After
            db_url: DB_URL
            query: "SELECT 7 AS v"
            column: v
        """
    )
    async with sql_site(tmp_path, yaml.replace("DB_URL", plant_db)) as runtime:
        await wait_for(
            lambda: (s := runtime.states.get("sensor.long")) and s.state == "unavailable",
            within=5,
        )
        await wait_for(
            lambda: (s := runtime.states.get("sensor.after")) and s.state == "7", within=5
        )
    assert "sql sensor 'Long': the value has 300 characters, more than a state's 255" in (
        caplog.text
    )


async def test_query_service_reads_points_and_buckets(
    central_db: str, make_runtime: MakeRuntime
) -> None:
    runtime = await make_runtime(central_db)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    for minute in range(10):
        when = (start + timedelta(minutes=minute, seconds=1)).timestamp()
        runtime.states.set("sensor.power", str(minute), timestamp=when)
    historian = historian_of(runtime)
    await settle(runtime)
    await wait_for(lambda: historian.rows_sent >= 10 and historian.buffer.count == 0)

    raw = await runtime.services.call(
        "timescale",
        "query",
        {"entity_id": "sensor.power", "start": start.isoformat()},
        blocking=True,
        return_response=True,
    )
    assert raw is not None
    assert [p["value"] for p in raw["points"]] == [float(m) for m in range(10)]

    bucketed = await runtime.services.call(
        "timescale",
        "query",
        {
            "entity_id": "sensor.power",
            "start": start.isoformat(),
            "bucket": "00:05:00",
            "aggregate": "max",
        },
        blocking=True,
        return_response=True,
    )
    assert bucketed is not None
    assert sum(1 for _ in bucketed["points"]) in (2, 3)
    assert max(p["value"] for p in bucketed["points"]) == 9.0
    await asyncio.sleep(0)
