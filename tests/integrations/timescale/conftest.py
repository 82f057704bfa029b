"""Fixtures for the historian's tests: PostgreSQL databases and real runtimes.

PostgreSQL comes from ``tests/_postgres.py``: the shared server at 127.0.0.1:5432 (started if it
is not running; skipped, or failed under CI, if it cannot be had) and, for outages, a private
cluster of the test's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from core.runtime import Runtime
from integrations.timescale.historian import HISTORIAN, Historian
from tests._helpers import settle, wait_for
from tests._postgres import Databases, pg_dsn
from tests.integrations._runtime import RuntimeFactory, section_yaml
from tests.integrations.bacnet.conftest import client_port, device  # noqa: F401 - fixtures

#: Starts a Runtime with ``timescale:`` on a DSN and the given options.
MakeRuntime = Callable[..., Awaitable[Runtime]]


@pytest.fixture
async def _databases() -> AsyncIterator[Databases]:
    """Databases to drop at the very end, after the runtimes that use them have stopped."""
    databases = Databases()
    yield databases
    await databases.drop_all()


@pytest.fixture
async def central_db(_databases: Databases) -> str:
    """The DSN of a database of the test's own on the shared server, dropped afterwards."""
    return pg_dsn(await _databases.create("edgewise_hist"))


def timescale_yaml(db_url: str, site_id: str, **options: Any) -> str:
    """A ``timescale:`` section (nested dicts for include/exclude)."""
    return section_yaml("timescale", db_url=db_url, site_id=site_id, **options)


@pytest.fixture
async def make_runtime(tmp_path: Path, _databases: Databases) -> AsyncIterator[MakeRuntime]:
    """Start real runtimes with ``timescale:``; stop them afterwards.

    ``await make_runtime(dsn, site_id="a", flush_interval=0.05, retry_wait=0.1)``; options go
    through the real schema. Waits until the historian's buffer is open.
    """
    factory = RuntimeFactory(tmp_path)

    async def make(db_url: str, *, site_id: str = "site-a", **options: Any) -> Runtime:
        options.setdefault("flush_interval", 0.05)
        options.setdefault("retry_wait", 0.1)
        runtime = await factory.start(timescale_yaml(db_url, site_id, **options))
        async with asyncio.timeout(30):
            await historian_of(runtime).buffer_ready.wait()
        return runtime

    yield make
    await factory.stop_all()


def historian_of(runtime: Runtime) -> Historian:
    """The runtime's historian (fails the test when it was not set up)."""
    historian = runtime.data.get(HISTORIAN)
    assert historian is not None, "the historian is not set up"
    return historian


async def central_rows(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of one query on the central database."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def drained(runtime: Runtime) -> None:
    """Wait until everything set so far is in the central database."""
    historian = historian_of(runtime)
    await settle(runtime)
    await wait_for(
        lambda: (
            historian.rows_sent + historian.rows_dropped >= historian.rows_accepted
            and historian.buffer.count == 0
        ),
        lambda: (
            f"a drained historian (accepted {historian.rows_accepted}, sent "
            f"{historian.rows_sent}, buffered {historian.buffer.count})"
        ),
    )


async def exactly_once(dsn: str, runtime: Runtime) -> dict[str, int]:
    """Every accepted row is in the central table once, and the report misses none.

    Returns the report's totals.
    """
    historian = historian_of(runtime)
    rows = await central_rows(
        dsn,
        "SELECT count(*) AS n, count(DISTINCT (entity_id, time)) AS d FROM edgewise_points",
    )
    assert (rows[0]["n"], rows[0]["d"]) == (historian.rows_accepted, historian.rows_accepted)
    report = await runtime.services.call(
        "timescale", "completeness", {}, blocking=True, return_response=True
    )
    assert report is not None
    totals = report["totals"]
    assert totals["accepted"] == totals["delivered"] == historian.rows_accepted
    assert totals["missing"] == 0
    return dict(totals)
