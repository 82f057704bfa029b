"""Fixtures for the recorder's tests: databases (SQLite files and private PostgreSQL databases)
and real runtimes with the recorder configured.

PostgreSQL runs at 127.0.0.1:5432 (trust auth, user ``postgres``). Each test that uses it gets a
database of its own, dropped afterwards. When it cannot be reached, the fixture first tries to
start the local cluster; then it skips, or, with ``CI=true``, fails.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import textwrap
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from core.runtime import Runtime
from integrations.recorder.core import RECORDER, Recorder

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN_DSN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"

#: Starts a Runtime with the recorder on ``db_url`` and the given ``recorder:`` options.
MakeRuntime = Callable[..., Awaitable[Runtime]]


def pg_dsn(database: str) -> str:
    """A plain (asyncpg) DSN for ``database``."""
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def pg_sqlalchemy_url(database: str) -> str:
    """The SQLAlchemy URL of ``database``."""
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def pg_admin(sql: str) -> None:
    """Run one statement on the ``postgres`` database (outside a transaction)."""
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _pg_reachable() -> bool:
    try:
        await pg_admin("SELECT 1")
    except (OSError, asyncpg.PostgresError):
        return False
    return True


async def _ensure_postgres() -> None:
    if await _pg_reachable():
        return
    if Path("/etc/postgresql").is_dir():  # noqa: ASYNC240 - once, before any test runs
        for version in os.listdir("/etc/postgresql"):
            subprocess.run(  # noqa: ASYNC221 - a one-off start of the local cluster
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
                capture_output=True,
                timeout=60,
            )
    if await _pg_reachable():
        return
    message = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of the test's own (created on first use)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'recorder.db'}"


@pytest.fixture
async def _pg_drops() -> AsyncIterator[list[str]]:
    """Databases to drop at the very end: after the runtimes using them have stopped.

    ``pg_database`` and ``make_runtime`` both depend on this fixture, so it is set up before
    and torn down after both of them, whatever order a test asks for them in.
    """
    names: list[str] = []
    yield names
    for name in names:
        # A test may have renamed it to simulate an outage: drop either name.
        for candidate in (name, f"{name}_away"):
            await pg_admin(f'DROP DATABASE IF EXISTS "{candidate}" WITH (FORCE)')


@pytest.fixture
async def pg_database(_pg_drops: list[str]) -> str:
    """The name of a private PostgreSQL database, dropped (with its connections) afterwards."""
    await _ensure_postgres()
    name = f"edgewise_test_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    _pg_drops.append(name)
    return name


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The SQLAlchemy URL of a private PostgreSQL database."""
    return pg_sqlalchemy_url(pg_database)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


def recorder_yaml(db_url: str, **options: Any) -> str:
    """A ``recorder:`` section with ``db_url`` and ``options`` (nested dicts for filters)."""
    lines = ["recorder:", f"  db_url: {db_url}"]
    for key, value in options.items():
        if isinstance(value, dict):
            lines.append(f"  {key}:")
            lines.extend(f"    {sub}: {list(items)!r}" for sub, items in value.items())
        elif isinstance(value, bool):
            lines.append(f"  {key}: {'true' if value else 'false'}")
        else:
            lines.append(f"  {key}: {value}")
    return "\n".join(lines) + "\n"


@pytest.fixture
async def make_runtime(tmp_path: Path, _pg_drops: list[str]) -> AsyncIterator[MakeRuntime]:
    """Start real runtimes (HTTP on 127.0.0.1, port 0) with the recorder; stop them after.

    Call ``await make_runtime(db_url, commit_interval=0, exclude={"domains": ["sun"]})``;
    ``extra_yaml`` adds other sections. Options become the ``recorder:`` section, so the
    configuration goes through the real schema. ``auto_purge`` defaults to false. The recorder
    opens its database after start-up: ``make_runtime`` waits for that first attempt, unless
    ``wait_database=False``.
    """
    runtimes: list[Runtime] = []

    async def make(
        db_url: str, *, extra_yaml: str = "", wait_database: bool = True, **options: Any
    ) -> Runtime:
        options.setdefault("auto_purge", False)
        config_dir = tmp_path / f"config{len(runtimes)}"
        config_dir.mkdir()
        yaml = textwrap.dedent(
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
        yaml += recorder_yaml(db_url, **options) + extra_yaml
        (config_dir / "configuration.yaml").write_text(yaml, encoding="utf-8")
        runtime = Runtime(config_dir)
        runtimes.append(runtime)
        await runtime.start()
        if wait_database and (recorder := runtime.data.get(RECORDER)) is not None:
            async with asyncio.timeout(60):
                await recorder.wait_started()
        return runtime

    yield make
    for runtime in reversed(runtimes):
        await runtime.stop()


def recorder_of(runtime: Runtime) -> Recorder:
    """The runtime's recorder (fails the test when it was not set up)."""
    recorder = runtime.data.get(RECORDER)
    assert recorder is not None, "the recorder is not set up"
    return recorder
