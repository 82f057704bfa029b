"""Work in a spawned child process, so heavy libraries stay out of the runtime's memory.

SciPy, NumPy and onnxruntime cost tens of MiB once imported. An :class:`IsolatedProcess` runs
picklable functions in one spawned child (spawned, not forked: the runtime's threads and
sockets stay out of it), so the runtime process never imports them. Used by the optimizer's
solver and by NILM's inference.

- **Started on demand**: the child starts with the first call; with ``idle_timeout`` it ends
  after that many seconds without a call (an idle site pays nothing), without it it stays.
- **Supervised**: a child that dies (killed, out of memory, a crash in a native library) fails
  the calls under way with :class:`WorkerDied`; the runtime goes on. The next call starts a new
  child, but not before a backoff (1 s, doubling to 60 s, reset by a call that succeeds); calls
  during the backoff fail at once with :class:`WorkerUnavailable`. ``on_health`` is told when
  ``unhealthy_after`` starts in a row have ended in a dead child (``False``, with the reason)
  and again when a call succeeds afterwards (``True``), for the owner's notification.
- **Bounded**: one call runs at a time; at most ``max_pending`` wait, more fail with
  :class:`WorkerUnavailable` (the owner bounds the size of each call's arguments).
- **Ends with the runtime**: :meth:`stop` ends the child; a child whose parent is gone (even
  killed with SIGKILL) notices within a second and exits.
- **Lean**: the child does not run the parent's main script again (what ``spawn`` does by
  default): it imports only the modules of the functions it is given, so it neither pays for
  the CLI's imports nor depends on how the parent was started (a benchmark script, pytest).
  Functions defined in a ``__main__`` script cannot be called in it for the same reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor  # asyncio has loaded concurrent.futures
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import ProcessPoolExecutor

_LOGGER = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: First and longest wait before a dead child is replaced (s).
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
#: How often a child checks that its parent is alive (s).
PARENT_CHECK_S = 1.0


class WorkerUnavailable(RuntimeError):
    """The child cannot take the call now (backing off after a crash, or too many waiting)."""


class WorkerDied(RuntimeError):
    """The child died during the call."""


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(0)


def _child_start(
    parent: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    """Run in the child first: watch the parent, then the owner's initializer."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


@contextlib.contextmanager
def _main_not_imported() -> Iterator[None]:
    """While children are spawned: a ``__main__`` with no file and no spec, so theirs is empty."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _pid() -> int:
    return os.getpid()


def _modules() -> list[str]:
    return sorted(sys.modules)


class IsolatedProcess:
    """A supervised child process that runs functions for the runtime. Use on the event loop."""

    def __init__(
        self,
        name: str,
        *,
        idle_timeout: float | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        max_pending: int = 8,
        unhealthy_after: int = 3,
        on_health: Callable[[bool, str], None] | None = None,
        backoff_first: float = BACKOFF_FIRST,
    ) -> None:
        self.name = name
        self._idle_timeout = idle_timeout
        self._initializer = initializer
        self._initargs = initargs
        self._max_pending = max_pending
        self._unhealthy_after = unhealthy_after
        self._on_health = on_health
        self._pool: ProcessPoolExecutor | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._running = 0
        self._not_before = 0.0  # loop time before which no new child starts
        self._backoff_first = backoff_first
        self._backoff = backoff_first
        self._deaths = 0  # children that died in a row
        self._healthy = True
        self.starts = 0  # children started, for tests and benchmarks

    @property
    def process_alive(self) -> bool:
        """Whether a child is running now."""
        return self._pool is not None

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` run in the child; its exceptions are raised here.

        Raises:
            WorkerUnavailable: backing off after a crash, or ``max_pending`` calls waiting.
            WorkerDied: the child died during the call.
        """
        # The child imports this module too, for _child_start: asyncio (and ssl with it, about
        # 6 MiB) is the runtime's only.
        import asyncio  # noqa: PLC0415 - see above

        loop = asyncio.get_running_loop()
        if self._running >= self._max_pending:
            raise WorkerUnavailable(f"{self.name}: {self._running} calls already waiting")
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._pool is None:
            wait = self._not_before - loop.time()
            if wait > 0:
                raise WorkerUnavailable(
                    f"{self.name}: the process died; a new one starts in {wait:.0f} s"
                )
            # multiprocessing loads with the first child, not with the site (about 0.6 MiB).
            import multiprocessing  # noqa: PLC0415 - see above
            from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415 - see above

            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_child_start,
                initargs=(os.getpid(), self._initializer, self._initargs),
            )
            self.starts += 1
        pool = self._pool
        self._running += 1
        try:
            with _main_not_imported():  # a new pool spawns its child in submit
                future = pool.submit(fn, *args, **kwargs)
            result = await asyncio.wrap_future(future)
        except BrokenExecutor as err:  # the pool's BrokenProcessPool
            self._died(pool, loop)
            raise WorkerDied(f"{self.name}: the process died") from err
        finally:
            self._running -= 1
            if self._running == 0 and self._pool is not None and self._idle_timeout is not None:
                self._idle = loop.call_later(self._idle_timeout, self._shut_down_idle)
        self._succeeded()
        return result

    async def pid(self) -> int:
        """The child's process id (starting it if need be)."""
        return await self.call(_pid)

    async def modules(self) -> list[str]:
        """The names of the modules the child has imported (starting it if need be)."""
        return await self.call(_modules)

    def _died(self, pool: ProcessPoolExecutor, loop: asyncio.AbstractEventLoop) -> None:
        if self._pool is not pool:
            return  # another call already saw this child die
        self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)
        self._deaths += 1
        self._not_before = loop.time() + self._backoff
        _LOGGER.error(
            "The %s process died (%d in a row); a new one starts in %.0f s at the earliest",
            self.name,
            self._deaths,
            self._backoff,
        )
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)
        if self._deaths >= self._unhealthy_after and self._healthy:
            self._healthy = False
            if self._on_health is not None:
                reason = f"the {self.name} process died {self._deaths} times in a row"
                self._on_health(False, reason)

    def _succeeded(self) -> None:
        self._deaths = 0
        self._backoff = self._backoff_first
        if not self._healthy:
            self._healthy = True
            if self._on_health is not None:
                self._on_health(True, f"the {self.name} process runs again")

    def _shut_down_idle(self) -> None:
        self._idle = None
        if self._pool is not None and self._running == 0:
            _LOGGER.debug("%s process idle for %.0f s: ending it", self.name, self._idle_timeout)
            self._pool.shutdown(wait=False)
            self._pool = None

    def stop(self) -> None:
        """End the child (a call under way fails)."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


async def run_module(module: str, *args: str) -> tuple[int, bytes, bytes]:
    """Run ``python -m module args`` in a child process and wait for it to end.

    For one-off work with heavy imports (a schema migration, a generated data set): the child
    loads them, the runtime never does. The child is killed if the caller is cancelled, as by
    the ``asyncio.timeout`` it should be awaited in.

    Returns:
        The child's exit status, its standard output and its standard error.
    """
    import asyncio  # noqa: PLC0415 - a spawned worker imports this module without a loop

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate()
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    assert process.returncode is not None  # noqa: S101 - communicate() waited for the end
    return process.returncode, out, err
