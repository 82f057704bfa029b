"""Store and forward against real outages: a private cluster stopped mid-stream, a commit in
doubt sent again, and a real ``edgewise run`` SIGKILLed during a replay."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import asyncpg
import pytest

from integrations.timescale.buffer import Buffer
from integrations.timescale.central import Central
from integrations.timescale.const import FullPolicy
from integrations.timescale.schema import CONFIG_SCHEMA
from tests._helpers import free_port, settle, wait_for
from tests._postgres import private_postgres
from tests.conftest import EdgewiseFactory
from tests.integrations.recorder.peers import fill_up, tmpfs

from .conftest import MakeRuntime, central_rows, exactly_once, historian_of


async def test_cluster_stopped_mid_stream_delivers_every_row_once(
    make_runtime: MakeRuntime,
) -> None:
    with private_postgres() as cluster:
        runtime = await make_runtime(cluster.dsn, batch_size=50)
        historian = historian_of(runtime)
        stop_writing = asyncio.Event()

        async def write() -> None:
            value = 0
            while not stop_writing.is_set():
                for n in range(5):
                    runtime.states.set(f"sensor.p{n}", str(value))
                value += 1
                await asyncio.sleep(0.005)

        writer = asyncio.create_task(write())
        await wait_for(lambda: historian.rows_sent > 200, "rows reaching the cluster")
        # A crash of the server, in the middle of the stream (and likely of a COPY).
        await cluster.async_stop("immediate")
        await wait_for(lambda: historian.send_failures > 0, "the outage noticed")
        during = historian.buffer.count
        await wait_for(lambda: historian.buffer.count > during + 200, "rows buffered meanwhile")
        await cluster.async_start()
        await wait_for(lambda: historian.rows_sent > 0 and historian.buffer.count < 100, "replay")
        stop_writing.set()
        await writer
        await settle(runtime)
        await wait_for(
            lambda: (
                historian.buffer.count == 0 and historian.rows_written == historian.rows_accepted
            ),
            lambda: f"an empty buffer (holds {historian.buffer.count})",
        )

        totals = await exactly_once(cluster.dsn, runtime)
        assert totals["replayed"] > 200
        await runtime.stop()


async def test_a_batch_whose_commit_was_in_doubt_is_not_written_twice(
    central_db: str, tmp_path: Path
) -> None:
    config = CONFIG_SCHEMA({"db_url": central_db, "site_id": "doubt"})
    buffer = Buffer(tmp_path / "b.db", 1000, FullPolicy.DROP_OLDEST)
    buffer.open()
    now = time.time()
    buffer.append([(now + i, "sensor.a", float(i), None, "good", "W", None) for i in range(100)])
    central = Central(config)
    await central.connect()
    try:
        batch = buffer.oldest(100)
        assert await central.send(central.records(batch.rows)) == 100
        # The site died before removing the batch: the replay sends it again, and a larger
        # batch that holds it too.
        assert await central.send(central.records(batch.rows)) == 0
        buffer.append([(now + 100, "sensor.a", 100.0, None, "good", "W", None)])
        assert await central.send(central.records(buffer.oldest(200).rows)) == 1
        buffer.remove_delivered(batch, replayed=True)
    finally:
        await central.close()
    rows = await central_rows(central_db, "SELECT count(*) AS n FROM edgewise_points")
    assert rows[0]["n"] == 101
    assert buffer.count == 1
    buffer.close()


#: Rows waiting in the buffer before the killed process starts.
BACKLOG = 120_000


def central_count(dsn: str) -> int:
    """Rows in the central table now (0 before it exists), from a blocking test thread."""

    async def count() -> int:
        try:
            rows = await central_rows(dsn, "SELECT count(*) AS n FROM edgewise_points")
        except Exception:  # the table is not created yet
            return 0
        return int(rows[0]["n"])

    return asyncio.run(count())


def test_sigkill_during_replay_still_delivers_every_row_once(
    central_db: str, config_dir: object, edgewise: EdgewiseFactory, unused_port: int
) -> None:
    site = Path(
        config_dir(  # type: ignore[operator]
            f"http:\n  server_host: 127.0.0.1\n  server_port: {unused_port}\n"
            f"timescale:\n  db_url: {central_db}\n  site_id: killed\n  batch_size: 2000\n"
        )
    )
    buffer = Buffer(site / "historian_buffer.db", 10_000_000, FullPolicy.DROP_OLDEST)
    buffer.open()
    start = time.time() - 3600
    buffer.append(
        [
            (start + i * 0.01, f"sensor.s{i % 100}", float(i), None, "good", None, None)
            for i in range(BACKLOG)
        ]
    )
    buffer.close()

    process = edgewise("run", "-c", site, port=unused_port)
    deadline = time.monotonic() + 60
    while central_count(central_db) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.stop(signal.SIGKILL) == -signal.SIGKILL
    at_kill = central_count(central_db)
    assert 0 < at_kill < BACKLOG, f"killed at {at_kill} of {BACKLOG} rows: not during the replay"

    restarted = edgewise("run", "-c", site, port=unused_port)
    restarted.wait_ready(timeout=30)
    deadline = time.monotonic() + 120
    while central_count(central_db) < BACKLOG and time.monotonic() < deadline:
        time.sleep(0.1)
    assert restarted.stop() == 0, restarted.output()

    async def check() -> tuple[int, int]:
        rows = await central_rows(
            central_db,
            "SELECT count(*) AS n, count(DISTINCT value) AS d FROM edgewise_points",
        )
        return int(rows[0]["n"]), int(rows[0]["d"])

    assert asyncio.run(check()) == (BACKLOG, BACKLOG)
    reopened = Buffer(site / "historian_buffer.db", 10_000_000, FullPolicy.DROP_OLDEST)
    reopened.open()
    report = reopened.completeness(None, None, None)
    reopened.close()
    assert sum(line.pending for line in report) == 0
    assert sum(line.accepted for line in report) == BACKLOG
    assert sum(line.delivered for line in report) == BACKLOG
    assert sum(line.replayed for line in report) == BACKLOG


async def test_a_full_local_disk_keeps_rows_in_memory_until_there_is_room(
    make_runtime: MakeRuntime,
) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    with tmpfs("1m") as disk:
        runtime = await make_runtime(nowhere, buffer_path=str(disk / "buffer.db"))
        historian = historian_of(runtime)
        ballast = disk / "ballast"
        await runtime.run_in_executor(fill_up, ballast)
        attributes = {"note": "x" * 400}
        for value in range(3000):
            runtime.states.set(f"sensor.s{value % 10}", str(value), attributes)
        await wait_for(lambda: historian.buffer_failing, "the buffer write failing")
        assert historian.writer_running
        ballast.unlink()
        await wait_for(
            lambda: historian.buffer.count == 3000 and not historian.buffer_failing,
            lambda: f"3000 rows buffered (holds {historian.buffer.count})",
        )
        assert historian.rows_dropped == 0
        await runtime.stop()


async def test_a_batch_whose_second_part_failed_is_completed_once_when_sent_again(
    central_db: str,
) -> None:
    # A batch goes out in two parts on two connections, each its own transaction: one may
    # commit while the other fails. Sending the whole batch again completes it, once.
    config = CONFIG_SCHEMA({"db_url": central_db, "site_id": "halves"})
    central = Central(config)
    await central.connect()
    now = time.time()
    rows = [(now + i, "sensor.a", float(i), None, "good", None, None) for i in range(99)]
    rows.append((now + 99, "sensor.a", None, "poison", "good", None, None))
    records = central.records(rows)
    try:
        refuse = "ALTER TABLE edgewise_points ADD CONSTRAINT no_poison "
        await central_rows(central_db, refuse + "CHECK (text_value IS DISTINCT FROM 'poison')")
        with pytest.raises(asyncpg.CheckViolationError):
            await central.send(records)
        landed = await central_rows(central_db, "SELECT count(*) AS n FROM edgewise_points")
        assert landed[0]["n"] == 50  # the first part committed, the second rolled back
        await central_rows(central_db, "ALTER TABLE edgewise_points DROP CONSTRAINT no_poison")
        assert await central.send(records) == 50
    finally:
        await central.close()
    rows_now = await central_rows(
        central_db, "SELECT count(*) AS n, count(DISTINCT time) AS d FROM edgewise_points"
    )
    assert (rows_now[0]["n"], rows_now[0]["d"]) == (100, 100)
