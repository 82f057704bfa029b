"""Fixtures for the recorder's tests: databases (SQLite files and private PostgreSQL databases)
and real runtimes with the recorder configured.

PostgreSQL is the machine's shared server (``tests/_postgres.py``): each test that uses it gets
a database of its own, dropped afterwards; when it cannot be had the test fails under
``CI=true`` and is skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from core.runtime import Runtime
from integrations.recorder.core import RECORDER, Recorder
from tests._postgres import Databases, pg_admin, pg_dsn, pg_sqlalchemy_url
from tests.integrations._runtime import RuntimeFactory, section_yaml

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "MakeRuntime",
    "orm_session",
    "pg_admin",
    "pg_dsn",
    "pg_sqlalchemy_url",
    "recorder_of",
]

#: Starts a Runtime with the recorder on ``db_url`` and the given ``recorder:`` options.
MakeRuntime = Callable[..., Awaitable[Runtime]]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of the test's own (created on first use)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'recorder.db'}"


@pytest.fixture
async def _pg_drops() -> AsyncIterator[Databases]:
    """Databases to drop at the very end: after the runtimes using them have stopped.

    ``pg_database`` and ``make_runtime`` both depend on this fixture, so it is set up before
    and torn down after both of them, whatever order a test asks for them in.
    """
    databases = Databases()
    yield databases
    await databases.drop_all()


@pytest.fixture
async def pg_database(_pg_drops: Databases) -> str:
    """The name of a private PostgreSQL database, dropped (with its connections) afterwards."""
    return await _pg_drops.create()


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
    return section_yaml("recorder", db_url=db_url, **options)


@pytest.fixture
async def make_runtime(tmp_path: Path, _pg_drops: Databases) -> AsyncIterator[MakeRuntime]:
    """Start real runtimes (HTTP on 127.0.0.1, port 0) with the recorder; stop them after.

    Call ``await make_runtime(db_url, commit_interval=0, exclude={"domains": ["sun"]})``;
    ``extra_yaml`` adds other sections. Options become the ``recorder:`` section, so the
    configuration goes through the real schema. ``auto_purge`` defaults to false. The recorder
    opens its database after start-up: ``make_runtime`` waits for that first attempt, unless
    ``wait_database=False``.
    """
    factory = RuntimeFactory(tmp_path)

    async def make(
        db_url: str, *, extra_yaml: str = "", wait_database: bool = True, **options: Any
    ) -> Runtime:
        options.setdefault("auto_purge", False)
        runtime = await factory.start(recorder_yaml(db_url, **options) + extra_yaml)
        if wait_database and (recorder := runtime.data.get(RECORDER)) is not None:
            async with asyncio.timeout(60):
                await recorder.wait_started()
        return runtime

    yield make
    await factory.stop_all()


def recorder_of(runtime: Runtime) -> Recorder:
    """The runtime's recorder (fails the test when it was not set up)."""
    recorder = runtime.data.get(RECORDER)
    assert recorder is not None, "the recorder is not set up"
    return recorder


@contextlib.asynccontextmanager
async def orm_session(recorder: Recorder) -> AsyncIterator[AsyncSession]:
    """A SQLAlchemy ORM session on the recorder's database, for tests to check its rows with
    the schema's models (``models.py``), independently of the recorder's own SQL.

    Its engine is the test's own, disposed afterwards: the recorder itself never loads
    SQLAlchemy on SQLite. Reads see what the recorder committed.
    """
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    engine = create_async_engine(recorder.db_url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            yield session
    finally:
        await engine.dispose()
