"""Creating and upgrading the recorder's schema."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from ulid_transform import ulid_now

from core.integration import IntegrationStatus
from integrations.recorder.const import SCHEMA_VERSION
from integrations.recorder.core import RECORDER
from integrations.recorder.history import get_downsampled, get_significant_states
from integrations.recorder.models import SchemaChange, States
from integrations.recorder.util import bytes_to_context_id

from .conftest import MakeRuntime, orm_session, recorder_of

#: The version 1 schema of the tables the v1→v2 step changes (context ids as text).
V1_DDL = (
    "CREATE TABLE schema_changes (change_id {pk}, schema_version INTEGER, changed_ts FLOAT)",
    "CREATE TABLE states_meta (metadata_id {pk}, entity_id VARCHAR(255) UNIQUE)",
    "CREATE TABLE state_attributes (attributes_id {pk}, hash BIGINT, shared_attrs TEXT)",
    "CREATE TABLE states (state_id {pk}, metadata_id INTEGER, state VARCHAR(255), "
    "attributes_id INTEGER, last_updated_ts FLOAT, last_changed_ts FLOAT, old_state_id INTEGER, "
    "context_id TEXT, context_user_id VARCHAR(36), context_parent_id TEXT)",
    "CREATE TABLE event_types (event_type_id {pk}, event_type VARCHAR(64) UNIQUE)",
    "CREATE TABLE event_data (data_id {pk}, hash BIGINT, shared_data TEXT)",
    "CREATE TABLE events (event_id {pk}, event_type_id INTEGER, data_id INTEGER, "
    "origin_idx SMALLINT, time_fired_ts FLOAT, context_id TEXT, context_user_id VARCHAR(36), "
    "context_parent_id TEXT)",
    "INSERT INTO schema_changes (schema_version, changed_ts) VALUES (1, 0)",
)


def v1_ddl(url: str) -> list[str]:
    """The v1 DDL for the URL's database (auto-incremented keys differ)."""
    pk = "INTEGER PRIMARY KEY" if url.startswith("sqlite") else "BIGSERIAL PRIMARY KEY"
    return [statement.replace("{pk}", pk) for statement in V1_DDL]


async def _execute(url: str, statements: list[str], params: dict[str, str]) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                clause = text(statement)
                await conn.execute(
                    clause, {k: v for k, v in params.items() if k in clause._bindparams}
                )
    finally:
        await engine.dispose()


async def test_new_database_gets_the_current_schema(make_runtime: MakeRuntime, db_url: str) -> None:
    runtime = await make_runtime(db_url)
    recorder = recorder_of(runtime)
    async with orm_session(recorder) as session:
        versions = (await session.execute(select(SchemaChange.schema_version))).scalars().all()
    assert versions == [SCHEMA_VERSION]


async def test_version_1_database_is_upgraded_and_its_context_ids_converted(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    ulid, parent = ulid_now(), ulid_now()
    rows = [
        "INSERT INTO states_meta (entity_id) VALUES ('sensor.old')",
        "INSERT INTO states (metadata_id, state, last_updated_ts, context_id, context_parent_id) "
        "VALUES ((SELECT metadata_id FROM states_meta), 'a', 100, :ulid, :parent)",
        "INSERT INTO states (metadata_id, state, last_updated_ts, context_id, context_parent_id) "
        "VALUES ((SELECT metadata_id FROM states_meta), 'b', 200, 'legacy-id', NULL)",
        "INSERT INTO event_types (event_type) VALUES ('old_event')",
        "INSERT INTO events (event_type_id, origin_idx, time_fired_ts, context_id) "
        "VALUES ((SELECT event_type_id FROM event_types), 0, 100, :ulid)",
    ]
    await _execute(db_url, [*v1_ddl(db_url), *rows], {"ulid": ulid, "parent": parent})

    runtime = await make_runtime(db_url, commit_interval=0)
    recorder = recorder_of(runtime)
    async with orm_session(recorder) as session:
        versions = (
            (
                await session.execute(
                    select(SchemaChange.schema_version).order_by(SchemaChange.change_id)
                )
            )
            .scalars()
            .all()
        )
        states = (await session.execute(select(States).order_by(States.state_id))).scalars().all()
        columns = {
            row[0]
            for row in (
                await session.execute(
                    text(
                        "SELECT name FROM pragma_table_info('states')"
                        if db_url.startswith("sqlite")
                        else "SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'states'"
                    )
                )
            )
        }
        event_context = (
            await session.execute(
                text("SELECT context_id_bin FROM events WHERE time_fired_ts = 100")
            )
        ).scalar_one()
    assert versions == [1, 2, 3]
    assert [bytes_to_context_id(s.context_id_bin) for s in states] == [ulid, "legacy-id"]
    assert [bytes_to_context_id(s.context_parent_id_bin) for s in states] == [parent, None]
    assert "context_id" not in columns
    assert "context_parent_id" not in columns
    assert bytes_to_context_id(bytes(event_context)) == ulid
    # The upgraded database takes new states, continuing the entity's history.
    runtime.states.set("sensor.old", "c")
    await runtime.bus.drain()
    await recorder.flush()
    async with orm_session(recorder) as session:
        latest = (
            await session.execute(select(States).order_by(States.state_id.desc()).limit(1))
        ).scalar_one()
    assert (latest.metadata_id, latest.state) == (states[0].metadata_id, "c")
    assert latest.old_state_id is None  # the cache starts empty; the link is not guessed


#: The version 2 schema of ``states`` (context ids as bytes) and its index on two columns.
V2_DDL = (
    "CREATE TABLE schema_changes (change_id {pk}, schema_version INTEGER, changed_ts FLOAT)",
    "CREATE TABLE states_meta (metadata_id {pk}, entity_id VARCHAR(255) UNIQUE)",
    "CREATE TABLE state_attributes (attributes_id {pk}, hash BIGINT, shared_attrs TEXT)",
    "CREATE TABLE states (state_id {pk}, metadata_id INTEGER, state VARCHAR(255), "
    "attributes_id INTEGER, last_updated_ts FLOAT, last_changed_ts FLOAT, old_state_id INTEGER, "
    "context_id_bin {blob}, context_user_id VARCHAR(36), context_parent_id_bin {blob})",
    "CREATE INDEX ix_states_metadata_id_last_updated_ts ON states (metadata_id, last_updated_ts)",
    "CREATE INDEX ix_states_last_updated_ts ON states (last_updated_ts)",
    "INSERT INTO schema_changes (schema_version, changed_ts) VALUES (1, 0)",
    "INSERT INTO schema_changes (schema_version, changed_ts) VALUES (2, 0)",
)


async def test_version_2_database_gets_the_covering_states_index(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    sqlite = db_url.startswith("sqlite")
    ddl = [
        s.replace("{pk}", "INTEGER PRIMARY KEY" if sqlite else "BIGSERIAL PRIMARY KEY").replace(
            "{blob}", "BLOB" if sqlite else "BYTEA"
        )
        for s in V2_DDL
    ]
    rows = [
        "INSERT INTO states_meta (entity_id) VALUES ('sensor.old')",
        "INSERT INTO states (metadata_id, state, last_updated_ts) "
        "VALUES ((SELECT metadata_id FROM states_meta), '1.5', 100)",
        "INSERT INTO states (metadata_id, state, last_updated_ts) "
        "VALUES ((SELECT metadata_id FROM states_meta), '4', 110)",
        "INSERT INTO states (metadata_id, state, last_updated_ts) "
        "VALUES ((SELECT metadata_id FROM states_meta), '2.5', 110)",
        "INSERT INTO states (metadata_id, state, last_updated_ts) "
        "VALUES ((SELECT metadata_id FROM states_meta), '6', 130)",
    ]
    await _execute(db_url, [*ddl, *rows], {})

    runtime = await make_runtime(db_url)
    recorder = recorder_of(runtime)
    async with orm_session(recorder) as session:
        conn = await session.connection()
        versions = (
            await conn.scalars(select(SchemaChange.schema_version).order_by(SchemaChange.change_id))
        ).all()
        indexes = await conn.run_sync(lambda sync: inspect(sync).get_indexes("states"))
    start, end = datetime.fromtimestamp(100, UTC), datetime.fromtimestamp(140, UTC)
    history = await get_significant_states(recorder, start, end, ["sensor.old"])
    downsampled = await get_downsampled(recorder, ["sensor.old"], start, end, points=2)

    assert versions == [1, 2, 3]
    assert {i["name"]: i["column_names"] for i in indexes} == {
        "ix_states_metadata_id_last_updated_ts_state": [
            "metadata_id", "last_updated_ts", "state_id", "state"
        ],
        "ix_states_last_updated_ts": ["last_updated_ts"],
    }  # fmt: skip
    # Rows of the same time keep the order they were written in.
    assert [s.state for s in history["sensor.old"]] == ["1.5", "4", "2.5", "6"]
    assert downsampled["sensor.old"] == [
        {"t": start.isoformat(), "mean": 8 / 3, "min": 1.5, "max": 4.0, "count": 3},
        {"t": datetime.fromtimestamp(120, UTC).isoformat(), "mean": 6.0, "min": 6.0,
         "max": 6.0, "count": 1},
    ]  # fmt: skip


async def test_newer_schema_is_refused_and_left_untouched(
    make_runtime: MakeRuntime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE schema_changes (change_id INTEGER PRIMARY KEY, schema_version INTEGER, "
            "changed_ts FLOAT)"
        )
        conn.execute("INSERT INTO schema_changes (schema_version, changed_ts) VALUES (99, 0)")
    before = path.read_bytes()

    runtime = await make_runtime(f"sqlite+aiosqlite:///{path}")

    loaded = runtime.loader.get("recorder")
    assert loaded is not None
    # Set up at once (the database opens after start-up), then reported as failed.
    assert loaded.status is IntegrationStatus.FAILED
    assert "schema version 99" in (loaded.error or "")
    assert RECORDER not in runtime.data
    assert not runtime.services.has("recorder", "purge")
    assert not runtime.services.has("recorder", "get_statistics")
    assert "newer" in caplog.text
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"schema_changes"}
    assert path.read_bytes() == before
