"""Low disk: the recorder pauses writing before the disk fills, and resumes by itself.

Before each batch the writer asks ``DiskGuard.wait_for_room()``. At most every
``DISK_CHECK_INTERVAL_S`` it looks at the free space of the database's file system
(``statvfs``, a few microseconds); below the pause level (200 MiB, or 5 % of a smaller file
system: ``core.ops.disk``) it pauses: a persistent notification says so and the writer waits,
checking every ``DISK_PAUSED_CHECK_INTERVAL_S``, until the higher resume level is free again
(so it does not flap), then dismisses the notification. Changes
keep queuing meanwhile, up to ``max_queue``. A database on a server (PostgreSQL) is not watched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from core.ops.const import DISK_CHECK_INTERVAL_S, DISK_PAUSED_CHECK_INTERVAL_S
from core.ops.disk import DiskSpace, disk_space, pause_level, resume_level

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

#: The persistent notification shown while the recorder is paused.
NOTIFICATION_ID = "recorder_low_disk"


def sqlite_directory(db_url: str) -> Path | None:
    """The directory of a SQLite database URL's file; None for a server or an in-memory one."""
    if not db_url.startswith("sqlite"):
        return None
    _, _, rest = db_url.partition(":///")
    path = rest.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path).parent


class DiskGuard:
    """Holds the recorder's writer back while the database's disk is nearly full."""

    def __init__(
        self,
        runtime: Runtime,
        directory: Path | None,
        *,
        min_free: int | None = None,
        resume_free: int | None = None,
        check_interval: float = DISK_CHECK_INTERVAL_S,
        paused_interval: float = DISK_PAUSED_CHECK_INTERVAL_S,
    ) -> None:
        self._runtime = runtime
        self.directory = directory
        #: Fixed marks in bytes; None for the levels of ``core.ops.disk``.
        self.min_free = min_free
        self.resume_free = resume_free
        self.check_interval = check_interval
        self.paused_interval = paused_interval
        self.paused = False
        self._checked = -float("inf")

    def _space(self) -> DiskSpace | None:
        assert self.directory is not None  # noqa: S101 - callers check
        try:
            return disk_space(self.directory)
        except OSError as err:  # the directory is not there yet: the database will say why
            _LOGGER.debug("Cannot read the free space of %s: %s", self.directory, err)
            return None

    def _pause_at(self, space: DiskSpace) -> int:
        if self.min_free is not None:
            return self.min_free
        return pause_level(space.total)

    def _resume_at(self, space: DiskSpace) -> int:
        mark = resume_level(space.total) if self.resume_free is None else self.resume_free
        return max(mark, self._pause_at(space))

    async def wait_for_room(self) -> None:
        """Return at once while there is room; otherwise pause until there is. On the loop.

        Cancelling (the recorder stopping) leaves the notification in place.
        """
        if self.directory is None:
            return
        now = time.monotonic()
        if now - self._checked < self.check_interval:
            return
        self._checked = now
        space = self._space()
        if space is None or space.free >= self._pause_at(space):
            return
        self._pause(space)
        while True:
            await asyncio.sleep(self.paused_interval)
            space = self._space()
            if space is not None and space.free >= self._resume_at(space):
                break
        self._resume(space.free)

    def _pause(self, space: DiskSpace) -> None:
        self.paused = True
        mib = 2**20
        message = (
            f"Only {space.free / mib:.0f} MiB are free on the disk of the recorder's database "
            f"({self.directory}): history is not written until "
            f"{self._resume_at(space) / mib:.0f} MiB "
            "are free again. Changes wait in memory meanwhile (the oldest are dropped past "
            "max_queue). Free some space, or lower recorder: purge_keep_days."
        )
        _LOGGER.warning("Recorder paused: %s", message)
        self._runtime.notifications.create(
            message, title="Recorder paused: disk nearly full", notification_id=NOTIFICATION_ID
        )

    def _resume(self, free: int) -> None:
        self.paused = False
        self._checked = time.monotonic()
        _LOGGER.info("Recorder resumed: %.0f MiB free on %s", free / 2**20, self.directory)
        self._runtime.notifications.dismiss(NOTIFICATION_ID)
