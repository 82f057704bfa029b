"""Time-of-use plans: slots by day set and season, checked once, expanded into a ``Timeline``.

A plan's slots are local wall times (the core configuration's time zone). Each day set's slots
must cover 00:00 to 24:00 exactly: an overlap or a gap is refused with the plan, the season,
the day set and the times named. On a DST day a wall time that does not exist (spring forward)
is taken as the moment the clocks jump, and a repeated one (fall back) as its first occurrence,
so a local day has 23 or 25 hours of segments and never a hole or an overlap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from .const import SlotType
from .timeline import Segment

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAY = "holiday"
DAY_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class Slot:
    """One band of a day: minutes since local midnight, ``end`` exclusive (1440 is 24:00)."""

    start: int
    end: int
    price: float
    kind: SlotType


@dataclass(frozen=True, slots=True)
class DaySet:
    """Days (``mon``..``sun``, ``holiday``) that share one list of slots."""

    name: str
    days: frozenset[str]
    slots: tuple[Slot, ...]


@dataclass(frozen=True, slots=True)
class Season:
    """A date range (month, day) inclusive, wrapping over the new year when ``end < start``."""

    name: str
    start: tuple[int, int]
    end: tuple[int, int]
    day_sets: tuple[DaySet, ...]

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls in the season."""
        key = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end


@dataclass(frozen=True, slots=True)
class Plan:
    """A TOU plan."""

    name: str
    seasons: tuple[Season, ...]
    holidays: frozenset[date] = frozenset()
    fixed_daily_charge: float = 0.0
    export_price: float = 0.0

    def day_set(self, day: date) -> DaySet:
        """The day set that prices local date ``day``."""
        season = next(s for s in self.seasons if s.contains(day))
        if day in self.holidays:
            for day_set in season.day_sets:
                if HOLIDAY in day_set.days:
                    return day_set
        weekday = WEEKDAYS[day.weekday()]
        return next(d for d in season.day_sets if weekday in d.days)

    def segments(self, first: date, days: int, tz: tzinfo) -> list[Segment]:
        """The segments of ``days`` local days from ``first``."""
        out: list[Segment] = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            for slot in self.day_set(day).slots:
                start = wall_to_utc(day, slot.start, tz)
                end = wall_to_utc(day, slot.end, tz)
                if end > start:  # a slot wholly inside a spring-forward gap has no time
                    out.append(Segment(start, end, slot.price, slot.kind))
        return out


def wall_to_utc(day: date, minutes: int, tz: tzinfo) -> datetime:
    """The UTC instant of local wall time ``minutes`` after midnight of ``day`` (1440: the next
    midnight). A repeated wall time gives its first occurrence; a nonexistent one gives the
    moment the clocks jump over it."""
    if minutes >= DAY_MINUTES:
        day, minutes = day + timedelta(days=1), minutes - DAY_MINUTES
    wall = datetime.combine(day, time(minutes // 60, minutes % 60))
    first = wall.replace(tzinfo=tz, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == wall:
        return utc
    # In a gap: the jump lies between the two readings; find it to the second.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = utc
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def fmt_minutes(minutes: int) -> str:
    """``HH:MM`` (24:00 for the end of the day)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def check_slots(plan: str, season: str | None, day_set: str, slots: Iterable[Slot]) -> None:
    """Refuse slots that overlap, leave a gap, or do not cover the whole day.

    Raises:
        ValueError: the message names the plan, the season, the day set and the times.
    """
    where = f"plan {plan!r}" + (f", season {season!r}" if season else "")
    where += f", day set {day_set!r}"
    ordered = sorted(slots, key=lambda s: (s.start, s.end))
    if not ordered:
        raise ValueError(f"{where}: no slots")
    cursor = 0
    previous: Slot | None = None
    for slot in ordered:
        if slot.start < cursor and previous is not None:
            raise ValueError(
                f"{where}: slots {fmt_minutes(previous.start)}-{fmt_minutes(previous.end)} and "
                f"{fmt_minutes(slot.start)}-{fmt_minutes(slot.end)} overlap"
            )
        if slot.start > cursor:
            raise ValueError(
                f"{where}: no slot covers {fmt_minutes(cursor)}-{fmt_minutes(slot.start)}"
            )
        cursor = slot.end
        previous = slot
    if cursor != DAY_MINUTES:
        raise ValueError(f"{where}: no slot covers {fmt_minutes(cursor)}-24:00")


def check_days(plan: str, season: str | None, day_sets: Iterable[DaySet]) -> None:
    """Refuse a weekday no day set names, or one named by two.

    Raises:
        ValueError: the message names the plan, the season, the day and the day sets.
    """
    where = f"plan {plan!r}" + (f", season {season!r}" if season else "")
    owner: dict[str, str] = {}
    for day_set in day_sets:
        for day in day_set.days:
            if day in owner:
                raise ValueError(
                    f"{where}: {day} is in day sets {owner[day]!r} and {day_set.name!r}"
                )
            owner[day] = day_set.name
    missing = [day for day in WEEKDAYS if day not in owner]
    if missing:
        raise ValueError(f"{where}: no day set covers {', '.join(missing)}")


def check_seasons(plan: str, seasons: Iterable[Season]) -> None:
    """Refuse a date of the year (leap year) no season covers, or one two seasons cover.

    Raises:
        ValueError: the message names the plan, the date and the seasons.
    """
    seasons = list(seasons)
    day = date(2024, 1, 1)
    while day.year == 2024:
        covering = [s.name for s in seasons if s.contains(day)]
        if not covering:
            raise ValueError(f"plan {plan!r}: no season covers {day:%m-%d}")
        if len(covering) > 1:
            raise ValueError(
                f"plan {plan!r}: seasons {covering[0]!r} and {covering[1]!r} both cover {day:%m-%d}"
            )
        day += timedelta(days=1)
