"""Tests of the JSON store: format, atomic writes, corrupt files, coalesced saves, migration.

Delayed saves wait on a scheduler bound to a ``FakeClock``: the tests move the clock and await
the write, they never sleep.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from core.clock import FakeClock
from core.storage import JsonStore, StorageError, storage_path
from core.timers import Scheduler

_T = TypeVar("_T")


class CountingExecutor:
    """Runs jobs in the loop's default executor and counts them, to see how many writes ran."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._ended = asyncio.Condition()
        self.ended = 0

    async def __call__(self, func: Callable[..., _T], *args: Any) -> _T:
        self.calls.append(func.__name__)
        try:
            return await asyncio.get_running_loop().run_in_executor(None, func, *args)
        finally:
            async with self._ended:
                self.ended += 1
                self._ended.notify_all()

    @property
    def writes(self) -> int:
        return self.calls.count("_write_atomic")

    async def until_ended(self, jobs: int) -> None:
        """Wait until ``jobs`` jobs have ended (returned or raised)."""
        async with asyncio.timeout(10), self._ended:
            await self._ended.wait_for(lambda: self.ended >= jobs)


@pytest.fixture
async def scheduler() -> AsyncIterator[Scheduler]:
    """A scheduler on a FakeClock, as a runtime's in tests."""
    clock = FakeClock(datetime(2024, 1, 15, 12, 0, tzinfo=UTC))
    scheduler = Scheduler(
        asyncio.get_running_loop(), tz=UTC, latitude=52.0, longitude=4.9, clock=clock
    )
    yield scheduler
    scheduler.close()


def make_store(
    tmp_path: Path, scheduler: Scheduler | None = None, **kwargs: Any
) -> tuple[JsonStore, CountingExecutor]:
    executor = CountingExecutor()
    key = kwargs.pop("key", "test.store")
    store = JsonStore(
        executor,
        storage_path(tmp_path, key),
        version=kwargs.pop("version", 1),
        key=key,
        scheduler=None if scheduler is None else lambda: scheduler,
        **kwargs,
    )
    return store, executor


def advance(scheduler: Scheduler, seconds: float) -> None:
    clock = scheduler.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(seconds=seconds))


async def test_missing_file_loads_as_none(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    assert await store.load() is None


async def test_saved_file_has_the_home_assistant_layout(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path, key="core.thing", version=2, minor_version=3)
    await store.save({"items": [1, 2], "tags": {"b", "a"}})

    path = tmp_path / ".storage" / "core.thing"
    assert json.loads(path.read_text()) == {
        "version": 2,
        "minor_version": 3,
        "key": "core.thing",
        "data": {"items": [1, 2], "tags": ["a", "b"]},
    }
    assert await store.load() == {"items": [1, 2], "tags": ["a", "b"]}
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["core.thing"]  # no temporary file left


async def test_corrupt_registry_file_is_moved_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, _ = make_store(tmp_path, key="core.entity_registry")
    path = storage_path(tmp_path, "core.entity_registry")
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"version": 1, "data": {"entities": [')

    with caplog.at_level(logging.ERROR):
        assert await store.load() is None

    assert not path.exists()
    moved = list(path.parent.glob("core.entity_registry.corrupt-*"))
    assert len(moved) == 1
    assert moved[0].read_bytes() == b'{"version": 1, "data": {"entities": ['
    assert str(path) in caplog.text


async def test_second_corrupt_file_does_not_replace_the_first(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    path = store.path
    path.parent.mkdir(parents=True)
    for content in (b"first", b"[1, 2]"):  # the second is JSON, but not a store
        path.write_bytes(content)
        assert await store.load() is None

    moved = sorted(p.read_bytes() for p in path.parent.glob("test.store.corrupt-*"))
    assert moved == [b"[1, 2]", b"first"]


async def test_save_is_coalesced(tmp_path: Path, scheduler: Scheduler) -> None:
    store, executor = make_store(tmp_path, scheduler)
    built: list[int] = []

    def data_for(n: int) -> Callable[[], dict[str, Any]]:
        def build() -> dict[str, Any]:
            built.append(n)
            return {"n": n}

        return build

    for n in range(5):
        store.schedule_save(data_for(n), delay=5)
    assert store.save_pending
    advance(scheduler, 4.9)
    await asyncio.sleep(0)
    assert executor.writes == 0, "nothing is written before the delay passed on the clock"
    advance(scheduler, 0.1)
    await executor.until_ended(1)

    assert executor.writes == 1
    assert built == [4]  # only the latest data is built, and only once
    assert not store.save_pending
    assert await store.load() == {"n": 4}


async def test_later_schedule_does_not_postpone_the_write(
    tmp_path: Path, scheduler: Scheduler
) -> None:
    store, executor = make_store(tmp_path, scheduler)
    store.schedule_save(lambda: {"n": 1}, delay=5)
    advance(scheduler, 3)
    store.schedule_save(lambda: {"n": 2}, delay=600)
    advance(scheduler, 2)
    await executor.until_ended(1)

    assert executor.writes == 1
    assert await store.load() == {"n": 2}


async def test_shorter_delay_brings_the_write_forward(tmp_path: Path, scheduler: Scheduler) -> None:
    store, executor = make_store(tmp_path, scheduler)
    store.schedule_save(lambda: {"n": 1}, delay=600)
    store.schedule_save(lambda: {"n": 2}, delay=1)
    advance(scheduler, 1)
    await executor.until_ended(1)

    assert executor.writes == 1
    assert await store.load() == {"n": 2}
    advance(scheduler, 600)
    await asyncio.sleep(0)
    assert executor.writes == 1, "the first timer was cancelled"


async def test_without_a_scheduler_the_save_waits_on_a_loop_timer(tmp_path: Path) -> None:
    store, executor = make_store(tmp_path)
    store.schedule_save(lambda: {"n": 1}, delay=0.01)
    await executor.until_ended(1)
    assert await store.load() == {"n": 1}


async def test_a_closed_scheduler_falls_back_to_a_loop_timer(
    tmp_path: Path, scheduler: Scheduler
) -> None:
    store, executor = make_store(tmp_path, scheduler)
    scheduler.close()
    store.schedule_save(lambda: {"n": 1}, delay=0.01)
    await executor.until_ended(1)
    assert await store.load() == {"n": 1}


async def test_flush_writes_a_pending_save_now(tmp_path: Path) -> None:
    store, executor = make_store(tmp_path)
    store.schedule_save(lambda: {"n": 1}, delay=3600)
    await store.flush()

    assert executor.writes == 1
    assert await store.load() == {"n": 1}
    await store.flush()
    assert executor.writes == 1  # nothing pending: no second write


async def test_older_version_is_migrated(tmp_path: Path) -> None:
    old, _ = make_store(tmp_path, version=1)
    await old.save({"names": ["a"]})
    seen: list[tuple[int, int]] = []

    def migrate(major: int, minor: int, data: dict[str, Any]) -> dict[str, Any]:
        seen.append((major, minor))
        return {"items": [{"name": n} for n in data["names"]]}

    new, _ = make_store(tmp_path, version=2, migrate=migrate)
    assert await new.load() == {"items": [{"name": "a"}]}
    assert seen == [(1, 1)]


async def test_older_version_without_migration_is_refused(tmp_path: Path) -> None:
    old, _ = make_store(tmp_path, version=1)
    await old.save({})
    new, _ = make_store(tmp_path, version=2)
    with pytest.raises(StorageError, match="no migration"):
        await new.load()


async def test_newer_version_is_refused_and_left_in_place(tmp_path: Path) -> None:
    newer, _ = make_store(tmp_path, version=3)
    await newer.save({"x": 1})
    store, _ = make_store(tmp_path, version=1)
    with pytest.raises(StorageError, match="newer version"):
        await store.load()
    assert json.loads(store.path.read_text())["data"] == {"x": 1}


async def test_background_write_error_is_logged(
    tmp_path: Path, scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    store, executor = make_store(tmp_path, scheduler)
    store.schedule_save(lambda: {"bad": object()}, delay=1)
    with caplog.at_level(logging.ERROR):
        advance(scheduler, 1)
        await executor.until_ended(1)
        async with asyncio.timeout(10):
            while "Error writing" not in caplog.text:  # noqa: ASYNC110 - the log is the event
                await asyncio.sleep(0)
    assert "Error writing" in caplog.text
    assert not store.path.exists()


class _StandInRuntime:
    """What ``JsonStore.for_runtime`` reads of a runtime; its scheduler starts later."""

    def __init__(self, config_dir: Path, executor: CountingExecutor) -> None:
        self.config_dir = config_dir
        self.run_in_executor = executor
        self.scheduler: Scheduler | None = None

    @property
    def has_scheduler(self) -> bool:
        return self.scheduler is not None


async def test_a_runtime_store_saves_on_the_runtime_clock_once_its_scheduler_runs(
    tmp_path: Path, scheduler: Scheduler
) -> None:
    executor = CountingExecutor()
    runtime = _StandInRuntime(tmp_path, executor)
    store = JsonStore.for_runtime(runtime, "core.thing", version=1)  # type: ignore[arg-type]
    assert store.path == storage_path(tmp_path, "core.thing")
    runtime.scheduler = scheduler  # started after the store was made, as in Runtime.start
    store.schedule_save(lambda: {"n": 1}, delay=10)
    advance(scheduler, 9)
    await asyncio.sleep(0)
    assert executor.writes == 0
    advance(scheduler, 1)
    await executor.until_ended(1)
    assert await store.load() == {"n": 1}
