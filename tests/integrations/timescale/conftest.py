"""Fixtures for the historian's tests: private PostgreSQL databases and real runtimes.

The PostgreSQL helpers are the recorder tests' (``tests/integrations/recorder``): the shared
server at 127.0.0.1:5432 (started if it is not running; skipped, or failed under CI, if it
cannot be had) and, for outages, a private cluster of the test's own (``peers.py``).
"""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from core.runtime import Runtime
from integrations.timescale.historian import HISTORIAN, Historian
from tests._helpers import settle, wait_for
from tests.integrations.bacnet.conftest import client_port, device  # noqa: F401 - fixtures
from tests.integrations.recorder.conftest import _ensure_postgres, pg_admin, pg_dsn

#: Starts a Runtime with ``timescale:`` on a DSN and the given options.
MakeRuntime = Callable[..., Awaitable[Runtime]]


@pytest.fixture
async def central_db() -> AsyncIterator[str]:
    """The DSN of a database of the test's own on the shared server, dropped afterwards."""
    await _ensure_postgres()
    name = f"edgewise_hist_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    yield pg_dsn(name)
    await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timescale_yaml(db_url: str, site_id: str, **options: Any) -> str:
    """A ``timescale:`` section (nested dicts for include/exclude)."""
    lines = ["timescale:", f"  db_url: {db_url}", f"  site_id: {site_id}"]
    for key, value in options.items():
        if isinstance(value, dict):
            lines.append(f"  {key}:")
            lines.extend(f"    {sub}: {list(items)!r}" for sub, items in value.items())
        elif isinstance(value, bool):
            lines.append(f"  {key}: {'true' if value else 'false'}")
        else:
            lines.append(f"  {key}: {value}")
    return "\n".join(lines) + "\n"


BASE_YAML = textwrap.dedent(
    """\
    edgewise:
      name: Test
      latitude: 52.3731
      longitude: 4.8922
      elevation: 0
      time_zone: Europe/Amsterdam
      unit_system: metric
    http:
      server_host: 127.0.0.1
      server_port: 0
    """
)


@pytest.fixture
async def make_runtime(tmp_path: Path) -> AsyncIterator[MakeRuntime]:
    """Start real runtimes with ``timescale:``; stop them afterwards.

    ``await make_runtime(dsn, site_id="a", flush_interval=0.05, retry_wait=0.1)``; options go
    through the real schema. Waits until the historian's buffer is open.
    """
    runtimes: list[Runtime] = []

    async def make(db_url: str, *, site_id: str = "site-a", **options: Any) -> Runtime:
        options.setdefault("flush_interval", 0.05)
        options.setdefault("retry_wait", 0.1)
        config_dir = tmp_path / f"config{len(runtimes)}"
        config_dir.mkdir()
        yaml = BASE_YAML + timescale_yaml(db_url, site_id, **options)
        (config_dir / "configuration.yaml").write_text(yaml, encoding="utf-8")
        runtime = Runtime(config_dir)
        runtimes.append(runtime)
        await runtime.start()
        async with asyncio.timeout(30):
            await historian_of(runtime).buffer_ready.wait()
        return runtime

    yield make
    for runtime in reversed(runtimes):
        await runtime.stop()


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
