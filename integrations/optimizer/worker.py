"""Where solves run: a separate solver process (the default) or the runtime's executor.

SciPy and NumPy add about 60 MiB to a process once imported. In the solver process they never
enter the runtime's: the process is spawned on the first solve (about a second, SciPy's import
included) and ends after ``solver_idle_timeout`` seconds without a solve, so an idle site pays
nothing for them. ``isolate_solver: false`` solves in the runtime's executor instead (faster
repeated solves, the memory kept).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from core.runtime import Runtime

from . import entry

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

_LOGGER = logging.getLogger(__name__)


class SolverRunner:
    """Runs ``entry.solve`` in the solver process or the executor. Use on the event loop."""

    def __init__(self, runtime: Runtime, *, isolate: bool, idle_timeout: float) -> None:
        self._runtime = runtime
        self._isolate = isolate
        self._idle_timeout = idle_timeout
        self._pool: ProcessPoolExecutor | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._running = 0

    async def solve(
        self, kind: str, data: Mapping[str, Any], tz: tzinfo, limit: float
    ) -> dict[str, Any]:
        """The result of one solve (or ``{"error": ...}`` for bad input)."""
        if not self._isolate:
            return await self._runtime.run_in_executor(entry.solve, kind, dict(data), tz, limit)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        # multiprocessing loads with the first solve, not with the site (about 0.6 MiB).
        import multiprocessing  # noqa: PLC0415 - see above
        from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415 - see above
        from concurrent.futures.process import BrokenProcessPool  # noqa: PLC0415 - see above

        if self._pool is None:
            # Spawned, not forked: the runtime's threads and sockets stay out of the child.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        pool = self._pool
        self._running += 1
        try:
            future = pool.submit(entry.solve, kind, dict(data), tz, limit)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            _LOGGER.error("The solver process died; a new one starts with the next solve")
            self._pool = None
            raise
        finally:
            self._running -= 1
            if self._running == 0 and self._pool is not None:
                self._idle = asyncio.get_running_loop().call_later(
                    self._idle_timeout, self._shut_down_idle
                )

    def _shut_down_idle(self) -> None:
        self._idle = None
        if self._pool is not None and self._running == 0:
            _LOGGER.debug("Solver process idle for %.0f s: ending it", self._idle_timeout)
            self._pool.shutdown(wait=False)
            self._pool = None

    @property
    def process_alive(self) -> bool:
        """Whether a solver process is running now."""
        return self._pool is not None

    def stop(self) -> None:
        """End the solver process (a solve under way is cancelled)."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
