"""The recorder's writer on SQLite and PostgreSQL: what is written, how it is deduplicated and
batched, and what happens while the database is away."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

import aiosqlite
import asyncpg
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from ulid_transform import ulid_now

from core.context import Context
from integrations.recorder import core as recorder_core
from integrations.recorder import database as recorder_database
from integrations.recorder import sql as sql_module
from integrations.recorder.const import RecorderStatus
from integrations.recorder.core import Recorder, get_recorder
from integrations.recorder.models import (
    EventData,
    Events,
    EventTypes,
    RecorderRun,
    StateAttributes,
    States,
    StatesMeta,
)
from integrations.recorder.util import bytes_to_context_id, json_loads
from tests._helpers import wait_for

from .conftest import MakeRuntime, orm_session, pg_admin, pg_sqlalchemy_url, recorder_of


def _recorder_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The recorder's own log records; match their format strings, not their text, which may
    hold the database path (and so the test's name)."""
    return [r for r in caplog.records if r.name.startswith("integrations.recorder")]


async def settled_recorder(make_runtime: MakeRuntime, db_url: str, **options: Any) -> Recorder:
    """A started recorder with what start-up fired (edgewise_started and friends) written."""
    runtime = await make_runtime(db_url, **options)
    recorder = recorder_of(runtime)
    await runtime.bus.drain()
    await recorder.flush()
    return recorder


async def count(recorder: Recorder, model: Any, *where: Any) -> int:
    async with orm_session(recorder) as session:
        return int(
            (
                await session.execute(select(func.count()).select_from(model).where(*where))
            ).scalar_one()
        )


async def states_of(recorder: Recorder, entity_id: str) -> list[States]:
    async with orm_session(recorder) as session:
        rows = await session.execute(
            select(States)
            .join(StatesMeta, States.metadata_id == StatesMeta.metadata_id)
            .where(StatesMeta.entity_id == entity_id)
            .order_by(States.state_id)
        )
        return list(rows.scalars())


async def test_states_and_events_are_recorded(make_runtime: MakeRuntime, db_url: str) -> None:
    runtime = await make_runtime(db_url, commit_interval=0)
    recorder = get_recorder(runtime)
    assert recorder.status is RecorderStatus.OK
    runtime.states.set("sensor.temp", "21.5", {"unit_of_measurement": "°C"})
    runtime.bus.fire("my_event", {"answer": 42})
    await runtime.bus.drain()
    await recorder.flush()

    [row] = await states_of(recorder, "sensor.temp")
    assert row.state == "21.5"
    assert row.last_changed_ts is None  # equal to last_updated_ts
    assert row.last_updated_ts == runtime.states.get("sensor.temp").last_updated_timestamp  # type: ignore[union-attr]
    async with orm_session(recorder) as session:
        attrs = (
            await session.execute(
                select(StateAttributes.shared_attrs).where(
                    StateAttributes.attributes_id == row.attributes_id
                )
            )
        ).scalar_one()
        assert json_loads(attrs) == {"unit_of_measurement": "°C"}
        event_row = (
            await session.execute(
                select(Events, EventData.shared_data)
                .join(EventTypes, Events.event_type_id == EventTypes.event_type_id)
                .join(EventData, Events.data_id == EventData.data_id)
                .where(EventTypes.event_type == "my_event")
            )
        ).one()
        assert json_loads(event_row[1]) == {"answer": 42}
        assert event_row[0].origin_idx == 0
        # time_changed and state_reported are never recorded.
        types = set((await session.execute(select(EventTypes.event_type))).scalars())
    assert "time_changed" not in types
    assert "state_reported" not in types
    assert await count(recorder, RecorderRun, RecorderRun.end_ts.is_(None)) == 1


async def test_attributes_and_entity_ids_are_stored_once(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0.05)
    recorder = recorder_of(runtime)
    attributes = {"unit_of_measurement": "W", "friendly_name": "Power"}
    for value in range(1000):
        # A new dict each time: deduplication must not rely on the state machine sharing it.
        runtime.states.set("sensor.power", str(value), dict(attributes))
    await runtime.bus.drain()
    await recorder.flush()
    meta_id = (await states_of(recorder, "sensor.power"))[0].metadata_id
    assert await count(recorder, States, States.metadata_id == meta_id) == 1000
    assert await count(recorder, StateAttributes) == 1
    assert await count(recorder, StatesMeta, StatesMeta.entity_id == "sensor.power") == 1


async def test_old_state_id_links_each_state_to_the_previous_one(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0.05)
    recorder = recorder_of(runtime)
    for value in ("a", "b", "c"):
        runtime.states.set("input_text.x", value)
        runtime.states.set("input_text.y", value)
    await runtime.bus.drain()
    await recorder.flush()
    # A second batch continues the chain from the cache.
    runtime.states.set("input_text.x", "d")
    await runtime.bus.drain()
    await recorder.flush()
    rows = await states_of(recorder, "input_text.x")
    assert [r.state for r in rows] == ["a", "b", "c", "d"]
    assert rows[0].old_state_id is None
    assert [r.old_state_id for r in rows[1:]] == [r.state_id for r in rows[:-1]]


async def test_last_changed_is_kept_when_only_attributes_change(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0)
    recorder = recorder_of(runtime)
    runtime.states.set("light.desk", "on", {"brightness": 1}, timestamp=1000.0)
    runtime.states.set("light.desk", "on", {"brightness": 2}, timestamp=1010.0)
    await runtime.bus.drain()
    await recorder.flush()
    first, second = await states_of(recorder, "light.desk")
    assert (first.last_updated_ts, first.last_changed_ts) == (1000.0, None)
    assert (second.last_updated_ts, second.last_changed_ts) == (1010.0, 1000.0)
    assert first.attributes_id != second.attributes_id


async def test_removal_is_recorded_as_a_row_without_state(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0)
    recorder = recorder_of(runtime)
    runtime.states.set("switch.pump", "on")
    runtime.states.remove("switch.pump")
    runtime.states.set("switch.pump", "off")
    await runtime.bus.drain()
    await recorder.flush()
    on, removed, off = await states_of(recorder, "switch.pump")
    assert removed.state is None
    assert removed.attributes_id is None
    assert removed.old_state_id == on.state_id
    # After a removal the entity starts a new chain.
    assert off.old_state_id is None


@pytest.mark.parametrize(
    "context",
    [
        Context(id=ulid_now(), parent_id=ulid_now(), user_id="a" * 32),
        Context(id="not-a-ulid", parent_id="01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        Context(id="abcdefghijklmnopqrstuvwxyz"),  # 26 characters, lower case: not a ULID
    ],
    ids=["ulid", "text", "lowercase-26"],
)
async def test_context_ids_round_trip(
    make_runtime: MakeRuntime, db_url: str, context: Context
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0)
    recorder = recorder_of(runtime)
    runtime.states.set("sensor.ctx", "1", context=context)
    runtime.bus.fire("ctx_event", {"x": 1}, context)
    await runtime.bus.drain()
    await recorder.flush()
    [row] = await states_of(recorder, "sensor.ctx")
    assert bytes_to_context_id(row.context_id_bin) == context.id
    assert bytes_to_context_id(row.context_parent_id_bin) == context.parent_id
    assert row.context_user_id == context.user_id
    async with orm_session(recorder) as session:
        event = (
            await session.execute(
                select(Events)
                .join(EventTypes, Events.event_type_id == EventTypes.event_type_id)
                .where(EventTypes.event_type == "ctx_event")
            )
        ).scalar_one()
    assert bytes_to_context_id(event.context_id_bin) == context.id
    assert bytes_to_context_id(event.context_parent_id_bin) == context.parent_id


def count_commits(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the writer's transactions that wrote states (statistics compiles write too)."""
    commits: list[int] = []
    database = recorder.database()
    write = database.write

    async def counted(batch: list[Any]) -> int:
        written = await write(batch)
        if any(item.event_type == "state_changed" for item in batch[:written]):
            commits.append(1)
        return written

    monkeypatch.setattr(database, "write", counted)
    return commits


async def test_commit_interval_batches_writes_into_few_transactions(
    make_runtime: MakeRuntime, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0.2)
    recorder = recorder_of(runtime)
    commits = count_commits(recorder, monkeypatch)
    for value in range(200):
        runtime.states.set("sensor.batch", str(value))
        if value % 20 == 0:
            await asyncio.sleep(0.01)
    await runtime.bus.drain()
    await recorder.flush()
    assert await count(recorder, States) == 200
    assert 1 <= len(commits) <= 3


async def test_a_full_batch_is_written_without_waiting_for_the_commit_interval(
    make_runtime: MakeRuntime, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_core, "MAX_BATCH_SIZE", 50)
    recorder = await settled_recorder(make_runtime, db_url, commit_interval=3600)
    runtime = recorder.runtime
    runtime.states.set("sensor.busy", "first")
    await runtime.bus.drain()
    await asyncio.sleep(0.05)  # the writer is now waiting out its hour
    for value in range(49):
        runtime.states.set("sensor.busy", str(value))
    await runtime.bus.drain()
    # No flush(): a whole batch is queued, so the writer must not wait for the hour to end.
    await wait_for(lambda: recorder.queue_size == 0)
    assert await count(recorder, States) == 50


async def test_batches_larger_than_one_insert_keep_order_links_and_events(
    make_runtime: MakeRuntime, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seven rows per INSERT: a batch of 60 states and 20 events takes several of each.
    monkeypatch.setattr(recorder_database, "INSERT_CHUNK_ROWS", 7)
    recorder = await settled_recorder(make_runtime, db_url, commit_interval=0.2)
    runtime = recorder.runtime
    for value in range(60):
        runtime.states.set(f"sensor.chunk_{value % 3}", str(value), {"n": value % 2})
        if value % 3 == 0:
            runtime.bus.fire("chunk_event", {"value": value})
    await runtime.bus.drain()
    await recorder.flush()
    for entity in range(3):
        rows = await states_of(recorder, f"sensor.chunk_{entity}")
        assert [r.state for r in rows] == [str(v) for v in range(entity, 60, 3)]
        assert rows[0].old_state_id is None
        assert [r.old_state_id for r in rows[1:]] == [r.state_id for r in rows[:-1]]
    async with orm_session(recorder) as session:
        payloads = (
            await session.execute(
                select(EventData.shared_data)
                .join(Events, Events.data_id == EventData.data_id)
                .join(EventTypes, Events.event_type_id == EventTypes.event_type_id)
                .where(EventTypes.event_type == "chunk_event")
                .order_by(Events.event_id)
            )
        ).scalars()
        assert [json_loads(p)["value"] for p in payloads] == list(range(0, 60, 3))
    assert await count(recorder, StateAttributes) == 2


class _Unprintable:
    """An object an integration put in event data that cannot even be shown as text."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    __repr__ = object.__repr__


async def test_a_bad_item_is_skipped_and_logged_and_the_rest_of_its_batch_written(
    make_runtime: MakeRuntime,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = await settled_recorder(make_runtime, db_url, commit_interval=0.2)
    runtime = recorder.runtime
    transactions = count_commits(recorder, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="integrations.recorder"):
        for value in range(200):
            runtime.states.set("sensor.good", str(value))
            if value in (50, 150):
                runtime.bus.fire("bad_payload", {"value": value, "thing": _Unprintable()})
        await runtime.bus.drain()
        await recorder.flush()
    # Every good state is there, in order; the two bad events are not.
    rows = await states_of(recorder, "sensor.good")
    assert [r.state for r in rows] == [str(v) for v in range(200)]
    assert await count(recorder, EventTypes, EventTypes.event_type == "bad_payload") == 0
    skipped = [r for r in _recorder_records(caplog) if "skipped" in str(r.msg)]
    assert len(skipped) == 2
    assert [str(r.exc_info[1]) for r in skipped if r.exc_info] == ["no text for you"] * 2
    # Halving found the two bad items in far fewer transactions than one per item.
    assert len(transactions) < 40
    # The writer carries on with what comes next.
    runtime.states.set("sensor.good", "after")
    await runtime.bus.drain()
    await recorder.flush()
    assert (await states_of(recorder, "sensor.good"))[-1].state == "after"
    assert recorder.status is RecorderStatus.OK


async def test_commit_interval_zero_commits_each_item(
    make_runtime: MakeRuntime, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = await make_runtime(
        db_url, commit_interval=0, exclude={"event_types": ["call_service"]}
    )
    recorder = recorder_of(runtime)
    await runtime.bus.drain()  # edgewise_started and friends are still on their way
    await recorder.flush()
    commits = count_commits(recorder, monkeypatch)
    for value in range(5):
        runtime.states.set("sensor.each", str(value))
        await runtime.bus.drain()
        # No flush(): the writer must commit the single item on its own (waited for, not timed).
        await wait_for(lambda n=value + 1: recorder.queue_size == 0 and len(commits) >= n)
        assert len(commits) == value + 1
        assert await count(recorder, States) == value + 1


async def test_include_and_exclude_filters(make_runtime: MakeRuntime, db_url: str) -> None:
    runtime = await make_runtime(
        db_url,
        commit_interval=0,
        include={"domains": ["sensor", "light"], "entities": ["switch.kept"]},
        exclude={
            "entities": ["sensor.noisy"],
            "entity_globs": ["sensor.*_rssi"],
            "event_types": ["chatter"],
        },
    )
    recorder = recorder_of(runtime)
    for entity_id in (
        "sensor.temp",
        "sensor.noisy",
        "sensor.wifi_rssi",
        "light.desk",
        "switch.kept",
        "switch.other",
        "binary_sensor.door",
    ):
        runtime.states.set(entity_id, "1")
    runtime.bus.fire("chatter", {"a": 1})
    runtime.bus.fire("wanted", {"a": 1})
    await runtime.bus.drain()
    await recorder.flush()
    async with orm_session(recorder) as session:
        recorded = set((await session.execute(select(StatesMeta.entity_id))).scalars())
        types = set((await session.execute(select(EventTypes.event_type))).scalars())
    assert recorded == {"sensor.temp", "light.desk", "switch.kept"}
    assert "wanted" in types
    assert "chatter" not in types


async def test_stop_flushes_everything_queued(make_runtime: MakeRuntime, db_url: str) -> None:
    runtime = await make_runtime(db_url, commit_interval=60)
    recorder = recorder_of(runtime)
    for value in range(300):
        runtime.states.set("sensor.flush", str(value))
    await runtime.bus.drain()
    assert recorder.queue_size > 0
    await runtime.stop()
    assert recorder.status is RecorderStatus.STOPPED
    reopened = Recorder(runtime, recorder.config)
    async with orm_session(reopened) as session:
        total = (await session.execute(select(func.count()).select_from(States))).scalar_one()
        runs = (await session.execute(select(RecorderRun))).scalars().all()
    assert total == 300
    assert all(run.end_ts is not None and not run.closed_incorrect for run in runs)


# --- PostgreSQL going away ----------------------------------------------------------------------


async def take_database_away(name: str) -> None:
    """Cut the recorder's connections and rename the database, so reconnecting fails."""
    for attempt in range(20):
        await pg_admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"  # noqa: S608 - a test database name
        )
        try:
            await pg_admin(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"')
        except asyncpg.ObjectInUseError:
            # A connection (the writer's or a statistics compile's) came back in between.
            if attempt == 19:
                raise
            continue
        return


async def bring_database_back(name: str) -> None:
    await pg_admin(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"')


async def test_states_are_queued_while_postgresql_is_away_and_written_after(
    make_runtime: MakeRuntime, pg_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = await make_runtime(
        pg_sqlalchemy_url(pg_database), commit_interval=0.05, db_retry_wait=0.1
    )
    recorder = recorder_of(runtime)
    for value in range(10):
        runtime.states.set("sensor.pg", str(value))
    await runtime.bus.drain()
    await recorder.flush()

    await take_database_away(pg_database)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="integrations.recorder"):
        for value in range(10, 60):
            runtime.states.set("sensor.pg", str(value))
            await asyncio.sleep(0.01)
        await runtime.bus.drain()
        await wait_for(lambda: recorder.status is RecorderStatus.DEGRADED)
        await asyncio.sleep(0.5)  # several retries fail meanwhile
        assert recorder.queue_size > 0
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "unavailable" in warnings[0].getMessage()

    await bring_database_back(pg_database)
    async with asyncio.timeout(15):
        await recorder.flush()
    assert recorder.status is RecorderStatus.OK
    rows = await states_of(recorder, "sensor.pg")
    assert [r.state for r in rows] == [str(v) for v in range(60)]
    assert recorder.dropped == 0


async def test_queue_limit_drops_the_newest_items_and_counts_them(
    make_runtime: MakeRuntime, pg_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = await make_runtime(
        pg_sqlalchemy_url(pg_database),
        commit_interval=0.05,
        db_retry_wait=0.1,
        max_queue=100,
        exclude={"event_types": ["call_service", "service_registered"]},
    )
    recorder = recorder_of(runtime)
    await runtime.bus.drain()
    await recorder.flush()
    await take_database_away(pg_database)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="integrations.recorder"):
        for value in range(101):
            runtime.states.set("sensor.full", str(value))
        await runtime.bus.drain()
        assert recorder.queue_size == 100
        assert recorder.dropped == 1
        assert recorder.status is RecorderStatus.FULL
        for value in range(101, 110):
            runtime.states.set("sensor.full", str(value))
        await runtime.bus.drain()
        assert recorder.dropped == 10
        full_warnings = [r for r in _recorder_records(caplog) if "full" in str(r.msg)]
        assert len(full_warnings) == 1
    await bring_database_back(pg_database)
    async with asyncio.timeout(15):
        await recorder.flush()
    assert recorder.status is RecorderStatus.OK
    rows = await states_of(recorder, "sensor.full")
    assert [r.state for r in rows] == [str(v) for v in range(100)]


async def test_full_queue_stays_full_until_half_is_free_and_warns_once(
    make_runtime: MakeRuntime,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small batches make the writer free a little room at a time.
    monkeypatch.setattr(recorder_core, "MAX_BATCH_SIZE", 10)
    runtime = await make_runtime(
        sqlite_url,
        commit_interval=0.01,
        max_queue=100,
        exclude={"event_types": ["call_service", "service_registered"]},
    )
    recorder = recorder_of(runtime)
    await runtime.bus.drain()
    await recorder.flush()
    with caplog.at_level(logging.WARNING, logger="integrations.recorder"):
        for value in range(150):
            runtime.states.set("sensor.full", str(value))
        await runtime.bus.drain()
        assert recorder.status is RecorderStatus.FULL
        assert recorder.dropped == 50
        async with asyncio.timeout(10):
            while recorder.queue_size > 90:  # noqa: ASYNC110 - checked each loop turn
                await asyncio.sleep(0)
        # One batch is written, but half the queue is not free: still one episode.
        assert recorder.status is RecorderStatus.FULL
        runtime.states.set("sensor.full", "150")
        await runtime.bus.drain()
        async with asyncio.timeout(15):
            await recorder.flush()
        assert recorder.status is RecorderStatus.OK
        full_warnings = [r for r in _recorder_records(caplog) if "full" in str(r.msg)]
        assert len(full_warnings) == 1
    assert recorder.dropped == 50


async def test_batch_committed_despite_a_failed_commit_is_not_written_twice(
    make_runtime: MakeRuntime,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = await make_runtime(
        db_url,
        commit_interval=0,
        db_retry_wait=0.05,
        exclude={"event_types": ["call_service", "service_registered"]},
    )
    recorder = recorder_of(runtime)
    await runtime.bus.drain()
    await recorder.flush()
    failed: list[int] = []
    lose_commit_after_writing(recorder, monkeypatch, failed)
    with caplog.at_level(logging.WARNING, logger="integrations.recorder"):
        runtime.states.set("sensor.doubt", "1")
        runtime.bus.fire("doubt_event", {"n": 1})
        await runtime.bus.drain()
        async with asyncio.timeout(30):
            await recorder.flush()
    assert failed
    assert "not written twice" in caplog.text
    [first] = await states_of(recorder, "sensor.doubt")
    assert first.state == "1"
    event_rows = await count(
        recorder, Events, Events.event_type_id.in_(
            select(EventTypes.event_type_id).where(EventTypes.event_type == "doubt_event")
        )
    )  # fmt: skip
    assert event_rows == 1
    # The ids of the batch in doubt were kept: the next state links back to it.
    runtime.states.set("sensor.doubt", "2")
    await recorder.flush()
    rows = await states_of(recorder, "sensor.doubt")
    assert [(r.state, r.old_state_id) for r in rows] == [("1", None), ("2", first.state_id)]


def lose_commit_after_writing(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, failed: list[int]
) -> None:
    """Make the first COMMIT of a transaction that wrote states or events reach the database
    and then fail on the connection, as when the network drops before the answer arrives.

    SQLite runs on aiosqlite, a server on SQLAlchemy: each is hooked at its driver's commit.
    """
    writing: set[int] = set()
    if recorder.dialect == "sqlite":
        original_insert = sql_module._SqliteConnection.insert_rows
        original_commit = aiosqlite.Connection.commit

        async def insert_rows(self: Any, table: str, *args: Any) -> None:
            await original_insert(self, table, *args)
            if table in ("states", "events"):
                writing.add(id(self.raw))

        async def commit(self: aiosqlite.Connection) -> None:
            await original_commit(self)
            if id(self) in writing and not failed:
                failed.append(1)
                raise sqlite3.OperationalError("connection lost after COMMIT")

        monkeypatch.setattr(sql_module._SqliteConnection, "insert_rows", insert_rows)
        monkeypatch.setattr(aiosqlite.Connection, "commit", commit)
        return
    engine = recorder.database().db.engine  # type: ignore[attr-defined]
    original_do_commit = engine.dialect.do_commit

    def executed(conn: Any, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith(("INSERT INTO states ", "INSERT INTO events ")):
            writing.add(id(conn.connection))  # the pooled connection do_commit is given

    def commit_then_lose_the_connection(dbapi_connection: Any) -> None:
        # The database carries out the COMMIT; its answer never reaches the recorder.
        original_do_commit(dbapi_connection)
        if id(dbapi_connection) in writing and not failed:
            failed.append(1)
            raise engine.dialect.loaded_dbapi.OperationalError("connection lost after COMMIT")

    sa_event.listen(engine.sync_engine, "after_cursor_execute", executed)
    monkeypatch.setattr(engine.dialect, "do_commit", commit_then_lose_the_connection)


async def test_purge_and_reads_called_at_once_wait_for_the_database(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    """A service call or a history read made as soon as /ready answers (before the writer has
    opened the database) waits for the schema instead of failing with "no such table"."""
    runtime = await make_runtime(db_url, wait_database=False)
    recorder = recorder_of(runtime)
    runtime.states.set("sensor.early", "1")
    await runtime.services.call("recorder", "purge", {"keep_days": 30}, blocking=True)
    await recorder.flush()
    async with orm_session(recorder) as session:
        total = (await session.execute(select(func.count()).select_from(States))).scalar_one()
    assert total >= 1


async def test_sqlite_connections_keep_a_bounded_page_cache(
    make_runtime: MakeRuntime, sqlite_url: str
) -> None:
    # Each pooled connection may hold this many KiB of pages for good, so it is kept small
    # (a Pi's idle memory); reads and writes both go through connections set up the same way.
    recorder = await settled_recorder(make_runtime, sqlite_url)
    async with recorder.connect() as conn:
        cache_size = await conn.scalar("PRAGMA cache_size")
    async with recorder.write_transaction() as conn:
        writer_cache_size = await conn.scalar("PRAGMA cache_size")

    assert cache_size == writer_cache_size == -sql_module.SQLITE_CACHE_KIB
    assert sql_module.SQLITE_CACHE_KIB <= 4096
