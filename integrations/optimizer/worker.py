"""Where solves run: a separate solver process (the default) or the runtime's executor.

SciPy and NumPy add about 60 MiB to a process once imported. In the solver process
(``core.isolated``) they never enter the runtime's: the process is spawned on the first solve
(about a second, SciPy's import included) and ends after ``solver_idle_timeout`` seconds
without a solve, so an idle site pays nothing for them. A solver process that dies fails its
solve; the next solve starts a new one. ``isolate_solver: false`` solves in the runtime's
executor instead (faster repeated solves, the memory kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from core.isolated import IsolatedProcess
from core.runtime import Runtime

from . import entry


class SolverRunner:
    """Runs ``entry.solve`` in the solver process or the executor. Use on the event loop."""

    def __init__(self, runtime: Runtime, *, isolate: bool, idle_timeout: float) -> None:
        self._runtime = runtime
        self._isolate = isolate
        self._process = IsolatedProcess("solver", idle_timeout=idle_timeout, max_pending=4)

    async def solve(
        self, kind: str, data: Mapping[str, Any], tz: tzinfo, limit: float
    ) -> dict[str, Any]:
        """The result of one solve (or ``{"error": ...}`` for bad input)."""
        if not self._isolate:
            return await self._runtime.run_in_executor(entry.solve, kind, dict(data), tz, limit)
        return await self._process.call(entry.solve, kind, dict(data), tz, limit)

    @property
    def process_alive(self) -> bool:
        """Whether a solver process is running now."""
        return self._process.process_alive

    def stop(self) -> None:
        """End the solver process (a solve under way is cancelled)."""
        self._process.stop()
