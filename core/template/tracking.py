"""``track_template``: render a template again only when what it read changes.

A tracker renders once, notes what the render read (``RenderInfo``) and subscribes to exactly
that:

* entities read by id (``states('sensor.t')``, ``is_state(...)``, ``states.light.kitchen``)
  through the state machine's indexed ``track``: a change of any other entity costs nothing;
  such a change re-renders at once;
* iterated domains (``states.light``) and all states (``states``) through one ``state_changed``
  listener with a filter; those changes re-render at most once per ``DOMAIN_STATES_RATE_LIMIT``
  / ``ALL_STATES_RATE_LIMIT`` (a change inside the window re-renders when it ends);
* the time, when the template used ``now()`` and friends: a re-render at the start of every
  minute, on the runtime's scheduler (a FakeClock drives it in tests).

After every render the subscriptions follow what that render read (an ``if`` may read other
entities than before). The callback runs only when the result differs from the last one (in
value or type); an error is reported as the ``TemplateError`` itself, once per distinct message.

Every render has a time budget (``time_budget``). A render that runs past it is stopped and
reported (a ``TemplateTimeoutError``), and the tracker stops: a template that slow would hold the
event loop again on every change. A ``RenderPacer`` shared by several trackers (those of one API
client) bounds the share of the loop their renders take together: once they used it up, their
renders wait for the next window.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.bus import Event, Unsubscribe, callback
from core.const import EVENT_STATE_CHANGED
from core.errors import TemplateError

from .render_info import DEFAULT_RENDER_TIME, RenderInfo
from .template import Template, TemplateRenderError, TemplateTimeoutError

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.timers import Cancel, Scheduler

_LOGGER = logging.getLogger(__name__)

#: The least time between two renders caused by changes of an iterated domain.
DOMAIN_STATES_RATE_LIMIT = timedelta(seconds=1)
#: The least time between two renders caused by changes of any state.
ALL_STATES_RATE_LIMIT = timedelta(seconds=1)
#: How often a template that read the time renders again: at the start of every minute.
TIME_RERENDER_INTERVAL = timedelta(minutes=1)

#: Called with the new result, or with the TemplateError the render raised.
ResultCallback = Callable[[Any], None]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOTHING: Any = object()


class RenderPacer:
    """Render time shared by trackers: at most ``share`` seconds of rendering per ``window``.

    Renders asked for are queued and run one per turn of the event loop, so that whatever else
    is waiting (an HTTP request, a timer) runs between two of them; once the window's share is
    spent, the queue waits for the next window.
    """

    def __init__(self, share: float, window: float = 1.0) -> None:
        """Allow ``share`` seconds of rendering in every ``window`` seconds."""
        self.share = share
        self.window = window
        self._window_start = 0.0
        self._spent = 0.0
        self._queue: dict[Callable[[], None], None] = {}
        self._handle: asyncio.Handle | None = None

    def request(self, render: Callable[[], None]) -> None:
        """Run ``render`` on a later turn of the loop (once, however often it is asked)."""
        self._queue[render] = None
        self._schedule()

    def withdraw(self, render: Callable[[], None]) -> None:
        """Forget a render asked for and not run yet."""
        self._queue.pop(render, None)
        if not self._queue and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self) -> None:
        if self._handle is not None or not self._queue:
            return
        loop = asyncio.get_running_loop()
        wait = self.delay()
        self._handle = loop.call_later(wait, self._run) if wait > 0 else loop.call_soon(self._run)

    def _run(self) -> None:
        self._handle = None
        if self._queue and self.delay() == 0:
            render = next(iter(self._queue))
            del self._queue[render]
            started = time.perf_counter()
            try:
                render()
            finally:
                self.spend(time.perf_counter() - started)
        self._schedule()

    def delay(self) -> float:
        """Seconds until a render may run: 0 while the current window has time left."""
        now = time.perf_counter()
        if now - self._window_start >= self.window:
            self._window_start = now
            self._spent = 0.0
        if self._spent < self.share:
            return 0.0
        return self._window_start + self.window - now

    def spend(self, seconds: float) -> None:
        """Count a render's ``seconds`` against the current window."""
        self._spent += seconds


class TemplateTracker:
    """Keeps one template's result current; see the module doc. Used on the event loop."""

    def __init__(
        self,
        runtime: Runtime,
        template: Template,
        variables: Mapping[str, Any] | None,
        on_result: ResultCallback,
        *,
        parse_result: bool = True,
        strict: bool = False,
        ignore_entities: frozenset[str] = frozenset(),
        time_budget: float = DEFAULT_RENDER_TIME,
        pacer: RenderPacer | None = None,
    ) -> None:
        """Prepare to track ``template``; nothing happens until ``start``.

        ``ignore_entities`` are never subscribed to, even when read: an entity whose template
        reads its own state passes its id, so that its writes do not re-render it in a loop.
        ``time_budget`` is each render's; ``pacer``, if given, paces the renders (module doc).

        Raises:
            RuntimeError: the runtime has no scheduler (it was not started).
        """
        if runtime.scheduler is None:
            raise RuntimeError("track_template needs a started runtime (it has no scheduler)")
        if template.runtime is None:
            template.runtime = runtime
        self._runtime = runtime
        self._scheduler: Scheduler = runtime.scheduler
        self.template = template
        self._variables = variables
        self._on_result = on_result
        self._parse_result = parse_result
        self._strict = strict
        self._ignore = ignore_entities
        self._time_budget = time_budget
        self._pacer = pacer
        #: What the last render read.
        self.info = RenderInfo()
        #: The last result (or TemplateError) reported.
        self.result: Any = _NOTHING
        self._cancelled = False
        self._tracked_entities: frozenset[str] = frozenset()
        self._untrack_entities: Unsubscribe | None = None
        self._unlisten_broad: Unsubscribe | None = None
        self._cancel_time: Cancel | None = None
        self._cancel_pending: Cancel | None = None
        self._last_render: datetime | None = None

    @property
    def _name(self) -> str:
        return f"template_tracker[{self.template.name or self.template.source[:40]}]"

    def start(self) -> None:
        """Render the first time (the callback gets that result), then subscribe."""
        started = time.perf_counter()
        self._render()
        if self._pacer is not None:
            self._pacer.spend(time.perf_counter() - started)

    @callback
    def refresh(self) -> None:
        """Render (now, or on the pacer's turn) and report the result if it changed.

        The listeners call it; so may a caller whose variables changed.
        """
        if self._pacer is not None:
            self._pacer.request(self._render)
        else:
            self._render()

    def _render(self) -> None:
        if self._cancelled:
            return
        if self._cancel_pending is not None:
            self._cancel_pending()
            self._cancel_pending = None
        self._last_render = self._scheduler.clock.now()
        result: Any
        try:
            result, info = self.template.render_with_info(
                self._variables,
                parse_result=self._parse_result,
                strict=self._strict,
                time_budget=self._time_budget,
            )
        except TemplateRenderError as err:
            result, info = err, err.render_info
        except TemplateError as err:
            result, info = err, RenderInfo()
        if isinstance(result, TemplateTimeoutError):
            _LOGGER.warning("%s stopped: %s", self._name, result)
            self.cancel()
            self.result = result
            self._on_result(result)
            return
        self.info = info
        self._subscribe(info)
        if not _same(self.result, result):
            self.result = result
            self._on_result(result)

    def cancel(self) -> None:
        """Stop tracking: drop every subscription and scheduled render.

        Calling it again is harmless.
        """
        self._cancelled = True
        self._subscribe(RenderInfo())
        if self._cancel_pending is not None:
            self._cancel_pending()
            self._cancel_pending = None
        if self._pacer is not None:
            self._pacer.withdraw(self._render)

    # --- subscriptions -------------------------------------------------------------------------

    def _subscribe(self, info: RenderInfo) -> None:
        entities = info.entities - self._ignore if self._ignore else info.entities
        if entities != self._tracked_entities:
            if self._untrack_entities is not None:
                self._untrack_entities()
                self._untrack_entities = None
            if entities:
                self._untrack_entities = self._runtime.states.track(
                    entities, self._on_entity_changed
                )
            self._tracked_entities = entities
        broad = info.all_states or bool(info.domains)
        if broad and self._unlisten_broad is None:
            self._unlisten_broad = self._runtime.bus.listen(
                EVENT_STATE_CHANGED, self._on_broad_change, self._is_broad_change
            )
        elif not broad and self._unlisten_broad is not None:
            self._unlisten_broad()
            self._unlisten_broad = None
        if info.uses_now and self._cancel_time is None:
            now = self._scheduler.clock.now()
            interval = TIME_RERENDER_INTERVAL
            start = _EPOCH + ((now - _EPOCH) // interval + 1) * interval
            self._cancel_time = self._scheduler.every(
                interval, self._on_time, name=f"{self._name}.time", start=start
            )
        elif not info.uses_now and self._cancel_time is not None:
            self._cancel_time()
            self._cancel_time = None

    @callback
    def _on_entity_changed(self, event: Event[Any]) -> None:
        self.refresh()

    @callback
    def _is_broad_change(self, event: Event[Any]) -> bool:
        """Whether a state change concerns an iterated domain (and not a tracked entity)."""
        entity_id: str = event.data["entity_id"]
        if entity_id in self._tracked_entities or entity_id in self._ignore:
            return False  # the entity listener renders for it, without a rate limit
        if self.info.all_states:
            return True
        return entity_id.partition(".")[0] in self.info.domains

    @callback
    def _on_broad_change(self, event: Event[Any]) -> None:
        if self._cancelled or self._cancel_pending is not None:
            return
        limit = ALL_STATES_RATE_LIMIT if self.info.all_states else DOMAIN_STATES_RATE_LIMIT
        now = self._scheduler.clock.now()
        if self._last_render is None or now - self._last_render >= limit:
            self.refresh()
            return
        self._cancel_pending = self._scheduler.at(
            self._last_render + limit, self._on_rate_limit_over, name=f"{self._name}.rate_limit"
        )

    @callback
    def _on_rate_limit_over(self, due: datetime) -> None:
        self._cancel_pending = None
        self.refresh()

    @callback
    def _on_time(self, due: datetime) -> None:
        self.refresh()


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, TemplateError) or isinstance(new, TemplateError):
        return type(old) is type(new) and str(old) == str(new)
    return type(old) is type(new) and bool(old == new)


def track_template(
    runtime: Runtime,
    template: Template,
    variables: Mapping[str, Any] | None,
    on_result: ResultCallback,
    *,
    parse_result: bool = True,
) -> Callable[[], None]:
    """Render ``template`` now and again whenever what it read changes (module doc).

    ``on_result`` is called with the first result before this returns, then with every result
    that differs from the previous one; a failed render passes its ``TemplateError``. Must run
    on the event loop.

    Args:
        runtime: a started runtime; it becomes the template's runtime if it has none.
        template: the template to keep rendered.
        variables: the variables of every render (a Mapping may compute values when read).
        on_result: the callback, run on the loop.
        parse_result: parse results like ``Template.render``.

    Returns:
        The function that stops tracking.

    Raises:
        RuntimeError: the runtime was not started.
    """
    tracker = TemplateTracker(runtime, template, variables, on_result, parse_result=parse_result)
    tracker.start()
    return tracker.cancel
