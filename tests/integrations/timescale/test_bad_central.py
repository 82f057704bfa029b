"""A central database that is slow or out of disk: the buffer keeps every row meanwhile and
delivers each exactly once afterwards; and a site clock that jumps during an outage."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

import integrations.timescale.central as central_module
from core.runtime import Runtime
from tests._helpers import wait_for
from tests._postgres import private_postgres
from tests.integrations.recorder.peers import fill_up, tmpfs

from .conftest import MakeRuntime, central_rows, drained, exactly_once, historian_of


async def write(runtime: Runtime, count: int, start: int = 0) -> None:
    """``count`` changes over five sensors, yielding to the loop between rounds."""
    for value in range(start, start + count):
        runtime.states.set(f"sensor.p{value % 5}", str(value))
        if value % 5 == 4:
            await asyncio.sleep(0.002)


@asynccontextmanager
async def table_locked(dsn: str) -> AsyncIterator[None]:
    """Another client holds the central table (ACCESS EXCLUSIVE) until the block ends."""
    blocker = await asyncpg.connect(dsn)
    try:
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE edgewise_points IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await blocker.close()


async def historian_waits_on_a_lock(dsn: str) -> bool:
    """Whether the central server shows the historian's statement waiting for a lock."""
    rows = await central_rows(
        dsn,
        "SELECT wait_event_type FROM pg_stat_activity "
        "WHERE application_name LIKE 'edgewise-historian%' AND state = 'active'",
    )
    return any(r["wait_event_type"] == "Lock" for r in rows)


async def test_a_slow_central_database_has_every_new_row_buffered_then_delivered_once(
    central_db: str, make_runtime: MakeRuntime
) -> None:
    runtime = await make_runtime(central_db, batch_size=50)
    historian = historian_of(runtime)
    await write(runtime, 100)
    await drained(runtime)
    sent_before = historian.rows_sent

    # Another client holds the table: the historian's next COPY waits behind it.
    async with table_locked(central_db):
        await write(runtime, 300, start=100)
        waiting = False
        deadline = time.monotonic() + 20
        while not waiting and time.monotonic() < deadline:
            waiting = await historian_waits_on_a_lock(central_db)
        assert waiting, "the historian's COPY never waited on the lock"
        # While that COPY waits, rows arriving are moved to the buffer, not kept in memory.
        await write(runtime, 200, start=400)
        await wait_for(
            lambda: historian.buffer.count + historian.rows_sent == historian.rows_accepted,
            lambda: (
                f"every row on disk (accepted {historian.rows_accepted}, buffered "
                f"{historian.buffer.count}, sent {historian.rows_sent})"
            ),
        )
        assert historian.rows_sent == sent_before
        assert historian.buffer.count == 500
        assert historian.writer_running

    await drained(runtime)
    await exactly_once(central_db, runtime)


async def test_a_send_past_its_timeout_is_abandoned_and_its_batch_sent_again_once(
    central_db: str, make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(central_module, "SEND_TIMEOUT", 0.5)
    runtime = await make_runtime(central_db, batch_size=40)
    historian = historian_of(runtime)
    await write(runtime, 40)
    await drained(runtime)

    async with table_locked(central_db):
        await write(runtime, 200, start=40)
        await wait_for(lambda: historian.send_failures >= 2, "sends timing out")
        await wait_for(lambda: historian.buffer.count == 200, "200 rows in the buffer")
        assert historian.rows_sent == 40

    await drained(runtime)
    await exactly_once(central_db, runtime)


async def test_a_central_disk_that_is_full_keeps_rows_buffered_until_there_is_room(
    make_runtime: MakeRuntime,
) -> None:
    # The central table on a small disk of its own (a tablespace on a tmpfs): the cluster's
    # WAL stays on the big disk, so a full table disk is an error for the COPY, not a crash.
    with tmpfs("8m") as disk, private_postgres() as cluster:
        shutil.chown(disk, user="postgres", group="postgres")
        conn = await asyncpg.connect(cluster.dsn)
        try:
            await conn.execute(f"CREATE TABLESPACE small LOCATION '{disk}'")
            await conn.execute("ALTER DATABASE postgres SET default_tablespace = small")
        finally:
            await conn.close()
        runtime = await make_runtime(cluster.dsn, batch_size=500)
        historian = historian_of(runtime)
        await write(runtime, 50)
        await drained(runtime)
        where = await central_rows(
            cluster.dsn, "SELECT tablespace FROM pg_tables WHERE tablename = 'edgewise_points'"
        )
        assert where[0]["tablespace"] == "small"

        ballast = disk / "ballast"
        await runtime.run_in_executor(fill_up, ballast)
        await write(runtime, 3000, start=50)
        await wait_for(lambda: historian.send_failures > 0, "the COPY failing on the full disk")
        await wait_for(
            lambda: historian.buffer.count + historian.rows_sent == historian.rows_accepted,
            "every row in the buffer",
        )
        assert historian.writer_running
        assert historian.buffer.count > 0
        assert "No space left on device" in cluster.log()

        ballast.unlink()
        await drained(runtime)
        await exactly_once(cluster.dsn, runtime)
        await runtime.stop()


async def test_a_clock_jumping_during_an_outage_loses_and_doubles_no_row(
    central_db: str, make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(central_module, "SEND_TIMEOUT", 0.5)
    runtime = await make_runtime(central_db)
    historian = historian_of(runtime)
    await write(runtime, 10)
    await drained(runtime)

    now = time.time()
    # The clock stepped back an hour, forward a day, and twice within one microsecond.
    steps = (now, now - 3600, now - 3600, now + 86400, now + 86400, now + 86400 + 1e-7)
    async with table_locked(central_db):
        for value, when in enumerate(steps, start=100):
            runtime.states.set("sensor.jumpy", str(value), timestamp=when)
        await wait_for(lambda: historian.send_failures > 0, "the send timing out")
        await wait_for(lambda: historian.buffer.count == len(steps), "the jumps buffered")
        assert historian.lag >= 0

    await drained(runtime)
    await exactly_once(central_db, runtime)
    rows = await central_rows(
        central_db,
        "SELECT value, extract(epoch FROM time) AS t FROM edgewise_points "
        "WHERE entity_id = 'sensor.jumpy' ORDER BY value",
    )
    assert [r["value"] for r in rows] == [100.0 + n for n in range(len(steps))]
    times = [float(r["t"]) for r in rows]
    assert times[1] == pytest.approx(now - 3600, abs=1e-5)
    assert times[3] == pytest.approx(now + 86400, abs=1e-5)
    assert len(set(times)) == len(steps)
    report = await runtime.services.call(
        "timescale", "completeness", {}, blocking=True, return_response=True
    )
    assert report is not None
    hours = report["series"]["sensor.jumpy"]
    # Each row is counted, replayed, in the hour of its own time.
    assert sum(line["delivered"] for line in hours) == len(steps)
    assert sum(line["replayed"] for line in hours) == len(steps)
    assert len(hours) >= 3
