"""Reliability of the recorder against real failures: a killed process, a full disk, a database
server that restarts.

Each test drives a real database (SQLite on disk or on a tiny tmpfs, a private PostgreSQL
cluster) and checks the exact rows that come out the other side: every state that was accepted
is recorded once, in order, and nothing the database had committed is lost.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from core.runtime import Runtime
from core.services import ServiceCall
from integrations.recorder.core import Recorder, RecorderStatus, get_recorder
from tests._helpers import wait_for
from tests._postgres import PrivatePostgres, private_postgres
from tests.conftest import ConfigDirFactory, EdgewiseFactory, EdgewiseProcess
from tests.integrations.recorder.peers import fill_up, tmpfs

RECORDER_LOGGER = "integrations.recorder"
#: The writer's logger: the outage is reported there (statistics jobs report their own failures).
WRITER_LOGGER = "integrations.recorder.core"

#: ``(entity_id, state)`` of recorded states, in the order the recorder wrote them.
Rows = list[tuple[str, str]]

_LOAD_ROWS_SQL = """
    SELECT m.entity_id, s.state
    FROM states AS s JOIN states_meta AS m ON m.metadata_id = s.metadata_id
    WHERE m.entity_id LIKE ?
    ORDER BY s.state_id
"""
#: Rows whose ``old_state_id`` is not the entity's previous row: a link to a row that a failed
#: transaction never committed, or to the wrong one.
_BROKEN_LINKS_SQL = """
    SELECT entity_id, state_id, old_state_id, previous FROM (
        SELECT m.entity_id, s.state_id, s.old_state_id,
            LAG(s.state_id) OVER (PARTITION BY s.metadata_id ORDER BY s.state_id) AS previous
        FROM states AS s JOIN states_meta AS m ON m.metadata_id = s.metadata_id
        WHERE m.entity_id LIKE ?
    ) AS chain
    WHERE old_state_id IS DISTINCT FROM previous
"""


def recorder_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records at warning level or above that the writer logged since the last clear."""
    return [
        record
        for record in caplog.records
        if record.name == WRITER_LOGGER and record.levelno >= logging.WARNING
    ]


def sqlite_rows(db: Path, entity_like: str) -> Rows:
    """Recorded states of the entities matching ``entity_like`` (SQL LIKE), by state_id."""
    with closing(sqlite3.connect(db, timeout=15)) as conn:
        try:
            return conn.execute(_LOAD_ROWS_SQL, (entity_like,)).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):  # the recorder has not created its schema yet
                return []
            raise


def sqlite_broken_links(db: Path, entity_like: str) -> list[tuple[str, int, int, int]]:
    """States of ``entity_like`` entities not linked to their entity's previous state."""
    with closing(sqlite3.connect(db, timeout=15)) as conn:
        return conn.execute(_BROKEN_LINKS_SQL, (entity_like,)).fetchall()


def sqlite_integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the database, its rows joined: "ok" when sound."""
    with closing(sqlite3.connect(db, timeout=15)) as conn:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


def first_difference(actual: Rows, expected: Rows) -> str:
    """Where ``actual`` departs from ``expected``, for an assertion message."""
    for index, (got, want) in enumerate(zip(actual, expected, strict=False)):
        if got != want:
            around = actual[index : index + 5]
            return f"row {index}: recorded {got}, expected {want}; from there: {around}"
    return f"recorded {len(actual)} rows, expected {len(expected)}"


def write_configuration(config_dir: Path, recorder_yaml: str) -> Path:
    """Write a configuration: an HTTP server on loopback, any free port, and ``recorder_yaml``."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\n" + textwrap.dedent(recorder_yaml),
        encoding="utf-8",
    )
    return config_dir


@asynccontextmanager
async def running(config_dir: Path) -> AsyncIterator[Runtime]:
    """A started Runtime on ``config_dir`` whose recorder has tried its database; stopped after."""
    runtime = Runtime(config_dir)
    try:
        await runtime.start()
        assert runtime.ready, "the runtime did not start"
        async with asyncio.timeout(60):
            await get_recorder(runtime).wait_started()
        yield runtime
    finally:
        await runtime.stop()


async def http_ready(runtime: Runtime) -> int:
    """The status code of the runtime's own ``/ready``."""
    assert runtime.http is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{runtime.http.port}/ready") as response,
    ):
        return response.status


# --- a killed process ----------------------------------------------------------------------------

LOAD_ENTITIES = 10
#: The recorded value every load entity must reach before the process is killed.
LOAD_MINIMUM = 1_000

_LOAD_GEN = '''\
"""A third-party-style plugin that sets sensor.load_0..9 to 1, 2, 3, ... as fast as it can."""

import asyncio

from core import Manifest, hookimpl

ENTITIES = {entities}
#: Pause while the recorder has this many items queued: it must never reach its queue limit,
#: which would drop states on purpose and leave holes that are no fault of the database.
HIGH_WATER = 20_000


@hookimpl
def edgewise_manifest():
    return Manifest(domain="load_gen", name="Load generator")


@hookimpl
def edgewise_started(runtime):
    runtime.create_task(_generate(runtime), name="load_gen.generate")


async def _generate(runtime):
    from integrations.recorder.core import get_recorder

    recorder = get_recorder(runtime)
    value = 0
    while True:
        value += 1
        for index in range(ENTITIES):
            runtime.states.set(f"sensor.load_{{index}}", str(value))
        await asyncio.sleep(0)
        while recorder.queue_size > HIGH_WATER:
            await asyncio.sleep(0.01)
'''


def write_load_gen(root: Path) -> Path:
    """Install the ``load_gen`` plugin into ``root`` (for PYTHONPATH) and return ``root``."""
    package = root / "load_gen"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(_LOAD_GEN.format(entities=LOAD_ENTITIES))
    dist_info = root / "edgewise_load_gen-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: edgewise-load-gen\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text("[edgewise.integrations]\nload_gen = load_gen\n")
    return root


def load_sequence(count: int) -> Rows:
    """The first ``count`` states the load generator sets, in the order it sets them."""
    return [
        (f"sensor.load_{index % LOAD_ENTITIES}", str(index // LOAD_ENTITIES + 1))
        for index in range(count)
    ]


def wait_committed(db: Path, process: EdgewiseProcess, minimum: int, timeout: float) -> Rows:
    """Poll the database until every load entity has a committed value >= ``minimum``."""
    deadline = time.monotonic() + timeout
    rows: Rows = []
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            pytest.fail(f"edgewise exited with {process.proc.returncode}\n{process.output()}")
        if db.exists():
            rows = sqlite_rows(db, "sensor.load%")
            if len(rows) >= minimum * LOAD_ENTITIES:
                return rows
        time.sleep(0.1)
    pytest.fail(
        f"only {len(rows)} load states committed after {timeout:g} s, "
        f"wanted {minimum * LOAD_ENTITIES}\n{process.output()}"
    )


def test_sigkill_while_recording_loses_no_committed_state(
    tmp_path: Path,
    config_dir: ConfigDirFactory,
    edgewise: EdgewiseFactory,
    unused_port: int,
) -> None:
    plugin_site = write_load_gen(tmp_path / "plugin_site")
    http = f"http:\n  server_host: 127.0.0.1\n  server_port: {unused_port}\n"
    site = config_dir(http + "recorder:\n  commit_interval: 0.1\nload_gen:\n")
    db = site / "edgewise.db"

    process = edgewise("run", "-c", site, port=unused_port, pythonpath=plugin_site)
    process.wait_ready()
    committed = wait_committed(db, process, LOAD_MINIMUM, timeout=40)
    # Let a few more commits start, so the kill lands in the middle of the stream.
    time.sleep(0.25)
    assert process.stop(signal.SIGKILL) == -signal.SIGKILL

    assert sqlite_integrity(db) == "ok"
    after_kill = sqlite_rows(db, "sensor.load%")
    # A gap-free prefix of what the generator set, in order: a batch is committed whole or not
    # at all, and nothing that was readable as committed before the kill is gone after it.
    assert after_kill == load_sequence(len(after_kill)), first_difference(
        after_kill, load_sequence(len(after_kill))
    )
    assert len(after_kill) >= len(committed)
    assert sqlite_broken_links(db, "sensor.load%") == []
    assert len(after_kill) > LOAD_MINIMUM * LOAD_ENTITIES

    # The next start opens the same database as it is, records a new run, and stops cleanly.
    (site / "configuration.yaml").write_text(http)
    restarted = edgewise("run", "-c", site, port=unused_port)
    restarted.wait_ready()
    assert restarted.stop() == 0, restarted.output()
    assert "Traceback" not in restarted.output(), restarted.output()

    assert sqlite_integrity(db) == "ok"
    assert sqlite_rows(db, "sensor.load%") == after_kill
    with closing(sqlite3.connect(db)) as conn:
        runs = conn.execute(
            "SELECT start_ts, end_ts, closed_incorrect FROM recorder_runs ORDER BY run_id"
        ).fetchall()
    assert len(runs) == 2, runs
    (killed_start, killed_end, killed_incorrect), (start, end, incorrect) = runs
    assert killed_incorrect, "the killed run is not marked closed_incorrect"
    assert killed_end is not None, "the killed run was not given an end"
    assert killed_start <= killed_end <= start
    assert not incorrect
    assert end is not None
    assert start <= end


# --- a full disk ---------------------------------------------------------------------------------

#: Attributes this long make every state need new database pages.
BLOB = 1_500


async def test_disk_full_degrades_and_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=RECORDER_LOGGER)
    # The ballast fills whatever the disk has; once it goes, the backlog (hundreds of states
    # with 1.5 kB attributes on a loaded machine, written twice through the WAL) must fit.
    with tmpfs("8m") as disk:
        db = disk / "edgewise.db"
        ballast = disk / "ballast"
        expected: Rows = []
        pings: list[ServiceCall] = []

        async def ping(call: ServiceCall) -> None:
            pings.append(call)

        config = write_configuration(
            tmp_path / "config",
            f"""\
            recorder:
              db_url: sqlite+aiosqlite:///{db}
              commit_interval: 0.05
              db_retry_wait: 0.2
            """,
        )
        async with running(config) as runtime:
            recorder = get_recorder(runtime)
            runtime.services.register("test", "ping", ping)

            def record(entity_id: str, value: str, blob: str = "") -> None:
                runtime.states.set(entity_id, value, {"blob": blob} if blob else None)
                expected.append((entity_id, value))

            for value in range(1, 51):
                record("sensor.disk_before", str(value))
            await recorder.flush()
            assert len(sqlite_rows(db, "sensor.disk_before")) == 50
            assert recorder.status is RecorderStatus.OK

            assert fill_up(ballast) > 0
            caplog.clear()
            # New entities with new attributes: new states_meta and state_attributes rows, whose
            # ids the failed transactions hand out and the recorder must forget again.
            outage = 0

            def record_outage_state() -> None:
                nonlocal outage
                outage += 1
                blob = f"{outage:08d}".ljust(BLOB, "x")
                record(f"sensor.disk_outage_{outage}", str(outage), blob)

            deadline = time.monotonic() + 15
            while recorder.status is not RecorderStatus.DEGRADED:
                assert time.monotonic() < deadline, "the recorder never noticed the full disk"
                for _ in range(10):
                    record_outage_state()
                await asyncio.sleep(0.02)
            for _ in range(200):
                record_outage_state()
            # Several retries go by: the outage is logged once, and the rest keeps working.
            await asyncio.sleep(1.0)
            assert recorder.status is RecorderStatus.DEGRADED
            assert recorder.queue_size > 0
            await runtime.services.call("test", "ping", {"n": 1})
            assert [call.data["n"] for call in pings] == [1]
            assert await http_ready(runtime) == 200
            state = runtime.states.get(f"sensor.disk_outage_{outage}")
            assert state is not None
            assert state.state == str(outage)
            warnings = recorder_warnings(caplog)
            assert len(warnings) == 1, [r.getMessage() for r in warnings]

            caplog.clear()
            await asyncio.to_thread(ballast.unlink)
            await wait_for(
                lambda: recorder.status is RecorderStatus.OK and recorder.queue_size == 0,
                within=60,
                what="the recorder drains and is OK once space is free",
            )
            assert any(
                r.name == WRITER_LOGGER and r.levelno == logging.INFO for r in caplog.records
            ), "no info line on recovery"
            for value in range(1, 11):
                record("sensor.disk_after", str(value))
            await recorder.flush()
            assert recorder.dropped == 0

        assert sqlite_integrity(db) == "ok"
        # Every accepted state exactly once, in the order it was set: none lost, none twice.
        recorded = sqlite_rows(db, "sensor.disk%")
        assert recorded == expected, first_difference(recorded, expected)
        assert sqlite_broken_links(db, "sensor.disk%") == []
        with closing(sqlite3.connect(db)) as conn:
            ((stored_blobs,),) = conn.execute(
                "SELECT count(*) FROM state_attributes WHERE shared_attrs LIKE '%xxxx%'"
            ).fetchall()
        assert stored_blobs == outage


# --- a database server that restarts -------------------------------------------------------------

PG_ENTITIES = 5


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL cluster (never the machine's shared one), deleted afterwards."""
    with private_postgres() as cluster:
        yield cluster


class Writer:
    """Sets sensor.pg_0..4 to 1, 2, 3, ... every couple of milliseconds until stopped."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._write(), name="test.writer")

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task

    def write_one(self) -> None:
        """Set the next value now."""
        self.count += 1
        self.runtime.states.set(f"sensor.pg_{self.count % PG_ENTITIES}", str(self.count))

    async def _write(self) -> None:
        while True:
            self.write_one()
            await asyncio.sleep(0.002)

    @staticmethod
    def sequence(count: int) -> Rows:
        return [(f"sensor.pg_{n % PG_ENTITIES}", str(n)) for n in range(1, count + 1)]


async def pg_rows(dsn: str) -> tuple[Rows, list[tuple[str, int, int, int]]]:
    """The recorded ``sensor.pg_*`` states, and those not linked to their previous state."""
    conn = await asyncpg.connect(dsn)
    try:
        records = await conn.fetch(_LOAD_ROWS_SQL.replace("?", "$1"), "sensor.pg%")
        broken = await conn.fetch(_BROKEN_LINKS_SQL.replace("?", "$1"), "sensor.pg%")
    finally:
        await conn.close()
    return [(r["entity_id"], r["state"]) for r in records], [tuple(r) for r in broken]


async def hold_writer_in_a_transaction(locker: asyncpg.Connection, writer: Writer) -> None:
    """Make the recorder's next batch stop half-way, its first rows inserted and uncommitted.

    ``locker`` holds the attribute table in SHARE mode: states whose attributes are known still
    insert (their foreign-key checks only need ROW SHARE), and the batch waits, inside its
    transaction, when it inserts a new attribute set (ROW EXCLUSIVE).
    """
    await locker.execute("BEGIN; LOCK TABLE state_attributes IN SHARE MODE")
    # No await in between: both land in the same batch, the known entity first.
    writer.write_one()
    writer.runtime.states.set("sensor.held", "on", {"new": "attributes"})
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    async with asyncio.timeout(10):
        while True:
            if await locker.fetchval(waiting):
                return
            await asyncio.sleep(0.02)


async def test_postgresql_restart_loses_nothing_within_the_queue_limit(
    tmp_path: Path, postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=RECORDER_LOGGER)
    config = write_configuration(
        tmp_path / "config",
        f"""\
        recorder:
          db_url: {postgres.url}
          commit_interval: 0.1
          db_retry_wait: 0.2
          max_queue: 100000
        """,
    )
    async with running(config) as runtime:
        recorder: Recorder = get_recorder(runtime)
        assert recorder.status is RecorderStatus.OK
        writer = Writer(runtime)
        writer.start()
        try:
            await wait_for(lambda: writer.count >= 300, "300 states written", within=10)
            await recorder.flush()
            recorded, _ = await pg_rows(postgres.dsn)
            assert len(recorded) >= 300

            caplog.clear()
            locker = await asyncpg.connect(postgres.dsn)
            try:
                await hold_writer_in_a_transaction(locker, writer)
                # The server goes away under the open transaction, which it rolls back.
                await postgres.async_stop("fast")
            finally:
                locker.terminate()
            await wait_for(
                lambda: recorder.status is RecorderStatus.DEGRADED,
                within=10,
                what="the recorder notices that PostgreSQL is gone",
            )
            during = writer.count
            await asyncio.sleep(1.5)  # several retries, while the queue grows
            assert writer.count - during > 300, "the runtime stalled while PostgreSQL was gone"
            assert recorder.status is RecorderStatus.DEGRADED
            assert recorder.queue_size > 300
            warnings = recorder_warnings(caplog)
            assert len(warnings) == 1, [r.getMessage() for r in warnings]

            await postgres.async_start()
            await wait_for(
                lambda: recorder.status is RecorderStatus.OK,
                within=60,  # generous: a loaded CI machine restarts PostgreSQL slowly
                what="the recorder reconnects once PostgreSQL is back",
            )
            await asyncio.sleep(0.3)
        finally:
            await writer.stop()
        await recorder.flush()
        assert recorder.queue_size == 0
        assert recorder.dropped == 0
        assert recorder.status is RecorderStatus.OK

        recorded, broken = await pg_rows(postgres.dsn)
        expected = Writer.sequence(writer.count)
        assert recorded == expected, first_difference(recorded, expected)
        assert broken == []
        conn = await asyncpg.connect(postgres.dsn)
        try:
            held = await conn.fetch(
                "SELECT s.state, a.shared_attrs, s.old_state_id FROM states AS s"
                " JOIN states_meta AS m ON m.metadata_id = s.metadata_id"
                " JOIN state_attributes AS a ON a.attributes_id = s.attributes_id"
                " WHERE m.entity_id = 'sensor.held'"
            )
        finally:
            await conn.close()
        assert [tuple(row) for row in held] == [("on", '{"new":"attributes"}', None)]


async def test_stop_finishes_while_another_process_holds_the_sqlite_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text(
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\nrecorder:\n  auto_purge: false\n"
    )
    runtime = Runtime(config_dir)
    await runtime.start()
    recorder = get_recorder(runtime)
    await recorder.flush()
    with closing(sqlite3.connect(config_dir / "edgewise.db", isolation_level=None)) as blocker:
        # Another writer (a backup tool, a second process) holds the database.
        blocker.execute("BEGIN IMMEDIATE")
        for value in range(100):
            runtime.states.set(f"sensor.blocked_{value % 10}", str(value))
        with caplog.at_level(logging.ERROR, logger="integrations.recorder"):
            async with asyncio.timeout(60):
                await runtime.stop()
        blocker.rollback()
    assert recorder.status is RecorderStatus.STOPPED
    assert any("not written" in r.getMessage() for r in caplog.records)
