"""What ``edgewise run`` does for operations: systemd notifications, loop health, metrics.

``attach(runtime)`` is called before the runtime starts. Once it has started, systemd hears
``READY=1`` (``Type=notify``) and the loop monitor starts; each probe that runs pings systemd's
watchdog when one is set. On stop, systemd hears ``STOPPING=1``. ``/metrics`` gains the loop's
lag, the process's memory (``process_resident_memory_bytes``) and the event and state-write
rates over the last ``RATE_WINDOW_S`` seconds.

``limit_malloc_arenas()`` is called first of all, before any thread exists: see its docstring.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from prometheus_client import ProcessCollector

from core.bus import Event, callback
from core.const import EVENT_EDGEWISE_STARTED, EVENT_EDGEWISE_STOP

from .const import RATE_WINDOW_S
from .loop_health import LoopMonitor
from .sdnotify import SystemdNotifier

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)


#: glibc's ``mallopt`` parameter for the most malloc arenas (``M_ARENA_MAX``).
_M_ARENA_MAX = -8
#: Arenas ``edgewise run`` allows: the loop's thread and one for all the others.
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> bool:
    """Let glibc's malloc keep at most ``MALLOC_ARENAS`` arenas; whether it was set.

    glibc gives threads that allocate at the same time arenas of their own, up to eight per
    core, and each keeps the memory it once held. Edgewise's threads (the executor's, each SQLite
    connection's) do little, so sharing one arena between them costs nothing measurable, and
    the site idles about a mebibyte smaller (``bench/kernel.py``'s ``idle_rss_mib``). As
    ``MALLOC_ARENA_MAX`` does, which takes precedence when set. Other C libraries: nothing.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt), or no libc symbols
        return False
    return bool(mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(MALLOC_ARENAS)))


class _Rates:
    """Events and state writes per second over the last completed window."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._since = time.monotonic()
        self._events = runtime.bus.events_fired
        self._writes = runtime.states.changes
        self.events_per_s = 0.0
        self.writes_per_s = 0.0

    def sample(self) -> None:
        """Close the window if it has lasted ``RATE_WINDOW_S`` (runs on the loop)."""
        now = time.monotonic()
        elapsed = now - self._since
        if elapsed < RATE_WINDOW_S:
            return
        events, writes = self._runtime.bus.events_fired, self._runtime.states.changes
        self.events_per_s = (events - self._events) / elapsed
        self.writes_per_s = (writes - self._writes) / elapsed
        self._since, self._events, self._writes = now, events, writes


class Operations:
    """systemd notifications, the loop monitor and the metrics of one running runtime."""

    def __init__(self, runtime: Runtime, environ: Mapping[str, str] | None = None) -> None:
        self.runtime = runtime
        self.notifier = SystemdNotifier(environ)
        self.rates = _Rates(runtime)
        self.monitor = LoopMonitor(runtime.loop, on_healthy=self._healthy)
        self._last_ping = 0.0
        metrics = runtime.metrics
        ProcessCollector(registry=metrics.registry)
        metrics.value(
            "edgewise_loop_lag_seconds",
            "Delay of the last probe run on the event loop",
            lambda: self.monitor.lag,
        )
        metrics.value(
            "edgewise_loop_lag_max_seconds",
            "Largest probe delay on the event loop within the last minute",
            lambda: self.monitor.max_lag,
        )
        metrics.value(
            "edgewise_loop_blocks",
            "Times the event loop was blocked for more than 100 ms",
            lambda: self.monitor.blocks,
            counter=True,
        )
        metrics.value(
            "edgewise_loop_late",
            "Times the event loop ran over 100 ms late with no callback running (CPU or GIL)",
            lambda: self.monitor.late,
            counter=True,
        )
        metrics.value(
            "edgewise_bus_events_per_second",
            f"Events fired per second over the last {RATE_WINDOW_S:g} s",
            lambda: self.rates.events_per_s,
        )
        metrics.value(
            "edgewise_state_writes_per_second",
            f"State changes per second over the last {RATE_WINDOW_S:g} s",
            lambda: self.rates.writes_per_s,
        )
        runtime.bus.listen_once(EVENT_EDGEWISE_STARTED, self._started)
        runtime.bus.listen_once(EVENT_EDGEWISE_STOP, self._stopping)

    @callback
    def _started(self, event: Event[Mapping[str, object]]) -> None:
        self.monitor.start()
        if self.notifier.notify("READY=1", "STATUS=Running"):
            _LOGGER.info(
                "Told systemd Edgewise is ready%s",
                f"; watchdog every {self.notifier.watchdog_interval_s:g} s"
                if self.notifier.watchdog_interval_s
                else "",
            )

    @callback
    def _stopping(self, event: Event[Mapping[str, object]]) -> None:
        self.monitor.stop()
        self.notifier.notify("STOPPING=1", "STATUS=Stopping")

    def _healthy(self) -> None:
        # Runs on the loop after each probe: the loop is turning.
        self.rates.sample()
        interval = self.notifier.watchdog_interval_s
        if interval is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= interval:
            self._last_ping = now
            self.notifier.notify("WATCHDOG=1")


def attach(runtime: Runtime) -> Operations:
    """Set up notifications, loop health and metrics for ``runtime`` (before it starts)."""
    return Operations(runtime)
