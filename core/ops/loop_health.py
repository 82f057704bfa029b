"""Loop health: how late the event loop runs, which callback blocks it, and systemd's watchdog.

A thread posts a probe to the loop every ``LOOP_PROBE_INTERVAL_S`` (``call_soon_threadsafe``)
and waits for the loop to run it. The delay is the loop's lag. When the probe has not run after
``LOOP_BLOCK_THRESHOLD_S`` the loop is blocked: the thread samples the loop thread's stack
(``sys._current_frames``) and names the callback or task that holds the loop; once the loop
runs the probe, one warning gives that name and how long the loop was blocked. This costs a
few wake-ups a second, unlike asyncio's debug mode (``slow_callback_duration``), which times
every callback. A block shorter than the probe interval plus the threshold may go unseen. When
the loop was late with no callback running (waiting in its selector for a busy CPU, or for the
GIL another thread held), the other threads' frames are logged instead, at info level.

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

    #: The callback, or the coroutine of the task, that the loop was running; None when it was
    #: between callbacks (waiting in its selector for the CPU, or for the GIL another thread
    #: held): then the loop was late, not blocked by a callback.
    callback: str | None
    #: The innermost frame at that moment (where it was blocked).
    where: str
    #: When no callback ran: the other threads and where each was (one may hold the GIL).
    others: tuple[str, ...] = ()


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
    name, filename = _HANDLE_RUN
    for outer, inner in itertools.pairwise(stack):
        if outer.f_code.co_name == name and outer.f_code.co_filename.endswith(filename):
            return Culprit(_describe(inner), _describe(frame))
    return Culprit(None, _describe(frame))


def _other_threads(frames: dict[int, FrameType], skip: set[int]) -> tuple[str, ...]:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    return tuple(
        f"{names.get(ident, ident)} in {_describe(frame)}"
        for ident, frame in frames.items()
        if ident not in skip
    )


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
        #: How many blocks were seen, and the last one (for tests and diagnostics); how many
        #: times the loop was late with no callback to blame.
        self.blocks = 0
        self.late = 0
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
            culprit = self._sample()
            while not done.wait(self._interval):
                if self._stopping.is_set():
                    return
            self._report(self.lag, culprit)  # the lag was set by the probe when it ran

    def _sample(self) -> Culprit | None:
        frames = sys._current_frames()  # noqa: SLF001 - the documented way to sample other threads' stacks
        culprit = name_culprit(frames.get(self._loop_thread_id))
        if culprit is not None and culprit.callback is None:
            skip = {self._loop_thread_id, threading.get_ident()}
            culprit = Culprit(None, culprit.where, _other_threads(frames, skip))
        del frames
        return culprit

    def _report(self, blocked: float, culprit: Culprit | None) -> None:
        if culprit is not None and culprit.callback is None:
            # No callback to blame: the loop thread waited for the CPU or for the GIL.
            self.late += 1
            _LOGGER.info(
                "The event loop ran %.0f ms late with no callback running (the CPU was busy, "
                "or another thread held the GIL); other threads: %s",
                blocked * 1000,
                "; ".join(culprit.others) or "none",
            )
            return
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
