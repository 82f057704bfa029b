"""Loop health: how late the event loop runs, which callback blocks it, and systemd's watchdog.

A thread posts a probe to the loop every ``LOOP_PROBE_INTERVAL_S`` (``call_soon_threadsafe``)
and waits for the loop to run it. The delay is the loop's lag. When the probe has not run after
``LOOP_BLOCK_THRESHOLD_S`` the loop is blocked: the thread samples the loop thread's stack
(``sys._current_frames``) and names the callback or task that holds the loop; once the loop
runs the probe, one warning gives that name and how long the loop was blocked. This costs a
few wake-ups a second, unlike asyncio's debug mode (``slow_callback_duration``), which times
every callback. A block shorter than the probe interval plus the threshold may go unseen.

While probes run, the loop is healthy and systemd's watchdog is pinged (``WATCHDOG=1``); a loop
stuck for ``WatchdogSec`` gets no ping and systemd restarts the service.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from .const import LOOP_BLOCK_THRESHOLD_S, LOOP_LAG_WINDOW_S, LOOP_PROBE_INTERVAL_S

_LOGGER = logging.getLogger(__name__)

#: asyncio's frame that runs one callback (``Handle._run``): the next frame is the callback's.
_HANDLE_RUN = ("_run", "asyncio/events.py")


@dataclass(frozen=True, slots=True)
class Culprit:
    """What held the loop when its stack was sampled."""

    #: The callback, or the coroutine of the task, that the loop was running.
    callback: str
    #: The innermost frame at that moment (where it was blocked).
    where: str


def _describe(frame: FrameType) -> str:
    code = frame.f_code
    return f"{code.co_qualname} ({code.co_filename}:{frame.f_lineno})"


def name_culprit(frame: FrameType | None) -> Culprit | None:
    """The callback the loop runs in the stack whose innermost frame is ``frame``."""
    if frame is None:
        return None
    stack: list[FrameType] = []
    current: FrameType | None = frame
    while current is not None:
        stack.append(current)
        current = current.f_back
    stack.reverse()  # outermost first
    callback = stack[-1]
    for outer, inner in itertools.pairwise(stack):
        name, filename = _HANDLE_RUN
        if outer.f_code.co_name == name and outer.f_code.co_filename.endswith(filename):
            callback = inner
            break
    return Culprit(_describe(callback), _describe(frame))


class LoopMonitor:
    """Probes one event loop from a thread; see the module's docstring.

    ``start`` and ``stop`` run on the loop. ``on_healthy`` runs on the loop after each probe;
    ``on_block(seconds, culprit)`` runs in the monitor's thread after each block, once logged.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        interval: float = LOOP_PROBE_INTERVAL_S,
        threshold: float = LOOP_BLOCK_THRESHOLD_S,
        on_healthy: Callable[[], None] | None = None,
        on_block: Callable[[float, Culprit | None], None] | None = None,
    ) -> None:
        self._loop = loop
        self._interval = interval
        self._threshold = threshold
        self._on_healthy = on_healthy
        self._on_block = on_block
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread_id = 0
        #: The last probe's delay, and (time, delay) of recent probes for the window's maximum.
        self.lag = 0.0
        self._recent: deque[tuple[float, float]] = deque()
        #: How many blocks were seen, and the last one (for tests and diagnostics).
        self.blocks = 0
        self.last_block: tuple[float, Culprit | None] | None = None

    def start(self) -> None:
        """Start the probing thread (call on the loop's thread)."""
        if self._thread is not None:
            raise RuntimeError("LoopMonitor already started")
        self._loop_thread_id = threading.get_ident()
        self._thread = threading.Thread(
            target=self._watch, name="edgewise-loop-health", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the probing thread; it exits at its next wake-up."""
        self._stopping.set()

    @property
    def max_lag(self) -> float:
        """The largest probe delay within the last ``LOOP_LAG_WINDOW_S`` seconds."""
        return max((lag for _, lag in self._recent), default=self.lag)

    def _probe(self, posted: float, done: threading.Event) -> None:
        # Runs on the loop.
        now = time.monotonic()
        self.lag = now - posted
        self._recent.append((now, self.lag))
        while self._recent and self._recent[0][0] < now - LOOP_LAG_WINDOW_S:
            self._recent.popleft()
        done.set()
        if self._on_healthy is not None:
            self._on_healthy()

    def _watch(self) -> None:
        while not self._stopping.wait(self._interval):
            done = threading.Event()
            posted = time.monotonic()
            try:
                self._loop.call_soon_threadsafe(self._probe, posted, done)
            except RuntimeError:  # the loop is closed
                return
            if done.wait(self._threshold):
                continue
            frame = sys._current_frames().get(self._loop_thread_id)  # noqa: SLF001 - the documented way to sample another thread's stack
            culprit = name_culprit(frame)
            del frame
            while not done.wait(self._interval):
                if self._stopping.is_set():
                    return
            blocked = self.lag  # set by the probe, on the loop, when it finally ran
            self.blocks += 1
            self.last_block = (blocked, culprit)
            if culprit is None:
                _LOGGER.warning("The event loop was blocked for %.0f ms", blocked * 1000)
            else:
                _LOGGER.warning(
                    "The event loop was blocked for %.0f ms by %s, in %s",
                    blocked * 1000,
                    culprit.callback,
                    culprit.where,
                )
            if self._on_block is not None:
                self._on_block(blocked, culprit)
