"""Prices over time: a sorted list of segments (start, end, price, slot type). Pure, no I/O.

A ``Timeline`` is what both price sources produce (a TOU plan expanded over local days, or a
dynamic forecast read from a price entity) and what every consumer reads: the sensors (price
now, next change, next peak), the window search (``window.py``) and the cost previews. Times are
aware UTC datetimes; a stretch no segment covers is a hole (no known price).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .const import SlotType


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time at one price per kWh."""

    start: datetime
    end: datetime
    price: float
    kind: SlotType = SlotType.STANDARD

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "price": self.price,
            "type": self.kind.value,
        }


@dataclass(frozen=True, slots=True)
class Hole:
    """A stretch with no known price."""

    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, str]:
        """The JSON form."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


class Timeline:
    """Segments sorted by start, not overlapping; holes between them are allowed."""

    __slots__ = ("_starts", "resolution", "segments", "stamps")

    def __init__(self, segments: Iterable[Segment], resolution: timedelta) -> None:
        self.segments: tuple[Segment, ...] = tuple(sorted(segments, key=lambda s: s.start))
        for before, after in zip(self.segments, self.segments[1:], strict=False):
            if after.start < before.end:
                raise ValueError(f"price segments overlap at {after.start.isoformat()}")
        self._starts = [s.start for s in self.segments]
        #: (start, end, price) of each segment with POSIX timestamps, for the window search.
        self.stamps = [(s.start.timestamp(), s.end.timestamp(), s.price) for s in self.segments]
        #: The finest step of the data: the grid of window searches and of sensor updates.
        self.resolution = resolution

    def __len__(self) -> int:
        return len(self.segments)

    @property
    def start(self) -> datetime | None:
        """The start of the first segment."""
        return self.segments[0].start if self.segments else None

    @property
    def end(self) -> datetime | None:
        """The end of the last segment."""
        return self.segments[-1].end if self.segments else None

    def index_at(self, when: datetime) -> int:
        """The index of the last segment starting at or before ``when`` (0 when none does)."""
        return max(bisect.bisect_right(self._starts, when) - 1, 0)

    def at(self, when: datetime) -> Segment | None:
        """The segment holding ``when``, or None (a hole, or outside the data)."""
        index = bisect.bisect_right(self._starts, when) - 1
        if index < 0:
            return None
        segment = self.segments[index]
        return segment if when < segment.end else None

    def next_change(self, when: datetime) -> datetime | None:
        """The first instant after ``when`` at which the price or slot type changes (or a hole
        starts or ends); None when nothing is known after ``when``."""
        current = self.at(when)
        index = bisect.bisect_right(self._starts, when)
        if current is None:
            return self.segments[index].start if index < len(self.segments) else None
        end = current.end
        while index < len(self.segments):
            following = self.segments[index]
            if following.start != end:
                return end  # a hole starts
            if following.price != current.price or following.kind != current.kind:
                return following.start
            end = following.end
            index += 1
        return end

    def boundaries_after(self, when: datetime) -> list[datetime]:
        """Every segment start and end after ``when`` (for the sensors' timers)."""
        return sorted({p for s in self.segments for p in (s.start, s.end) if p > when})

    def next_of_kind(self, when: datetime, kind: SlotType) -> Segment | None:
        """The first segment of ``kind`` starting after ``when`` whose predecessor is not of
        ``kind`` (the start of the next band), or None."""
        previous: Segment | None = self.at(when)
        index = bisect.bisect_right(self._starts, when)
        for segment in self.segments[index:]:
            joined = previous is not None and previous.end == segment.start
            if segment.kind == kind and not (
                joined and previous is not None and previous.kind == kind
            ):
                return segment
            previous = segment
        return None

    def holes(self, start: datetime, end: datetime) -> list[Hole]:
        """The stretches of ``[start, end)`` no segment covers."""
        found: list[Hole] = []
        cursor = start
        for segment in self.segments:
            if segment.end <= cursor:
                continue
            if segment.start >= end:
                break
            if segment.start > cursor:
                found.append(Hole(cursor, min(segment.start, end)))
            cursor = max(cursor, segment.end)
        if cursor < end:
            found.append(Hole(cursor, end))
        return found

    def window(self, start: datetime, end: datetime) -> list[Segment]:
        """The segments overlapping ``[start, end)``, clipped to it."""
        out: list[Segment] = []
        index = max(bisect.bisect_right(self._starts, start) - 1, 0)
        for segment in self.segments[index:]:
            if segment.start >= end:
                break
            if segment.end <= start:
                continue
            out.append(
                Segment(
                    max(segment.start, start), min(segment.end, end), segment.price, segment.kind
                )
            )
        return out

    def cost(self, start: datetime, end: datetime, power_w: float) -> float | None:
        """The energy cost of drawing ``power_w`` over ``[start, end)``; None over a hole."""
        if self.holes(start, end):
            return None
        hours = 0.0
        total = 0.0
        for segment in self.window(start, end):
            span = (segment.end - segment.start).total_seconds() / 3600.0
            hours += span
            total += span * segment.price
        return total * power_w / 1000.0

    def profile_cost(
        self, start: datetime, profile: Sequence[tuple[timedelta, float]]
    ) -> float | None:
        """The cost of a power profile (steps of duration and W) started at ``start``."""
        total = 0.0
        cursor = start
        for length, watts in profile:
            part = self.cost(cursor, cursor + length, watts)
            if part is None:
                return None
            total += part
            cursor += length
        return total
