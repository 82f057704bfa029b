"""The recorder's start-up: a light setup, the database opened after /ready, nothing lost meanwhile,
and a database it cannot use reported as the integration's failure."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from core.integration import IntegrationStatus
from integrations.recorder.const import RecorderStatus
from integrations.recorder.core import RECORDER, get_recorder
from integrations.recorder.errors import RecorderUnavailableError
from integrations.recorder.models import EventTypes, States, StatesMeta
from tests._helpers import run_site_script

from .conftest import MakeRuntime, orm_session


def test_setup_imports_no_sqlalchemy_and_ready_comes_first(tmp_path: Path) -> None:
    """In a fresh process: after Runtime.start() (the moment /ready turns 200), SQLAlchemy is
    not imported and the database file does not exist; the writer opens it afterwards, and a
    SQLite site never loads SQLAlchemy at all (its schema is created in a child process)."""
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from core.runtime import Runtime
        from integrations.recorder.core import get_recorder

        async def main():
            config = Path({str(tmp_path)!r})
            (config / "configuration.yaml").write_text(
                "http:\\n  server_host: 127.0.0.1\\n  server_port: 0\\nrecorder:\\n"
            )
            runtime = Runtime(config)
            await runtime.start()
            print("ready", runtime.ready)
            print("sqlalchemy", "sqlalchemy" in sys.modules)
            print("db_file", (config / "edgewise.db").exists())
            recorder = get_recorder(runtime)
            print("status", await recorder.wait_started())
            print("sqlalchemy_after", "sqlalchemy" in sys.modules)
            await runtime.stop()

        asyncio.run(main())
        """
    )
    lines = run_site_script(script)
    assert lines == {
        "ready": "True",
        "sqlalchemy": "False",
        "db_file": "False",
        "status": "ok",
        "sqlalchemy_after": "False",
    }


async def test_what_is_fired_before_the_database_opens_is_recorded(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    # sun sets sun.sun during its own setup, before the recorder's database is open.
    runtime = await make_runtime(db_url, wait_database=False, extra_yaml="sun:\n")
    recorder = get_recorder(runtime)
    # No await since start(): the writer has not even begun to open the database.
    assert recorder.status is RecorderStatus.STARTING
    assert not recorder.database_ready
    for value in range(50):
        runtime.states.set("sensor.early", str(value))
    runtime.bus.fire("early_event", {"n": 1})
    await recorder.flush()
    assert recorder.status is RecorderStatus.OK
    async with orm_session(recorder) as session:
        early = (
            await session.execute(
                select(States.state)
                .join(StatesMeta, States.metadata_id == StatesMeta.metadata_id)
                .where(StatesMeta.entity_id == "sensor.early")
                .order_by(States.state_id)
            )
        ).scalars()
        sun = (
            await session.execute(
                select(StatesMeta.metadata_id).where(StatesMeta.entity_id == "sun.sun")
            )
        ).scalar()
        types = set((await session.execute(select(EventTypes.event_type))).scalars())
    assert list(early) == [str(value) for value in range(50)]
    assert sun is not None
    assert {"early_event", "service_registered", "edgewise_started"} <= types


async def test_a_file_that_is_no_database_fails_the_integration_and_stops_queuing(
    make_runtime: MakeRuntime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "not-a-database.db"
    path.write_bytes(b"this is a text file, not SQLite\n" * 64)
    before = path.read_bytes()

    runtime = await make_runtime(
        f"sqlite+aiosqlite:///{path}", commit_interval=0, wait_database=False
    )
    recorder = get_recorder(runtime)
    for value in range(10):
        runtime.states.set("sensor.before", str(value))
    await runtime.bus.drain()
    assert recorder.queue_size > 0
    assert await recorder.wait_started() is RecorderStatus.STOPPED

    loaded = runtime.loader.get("recorder")
    assert loaded is not None
    assert loaded.status is IntegrationStatus.FAILED
    assert "not a database" in (loaded.error or "")
    assert str(path) in (loaded.error or "")  # which file, so the user can move it away
    assert "Integration recorder failed" in caplog.text
    assert RECORDER not in runtime.data
    assert not runtime.services.has("recorder", "purge")
    assert not runtime.services.has("recorder", "get_statistics")
    # The runtime goes on; the recorder no longer listens, so nothing piles up in memory.
    assert recorder.queue_size == 0
    for value in range(100):
        runtime.states.set("sensor.after", str(value))
    await runtime.bus.drain()
    assert recorder.queue_size == 0
    with pytest.raises(RecorderUnavailableError, match="not a database"):
        await recorder.flush()  # at once: the recorder gave up, nothing will be written
    assert path.read_bytes() == before
