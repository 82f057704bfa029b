"""The event bus: every change in Edgewise is an event fired here and delivered to listeners.

Listeners are called on the event loop, in the order they subscribed, after ``fire()`` returns
(never inside it), so a listener that fires another event does not recurse. What a listener may
be decides how it runs:

* a function marked ``@callback`` is called on the loop and must not block;
* a coroutine function is run as a task;
* any other function is run in the runtime's executor, where it may block.

A listener that raises is logged with its event type and never stops the bus.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any, Generic, TypeVar, cast

from .const import MATCH_ALL
from .context import Context
from .limits import safe_repr

_LOGGER = logging.getLogger(__name__)

_D_co = TypeVar("_D_co", bound=Mapping[str, Any], covariant=True)
_F = TypeVar("_F", bound=Callable[..., Any])

#: The type of the data an event carries when nothing more precise is known.
EventData = Mapping[str, Any]


def callback(func: _F) -> _F:
    """Mark a function as safe to call on the event loop: it does not block and does no I/O.

    Built-in callables (``list.append``) cannot carry the mark, so they are wrapped.
    """
    try:
        setattr(func, "_edgewise_callback", True)  # noqa: B010 - a marker on any callable
    except AttributeError:

        @functools.wraps(func)
        def wrapper(*args: Any) -> Any:
            return func(*args)

        setattr(wrapper, "_edgewise_callback", True)  # noqa: B010 - same marker
        return cast(_F, wrapper)
    return func


def is_callback(func: Callable[..., Any]) -> bool:
    """Whether ``func`` was marked with ``@callback``."""
    return getattr(func, "_edgewise_callback", False) is True


class EventOrigin(StrEnum):
    """Where an event came from."""

    local = "LOCAL"
    remote = "REMOTE"


class Event(Generic[_D_co]):
    """One occurrence of something: its type, its data, its origin, when and why it happened."""

    __slots__ = ("_time_fired", "context", "data", "event_type", "origin", "time_fired_timestamp")

    def __init__(
        self,
        event_type: str,
        data: _D_co,
        origin: EventOrigin = EventOrigin.local,
        context: Context | None = None,
        time_fired_timestamp: float | None = None,
    ) -> None:
        self.event_type = event_type
        self.data = data
        self.origin = origin
        self.context = context if context is not None else Context()
        self.time_fired_timestamp = (
            time.time() if time_fired_timestamp is None else time_fired_timestamp
        )
        self._time_fired: datetime | None = None

    @property
    def time_fired(self) -> datetime:
        """When the event was fired, as an aware UTC datetime."""
        if self._time_fired is None:
            self._time_fired = datetime.fromtimestamp(self.time_fired_timestamp, UTC)
        return self._time_fired

    def as_dict(self) -> dict[str, Any]:
        """The JSON form Home Assistant clients expect."""
        return {
            "event_type": self.event_type,
            "data": dict(self.data),
            "origin": self.origin.value,
            "time_fired": self.time_fired.isoformat(),
            "context": self.context.as_dict(),
        }

    def __repr__(self) -> str:
        # Short, and never raising on data too deep to print: events are logged with %r.
        return f"<Event {self.event_type}[{self.origin.value[0]}]: {safe_repr(dict(self.data))}>"


EventListener = Callable[[Event[Any]], Coroutine[Any, Any, None] | None]
EventFilter = Callable[[Event[Any]], bool]
Unsubscribe = Callable[[], None]


class JobType(IntEnum):
    """How a listener is run."""

    CALLBACK = 1
    COROUTINE = 2
    EXECUTOR = 3


def job_type_of(func: Callable[..., Any]) -> JobType:
    """Decide how a callable is run: on the loop, as a task, or in the executor."""
    target: Any = func
    while hasattr(target, "func"):  # functools.partial
        target = target.func
    if asyncio.iscoroutinefunction(target):
        return JobType.COROUTINE
    if is_callback(target) or is_callback(func):
        return JobType.CALLBACK
    return JobType.EXECUTOR


class Listener:
    """A subscribed function, how it runs, its optional filter, and whether it fires once."""

    __slots__ = ("event_filter", "func", "job_type", "once", "remove", "removed")

    def __init__(
        self,
        func: EventListener,
        event_filter: EventFilter | None = None,
        *,
        once: bool = False,
    ) -> None:
        self.func = func
        self.job_type = job_type_of(func)
        self.event_filter = event_filter
        self.once = once
        self.removed = False
        #: Removes the listener from wherever it is subscribed; set by whoever subscribes it.
        self.remove: Unsubscribe | None = None


class EventBus:
    """Delivers fired events to the listeners of their type and to match-all listeners.

    Must be used from the event loop it was created for.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        executor_job: Callable[[Callable[[], object]], asyncio.Future[object]] | None = None,
    ) -> None:
        self._loop = loop
        self._listeners: dict[str, list[Listener]] = {}
        self._match_all: list[Listener] = []
        self._executor_job = executor_job
        self._tasks: set[asyncio.Task[None]] = set()
        #: Queued deliveries as flat pairs: a Listener, then its Event (no tuple per delivery,
        #: which on a busy bus is one fewer object for the allocator and the collector).
        self._pending: deque[Any] = deque()
        self._drain_scheduled = False
        #: Events fired so far (read by ``/metrics``).
        self.events_fired = 0

    # --- subscribing ---------------------------------------------------------------------------

    def listen(
        self,
        event_type: str,
        listener: EventListener,
        event_filter: EventFilter | None = None,
    ) -> Unsubscribe:
        """Call ``listener`` for every event of ``event_type`` (``MATCH_ALL`` for every event).

        Args:
            event_type: the type to listen to, or ``"*"``.
            listener: the function to call with the event; see the module doc for how it runs.
            event_filter: a ``@callback`` predicate run inside ``fire()``; the listener is only
                scheduled when it returns true.

        Returns:
            A function that removes the subscription; calling it twice is harmless.
        """
        return self._add(event_type, Listener(listener, event_filter))

    def listen_once(self, event_type: str, listener: EventListener) -> Unsubscribe:
        """Call ``listener`` for the next event of ``event_type`` only."""
        return self._add(event_type, Listener(listener, once=True))

    def _add(self, event_type: str, entry: Listener) -> Unsubscribe:
        bucket = (
            self._match_all
            if event_type == MATCH_ALL
            else self._listeners.setdefault(event_type, [])
        )
        bucket.append(entry)

        def remove() -> None:
            if entry.removed:
                return
            entry.removed = True
            bucket.remove(entry)
            if not bucket and event_type != MATCH_ALL:
                self._listeners.pop(event_type, None)

        entry.remove = remove
        return remove

    def has_listeners(self, event_type: str) -> bool:
        """Whether firing ``event_type`` would reach any listener."""
        return event_type in self._listeners or bool(self._match_all)

    def listener_counts(self) -> dict[str, int]:
        """The number of listeners per event type (``"*"`` for match-all)."""
        counts = {key: len(value) for key, value in self._listeners.items()}
        if self._match_all:
            counts[MATCH_ALL] = len(self._match_all)
        return counts

    # --- firing --------------------------------------------------------------------------------

    def fire(
        self,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        context: Context | None = None,
        origin: EventOrigin = EventOrigin.local,
    ) -> None:
        """Fire an event. Listeners run after this returns; see the module doc.

        Must run on the event loop.
        """
        listeners = self._listeners.get(event_type)
        if listeners is None and not self._match_all:
            self.events_fired += 1
            return
        self.fire_event(Event(event_type, data if data is not None else {}, origin, context))

    def fire_event(self, event: Event[Any]) -> None:
        """Deliver an already built event to its type's and the match-all listeners."""
        self.events_fired += 1
        listeners = self._listeners.get(event.event_type)
        if listeners:
            self.dispatch(event, listeners)
        if self._match_all:
            self.dispatch(event, self._match_all)

    def dispatch(self, event: Event[Any], listeners: list[Listener]) -> None:
        """Queue ``listeners`` for ``event``; used by indexes such as the state machine's.

        Deliveries are queued and run by one loop callback per burst rather than one
        ``call_soon`` per listener: the order is the same, and the cost per event is far lower.
        """
        pending = self._pending
        if len(listeners) == 1 and listeners[0].event_filter is None and not listeners[0].once:
            # The common case (one plain subscriber) without the general loop's checks.
            pending.append(listeners[0])
            pending.append(event)
        else:
            for entry in listeners[:]:
                if entry.event_filter is not None:
                    try:
                        if not entry.event_filter(event):
                            continue
                    except Exception:
                        _LOGGER.exception("Error in event filter for %s", event.event_type)
                        continue
                if entry.once:
                    if entry.removed or entry.remove is None:
                        continue
                    entry.remove()
                pending.append(entry)
                pending.append(event)
        if not self._drain_scheduled and pending:
            self._drain_scheduled = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        """Run the deliveries queued before this loop iteration began.

        Deliveries queued by the listeners themselves wait for the next iteration, as they would
        with ``call_soon``, so a chain of events cannot starve the loop.
        """
        pending = self._pending
        popleft = pending.popleft
        callback_type = JobType.CALLBACK
        try:
            for _ in range(len(pending) >> 1):
                entry: Listener = popleft()
                event: Event[Any] = popleft()
                if entry.job_type is callback_type:
                    try:
                        entry.func(event)
                    except Exception:
                        _LOGGER.exception(
                            "Error in listener for %s (%r)", event.event_type, entry.func
                        )
                else:
                    self._run(entry, event)
        finally:
            if pending:
                self._loop.call_soon(self._drain)
            else:
                self._drain_scheduled = False

    def _run(self, entry: Listener, event: Event[Any]) -> None:
        """Run one listener for one event, keeping the bus alive whatever it does."""
        job_type = entry.job_type
        try:
            if job_type is JobType.CALLBACK:
                entry.func(event)
            elif job_type is JobType.COROUTINE:
                coro = entry.func(event)
                assert coro is not None  # noqa: S101 - job_type_of guarantees a coroutine
                task = self._loop.create_task(
                    self._guard(coro, event), name=f"bus[{event.event_type}]"
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif self._executor_job is not None:
                func = entry.func
                self._executor_job(lambda: func(event)).add_done_callback(
                    lambda fut: self._log_future_error(fut, event)
                )
            else:
                entry.func(event)
        except Exception:
            _LOGGER.exception("Error in listener for %s (%r)", event.event_type, entry.func)

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, None], event: Event[Any]) -> None:
        try:
            await coro
        except Exception:
            _LOGGER.exception("Error in listener for %s", event.event_type)

    @staticmethod
    def _log_future_error(fut: asyncio.Future[object], event: Event[Any]) -> None:
        if not fut.cancelled() and (exc := fut.exception()) is not None:
            _LOGGER.error("Error in listener for %s", event.event_type, exc_info=exc)

    async def drain(self) -> None:
        """Wait until queued deliveries and listener tasks have finished (shutdown and tests).

        Bound it with ``asyncio.timeout``: a listener task may never finish.
        """
        while self._pending or self._tasks:
            await asyncio.sleep(0)
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
