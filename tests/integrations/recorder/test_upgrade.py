"""Upgrades: a site recorded by each released schema version runs on this version.

The fixtures in tests/fixtures/upgrade/ were recorded by the released revisions themselves
(``make_fixtures.py`` says how): the simulated site's database on SQLite and on PostgreSQL,
and its ``.storage``. Each is loaded as it was left, this version starts on it, and the history
recorded then, the registries and the restored states must all be there, on the current schema.
Schema v1 (never in the repository as code) is covered by test_migration.py's hand-built tables.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from core.runtime import Runtime
from integrations.recorder.const import SCHEMA_VERSION
from integrations.recorder.core import RECORDER
from integrations.recorder.history import get_significant_states
from integrations.recorder.models import SchemaChange, States, StatesMeta

from .conftest import orm_session, pg_dsn

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "upgrade"
RELEASED = sorted(int(p.name[1:]) for p in FIXTURES.glob("v*") if p.is_dir())


async def _load(db_url: str, version: int) -> None:
    """The released version's database, as it left it."""
    if db_url.startswith("sqlite"):
        path = db_url.split(":///", 1)[1]
        with sqlite3.connect(path) as conn:
            conn.executescript((FIXTURES / f"v{version}" / "sqlite.sql").read_text())
        conn.close()
        return
    conn = await asyncpg.connect(pg_dsn(db_url.rsplit("/", 1)[1]), timeout=10)
    try:
        await conn.execute((FIXTURES / f"v{version}" / "postgresql.sql").read_text())
    finally:
        await conn.close()


def test_every_released_schema_version_has_a_fixture() -> None:
    assert list(range(2, SCHEMA_VERSION + 1)) == RELEASED


@pytest.mark.parametrize("version", RELEASED)
async def test_a_site_recorded_by_a_released_version_runs_on_this_one(
    db_url: str, version: int, tmp_path: Path
) -> None:
    await _load(db_url, version)
    config = tmp_path / "site"
    config.mkdir()
    shutil.copytree(FIXTURES / f"v{version}" / "storage", config / ".storage")
    (config / "configuration.yaml").write_text(
        textwrap.dedent(
            f"""\
            http:
              server_host: 127.0.0.1
              server_port: 0
            recorder:
              db_url: {db_url}
              commit_interval: 0
              auto_purge: false
            input_boolean:
              vacation_mode:
                name: Vacation mode
            """
        )
    )
    stored = json.loads((config / ".storage" / "core.entity_registry").read_text())
    # The released file as it was, but with vacation mode on: a value the default is not.
    restore_file = config / ".storage" / "core.restore_state"
    restored = json.loads(restore_file.read_text())
    (vacation_saved,) = (
        item for item in restored["data"]["states"]
        if item["state"]["entity_id"] == "input_boolean.vacation_mode"
    )  # fmt: skip
    vacation_saved["state"]["state"] = "on"
    restore_file.write_text(json.dumps(restored))
    runtime = Runtime(config)
    await runtime.start()
    try:
        recorder = runtime.data[RECORDER]
        async with asyncio.timeout(60):
            await recorder.wait_started()
        async with orm_session(recorder) as session:
            versions = (
                await session.scalars(
                    select(SchemaChange.schema_version).order_by(SchemaChange.change_id)
                )
            ).all()
            busiest = (
                await session.execute(
                    select(StatesMeta.entity_id, func.count())
                    .join(States, States.metadata_id == StatesMeta.metadata_id)
                    .where(States.state.is_not(None))  # not the removals at shutdown
                    .group_by(StatesMeta.entity_id)
                    .order_by(func.count().desc(), StatesMeta.entity_id)
                    .limit(1)
                )
            ).one()
        assert versions == list(range(version, SCHEMA_VERSION + 1))

        # The history the released version recorded reads back in full.
        entity_id, count = busiest
        history = await get_significant_states(
            recorder,
            datetime(2000, 1, 1, tzinfo=UTC),
            datetime.now(UTC),
            [entity_id],
            significant_changes_only=False,
        )
        assert len(history[entity_id]) == count

        # The registries and the restore state the released version stored load as they were.
        registered = {e["entity_id"] for e in stored["data"]["entities"]}
        assert registered <= {entry.entity_id for entry in runtime.entity_registry.values()}
        vacation = runtime.states.get("input_boolean.vacation_mode")
        assert vacation is not None
        assert vacation.state == "on"

        # And this version goes on recording into it.
        runtime.states.set(entity_id, "after-upgrade")
        await recorder.flush()
        async with orm_session(recorder) as session:
            total = await session.scalar(
                select(func.count())
                .select_from(States)
                .join(StatesMeta, States.metadata_id == StatesMeta.metadata_id)
                .where(StatesMeta.entity_id == entity_id, States.state.is_not(None))
            )
        assert total == count + 1
    finally:
        await runtime.stop()
