"""Low disk: the recorder pauses writing before the disk fills, says so, and resumes by itself."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.notifications import Notification, UpdateType
from core.ops.disk import disk_space, pause_level
from core.runtime import Runtime
from integrations.recorder.core import Recorder
from integrations.recorder.disk_guard import NOTIFICATION_ID, sqlite_directory

from .conftest import MakeRuntime, recorder_of

MIB = 2**20


class NotificationWatch:
    """Futures resolved when the low-disk notification appears and when it goes."""

    def __init__(self, runtime: Runtime) -> None:
        loop = asyncio.get_running_loop()
        self.shown: asyncio.Future[str] = loop.create_future()
        self.gone: asyncio.Future[None] = loop.create_future()
        self._stop = runtime.notifications.subscribe(self._update)

    def _update(self, update: UpdateType, notifications: dict[str, Notification]) -> None:
        if NOTIFICATION_ID not in notifications:
            return
        if update in (UpdateType.ADDED, UpdateType.UPDATED) and not self.shown.done():
            self.shown.set_result(notifications[NOTIFICATION_ID]["message"])
        elif update is UpdateType.REMOVED and not self.gone.done():
            self.gone.set_result(None)

    def close(self) -> None:
        self._stop()


async def _recorded(recorder: Recorder) -> int:
    async with recorder.connect() as conn:
        return int(await conn.scalar("SELECT COUNT(*) FROM states"))


def _quick(recorder: Recorder) -> None:
    guard = recorder.disk_guard
    guard.check_interval = 0.0
    guard.paused_interval = 0.05


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs (needs root and mount permission)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_the_pause_level_is_200_mib_or_five_percent_of_a_smaller_disk() -> None:
    assert pause_level(32 * 1024 * MIB) == 200 * MIB
    assert pause_level(64 * MIB) == int(64 * MIB * 0.05)


def test_only_a_sqlite_file_has_a_directory_to_watch() -> None:
    assert sqlite_directory("sqlite+aiosqlite:////var/lib/e/edgewise.db") == Path("/var/lib/e")
    assert sqlite_directory("sqlite+aiosqlite:///rel/x.db?timeout=5") == Path("rel")
    assert sqlite_directory("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_directory("postgresql+asyncpg://u@h/db") is None


async def test_a_nearly_full_disk_pauses_writing_until_space_is_freed(
    make_runtime: MakeRuntime, tmpfs: Path
) -> None:
    runtime = await make_runtime(f"sqlite+aiosqlite:///{tmpfs / 'recorder.db'}", commit_interval=0)
    recorder = recorder_of(runtime)
    _quick(recorder)
    recorder.disk_guard.min_free = 20 * MIB
    recorder.disk_guard.resume_free = 30 * MIB
    runtime.states.set("sensor.before", "1")
    await recorder.flush()
    before = await _recorded(recorder)

    # Fill the disk to 10 MiB of free space: below the pause mark.
    filler = tmpfs / "filler"
    with filler.open("wb") as handle:
        handle.truncate(0)
        os.posix_fallocate(handle.fileno(), 0, disk_space(tmpfs).free - 10 * MIB)
    watch = NotificationWatch(runtime)
    runtime.states.set("sensor.during", "2")
    async with asyncio.timeout(10):
        message = await watch.shown
    assert message.startswith("Only 10 MiB are free on the disk of the recorder's database")
    assert "until 30 MiB are free again" in message
    assert recorder.disk_guard.paused
    assert recorder.queue_size >= 1
    assert await _recorded(recorder) == before

    filler.unlink()
    async with asyncio.timeout(10):
        await watch.gone
        await recorder.flush()
    watch.close()
    assert not recorder.disk_guard.paused
    assert await _recorded(recorder) == before + 1
    assert runtime.notifications.get(NOTIFICATION_ID) is None


async def test_the_pause_holds_until_the_higher_resume_mark(
    make_runtime: MakeRuntime, sqlite_url: str, tmp_path: Path
) -> None:
    """The same on any disk, with marks set around its real free space."""
    runtime = await make_runtime(sqlite_url, commit_interval=0)
    recorder = recorder_of(runtime)
    _quick(recorder)
    free = disk_space(tmp_path).free
    guard = recorder.disk_guard
    guard.min_free = free + 1024 * MIB
    guard.resume_free = free + 2048 * MIB
    watch = NotificationWatch(runtime)
    runtime.states.set("sensor.held", "1")
    async with asyncio.timeout(10):
        await watch.shown
    # Above the pause mark but below the resume mark: still paused.
    guard.min_free = max(free - 1024 * MIB, 0)
    await asyncio.sleep(guard.paused_interval * 4)
    assert guard.paused
    assert not watch.gone.done()
    guard.resume_free = guard.min_free
    async with asyncio.timeout(10):
        await watch.gone
        await recorder.flush()
    watch.close()
    assert await _recorded(recorder) >= 1
