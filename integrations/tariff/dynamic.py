"""Dynamic prices from a price entity's attributes: Nord Pool and Octopus Energy shapes.

* Nord Pool (Home Assistant custom component): ``raw_today`` and ``raw_tomorrow``, lists of
  ``{"start", "end", "value"}``; 60-minute slots, 15-minute since October 2025.
* Octopus Energy (BottlecapDave): ``rates`` lists of ``{"start", "end", "value_inc_vat"}``.

Entries are bounded (``MAX_FORECAST_ENTRIES``); a malformed entry (a value that is not a finite
number among them) is skipped and reported with its attribute, index and field; an entry
without a value (Nord Pool before tomorrow's auction) leaves a hole. Slot lengths may differ (a
day at 60 minutes, the next at 15): the timeline's resolution is the shortest, and
``Forecast.mixed`` says so. Slot types come from each local day's own prices: its cheapest third
``off_peak``, its dearest third ``peak``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from core.state import finite_number

from .const import MAX_FORECAST_ENTRIES, SlotType
from .timeline import Segment, Timeline

#: (attribute holding a list, key of the price in each entry), in the order they are read.
SHAPES: tuple[tuple[str, str], ...] = (
    ("raw_today", "value"),
    ("raw_tomorrow", "value"),
    ("rates", "value_inc_vat"),
)


class ForecastError(ValueError):
    """The entity carries no forecast in a known shape."""


@dataclass(frozen=True, slots=True)
class Forecast:
    """What was read: the timeline, whether resolutions were mixed, and what was skipped."""

    timeline: Timeline
    mixed: bool
    problems: tuple[str, ...] = field(default_factory=tuple)


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and len(value) <= 64:
        when = datetime.fromisoformat(value)
    else:
        raise ValueError("expected an ISO 8601 date and time")
    if when.tzinfo is None:
        raise ValueError("has no UTC offset")
    return when.astimezone(UTC)


def read_forecast(entity_id: str, attributes: Mapping[str, Any], tz: tzinfo) -> Forecast:
    """The forecast in ``attributes`` of ``entity_id``.

    Raises:
        ForecastError: none of the known attributes holds a list.
    """
    found = [(name, key) for name, key in SHAPES if isinstance(attributes.get(name), list)]
    if not found:
        names = ", ".join(name for name, _ in SHAPES)
        raise ForecastError(
            f"{entity_id} has no price forecast: expected one of the attributes {names}"
        )
    problems: list[str] = []
    raw: dict[datetime, tuple[datetime, float]] = {}
    count = 0
    for name, key in found:
        for index, entry in enumerate(attributes[name]):
            count += 1
            if count > MAX_FORECAST_ENTRIES:
                problems.append(f"{name}: more than {MAX_FORECAST_ENTRIES} entries, rest ignored")
                break
            if not isinstance(entry, Mapping):
                problems.append(f"{name}[{index}]: expected a mapping")
                continue
            try:
                start, end = _when(entry.get("start")), _when(entry.get("end"))
            except ValueError as err:
                problems.append(f"{name}[{index}].start/end: {err}")
                continue
            value = entry.get(key)
            if value is None:
                continue  # not published yet: a hole
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{name}[{index}].{key}: expected a number, got {value!r}")
                continue
            price = finite_number(value)  # a NaN would poison every window and tertile it is in
            if price is None:
                problems.append(f"{name}[{index}].{key}: expected a finite number, got {value!r}")
                continue
            if end <= start or end - start > timedelta(hours=24):
                problems.append(f"{name}[{index}]: end must be after start (at most a day)")
                continue
            raw.setdefault(start, (end, price))
    segments: list[Segment] = []
    last_end: datetime | None = None
    for start in sorted(raw):
        end, price = raw[start]
        if last_end is not None and start < last_end:
            problems.append(f"entry at {start.isoformat()} overlaps the one before; skipped")
            continue
        segments.append(Segment(start, end, price))
        last_end = end
    lengths = {s.end - s.start for s in segments}
    resolution = min(lengths) if lengths else timedelta(hours=1)
    return Forecast(
        timeline=Timeline(_classify(segments, tz), resolution),
        mixed=len(lengths) > 1,
        problems=tuple(problems),
    )


def _classify(segments: list[Segment], tz: tzinfo) -> list[Segment]:
    """Each segment typed by its local day's price tertiles."""
    by_day: dict[date, list[float]] = {}
    for segment in segments:
        by_day.setdefault(segment.start.astimezone(tz).date(), []).append(segment.price)
    bounds: dict[date, tuple[float, float]] = {}
    for day, prices in by_day.items():
        ordered = sorted(prices)
        third = len(ordered) // 3
        # Fewer than three prices in a day: all standard (low == high).
        bounds[day] = (ordered[third - 1], ordered[-third]) if third else (0.0, 0.0)
    out = []
    for segment in segments:
        low, high = bounds[segment.start.astimezone(tz).date()]
        if low == high:
            kind = SlotType.STANDARD
        elif segment.price <= low:
            kind = SlotType.OFF_PEAK
        elif segment.price >= high:
            kind = SlotType.PEAK
        else:
            kind = SlotType.STANDARD
        out.append(Segment(segment.start, segment.end, segment.price, kind))
    return out
