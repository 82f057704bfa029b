"""The scheduler: runs actions at a time, every interval, daily, by cron pattern or at a sun event.

All jobs share one heap ordered by due time and one armed ``loop.call_at`` for the earliest of
them. When that timer fires the scheduler re-reads the clock and runs whatever is due, so an early
wake-up or a wall-clock jump never runs a job at the wrong time; sleeps are cut into chunks of at
most an hour so a stepped wall clock (NTP on a board without RTC) is noticed within the hour.

Local-time jobs (``daily``, ``cron``, ``time_pattern``) follow one DST rule:

* a wall time that does not exist (spring forward, Europe/Amsterdam 2021-03-28 02:00→03:00) is
  shifted forward by the length of the gap: a 02:30 job runs once, at 03:30;
* a wall time that happens twice (fall back, 2021-10-31 03:00→02:00) runs once, on its first
  occurrence (``fold=0``). Only patterns that run every hour (hour field ``*``) also run in the
  repeated hour, because for them that hour is just another hour.

croniter's own handling of aware datetimes does not follow this rule (it moves 02:30 to 03:00 and
runs fall-back times twice), so cron patterns are matched on naive local wall time and mapped to
UTC here. time_pattern is matched on wall time the same way, without croniter (``_PatternWalk``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from bisect import bisect_left, bisect_right
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from astral import Observer
from astral import sun as astral_sun

from .bus import JobType, job_type_of
from .clock import Clock, JumpingClock, SystemClock

if TYPE_CHECKING:
    from croniter import croniter

_LOGGER = logging.getLogger(__name__)


def _croniter(expr: str, start: datetime | None = None) -> croniter:
    """A croniter over ``expr``; croniter is imported by the first cron schedule, not at start."""
    from croniter import croniter  # noqa: PLC0415 - most sites start with no cron schedule

    return croniter(expr, start)


#: Cancels a scheduled job; calling it again does nothing.
Cancel = Callable[[], None]
#: A scheduled action, called with the fire time it was scheduled for (aware UTC).
Action = Callable[[datetime], Awaitable[None] | None]

#: The longest single sleep, so that a stepped wall clock is noticed within this many seconds.
MAX_SLEEP = 3600.0
#: How many days ahead to look for a sun event before giving up (polar day/night).
SUN_SEARCH_DAYS = 366

_DST_MARGIN = timedelta(hours=3)  # larger than any DST shift in the tz database (2 h)
_CRON_MAX_STEPS = 10_000


class SunEvent(StrEnum):
    """A daily solar event."""

    sunrise = "sunrise"
    sunset = "sunset"
    dawn = "dawn"
    dusk = "dusk"
    noon = "noon"


# Keywords, because dawn/dusk take a depression as their third positional argument.
_SUN_FUNCS: dict[SunEvent, Callable[[Observer, date, tzinfo], datetime]] = {
    SunEvent.sunrise: lambda obs, day, tz: astral_sun.sunrise(obs, date=day, tzinfo=tz),
    SunEvent.sunset: lambda obs, day, tz: astral_sun.sunset(obs, date=day, tzinfo=tz),
    SunEvent.dawn: lambda obs, day, tz: astral_sun.dawn(obs, date=day, tzinfo=tz),
    SunEvent.dusk: lambda obs, day, tz: astral_sun.dusk(obs, date=day, tzinfo=tz),
    SunEvent.noon: lambda obs, day, tz: astral_sun.noon(obs, date=day, tzinfo=tz),
}


@dataclass(frozen=True, slots=True)
class JobInfo:
    """What ``Scheduler.jobs()`` reports about one job, for diagnostics."""

    name: str
    kind: str
    next_run: datetime | None


class _Job:
    """A scheduled action, when it is due next, and how to find the time after that."""

    __slots__ = ("action", "cancelled", "due", "job_type", "kind", "name", "next_after", "seq")

    def __init__(
        self,
        name: str,
        kind: str,
        action: Action,
        job_type: JobType,
        next_after: Callable[[datetime], datetime | None] | None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.action = action
        self.job_type = job_type
        #: Strictly the next fire time after the given one; None for one-shot jobs.
        self.next_after = next_after
        self.due: datetime | None = None
        self.seq = -1
        self.cancelled = False


class Scheduler:
    """Runs actions at wall-clock times on one event loop.

    Every method must be called on the loop. ``@callback`` actions run on the loop; coroutine
    functions run as tasks named ``scheduler[<name>]``. An action that raises is logged with its
    job's name and never stops the scheduler.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        tz: tzinfo,
        latitude: float,
        longitude: float,
        elevation: float = 0,
        clock: Clock | None = None,
    ) -> None:
        self._loop = loop
        self.tz = tz
        self._observer = Observer(latitude, longitude, elevation)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._heap: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._jobs: set[_Job] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._closed = False
        self._unsubscribe_clock: Callable[[], None] | None = None
        #: The clock's time when the scheduler last looked, to notice a step backwards.
        self._last_now = self._clock.now()
        if isinstance(self._clock, JumpingClock):
            self._unsubscribe_clock = self._clock.subscribe(self._on_clock_jump)

    @property
    def clock(self) -> Clock:
        """The clock this scheduler reads."""
        return self._clock

    # -- scheduling ---------------------------------------------------------------------------

    def at(self, when: datetime, action: Action, *, name: str) -> Cancel:
        """Run ``action`` once at ``when`` (right away if it is already past).

        Raises:
            ValueError: ``when`` is naive.
        """
        due = _aware_utc(when, "when")
        return self._add(_Job(name, "at", action, _check_action(action, name), None), due)

    def every(
        self,
        interval: timedelta,
        action: Action,
        *,
        name: str,
        start: datetime | None = None,
    ) -> Cancel:
        """Run ``action`` at ``start + k * interval`` (fixed rate, no drift).

        Without ``start`` the first run is one interval from now. With a past ``start`` the first
        run is the first slot not before now. Slots missed while the loop stalled are skipped.

        Raises:
            ValueError: ``interval`` is not positive, or ``start`` is naive.
        """
        if interval <= timedelta(0):
            raise ValueError(f"Interval of job {name!r} must be positive, got {interval}")
        now = self._clock.now()
        anchor = now + interval if start is None else _aware_utc(start, "start")

        def next_after(after: datetime) -> datetime:
            # Without an explicit start the grid runs both ways, so a clock stepped back before
            # the anchor (see ``_rewind``) still finds the slot right after it.
            if start is not None and after < anchor:
                return anchor
            return anchor + ((after - anchor) // interval + 1) * interval

        first = anchor if anchor >= now else next_after(now - timedelta(microseconds=1))
        job = _Job(name, "every", action, _check_action(action, name), next_after)
        return self._add(job, first)

    def daily(self, at: time, action: Action, *, name: str) -> Cancel:
        """Run ``action`` every day at local wall time ``at`` in ``tz`` (DST rule: module doc).

        Raises:
            ValueError: ``at`` carries a tzinfo (it is always local time in ``tz``).
        """
        if at.tzinfo is not None:
            raise ValueError(f"Daily time of job {name!r} must be naive local time, got {at}")
        job_type = _check_action(action, name)

        def next_after(after: datetime) -> datetime:
            return self.next_daily_time(at, after)

        job = _Job(name, "daily", action, job_type, next_after)
        return self._add(job, next_after(self._clock.now()))

    def cron(self, pattern: str, action: Action, *, name: str) -> Cancel:
        """Run ``action`` by a 5-field cron pattern (or ``@hourly``, ``@daily``...) in local ``tz``.

        Raises:
            ValueError: the pattern is invalid; the message names it.
        """
        expr, every_hour = _parse_cron(pattern)
        job_type = _check_action(action, name)

        def next_after(after: datetime) -> datetime:
            return self._next_cron(expr, every_hour, after)

        job = _Job(name, "cron", action, job_type, next_after)
        return self._add(job, next_after(self._clock.now()))

    def time_pattern(
        self,
        action: Action,
        *,
        name: str,
        hours: int | str | None = None,
        minutes: int | str | None = None,
        seconds: int | str | None = None,
    ) -> Cancel:
        """Run ``action`` when local time matches, like Home Assistant's time_pattern trigger.

        Each unit is an int (exact), ``"*"`` (any) or ``"/n"`` (every n). A unit left out is
        "any" when no larger unit is given and 0 when one is: ``minutes="/5"`` runs at second 0
        of every fifth minute.

        Raises:
            ValueError: no unit given, or a unit is out of range or malformed.
        """
        if hours is None and minutes is None and seconds is None:
            raise ValueError(f"Time pattern of job {name!r} needs hours, minutes or seconds")
        if minutes is None and hours is not None:
            minutes = 0
        if seconds is None and minutes is not None:
            seconds = 0
        try:
            walk = _PatternWalk(
                hours=pattern_values(hours, "hours"),
                minutes=pattern_values(minutes, "minutes"),
                seconds=pattern_values(seconds, "seconds"),
            )
        except ValueError as err:
            raise ValueError(f"Time pattern of job {name!r}: {err}") from None
        job_type = _check_action(action, name)

        def next_after(after: datetime) -> datetime:
            return self._next_wall_match(walk, walk.every_hour, after)

        job = _Job(name, "time_pattern", action, job_type, next_after)
        return self._add(job, next_after(self._clock.now()))

    def sun(
        self,
        event: SunEvent,
        action: Action,
        *,
        name: str,
        offset: timedelta = timedelta(0),
    ) -> Cancel:
        """Run ``action`` at ``event + offset`` every day it occurs; days without it are skipped."""
        event = SunEvent(event)
        job_type = _check_action(action, name)

        def next_after(after: datetime) -> datetime | None:
            return self.next_sun_event(event, after, offset=offset)

        job = _Job(name, f"sun:{event}", action, job_type, next_after)
        return self._add(job, next_after(self._clock.now()))

    # -- time arithmetic ----------------------------------------------------------------------

    def next_daily_time(self, at: time, after: datetime) -> datetime:
        """The first instant (UTC) strictly after ``after`` whose local wall time is ``at``.

        A nonexistent wall time is shifted forward by the DST gap; a repeated one counts once.
        """
        after = _aware_utc(after, "after")
        wall = at.replace(tzinfo=None, fold=0)
        day = after.astimezone(self.tz).date()
        while True:
            # fold=0 gives exactly the module's DST rule with zoneinfo (PEP 495): in a gap it
            # uses the offset from before the gap (shift forward), in a repeat the first pass.
            candidate = datetime.combine(day, wall, tzinfo=self.tz).astimezone(UTC)
            if candidate > after:
                return candidate
            day += timedelta(days=1)

    def next_cron_time(self, pattern: str, after: datetime) -> datetime:
        """The first instant (UTC) strictly after ``after`` matching ``pattern`` in local time.

        Raises:
            ValueError: the pattern is invalid.
        """
        expr, every_hour = _parse_cron(pattern)
        return self._next_cron(expr, every_hour, _aware_utc(after, "after"))

    def next_sun_event(
        self,
        event: SunEvent,
        after: datetime,
        *,
        offset: timedelta = timedelta(0),
    ) -> datetime | None:
        """The first ``event + offset`` (UTC) strictly after ``after``, or None within a year.

        Days on which the event does not happen (polar day or night) are skipped.
        """
        event = SunEvent(event)
        after = _aware_utc(after, "after")
        func = _SUN_FUNCS[event]
        # Start a day early: the local date of ``after`` may be a day ahead of the event's date.
        first_day = (after - offset).astimezone(self.tz).date() - timedelta(days=1)
        skipped = 0
        for n in range(SUN_SEARCH_DAYS + 2):
            day = first_day + timedelta(days=n)
            try:
                at = func(self._observer, day, self.tz).astimezone(UTC) + offset
            except ValueError:
                skipped += 1
                continue
            if at > after:
                if skipped:
                    _LOGGER.debug(
                        "No %s at %.4f,%.4f on %d day(s) before %s; skipped them",
                        event,
                        self._observer.latitude,
                        self._observer.longitude,
                        skipped,
                        day,
                    )
                return at
        return None

    # -- diagnostics and lifecycle ------------------------------------------------------------

    def jobs(self) -> list[JobInfo]:
        """Every active job with its next run, earliest first."""
        infos = [JobInfo(job.name, job.kind, job.due) for job in self._jobs]
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(infos, key=lambda info: (info.next_run or far, info.name))

    def close(self) -> None:
        """Cancel every job and every running coroutine action; the scheduler can't be reused."""
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._unsubscribe_clock is not None:
            self._unsubscribe_clock()
            self._unsubscribe_clock = None
        for job in self._jobs:
            job.cancelled = True
        self._jobs.clear()
        self._heap.clear()
        for task in self._tasks:
            task.cancel()

    # -- internals ----------------------------------------------------------------------------

    def _add(self, job: _Job, first: datetime | None) -> Cancel:
        """Register ``job`` due at ``first`` and return its cancel function."""
        if self._closed:
            raise RuntimeError(f"Scheduler is closed; cannot schedule {job.name!r}")
        self._jobs.add(job)
        if first is None:
            _LOGGER.warning("Job %s has no run within %d days; not scheduled", job.name, 366)
            job.cancelled = True
            self._jobs.discard(job)
        else:
            self._push(job, first)
            self._arm()

        def cancel() -> None:
            if job.cancelled:
                return
            job.cancelled = True
            self._jobs.discard(job)
            # Cancelled entries are dropped lazily; compact when they dominate the heap.
            if len(self._heap) > 2 * len(self._jobs) + 16:
                self._heap = [entry for entry in self._heap if entry[1] == entry[2].seq]
                heapq.heapify(self._heap)

        return cancel

    def _push(self, job: _Job, due: datetime) -> None:
        job.due = due
        job.seq = next(self._seq)
        heapq.heappush(self._heap, (due.timestamp(), job.seq, job))

    def _arm(self) -> None:
        """Arm one loop timer for the earliest due job, at most ``MAX_SLEEP`` ahead."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        heap = self._heap
        while heap and (heap[0][2].cancelled or heap[0][1] != heap[0][2].seq):
            heapq.heappop(heap)
        if not heap or self._closed:
            return
        delay = heap[0][0] - self._clock.now().timestamp()
        delay = min(max(delay, 0.0), MAX_SLEEP)
        self._handle = self._loop.call_at(self._loop.time() + delay, self._on_timer)

    def _on_timer(self) -> None:
        self._handle = None
        self._run_due()
        self._arm()

    def _on_clock_jump(self, now: datetime) -> None:
        """A jumping clock moved: run what became due and re-arm for the new time."""
        if self._closed:
            return
        self._run_due()
        self._arm()

    def _rewind(self, now: datetime) -> None:
        """The clock stepped back: bring recurring jobs back to their first run after ``now``."""
        for job in list(self._jobs):
            if job.next_after is None or job.due is None:
                continue
            following = job.next_after(now)
            if following is not None and following < job.due:
                self._push(job, following)

    def _run_due(self) -> None:
        """Run every job whose due time is not after the clock's current time."""
        now = self._clock.now()
        if now < self._last_now:
            # An NTP step on a Pi without a real-time clock, or a test's clock set back.
            _LOGGER.info("Clock stepped back from %s to %s; rescheduling", self._last_now, now)
            self._rewind(now)
        self._last_now = now
        now_ts = now.timestamp()
        heap = self._heap
        while heap and heap[0][0] <= now_ts:
            _, seq, job = heapq.heappop(heap)
            if job.cancelled or seq != job.seq or job.due is None:
                continue
            due = job.due
            # Reschedule before running, so an action that cancels its own job wins.
            self._reschedule(job, due, now)
            self._run(job, due)

    def _reschedule(self, job: _Job, due: datetime, now: datetime) -> None:
        if job.next_after is None:
            job.cancelled = True
            job.due = None
            self._jobs.discard(job)
            return
        following = job.next_after(due)
        if following is not None and following <= now:
            # The loop stalled or the clock jumped: run once now, not once per missed slot.
            skipped_to = job.next_after(now)
            _LOGGER.debug(
                "Job %s missed its slots from %s to %s; next run %s",
                job.name,
                following,
                now,
                skipped_to,
            )
            following = skipped_to
        if following is None:
            _LOGGER.warning("Job %s has no further run within a year; it ends", job.name)
            job.cancelled = True
            job.due = None
            self._jobs.discard(job)
            return
        self._push(job, following)

    def _run(self, job: _Job, due: datetime) -> None:
        if job.job_type is JobType.CALLBACK:
            try:
                job.action(due)
            except Exception:
                _LOGGER.exception("Error running scheduled job %s (due %s)", job.name, due)
            return
        task = self._loop.create_task(self._run_coro(job, due), name=f"scheduler[{job.name}]")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_coro(self, job: _Job, due: datetime) -> None:
        try:
            result = job.action(due)
            if result is not None:
                await result
        except Exception:
            _LOGGER.exception("Error running scheduled job %s (due %s)", job.name, due)

    def _next_cron(self, expr: str, every_hour: bool, after: datetime) -> datetime:
        """Next match of a parsed cron expression strictly after ``after`` (see module doc)."""
        return self._next_wall_match(_CronWalk(expr), every_hour, after)

    def _next_wall_match(self, walk: _WallWalk, every_hour: bool, after: datetime) -> datetime:
        """Next instant strictly after ``after`` whose local wall time ``walk`` matches."""
        local = after.astimezone(self.tz).replace(tzinfo=None)
        first = self._first_wall_match(walk, every_hour, local, after)
        if first is not None and not self._dst_transition_between(after - _DST_MARGIN, first):
            return first
        # Near a DST change wall time and UTC don't move together: scan from a few hours back
        # and take the earliest instant, until wall time is far enough past the best one.
        best = self._earliest_wall_match(walk, every_hour, local - _DST_MARGIN, after)
        if best is None:
            raise ValueError(f"Schedule {walk} has no run after {after}")
        return best

    def _first_wall_match(
        self, walk: _WallWalk, every_hour: bool, start: datetime, after: datetime
    ) -> datetime | None:
        for wall in itertools.islice(walk.after(start), _CRON_MAX_STEPS):
            for instant in self._wall_instants(wall, every_hour):
                if instant > after:
                    return instant
        return None

    def _earliest_wall_match(
        self, walk: _WallWalk, every_hour: bool, start: datetime, after: datetime
    ) -> datetime | None:
        best: datetime | None = None
        for wall in itertools.islice(walk.after(start), _CRON_MAX_STEPS):
            instants = self._wall_instants(wall, every_hour)
            if best is not None and instants[0] > best + _DST_MARGIN:
                return best
            for instant in instants:
                if instant > after and (best is None or instant < best):
                    best = instant
        return best

    def _wall_instants(self, wall: datetime, every_hour: bool) -> list[datetime]:
        """The UTC instants a naive local wall time stands for under the DST rule."""
        first = wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        if every_hour:
            second = wall.replace(tzinfo=self.tz, fold=1)
            # Only a real repeat (it round-trips and differs), never a gap time mapped backwards.
            if (
                second.utcoffset() != wall.replace(tzinfo=self.tz, fold=0).utcoffset()
                and second.astimezone(UTC).astimezone(self.tz).replace(tzinfo=None) == wall
            ):
                return [first, second.astimezone(UTC)]
        return [first]

    def _dst_transition_between(self, start: datetime, end: datetime) -> bool:
        """Whether the UTC offset of ``tz`` changes between two instants (widened by a margin)."""
        end = end + _DST_MARGIN
        offset = start.astimezone(self.tz).utcoffset()
        # Offsets never change twice within 12 hours, so sampling at that step finds any change.
        step = timedelta(hours=12)
        probe = start + step
        while probe < end:
            if probe.astimezone(self.tz).utcoffset() != offset:
                return True
            probe += step
        return end.astimezone(self.tz).utcoffset() != offset


def _aware_utc(when: datetime, what: str) -> datetime:
    """``when`` in UTC; raises ValueError for a naive datetime."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {when!r}")
    return when.astimezone(UTC)


def _check_action(action: Action, name: str) -> JobType:
    """How ``action`` runs; raises TypeError for a plain (possibly blocking) function."""
    job_type = job_type_of(action)
    if job_type is JobType.EXECUTOR:
        raise TypeError(f"Action of job {name!r} must be a coroutine function or marked @callback")
    return job_type


def validate_cron(pattern: str) -> str:
    """Check a 5-field cron pattern (or ``@hourly``-style alias) without scheduling it.

    Returns:
        The pattern, stripped.

    Raises:
        ValueError: the pattern is invalid; the message names it.
    """
    return _parse_cron(pattern)[0]


def _parse_cron(pattern: str) -> tuple[str, bool]:
    """Validate a 5-field cron pattern; return it and whether its hour field matches every hour.

    Raises:
        ValueError: the pattern is invalid; the message names it.
    """
    text = pattern.strip()
    if not text.startswith("@") and len(text.split()) != 5:
        raise ValueError(f"Invalid cron pattern {pattern!r}: expected 5 fields")
    try:
        expanded = _croniter(text).expanded
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"Invalid cron pattern {pattern!r}: {err}") from err
    hours = expanded[1]
    return text, hours == ["*"] or len(hours) == 24


#: The largest value of each time_pattern unit.
PATTERN_UNIT_MAX = {"hours": 23, "minutes": 59, "seconds": 59}


def pattern_values(value: int | str | None, unit: str) -> tuple[int, ...]:
    """The values one time_pattern unit (int, ``"*"``, ``"/n"``, ``"n"``) matches, ascending.

    ``unit`` is ``hours``, ``minutes`` or ``seconds``. The automations' time_pattern schema
    checks with this too, so that what the editor saves is what the scheduler takes.

    Raises:
        ValueError: the value is malformed or out of range; the message names it and the unit.
    """
    maximum = PATTERN_UNIT_MAX[unit]
    if value is None:
        return tuple(range(maximum + 1))
    text = str(value).strip()
    if text == "*":
        return tuple(range(maximum + 1))
    step = text.startswith("/")
    digits = text[1:] if step else text
    if isinstance(value, bool) or not digits.isdigit():
        raise ValueError(f"invalid {unit} {value!r}, expected '*', 'n' or '/n'")
    number = int(digits)
    if step and not 1 <= number <= maximum:
        raise ValueError(f"{unit} step {value!r} must be 1..{maximum}")
    if not step and number > maximum:
        raise ValueError(f"{unit} {value!r} must be 0..{maximum}")
    return tuple(range(0, maximum + 1, number)) if step else (number,)


class _WallWalk(Protocol):
    """Naive local wall times matching a schedule, in order."""

    def after(self, start: datetime) -> Iterator[datetime]:
        """The matching wall times strictly after ``start``, ascending, without end."""


class _CronWalk:
    """The wall times of a validated cron expression, found by croniter."""

    __slots__ = ("expr",)

    def __init__(self, expr: str) -> None:
        self.expr = expr

    def __str__(self) -> str:
        return repr(self.expr)

    def after(self, start: datetime) -> Iterator[datetime]:
        itr = _croniter(self.expr, start)
        while True:
            yield itr.get_next(datetime)


class _PatternWalk:
    """The wall times of a time_pattern: every hour, minute and second of the given values.

    Found directly, as Home Assistant's time_pattern is, rather than through a cron library: a
    site whose automations use time_pattern and no cron schedule never loads croniter (and
    dateutil under it), about half a mebibyte of resident memory.
    """

    __slots__ = ("every_hour", "hours", "minutes", "seconds")

    def __init__(
        self, *, hours: tuple[int, ...], minutes: tuple[int, ...], seconds: tuple[int, ...]
    ) -> None:
        self.hours, self.minutes, self.seconds = hours, minutes, seconds
        #: Whether it matches in every hour of the day (then also in a repeated DST hour).
        self.every_hour = len(hours) == 24

    def __str__(self) -> str:
        return f"hours {self.hours} minutes {self.minutes} seconds {self.seconds}"

    def after(self, start: datetime) -> Iterator[datetime]:
        day, first_day = start.date(), True
        while True:
            # On the first day, from ``start``'s hour, minute and second on; its own second is
            # not after it (``start`` may have microseconds, a matching wall time has none).
            hours = self.hours[bisect_left(self.hours, start.hour) :] if first_day else self.hours
            for hour in hours:
                same_hour = first_day and hour == start.hour
                minutes = self.minutes
                if same_hour:
                    minutes = minutes[bisect_left(minutes, start.minute) :]
                for minute in minutes:
                    seconds = self.seconds
                    if same_hour and minute == start.minute:
                        seconds = seconds[bisect_right(seconds, start.second) :]
                    for second in seconds:
                        yield datetime.combine(day, time(hour, minute, second))
            day += timedelta(days=1)
            first_day = False
