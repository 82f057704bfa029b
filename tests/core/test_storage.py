"""Tests of the JSON store: format, atomic writes, corrupt files, coalesced saves, migration."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from core.storage import JsonStore, StorageError, storage_path

_T = TypeVar("_T")


class CountingExecutor:
    """Runs jobs in the loop's default executor and counts them, to see how many writes ran."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, func: Callable[..., _T], *args: Any) -> _T:
        self.calls.append(func.__name__)
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    @property
    def writes(self) -> int:
        return self.calls.count("_write_atomic")


def make_store(tmp_path: Path, **kwargs: Any) -> tuple[JsonStore, CountingExecutor]:
    executor = CountingExecutor()
    key = kwargs.pop("key", "test.store")
    store = JsonStore(
        executor, storage_path(tmp_path, key), version=kwargs.pop("version", 1), key=key, **kwargs
    )
    return store, executor


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


async def test_save_is_coalesced(tmp_path: Path) -> None:
    store, executor = make_store(tmp_path)
    built: list[int] = []

    def data_for(n: int) -> Callable[[], dict[str, Any]]:
        def build() -> dict[str, Any]:
            built.append(n)
            return {"n": n}

        return build

    for n in range(5):
        store.schedule_save(data_for(n), delay=0.05)
    assert store.save_pending
    await asyncio.sleep(0.2)

    assert executor.writes == 1
    assert built == [4]  # only the latest data is built, and only once
    assert not store.save_pending
    assert await store.load() == {"n": 4}


async def test_later_schedule_does_not_postpone_the_write(tmp_path: Path) -> None:
    store, executor = make_store(tmp_path)
    store.schedule_save(lambda: {"n": 1}, delay=0.05)
    await asyncio.sleep(0.03)
    store.schedule_save(lambda: {"n": 2}, delay=10.0)
    await asyncio.sleep(0.1)

    assert executor.writes == 1
    assert await store.load() == {"n": 2}


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
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, _ = make_store(tmp_path)
    store.schedule_save(lambda: {"bad": object()}, delay=0.01)
    with caplog.at_level(logging.ERROR):
        await asyncio.sleep(0.1)
    assert "Error writing" in caplog.text
    assert not store.path.exists()
