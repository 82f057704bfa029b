"""A small versioned JSON store under ``<config_dir>/.storage``, written atomically.

The file format is Home Assistant's: ``{"version", "minor_version", "key", "data"}``. Saves are
coalesced (at most one write per delay window) and run in the executor; a corrupt file is moved
aside, never overwritten, so its bytes can still be recovered by hand.

A store made with :meth:`JsonStore.for_runtime` waits for its delayed saves on the runtime's
scheduler, so on the runtime's clock: a test with a ``FakeClock`` advances the clock instead of
sleeping. A store with no scheduler (made outside a runtime, or used before the runtime's
scheduler started or after it closed) waits on a loop timer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from .bus import callback
from .errors import EdgewiseError

if TYPE_CHECKING:
    from .runtime import Runtime
    from .timers import Scheduler

_LOGGER = logging.getLogger(__name__)

_T = TypeVar("_T")

#: The directory under the configuration directory that holds every store.
STORAGE_DIR = ".storage"

#: The builder of the data to write, called on the loop at write time (not at schedule time).
DataFunc = Callable[[], dict[str, Any]]
#: Turns the data of an older file into the current layout: (old major, old minor, data) -> data.
MigrateFunc = Callable[[int, int, dict[str, Any]], dict[str, Any]]


class ExecutorJob(Protocol):
    """Runs a blocking function off the loop, as ``Runtime.run_in_executor`` does."""

    def __call__(self, func: Callable[..., _T], /, *args: Any) -> Awaitable[_T]:
        """Run ``func(*args)`` in a worker thread and return its result."""


class StorageError(EdgewiseError):
    """A store file cannot be used as it is (a newer version, or no way to migrate it).

    Attributes:
        path: the file concerned.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def storage_path(config_dir: Path, key: str) -> Path:
    """The file a store with ``key`` lives in: ``<config_dir>/.storage/<key>``."""
    return config_dir / STORAGE_DIR / key


def _json_default(value: object) -> object:
    # Sets carry no order; sorting makes the file diff-friendly and stable across runs.
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _write_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON so a crash leaves either the old or the new file, never half."""
    encoded = json.dumps(payload, indent=2, ensure_ascii=False, default=_json_default)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    # 0o600: later stores (users, tokens) hold secrets, and one mode for all keeps this simple.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(encoded)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # Without syncing the directory the rename itself may not survive a power cut.
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _move_aside(path: Path) -> Path:
    """Rename a bad file to ``<file>.corrupt-<timestamp>`` without replacing an earlier one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.replace(path, target)
    return target


def _read(path: Path) -> tuple[dict[str, Any] | None, Path | None]:
    """Read and parse the file; returns (content, where a corrupt file was moved)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    try:
        content = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, _move_aside(path)
    if not isinstance(content, dict) or not isinstance(content.get("data"), dict):
        return None, _move_aside(path)
    return content, None


class JsonStore:
    """One versioned JSON file: load it, save it later (coalesced) or now, flush at shutdown.

    Must be used from the event loop; file I/O runs through ``executor``.
    """

    def __init__(
        self,
        executor: ExecutorJob,
        path: Path,
        *,
        version: int,
        minor_version: int = 1,
        key: str,
        migrate: MigrateFunc | None = None,
        scheduler: Callable[[], Scheduler | None] | None = None,
    ) -> None:
        """Describe the store; nothing is read until :meth:`load`.

        Args:
            executor: runs the blocking file I/O (``Runtime.run_in_executor``).
            path: the file.
            version: the major version of the layout this code writes.
            minor_version: its minor version (additions older readers tolerate).
            key: the store's name, written into the file.
            migrate: turns the data of an older file into the current layout.
            scheduler: where to find the scheduler delayed saves wait on, looked up when a save
                is scheduled (a runtime's scheduler starts after most stores are made); without
                one, or while it gives None, delayed saves wait on a loop timer.
        """
        self.path = path
        self.key = key
        self.version = version
        self.minor_version = minor_version
        self._executor = executor
        self._migrate = migrate
        self._scheduler = scheduler
        self._pending: DataFunc | None = None
        #: Cancels the timer of the scheduled save (a scheduler job or a loop timer).
        self._timer: Callable[[], None] | None = None
        #: When the scheduled save is due, in its time base's seconds: the scheduler's clock's
        #: monotonic time, or the loop's.
        self._timer_due: float = 0.0
        self._timer_base: object = None
        self._write_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def for_runtime(
        cls,
        runtime: Runtime,
        key: str,
        *,
        version: int,
        minor_version: int = 1,
        migrate: MigrateFunc | None = None,
    ) -> Self:
        """The store ``<config_dir>/.storage/<key>`` of ``runtime``, saving on its clock."""
        return cls(
            runtime.run_in_executor,
            storage_path(runtime.config_dir, key),
            version=version,
            minor_version=minor_version,
            key=key,
            migrate=migrate,
            scheduler=lambda: runtime.scheduler if runtime.has_scheduler else None,
        )

    @property
    def save_pending(self) -> bool:
        """Whether a scheduled save has not been written yet."""
        return self._pending is not None

    async def load(self) -> dict[str, Any] | None:
        """Read the stored data, migrated to the current version.

        Returns:
            The ``data`` part of the file, or None when there is no file or it was corrupt (a
            corrupt file is logged and moved to ``<file>.corrupt-<timestamp>``).

        Raises:
            StorageError: when the file was written by a newer major version, or is older and
                no ``migrate`` function was given.
        """
        content, moved_to = await self._executor(_read, self.path)
        if moved_to is not None:
            _LOGGER.error(
                "Store file %s is not valid JSON of the expected form; moved it to %s and "
                "starting empty",
                self.path,
                moved_to,
            )
            return None
        if content is None:
            return None
        data: dict[str, Any] = content["data"]
        major = int(content.get("version", 1))
        minor = int(content.get("minor_version", 1))
        if major > self.version:
            raise StorageError(
                f"written by a newer version ({major}.{minor}) than this one supports "
                f"({self.version}.{self.minor_version})",
                path=self.path,
            )
        if (major, minor) < (self.version, self.minor_version):
            if self._migrate is not None:
                _LOGGER.info(
                    "Migrating %s from version %d.%d to %d.%d",
                    self.path,
                    major,
                    minor,
                    self.version,
                    self.minor_version,
                )
                data = self._migrate(major, minor, data)
            elif major < self.version:
                raise StorageError(
                    f"version {major} is older than {self.version} and there is no migration",
                    path=self.path,
                )
            # A newer minor version only adds fields that readers tolerate, so no migration.
        return data

    def schedule_save(self, data_func: DataFunc, delay: float = 1.0) -> None:
        """Write ``data_func()`` within ``delay`` seconds; calls in between share one write.

        The first call of a window starts the timer; later calls only replace the data builder
        (or bring the write forward when they ask for a shorter delay), so a burst of changes
        costs one write and no change waits longer than the delay it asked for. Run on the loop.
        """
        self._pending = data_func
        scheduler = self._scheduler() if self._scheduler is not None else None
        if scheduler is not None:
            clock = scheduler.clock
            if self._arm(scheduler, clock.monotonic() + delay):
                try:
                    self._timer = scheduler.at(
                        clock.now() + timedelta(seconds=delay),
                        self._on_due,
                        name=f"storage[{self.key}].save",
                    )
                    return
                except RuntimeError:  # the scheduler closed (the runtime stops): a loop timer
                    self._timer = None
            else:
                return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        if self._arm(loop, due):
            self._timer = loop.call_at(due, self._start_write).cancel

    def _arm(self, base: object, due: float) -> bool:
        """Whether to (re)arm the timer for ``due`` (in ``base``'s time); cancels the old one.

        A timer already due sooner on the same time base stays; one on another base (the
        scheduler started or closed since) is replaced.
        """
        if self._timer is not None:
            if base is self._timer_base and due >= self._timer_due:
                return False
            self._timer()
            self._timer = None
        self._timer_base = base
        self._timer_due = due
        return True

    @callback
    def _on_due(self, _when: datetime) -> None:
        self._start_write()

    def _start_write(self) -> None:
        self._timer = None
        # A write still running holds the lock, so this one queues behind it in order.
        self._write_task = asyncio.get_running_loop().create_task(
            self._write_logged(), name=f"storage[{self.key}].save"
        )

    async def _write_logged(self) -> None:
        try:
            await self._write_pending()
        except Exception:  # a background save: nobody awaits it, so log it here
            _LOGGER.exception("Error writing %s", self.path)

    async def _write_pending(self) -> None:
        async with self._lock:
            data_func = self._pending
            self._pending = None
            if data_func is None:
                return
            await self._write(data_func())

    async def _write(self, data: dict[str, Any]) -> None:
        payload = {
            "version": self.version,
            "minor_version": self.minor_version,
            "key": self.key,
            "data": data,
        }
        await self._executor(_write_atomic, self.path, payload)
        _LOGGER.debug("Wrote %s", self.path)

    async def save(self, data: dict[str, Any]) -> None:
        """Write ``data`` now, replacing any scheduled save.

        Raises:
            OSError, TypeError: when the file cannot be written or the data is not JSON.
        """
        self._cancel_timer()
        async with self._lock:
            self._pending = None
            await self._write(data)

    async def flush(self) -> None:
        """Write a scheduled save now and wait for a write in progress (used at shutdown).

        Raises:
            OSError, TypeError: when the file cannot be written or the data is not JSON.
        """
        self._cancel_timer()
        if self._write_task is not None and not self._write_task.done():
            await self._write_task
        await self._write_pending()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer()
            self._timer = None
