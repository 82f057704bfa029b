"""The control log's table (store.py) on SQLite and PostgreSQL, and in tables earlier versions made.

Earlier versions created the table from a SQLAlchemy ``Table`` definition (``OLD_TABLE`` below,
as it was); the store now creates it with plain DDL and must read and extend such a table as it
is, and make a new one the same.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from integrations.appliance.const import Result, Source
from integrations.appliance.control_log import ControlLogEntry, LogQuery
from integrations.appliance.store import ControlLogStore
from tests._helpers import run_site_script
from tests.integrations.recorder.conftest import MakeRuntime, recorder_of

OLD_METADATA = MetaData()
#: The table as earlier versions defined it (and ``METADATA.create_all`` made it).
OLD_TABLE = Table(
    "appliance_control_log",
    OLD_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("appliance", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("source_detail", String(255)),
    Column("user_id", String(64)),
    Column("context_id", String(36), nullable=False),
    Column("parent_context_id", String(36)),
    Column("state_before", String(32), nullable=False),
    Column("result", String(16), nullable=False),
    Column("confirmation_ms", Float),
    Column("error", Text),
    Column("params", Text),
    Index("ix_appliance_control_log_appliance_time", "appliance", "time"),
    Index("ix_appliance_control_log_time", "time"),
)

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def entry(minutes: float, appliance: str = "appliance.fan", **changes: Any) -> ControlLogEntry:
    """An entry ``minutes`` after T0."""
    fields: dict[str, Any] = {
        "time": T0 + timedelta(minutes=minutes),
        "appliance": appliance,
        "action": "turn_on",
        "source": Source.USER,
        "source_detail": None,
        "user_id": "u1",
        "context_id": f"ctx-{minutes}",
        "parent_context_id": None,
        "state_before": "off",
        "result": Result.OK,
        "confirmation_ms": 12.5,
        "error": None,
        "params": {},
    }
    return ControlLogEntry(**(fields | changes))


@pytest.fixture
async def sa_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """The test's own SQLAlchemy engine on the database, as earlier versions used it."""
    engine = create_async_engine(db_url)
    yield engine
    await engine.dispose()


async def _store(make_runtime: MakeRuntime, db_url: str) -> ControlLogStore:
    recorder = recorder_of(await make_runtime(db_url, commit_interval=0))
    store = ControlLogStore(recorder)
    await store.create()
    return store


async def test_a_table_made_by_an_earlier_version_keeps_its_entries_and_takes_new_ones(
    make_runtime: MakeRuntime, db_url: str, sa_engine: AsyncEngine
) -> None:
    async with sa_engine.begin() as conn:
        await conn.run_sync(OLD_METADATA.create_all)
        old = entry(0, "appliance.heater", params={"temperature": 21}, source=Source.AUTOMATION)
        await conn.execute(
            OLD_TABLE.insert().values(
                time=old.time, appliance=old.appliance, action=old.action,
                source=old.source.value, user_id=old.user_id, context_id=old.context_id,
                state_before=old.state_before, result=old.result.value,
                confirmation_ms=old.confirmation_ms, params='{"temperature":21}',
            )
        )  # fmt: skip
    store = await _store(make_runtime, db_url)
    await store.create()  # once more: the table and its indexes are there already
    new = [entry(1), entry(2.5, "appliance.heater", result=Result.ERROR, error="timeout")]
    await store.write(new)

    assert await store.query(LogQuery()) == [new[1], new[0], old]
    assert await store.query(LogQuery(appliance="appliance.heater")) == [new[1], old]
    assert await store.query(LogQuery(source=Source.AUTOMATION)) == [old]
    assert await store.query(LogQuery(start=T0, end=T0 + timedelta(minutes=2))) == [new[0], old]
    # An aware time in another zone is the same instant.
    later = T0.astimezone(datetime.now().astimezone().tzinfo) + timedelta(seconds=30)
    assert await store.query(LogQuery(start=later)) == [new[1], new[0]]
    assert await store.query(LogQuery(limit=1)) == [new[1]]
    async with sa_engine.connect() as conn:
        rows = (await conn.execute(OLD_TABLE.select().order_by(OLD_TABLE.c.id))).all()
    # Earlier versions read what this one writes, times included.
    assert [row.time.replace(tzinfo=UTC) for row in rows] == [old.time, new[0].time, new[1].time]


async def test_a_new_table_is_the_one_earlier_versions_made(
    make_runtime: MakeRuntime, db_url: str, sa_engine: AsyncEngine
) -> None:
    await _store(make_runtime, db_url)

    def describe(sync_conn: Any) -> tuple[list[Any], list[Any]]:
        inspector = inspect(sync_conn)
        columns = [
            (c["name"], str(c["type"]), c["nullable"], c.get("default"))
            for c in inspector.get_columns("appliance_control_log")
        ]
        indexes = sorted(
            (i["name"], i["column_names"]) for i in inspector.get_indexes("appliance_control_log")
        )
        return columns, indexes

    async with sa_engine.connect() as conn:
        made = await conn.run_sync(describe)
        await conn.run_sync(OLD_TABLE.drop)
        await conn.run_sync(OLD_METADATA.create_all)
        assert made == await conn.run_sync(describe)


def test_the_control_log_loads_no_sqlalchemy_on_sqlite(tmp_path: Path) -> None:
    """In a fresh process on a SQLite site: an action logged and read back from the table, and
    SQLAlchemy (about 20 MiB of a Pi's memory) never imported."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from core.runtime import Runtime
        from integrations.appliance.api import CONTROL_LOG
        from integrations.appliance.control_log import LogQuery
        from integrations.recorder.core import get_recorder

        async def main():
            config = Path(sys.argv[1])
            (config / "configuration.yaml").write_text(
                "http:\\n  server_host: 127.0.0.1\\n  server_port: 0\\n"
                "recorder:\\n  commit_interval: 0\\n"
                "appliance:\\n  appliances:\\n    - {name: Fan, area: Office, power: 50}\\n"
            )
            runtime = Runtime(config)
            await runtime.start()
            await get_recorder(runtime).wait_started()
            await runtime.services.call(
                "appliance", "turn_on", target={"entity_id": "appliance.fan"}
            )
            entries = await runtime.data[CONTROL_LOG].query(LogQuery())
            print("logged", [entry.action for entry in entries])
            async with get_recorder(runtime).connect() as conn:
                print("rows", await conn.scalar("SELECT COUNT(*) FROM appliance_control_log"))
            print("sqlalchemy", "sqlalchemy" in sys.modules)
            await runtime.stop()

        asyncio.run(main())
        """
    )
    lines = run_site_script(script, str(tmp_path))
    assert lines == {"logged": "['turn_on']", "rows": "1", "sqlalchemy": "False"}
