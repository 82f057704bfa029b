"""What a template read while it rendered, and the per-render state the helpers share.

While a template renders, a ``RenderState`` is the current value of a context variable. The
helpers (``states()``, ``now()``, ...) find the runtime there and note what they read, so that
``track_template`` can subscribe to exactly those entities. A render that is not in progress has
no state: the helpers then refuse to run.

The state also carries the render's budgets: a deadline (``checkpoint`` is called by the sandbox
at every call, attribute, operator, filter and loop iteration, and raises ``TimeoutError`` once it
has passed) and an allocation count (``allocate``: every string or container a render builds is
counted, and the render fails once it built more than ``MAX_RENDER_ALLOCATION`` units).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from core.clock import Clock, SystemClock

if TYPE_CHECKING:
    from core.runtime import Runtime

_T = TypeVar("_T")

#: The most loop iterations (``for`` loops, ``range``, iterating states) one render may run.
MAX_LOOP_ITERATIONS = 1_000_000
#: The longest string (or list) a render may produce or build in one operation: 256 KiB.
MAX_TEMPLATE_OUTPUT = 256 * 1024
#: The most one value a render builds may weigh (items of containers plus characters of strings).
MAX_VALUE_WEIGHT = 1_000_000
#: The most a render may build in all, in the units of ``MAX_VALUE_WEIGHT``.
MAX_RENDER_ALLOCATION = 8_000_000
#: The time one render may take, in seconds, unless the caller gives another budget.
DEFAULT_RENDER_TIME = 1.0

_perf_counter = time.perf_counter

_UTC = ZoneInfo("UTC")
_SYSTEM_CLOCK = SystemClock()


@dataclass(frozen=True, slots=True)
class RenderInfo:
    """What one render read.

    Attributes:
        entities: the entity ids whose state was read (also those that did not exist).
        domains: the domains that were iterated (``states.sensor``).
        all_states: whether every state was iterated (``states``, ``states | count``).
        uses_now: whether the result depends on the current time (``now()``, ``relative_time``).
    """

    entities: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    all_states: bool = False
    uses_now: bool = False


@dataclass(slots=True)
class RenderState:
    """The mutable state of one render in progress; see the module doc."""

    runtime: Runtime | None
    #: How the template is named in messages: its name, or the start of its source.
    label: str
    entities: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)
    all_states: bool = False
    uses_now: bool = False
    iterations: int = 0
    #: Whether an undefined variable is an error rather than an empty string.
    strict: bool = False
    #: The render's time budget in seconds, and the ``perf_counter`` time it ends at.
    budget: float = DEFAULT_RENDER_TIME
    deadline: float = math.inf
    #: What the render built so far, in the units of ``MAX_VALUE_WEIGHT``.
    allocated: int = 0

    def start(self) -> None:
        """Start the clock of the time budget."""
        self.deadline = _perf_counter() + self.budget

    def checkpoint(self) -> None:
        """Fail the render once its time budget is spent.

        Raises:
            TimeoutError: the deadline has passed.
        """
        if _perf_counter() > self.deadline:
            raise TimeoutError(f"the template ran past its budget of {self.budget:g} s")

    def remaining(self) -> float:
        """The seconds left in the budget (at least a millisecond, for timeouts of C calls)."""
        return max(self.deadline - _perf_counter(), 0.001)

    def allocate(self, units: int) -> None:
        """Count ``units`` built by the render against ``MAX_RENDER_ALLOCATION``.

        Raises:
            OverflowError: the render built more than allowed.
        """
        self.allocated += units
        if self.allocated > MAX_RENDER_ALLOCATION:
            raise OverflowError(
                f"the template built more than {MAX_RENDER_ALLOCATION:,} items and characters"
            )

    def freeze(self) -> RenderInfo:
        """The ``RenderInfo`` of what was read so far."""
        return RenderInfo(
            entities=frozenset(self.entities),
            domains=frozenset(self.domains),
            all_states=self.all_states,
            uses_now=self.uses_now,
        )

    @property
    def tz(self) -> tzinfo:
        """The site's time zone; UTC when the template has no runtime."""
        return self.runtime.core.tzinfo if self.runtime is not None else _UTC

    @property
    def clock(self) -> Clock:
        """The runtime's clock (a FakeClock in tests); the system clock without a runtime."""
        return self.runtime.clock if self.runtime is not None else _SYSTEM_CLOCK

    def count(self, iterable: Iterable[_T]) -> Iterator[_T]:
        """Iterate ``iterable``, counting each item against ``MAX_LOOP_ITERATIONS``.

        Raises:
            OverflowError: the render ran more iterations than allowed.
        """
        for item in iterable:
            self.iterations += 1
            if _perf_counter() > self.deadline:
                self.checkpoint()
            if self.iterations > MAX_LOOP_ITERATIONS:
                raise OverflowError(
                    f"the template ran more than {MAX_LOOP_ITERATIONS:,} loop iterations"
                )
            yield item


CURRENT: ContextVar[RenderState | None] = ContextVar("edgewise_template_render", default=None)


def current() -> RenderState:
    """The render in progress.

    Raises:
        RuntimeError: no template is rendering.
    """
    state = CURRENT.get()
    if state is None:
        raise RuntimeError("template helpers can only be used while a template renders")
    return state


def current_runtime(helper: str) -> Runtime:
    """The runtime of the render in progress, for a helper that reads states or registries.

    Raises:
        RuntimeError: no template is rendering, or the template has no runtime.
    """
    runtime = current().runtime
    if runtime is None:
        raise RuntimeError(f"{helper}() needs a runtime, and this template has none")
    return runtime
