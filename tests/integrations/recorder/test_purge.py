"""Purging old history: chunks that take turns with the writer, orphans, statistics kept."""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path
from typing import Any

from core.bus import Event
from core.runtime import Runtime
from integrations.recorder.const import RecorderStatus
from integrations.recorder.core import Recorder
from integrations.recorder.purge import purge_old_data, repack_database
from tests._helpers import run_site_script, settle

from .conftest import MakeRuntime, recorder_of

DAY = 86400.0


async def count(recorder: Recorder, table: str, where: str = "1 = 1", **params: Any) -> int:
    """The rows of ``table`` that match ``where`` (SQL, with ``params``)."""
    async with recorder.connect() as conn:
        sql = f"SELECT COUNT(*) FROM {table} WHERE {where}"  # noqa: S608 - the test's own SQL
        return int(await conn.scalar(sql, params))


async def column(recorder: Recorder, sql: str) -> list[Any]:
    """The first column of the rows of ``sql``."""
    async with recorder.connect() as conn:
        return [row[0] for row in await conn.execute(sql)]


async def settle_and_flush(runtime: Runtime, recorder: Recorder) -> None:
    """Let the bus deliver to the recorder, then have it write everything queued."""
    await settle(runtime)
    await recorder.flush()


async def test_purge_deletes_old_rows_and_orphans_and_keeps_statistics(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0)
    recorder = recorder_of(runtime)
    old = time.time() - 20 * DAY
    runtime.states.set("sensor.gone", "1", {"only": "old"}, timestamp=old)
    runtime.states.set("sensor.kept", "1", {"a": 1}, timestamp=old)
    runtime.states.set("sensor.kept", "2", {"a": 1})
    runtime.bus.fire_event(Event("old_event", {"x": 1}, time_fired_timestamp=old))
    runtime.bus.fire("new_event", {"y": 2})
    await settle_and_flush(runtime, recorder)
    async with recorder.write_transaction() as conn:
        meta_id = await conn.scalar(
            "INSERT INTO statistics_meta (statistic_id, source, has_mean, has_sum) "
            "VALUES ('sensor.kept', 'recorder', :false, :false) RETURNING id",
            {"false": False},
        )
        await conn.execute(
            "INSERT INTO statistics (metadata_id, start_ts, created_ts, mean) "
            "VALUES (:meta_id, :old, :old, 1.0)",
            {"meta_id": meta_id, "old": old},
        )

    await runtime.services.call("recorder", "purge", {"keep_days": 10})

    entities = set(await column(recorder, "SELECT entity_id FROM states_meta"))
    states = await column(recorder, "SELECT state FROM states")
    types = set(await column(recorder, "SELECT event_type FROM event_types"))
    data = await column(recorder, "SELECT shared_data FROM event_data")
    assert "sensor.gone" not in entities
    assert "sensor.kept" in entities
    assert states.count("2") == 1
    assert "1" not in states
    assert await count(recorder, "state_attributes") == 1  # {"only": "old"} went with its state
    assert "old_event" not in types
    assert "new_event" in types
    assert '{"x":1}' not in data
    assert await count(recorder, "statistics") == 1
    # The writer's caches forgot the deleted ids: the entity comes back with a new row.
    runtime.states.set("sensor.gone", "back", {"only": "old"})
    await settle_and_flush(runtime, recorder)
    async with recorder.connect() as conn:
        [row] = await conn.execute(
            "SELECT s.state, a.shared_attrs FROM states s "
            "JOIN states_meta m ON s.metadata_id = m.metadata_id "
            "JOIN state_attributes a ON s.attributes_id = a.attributes_id "
            "WHERE m.entity_id = 'sensor.gone'"
        )
    assert tuple(row) == ("back", '{"only":"old"}')


async def test_purge_entities_removes_only_their_history(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0)
    recorder = recorder_of(runtime)
    for entity_id in ("sensor.a", "sensor.b", "light.c", "switch.d_rssi"):
        runtime.states.set(entity_id, "1")
        runtime.states.set(entity_id, "2")
    await settle_and_flush(runtime, recorder)
    await runtime.services.call(
        "recorder",
        "purge_entities",
        {"domains": ["light"], "entity_globs": ["*_rssi"]},
        target={"entity_id": "sensor.a"},
    )
    assert set(await column(recorder, "SELECT entity_id FROM states_meta")) == {"sensor.b"}
    assert await count(recorder, "states") == 2


async def test_writes_are_committed_while_a_large_purge_runs(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0.05)
    recorder = recorder_of(runtime)
    old = time.time() - 30 * DAY
    runtime.states.set("sensor.seed", "0")
    await settle_and_flush(runtime, recorder)
    async with recorder.write_transaction() as conn:
        meta_id = await conn.scalar(
            "SELECT metadata_id FROM states_meta WHERE entity_id = 'sensor.seed'"
        )
        await conn.executemany(
            "INSERT INTO states (metadata_id, state, last_updated_ts) VALUES (:m, :state, :ts)",
            [{"m": meta_id, "state": str(i), "ts": old + i} for i in range(100_000)],
        )
    seen_during_purge: list[int] = []
    chunks = 0

    async def between_chunks() -> None:
        nonlocal chunks
        chunks += 1
        runtime.states.set("sensor.live", str(chunks))
        await runtime.bus.drain()
        await recorder.flush()
        seen_during_purge.append(
            await count(
                recorder,
                "states",
                "metadata_id IN "
                "(SELECT metadata_id FROM states_meta WHERE entity_id = 'sensor.live')",
            )
        )

    deleted = await purge_old_data(recorder, 10, chunk_size=5_000, on_chunk=between_chunks)

    assert deleted >= 100_000
    assert chunks >= 19
    # Each write made between two chunks was committed before the purge went on.
    assert seen_during_purge == list(range(1, chunks + 1))
    assert await count(recorder, "states", "last_updated_ts < :day", day=old + DAY) == 0


async def test_repack_gives_the_space_of_purged_rows_back_and_writing_goes_on(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0)
    recorder = recorder_of(runtime)
    old = time.time() - 20 * DAY
    for i in range(2_000):
        runtime.states.set("sensor.old", str(i), {"i": i}, timestamp=old + i)
    runtime.states.set("sensor.new", "1")
    await settle_and_flush(runtime, recorder)
    await purge_old_data(recorder, 10)
    sqlite = recorder.dialect == "sqlite"
    if sqlite:
        async with recorder.connect() as conn:
            assert await conn.scalar("PRAGMA freelist_count") > 0

    # VACUUM runs outside a transaction (PostgreSQL refuses it inside one).
    await repack_database(recorder)

    if sqlite:
        async with recorder.connect() as conn:
            assert await conn.scalar("PRAGMA freelist_count") == 0
    runtime.states.set("sensor.new", "2")
    await settle_and_flush(runtime, recorder)
    assert await column(recorder, "SELECT state FROM states ORDER BY state") == ["1", "2"]


def test_the_compile_and_the_purge_load_no_sqlalchemy_on_sqlite(tmp_path: Path) -> None:
    """In a fresh process on a SQLite site: statistics compiled, the purge with its repack and
    purge_entities, and SQLAlchemy (about 20 MiB of a Pi's memory) never imported."""
    script = textwrap.dedent(
        """
        import asyncio, sys, time
        from pathlib import Path
        from core.runtime import Runtime
        from integrations.recorder.core import get_recorder
        from integrations.recorder.purge import purge_entities
        from integrations.recorder.statistics_compile import compile_missing_statistics

        async def main():
            config = Path(sys.argv[1])
            (config / "configuration.yaml").write_text(
                "http:\\n  server_host: 127.0.0.1\\n  server_port: 0\\n"
                "recorder:\\n  commit_interval: 0\\n"
            )
            runtime = Runtime(config)
            await runtime.start()
            recorder = get_recorder(runtime)
            await recorder.wait_started()
            attributes = {"state_class": "measurement", "unit_of_measurement": "W"}
            for minute in range(30):
                at = time.time() - 3600 + 60 * minute
                runtime.states.set("sensor.power", str(minute), attributes, timestamp=at)
            await recorder.flush()
            await compile_missing_statistics(recorder, runtime.clock.now())
            async with recorder.connect() as conn:
                rows = await conn.scalar("SELECT COUNT(*) FROM statistics_short_term")
            print("statistics", rows > 0)
            await recorder.purge(0, repack=True)
            await purge_entities(recorder, entity_ids=["sensor.power"])
            print("sqlalchemy", "sqlalchemy" in sys.modules)
            await runtime.stop()

        asyncio.run(main())
        """
    )
    lines = run_site_script(script, str(tmp_path))
    assert lines == {"statistics": "True", "sqlalchemy": "False"}


async def test_the_task_that_purged_can_then_stop_the_runtime(
    make_runtime: MakeRuntime, sqlite_url: str
) -> None:
    """stop() cancels a purge in progress, not a task that purged earlier and went on: here the
    same task purges and then stops the runtime (it used to be cancelled by its own stop)."""
    runtime = await make_runtime(sqlite_url)
    recorder = recorder_of(runtime)
    await recorder.purge(keep_days=1)
    async with asyncio.timeout(30):
        await runtime.stop()
    assert recorder.status is RecorderStatus.STOPPED
