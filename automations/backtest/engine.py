"""The replay: one automation run against one period of recorded history in a ``Sandbox``.

The recorded state changes and events are replayed in time order. Before each item, the jobs of
the replay's scheduler that fell due by then (time and sun triggers, ``for:`` periods, delays,
``wait_*`` timeouts, time patterns) run one by one with the clock set to each one's due time.
A state change of an entity that nothing in the replay listens to is only stored (templates may
read it): no event is built or dispatched, which is what makes a week of a large site fast.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import logging
import operator
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress, count, repeat
from typing import TYPE_CHECKING, Any, cast

from automations.automation import Automation
from automations.const import CONF_STORED_TRACES, CONF_TRACE, CONF_TRIGGERS
from automations.manager import AutomationManager
from automations.trace import Trace, TraceStore
from core.const import EVENT_STATE_CHANGED
from core.context import Context

from .const import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_TRACES,
    PROGRESS_EVERY,
    REPLAYABLE_TRIGGERS,
    SETTLE_TICKS,
    STATUS_CANCELLED,
    STATUS_COMPLETE,
    STATUS_LIMIT_ITEMS,
    STATUS_LIMIT_TIME,
    UNREPLAYED_EVENTS,
)
from .history import ROW_META, ROW_STATE, ROW_TS, RecordedHistory
from .sandbox import RecordedCall, Sandbox

if TYPE_CHECKING:
    from core.runtime import Runtime
    from integrations.recorder.queries import ConnectionSource

_LOGGER = logging.getLogger(__name__)
#: Readers of a raw state row's time, entity (recorder id) and state.
_ROW_TS = operator.itemgetter(ROW_TS)
_ROW_META = operator.itemgetter(ROW_META)
_ROW_STATE = operator.itemgetter(ROW_STATE)

#: Called with ``{"fraction", "items", "time"}`` as the replay proceeds.
ProgressCallback = Callable[[dict[str, Any]], None]

#: How many times a scheduler job may come due at one instant before the replay moves on.
_MAX_SAME_INSTANT = 1000


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How a replay reads and where it stops."""

    chunk_rows: int = DEFAULT_CHUNK_ROWS
    max_items: int = DEFAULT_MAX_ITEMS
    max_seconds: float = DEFAULT_MAX_SECONDS
    max_traces: int = DEFAULT_MAX_TRACES
    settle_ticks: int = SETTLE_TICKS
    #: Items between two checks of the limits, of cancellation and of progress.
    check_every: int = 1024


@dataclass(slots=True)
class ReplayResult:
    """What one replay produced."""

    status: str
    start: datetime
    end: datetime
    #: Where the replay got to (the end, unless it stopped early).
    reached: datetime
    items: int
    state_changes: int
    events: int
    dispatched: int
    elapsed: float
    calls: list[RecordedCall]
    traces: list[Trace]
    runs: int
    seen_entities: set[str]
    skipped_triggers: list[dict[str, Any]] = field(default_factory=list)


class _TimeMap:
    """Maps the wall time a trace was stamped with to the replay time it happened at."""

    def __init__(self) -> None:
        self._wall: list[float] = []
        self._replay: list[float] = []

    def mark(self, replay_ts: float) -> None:
        self._wall.append(time.time())
        self._replay.append(replay_ts)

    def __call__(self, wall: float) -> float:
        index = bisect.bisect_right(self._wall, wall) - 1
        return self._replay[max(index, 0)] if self._replay else wall


class _CountingStore(TraceStore):
    """Keeps the traces of the first ``keep`` runs and counts all of them."""

    def __init__(self, keep: int) -> None:
        super().__init__()
        self.kept: list[Trace] = []
        self._keep = keep
        self.runs = 0

    def add(self, trace: Trace, keep: int) -> None:
        """Count the run; keep its trace while there is room."""
        self.runs += 1
        if len(self.kept) < self._keep:
            self.kept.append(trace)


def replay_config(
    validated: dict[str, Any], max_traces: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The validated config with the triggers the replay cannot reproduce left out.

    Returns:
        The config to replay, and ``{"index", "trigger", "reason"}`` for each left out.
    """
    config = copy.copy(validated)
    kept: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for index, trigger in enumerate(validated[CONF_TRIGGERS]):
        platform = str(trigger.get("trigger"))
        if platform not in REPLAYABLE_TRIGGERS:
            skipped.append(
                {
                    "index": index,
                    "trigger": platform,
                    "reason": f"the recorder does not keep what a {platform} trigger receives",
                }
            )
        elif platform in ("homeassistant", "edgewise") and trigger.get("event") == "start":
            skipped.append(
                {
                    "index": index,
                    "trigger": platform,
                    "reason": "starts of the runtime are not replayed",
                }
            )
        else:
            kept.append(trigger)
    config[CONF_TRIGGERS] = kept
    config[CONF_TRACE] = {**validated.get(CONF_TRACE, {}), CONF_STORED_TRACES: max_traces}
    return config, skipped


class Replay:
    """One automation replayed over ``[start, end)`` of the recorder's database (``recorder``:
    the ``Recorder``, or anything else that opens its read connections)."""

    def __init__(
        self,
        live: Runtime,
        recorder: ConnectionSource,
        *,
        item_id: str,
        raw_config: dict[str, Any],
        validated: dict[str, Any],
        blueprint_inputs: Mapping[str, Any] | None,
        start: datetime,
        end: datetime,
        options: ReplayOptions,
    ) -> None:
        self._live = live
        self._recorder = recorder
        self.item_id = item_id
        self._raw = raw_config
        self._validated = validated
        self._inputs = blueprint_inputs
        self.start = start.astimezone(UTC)
        self.end = end.astimezone(UTC)
        self.options = options
        self._times = _TimeMap()
        self._next_due = float("inf")
        self._watch_all = False
        self._watched_ids: frozenset[str] = frozenset()
        self._watched_meta: set[int] = set()
        #: The rows of one chunk that must be dispatched, for one watched set (``_marks``).
        self._marks_of: list[Any] | None = None
        self._marks_watched: set[int] | None = None
        self._marks_list: list[int] = []
        self._known_meta = 0

    async def run(
        self,
        *,
        cancel: asyncio.Event | None = None,
        progress: ProgressCallback | None = None,
    ) -> ReplayResult:
        """Replay the period; stops early at the options' limits or when ``cancel`` is set."""
        options = self.options
        history = RecordedHistory(
            self._recorder, self.start.timestamp(), self.end.timestamp(), options.chunk_rows
        )
        sandbox = Sandbox(self._live, self.start)
        self._sandbox = sandbox
        self._history = history
        states = sandbox.states
        states.meta_ids = history.meta_ids
        states.materialize = history.materialize
        context = Context()
        for updated, entity_id, state, attrs, changed in await history.start_states():
            if state is not None:
                states.load(entity_id, state, attrs, changed, updated, context)
        config, skipped = replay_config(self._validated, options.max_traces)
        store = _CountingStore(options.max_traces)
        manager = self._live.data.get(AutomationManager.KEY)
        platforms = manager.platforms if manager is not None else None
        if platforms is None:
            from automations.manager import current_platforms  # noqa: PLC0415 - only without a manager

            platforms = current_platforms(self._live)
        automation = Automation(
            cast("Runtime", sandbox),
            config,
            item_id=self.item_id,
            entity_id=f"automation.backtest_{self.item_id}".lower()[:200],
            raw_config=self._raw,
            platforms=platforms,
            traces=store,
            blueprint_inputs=self._inputs,
        )
        started = time.perf_counter()
        self._items = self._state_changes = self._events = self._dispatched = 0
        self._reached = self.start.timestamp()
        status = STATUS_COMPLETE
        try:
            self._times.mark(self._reached)
            await automation.enable()
            await self._settle()
            status = await self._replay(history, cancel, progress, started)
            if status == STATUS_COMPLETE:
                await self._advance_to(self.end.timestamp())
                self._move_clock(self.end.timestamp())
                self._reached = self.end.timestamp()
                await self._settle()
            await automation.disable()
            await self._settle()
        finally:
            sandbox.close()
        traces = store.kept
        for trace in traces:
            self._retime(trace)
        return ReplayResult(
            status=status,
            start=self.start,
            end=self.end,
            reached=datetime.fromtimestamp(self._reached, UTC),
            items=self._items,
            state_changes=self._state_changes,
            events=self._events,
            dispatched=self._dispatched,
            elapsed=time.perf_counter() - started,
            calls=sandbox.services.recorded,
            traces=traces,
            runs=store.runs,
            seen_entities=history.seen,
            skipped_triggers=skipped,
        )

    # --- the loop ------------------------------------------------------------------------------

    async def _replay(
        self,
        history: RecordedHistory,
        cancel: asyncio.Event | None,
        progress: ProgressCallback | None,
        started: float,
    ) -> str:
        """Replay states and events merged by time; the status it ended with."""
        options = self.options
        context = Context()
        span = max(self.end.timestamp() - self.start.timestamp(), 1.0)
        start_ts = self.start.timestamp()
        state_chunks = history.states()
        event_chunks = history.events()
        state_buf: list[Any] = await anext(state_chunks, [])
        event_buf: list[Any] = await anext(event_chunks, [])
        si = ei = 0
        self._refresh()
        next_check = self._items + options.check_every
        next_progress = 0
        inf = float("inf")
        try:
            while True:
                if si >= len(state_buf):
                    state_buf = await anext(state_chunks, [])
                    si = 0
                if ei >= len(event_buf):
                    event_buf = await anext(event_chunks, [])
                    ei = 0
                state_ts = state_buf[si][0] if si < len(state_buf) else inf
                event_ts = event_buf[ei][0] if ei < len(event_buf) else inf
                if state_ts == inf and event_ts == inf:
                    return STATUS_COMPLETE
                if event_ts < state_ts:
                    await self._event(event_buf[ei])
                    ei += 1
                else:
                    si = await self._states_until(state_buf, si, event_ts, next_check, context)
                if self._items < next_check:
                    continue
                next_check = self._items + options.check_every
                if cancel is not None and cancel.is_set():
                    return STATUS_CANCELLED
                if self._items >= options.max_items:
                    return STATUS_LIMIT_ITEMS
                if time.perf_counter() - started > options.max_seconds:
                    return STATUS_LIMIT_TIME
                if progress is not None and self._items >= next_progress:
                    next_progress = self._items + PROGRESS_EVERY
                    progress(
                        {
                            "fraction": min((self._reached - start_ts) / span, 1.0),
                            "items": self._items,
                            "time": datetime.fromtimestamp(self._reached, UTC).isoformat(),
                        }
                    )
                await asyncio.sleep(0)  # let the loop serve others (and a cancel)
        finally:
            self._state_changes = self._items - self._events
            await state_chunks.aclose()
            await event_chunks.aclose()

    async def _states_until(
        self, buf: list[Any], si: int, event_ts: float, next_check: int, context: Context
    ) -> int:
        """Replay state rows from ``buf[si]`` up to the next event, due job or check.

        A state change recorded at the same instant as an event goes first. A change of an
        entity nothing listens to is only deferred (``ReplayStates.defer``): the rows between
        two that must be dispatched are deferred in bulk (the latest row of each entity wins,
        as one by one). Returns the index of the first row not replayed.
        """
        deferred = self._sandbox.states.deferred
        end_i = len(buf)
        stop = min(end_i, si + (next_check - self._items))
        while si < stop:
            cut = self._cut(buf, si, stop, event_ts)
            if self._watch_all:
                upto = si  # every row is dispatched
            else:
                marks = self._marks(buf)
                k = bisect.bisect_left(marks, si)
                upto = min(cut, marks[k] if k < len(marks) else end_i)
            if upto > si:
                part = buf[si:upto]
                deferred.update(zip(map(_ROW_META, part), part, strict=True))
                self._items += upto - si
                self._reached = part[-1][0]
                si = upto
            if si >= cut:
                break
            row = buf[si]
            si += 1
            self._items += 1
            self._reached = row[0]
            await self._state(row)
        self._state_changes = self._items - self._events
        if si < end_i and self._next_due <= buf[si][0] <= event_ts:
            await self._advance_to(buf[si][0])
        return si

    def _cut(self, buf: list[Any], si: int, stop: int, event_ts: float) -> int:
        """The first row of ``buf[si:stop]`` that must wait: one at or after the next due job,
        or after the next event (a change at the event's instant goes first)."""
        due = self._next_due
        if due <= event_ts:
            return bisect.bisect_left(buf, due, si, stop, key=_ROW_TS)
        return bisect.bisect_right(buf, event_ts, si, stop, key=_ROW_TS)

    def _marks(self, buf: list[Any]) -> list[int]:
        """Indices of ``buf``'s rows that are dispatched: watched entities and removals."""
        watched = self._watched_meta
        if self._marks_of is not buf or self._marks_watched is not watched:
            flags = map(
                operator.or_,
                map(watched.__contains__, map(_ROW_META, buf)),
                map(operator.is_, map(_ROW_STATE, buf), repeat(None)),
            )
            self._marks_list = list(compress(count(), flags))
            self._marks_of = buf
            self._marks_watched = watched
        return self._marks_list

    async def _state(self, row: Any) -> None:
        ts, entity_id, state, attrs, _changed = self._history.item(row)
        await self._advance_to(ts)
        self._move_clock(ts)
        states = self._sandbox.states
        if state is None:
            if entity_id in self._watched_ids or self._watch_all:
                states.remove(entity_id)
            else:
                states.drop(entity_id)
        else:
            states.set(entity_id, state, attrs, timestamp=ts)
        self._dispatched += 1
        await self._settle()
        self._refresh()

    async def _event(self, item: Any) -> None:
        ts, event_type, data = item
        self._items += 1
        self._events += 1
        self._reached = ts
        bus = self._sandbox.bus
        if event_type in UNREPLAYED_EVENTS or not bus.has_listeners(event_type):
            return
        await self._advance_to(ts)
        self._move_clock(ts)
        bus.fire(event_type, data, Context())
        self._dispatched += 1
        await self._settle()
        self._refresh()

    async def _advance_to(self, ts: float) -> None:
        """Run, one by one at their own times, the scheduler's jobs due by ``ts``."""
        same = 0
        last = None
        while self._next_due <= ts:
            due = self._next_due
            same = same + 1 if due == last else 0
            if same > _MAX_SAME_INSTANT:
                _LOGGER.warning("Backtest of %s: a job keeps coming due at %s", self.item_id, due)
                self._next_due = float("inf")  # until the next replayed item refreshes it
                return
            last = due
            self._move_clock(max(due, self._sandbox.clock.now().timestamp()), force=True)
            await self._settle()
            self._refresh()

    def _move_clock(self, ts: float, *, force: bool = False) -> None:
        clock = self._sandbox.clock
        if ts > clock.now().timestamp() or force:
            self._times.mark(ts)
            clock.set(datetime.fromtimestamp(ts, UTC))

    async def _settle(self) -> None:
        for _ in range(self.options.settle_ticks):
            await asyncio.sleep(0)

    def _refresh(self) -> None:
        sandbox = self._sandbox
        due = sandbox.next_due()
        self._next_due = float("inf") if due is None else due
        self._watch_all = sandbox.bus.has_listeners(EVENT_STATE_CHANGED)
        watched = sandbox.states.watched()
        meta_ids = self._history.meta_ids
        if watched != self._watched_ids or len(meta_ids) != self._known_meta:
            self._watched_ids = watched
            self._known_meta = len(meta_ids)
            self._watched_meta = {meta_ids[e] for e in watched if e in meta_ids}

    # --- traces --------------------------------------------------------------------------------

    def _retime(self, trace: Trace) -> None:
        """Stamp a trace with replay times instead of the wall times it was made at."""
        to_replay = self._times
        trace.start = to_replay(trace.start)
        if trace.finish is not None:
            trace.finish = to_replay(trace.finish)
        for elements in trace.steps.values():
            for element in elements:
                element.timestamp = to_replay(element.timestamp)
