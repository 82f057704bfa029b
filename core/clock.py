"""Clocks: where the scheduler reads the time, so tests can fake the clock and nothing else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

#: Called with the new time after a clock jumped.
ClockListener = Callable[[datetime], None]


@runtime_checkable
class Clock(Protocol):
    """A source of wall-clock time (aware UTC) and of monotonic time (seconds)."""

    def now(self) -> datetime:
        """The current time as an aware UTC datetime."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go backwards."""


@runtime_checkable
class JumpingClock(Clock, Protocol):
    """A clock that tells subscribers when its time was moved (a ``FakeClock``)."""

    def subscribe(self, listener: ClockListener) -> Callable[[], None]:
        """Call ``listener`` after every jump; returns the unsubscribe function."""


class SystemClock:
    """The real clock: ``datetime.now(UTC)`` and ``time.monotonic()``, independent of any loop."""

    __slots__ = ()

    def now(self) -> datetime:
        """The current time as an aware UTC datetime."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


class FakeClock:
    """A clock for tests that only moves when told to.

    Moving it calls every subscriber synchronously, so a ``Scheduler`` bound to it runs the
    jobs that became due before ``advance``/``set`` returns: ``@callback`` actions have run,
    coroutine actions have been started as tasks (``advance_and_settle`` also lets them run).
    A jump is a single jump: a recurring job that missed several slots runs once, as it would
    after a real stall.
    """

    def __init__(self, start: datetime) -> None:
        """Start the clock at ``start``.

        Raises:
            ValueError: ``start`` is naive.
        """
        self._now = _require_aware(start)
        self._monotonic = 0.0
        self._listeners: list[ClockListener] = []

    def now(self) -> datetime:
        """The fake current time (aware UTC)."""
        return self._now

    def monotonic(self) -> float:
        """Seconds the fake clock has moved forward since it was created."""
        return self._monotonic

    def subscribe(self, listener: ClockListener) -> Callable[[], None]:
        """Call ``listener(now)`` after every move; returns the (idempotent) unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def advance(self, delta: timedelta) -> None:
        """Move the clock by ``delta`` (may be negative, like an NTP step) and notify."""
        self.set(self._now + delta)

    def set(self, when: datetime) -> None:
        """Jump the clock to ``when`` and notify subscribers.

        Raises:
            ValueError: ``when`` is naive.
        """
        when = _require_aware(when)
        # Monotonic time only moves forward, even when the wall clock is stepped back.
        self._monotonic += max((when - self._now).total_seconds(), 0.0)
        self._now = when
        for listener in list(self._listeners):
            listener(when)

    async def advance_and_settle(self, delta: timedelta, *, ticks: int = 5) -> None:
        """Advance by ``delta``, then yield to the loop ``ticks`` times so started tasks run."""
        self.advance(delta)
        for _ in range(ticks):
            await asyncio.sleep(0)


def _require_aware(when: datetime) -> datetime:
    """Return ``when`` in UTC, or raise ValueError when it has no timezone."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"Naive datetime {when!r} given; use an aware datetime")
    return when.astimezone(UTC)
