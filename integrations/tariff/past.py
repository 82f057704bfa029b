"""Prices in the past: what a kWh cost at an instant that has gone by.

The live ``Prices`` keep yesterday to a few days ahead; a backtest or a report needs any past
instant. A TOU plan is expanded again for the period asked (the same plan, the same DST rules).
A price entity (Nord Pool, Octopus) is read back from the recorder: each recorded state's
forecast attributes (``raw_today``/``raw_tomorrow``, ``rates``) give the slots it published,
the later publication winning where two overlap; where no recorded forecast covers an instant,
the entity's recorded state (the price then) holds from its change to the next one.

``PastPrices.cost`` prices a power profile (W, piecewise constant) over any period and says
how much of it had no price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from core.state import finite_number

from .dynamic import ForecastError, read_forecast
from .timeline import Segment, Timeline

if TYPE_CHECKING:
    from core import Runtime

    from .plan import Plan

#: How far before the period a recorded forecast may start (a day-ahead publication).
LOOKBACK = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Cost:
    """The price of a power profile: energy, cost, and the energy over holes (no price)."""

    kwh: float
    cost: float
    kwh_unpriced: float


class PastPrices:
    """Prices of a past period, from a plan or from recorded price data."""

    def __init__(
        self, timeline: Timeline, fallback: Timeline | None, source: str, currency: str = ""
    ) -> None:
        self.timeline = timeline
        self.fallback = fallback
        #: Where the prices came from, for a report ("the TOU plan 'Day/Night'", …).
        self.source = source
        #: The tariff's currency ("" when not known).
        self.currency = currency

    def price_at(self, when: datetime) -> float | None:
        """The price per kWh at ``when``; None when nothing priced it."""
        segment = self.timeline.at(when)
        if segment is None and self.fallback is not None:
            segment = self.fallback.at(when)
        return None if segment is None else segment.price

    def segments(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime, float]]:
        """``[start, end)`` cut where the price changes: (from, to, price), holes left out."""
        out: list[tuple[datetime, datetime, float]] = []
        cursor = start
        while cursor < end:
            primary = self.timeline.at(cursor)
            if primary is not None:
                stop = min(primary.end, end)
                out.append((cursor, stop, primary.price))
                cursor = stop
                continue
            # No publication covers the instant: the recorded state, until one does.
            upcoming = _first_start(self.timeline, cursor, end)
            below = None if self.fallback is None else self.fallback.at(cursor)
            if below is not None:
                stop = min(below.end, upcoming)
                out.append((cursor, stop, below.price))
            else:
                later = end if self.fallback is None else _first_start(self.fallback, cursor, end)
                stop = min(upcoming, later)
            cursor = stop
        return out

    def cost(self, steps: Sequence[tuple[datetime, datetime, float]]) -> Cost:
        """The energy and cost of power ``steps`` (from, to, W; negative for less drawn)."""
        kwh = cost = unpriced = 0.0
        for start, end, watts in steps:
            if end <= start or watts == 0:
                continue
            energy = watts * (end - start).total_seconds() / 3_600_000
            kwh += energy
            priced = 0.0
            for seg_start, seg_end, price in self.segments(start, end):
                part = watts * (seg_end - seg_start).total_seconds() / 3_600_000
                cost += part * price
                priced += part
            unpriced += energy - priced
        return Cost(kwh, cost, unpriced)


def plan_prices(plan: Plan, start: datetime, end: datetime, tz: tzinfo) -> PastPrices:
    """The TOU plan's prices over ``[start, end)`` (local days around it expanded)."""
    first = start.astimezone(tz).date() - timedelta(days=1)
    days = (end.astimezone(tz).date() - first).days + 2
    timeline = Timeline(plan.segments(first, days, tz), timedelta(minutes=1))
    return PastPrices(timeline, None, f"the TOU plan {plan.name!r}")


@dataclass(frozen=True, slots=True)
class RecordedState:
    """A recorded state of the price entity: when, the state string, its attributes."""

    when: datetime
    state: str
    attributes: Mapping[str, Any]


def recorded_prices(
    entity_id: str, states: Iterable[RecordedState], end: datetime, tz: tzinfo
) -> PastPrices:
    """Prices from the recorded states of a price entity (oldest first).

    The forecasts the states carried, a later publication replacing an earlier one slot by
    slot; under them, each numeric state from its change to the next (or ``end``).
    """
    published: dict[datetime, Segment] = {}
    steps: list[Segment] = []
    ordered = list(states)
    for i, item in enumerate(ordered):
        try:
            forecast = read_forecast(entity_id, item.attributes, tz)
        except ForecastError:
            forecast = None
        if forecast is not None:
            for segment in forecast.timeline.segments:
                published[segment.start] = segment
        value = finite_number(item.state)
        following = ordered[i + 1].when if i + 1 < len(ordered) else end
        if value is not None and following > item.when:
            steps.append(Segment(item.when, following, value))
    forecast_segments = _without_overlaps(sorted(published.values(), key=lambda s: s.start))
    source = f"the recorded prices of {entity_id}"
    return PastPrices(
        Timeline(forecast_segments, timedelta(minutes=1)),
        Timeline(steps, timedelta(minutes=1)),
        source,
    )


async def past_prices(runtime: Runtime, start: datetime, end: datetime) -> PastPrices | None:
    """The configured tariff's prices over ``[start, end)``; None without a tariff."""
    from .trigger import PRICES  # noqa: PLC0415 - the running tariff, if any

    prices = runtime.data.get(PRICES)
    if prices is None:
        return None
    tz = runtime.core.tzinfo
    config = prices.config
    if config.plan is not None:
        found = plan_prices(config.plan, start, end, tz)
    elif config.price_entity is not None:
        found = await _recorded(runtime, config.price_entity, start, end, tz)
    else:
        return None
    found.currency = config.currency
    return found


async def _recorded(
    runtime: Runtime, entity_id: str, start: datetime, end: datetime, tz: tzinfo
) -> PastPrices:
    from core.state import State  # noqa: PLC0415 - only when used
    from integrations.recorder.core import RECORDER  # noqa: PLC0415
    from integrations.recorder.history import get_significant_states  # noqa: PLC0415

    recorder = runtime.data.get(RECORDER)
    if recorder is None:
        return recorded_prices(entity_id, (), end, tz)
    found = await get_significant_states(
        recorder, start - LOOKBACK, end, [entity_id], significant_changes_only=False
    )
    items = [
        RecordedState(
            datetime.fromtimestamp(state.last_updated_timestamp, start.tzinfo),
            state.state,
            state.attributes,
        )
        for state in found.get(entity_id, [])
        if isinstance(state, State)
    ]
    return recorded_prices(entity_id, items, end, tz)


def _first_start(timeline: Timeline, after: datetime, end: datetime) -> datetime:
    """The first segment start in ``(after, end)``, else ``end``."""
    for segment in timeline.window(after, end):
        if segment.start > after:
            return segment.start
    return end


def _without_overlaps(segments: list[Segment]) -> list[Segment]:
    """Each segment cut at the next one's start (a 15-minute publication after an hourly one)."""
    out: list[Segment] = []
    for i, segment in enumerate(segments):
        end = segment.end
        if i + 1 < len(segments):
            end = min(end, segments[i + 1].start)
        if end > segment.start:
            out.append(Segment(segment.start, end, segment.price, segment.kind))
    return out
