"""Time-weighted resampling of a power sensor's readings to a model's sample period.

A power sensor reports when its value changes (or on a poll); between two reports the power is
the last one reported. Each period's sample is the time-weighted mean of the power over it.
Readings that are unavailable, not numbers, NaN, infinite or negative end the last value: the
time after them is missing, as is the time more than ``max_hold`` seconds after a reading
(a sensor that went silent). A period with any missing time is a missing sample (NaN): nothing
is invented.
"""

from __future__ import annotations

import math


class Resampler:
    """Turns timestamped readings into samples at a fixed period, aligned to epoch multiples."""

    def __init__(self, period: float, max_hold: float) -> None:
        self.period = period
        self.max_hold = max_hold
        self._value: float | None = None  # the power last reported, None when unavailable
        self._reported = 0.0  # when it was reported
        self._cursor = 0.0  # time accounted up to
        self._slot: int | None = None  # the period being accumulated
        self._energy = 0.0  # W·s in the current slot
        self._covered = 0.0  # seconds of the current slot with a known value

    def add(self, when: float, value: float | None) -> list[tuple[int, float]]:
        """Record a reading at ``when`` (epoch s; None or invalid = unavailable).

        Returns the samples completed by it, as (slot start epoch s, W or NaN), in order.
        """
        if value is not None and (not math.isfinite(value) or value < 0):
            value = None
        done = self.advance(when)
        self._value = value
        self._reported = when
        return done

    def advance(self, when: float) -> list[tuple[int, float]]:
        """Let time pass to ``when`` with the held value; answer the completed samples."""
        done: list[tuple[int, float]] = []
        if self._slot is None:
            self._slot = int(when // self.period)
            self._cursor = when
            return done
        hold_until = self._reported + self.max_hold
        while self._cursor < when:
            slot_end = (self._slot + 1) * self.period
            end = min(when, slot_end)
            if self._value is not None:
                known_end = min(end, hold_until)
                if known_end > self._cursor:
                    self._energy += self._value * (known_end - self._cursor)
                    self._covered += known_end - self._cursor
            self._cursor = end
            if end >= slot_end:
                complete = self._covered >= self.period - 1e-6
                mean = self._energy / self.period if complete else float("nan")
                done.append((int(self._slot * self.period), mean))
                self._slot += 1
                self._energy = 0.0
                self._covered = 0.0
        return done
