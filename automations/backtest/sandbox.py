"""The isolated runtime a replay runs in: its own bus, state machine, services and scheduler.

Nothing of the live runtime is written: the replay's clock is a ``FakeClock``, its state machine
and bus are new, and its service registry records each call (with the live service's schema,
so bad data fails as it would have) instead of running it. Where a call's effect is obvious
(a switch turned on, a setpoint set) the effect is written to the replay's state, marked as
simulated. The registries (areas, devices, entities), the site's configuration and the plugin
loader are shared with the live runtime, read only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.bus import EventBus, JobType
from core.clock import FakeClock
from core.const import CoreState
from core.context import Context
from core.notifications import Notifications
from core.runtime import RuntimeData
from core.services import Service, ServiceCall, ServiceRegistry, SupportsResponse
from core.state import State, StateMachine
from core.timers import Scheduler

from .simulate import simulate

if TYPE_CHECKING:
    from core.runtime import Runtime


@dataclass(slots=True)
class RecordedCall:
    """One service call the replayed automation would have made."""

    time: datetime
    domain: str
    service: str
    data: dict[str, Any]
    target: dict[str, list[str]]
    context_id: str
    #: The state changes written to the replay's state because of this call.
    simulated: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report's form of the call."""
        return {
            "time": self.time.isoformat(),
            "service": f"{self.domain}.{self.service}",
            "target": self.target,
            "data": self.data,
            "simulated": self.simulated,
        }


class ReplayStates(StateMachine):
    """A state machine that also holds recorded rows not yet turned into States.

    The replay's fast path: a recorded change of an entity nothing in the replay listens to is
    kept as its raw row (``defer``), by the entity's recorder id, replacing the previous one.
    The State is made only when something reads the entity (a template, a condition), and
    no event is built or dispatched. Reads of all states first make every deferred one.
    """

    def __init__(self, bus: EventBus) -> None:
        super().__init__(bus)
        #: Recorder metadata id → its latest raw row (``history.ROW_*`` positions).
        self.deferred: dict[int, Sequence[Any]] = {}
        #: Entity id → recorder metadata id, and the row reader, set by the replay.
        self.meta_ids: dict[str, int] = {}
        self.materialize: Callable[[Sequence[Any]], tuple[str, str, Mapping[str, Any], float]]
        self._context = Context()

    def _make(self, row: Sequence[Any]) -> None:
        entity_id, state, attributes, last_changed = self.materialize(row)
        self.load(entity_id, state, attributes, last_changed, float(row[0]), self._context)

    def _resolve(self, entity_id: str) -> None:
        deferred = self.deferred
        if deferred:
            meta = self.meta_ids.get(entity_id)
            if meta is not None and (row := deferred.pop(meta, None)) is not None:
                self._make(row)

    def make_all(self) -> None:
        """Turn every deferred row into its State."""
        deferred = self.deferred
        while deferred:
            _, row = deferred.popitem()
            self._make(row)

    def get(self, entity_id: str) -> State | None:
        """The current state (made from its deferred row first, if it has one)."""
        if self.deferred:
            self._resolve(entity_id)
            if entity_id != entity_id.lower():
                self._resolve(entity_id.lower())
        return super().get(entity_id)

    def all(self, domain_filter: str | Iterable[str] | None = None) -> list[State]:
        """Every current state (deferred rows made first)."""
        self.make_all()
        return super().all(domain_filter)

    def entity_ids(self, domain_filter: str | None = None) -> list[str]:
        """Every entity id (deferred rows made first)."""
        self.make_all()
        return super().entity_ids(domain_filter)

    def domains(self) -> Iterator[str]:
        """The domains that have entities (deferred rows made first)."""
        self.make_all()
        return super().domains()

    def is_state(self, entity_id: str, state: str) -> bool:
        """Whether ``entity_id`` is in ``state``."""
        current = self.get(entity_id)
        return current is not None and current.state == state

    def __len__(self) -> int:
        self.make_all()
        return super().__len__()

    def __contains__(self, entity_id: object) -> bool:
        if isinstance(entity_id, str):
            self._resolve(entity_id)
        return super().__contains__(entity_id)

    def set(
        self,
        entity_id: str,
        new_state: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        force_update: bool = False,
        context: Context | None = None,
        timestamp: float | None = None,
    ) -> State:
        """``StateMachine.set``, after making the entity's deferred row (its old state)."""
        self._resolve(entity_id.lower())
        return super().set(
            entity_id,
            new_state,
            attributes,
            force_update=force_update,
            context=context,
            timestamp=timestamp,
        )

    def remove(self, entity_id: str, context: Context | None = None) -> bool:
        """``StateMachine.remove``, after making the entity's deferred row."""
        self._resolve(entity_id.lower())
        return super().remove(entity_id, context)

    def load(  # noqa: PLR0917 - positional: the replay's hot path
        self,
        entity_id: str,
        state: str,
        attributes: Mapping[str, Any],
        last_changed: float,
        last_updated: float,
        context: Context,
    ) -> None:
        """Store a recorded state as current, firing nothing."""
        states = self._states
        old = states.get(entity_id)
        if old is None:
            domain, _, object_id = entity_id.partition(".")
            self._by_domain.setdefault(domain, {})[entity_id] = None
        else:
            domain, object_id = old.domain, old.object_id
        states[entity_id] = State.trusted(
            entity_id, state, attributes, last_changed, last_updated, context, domain, object_id
        )

    def drop(self, entity_id: str) -> None:
        """Forget an entity's state (it was removed), firing nothing."""
        meta = self.meta_ids.get(entity_id)
        if meta is not None:
            self.deferred.pop(meta, None)
        old = self._states.pop(entity_id, None)
        if old is not None:
            self._by_domain.get(old.domain, {}).pop(entity_id, None)

    def watched(self) -> frozenset[str]:
        """The entities whose changes reach a listener of the replay."""
        return frozenset(self._entity_listeners)


class ReplayServices(ServiceRegistry):
    """Services that record their calls instead of running them.

    Every service the live runtime has is known here with its schema, so a call with bad data
    fails as it would have; its handler records the call and simulates its obvious effect.
    """

    def __init__(self, sandbox: Sandbox, live: ServiceRegistry) -> None:
        super().__init__(sandbox.bus, sandbox.executor_job)
        self._sandbox = sandbox
        self._live = live
        self._proxies: dict[tuple[str, str], Service] = {}
        self.recorded: list[RecordedCall] = []

    def has(self, domain: str, service: str) -> bool:
        """Whether the live runtime has the service."""
        return self._live.has(domain, service)

    def get(self, domain: str, service: str) -> Service:
        """A recording stand-in for the live service (raises as the live registry does)."""
        key = (domain.lower(), service.lower())
        proxy = self._proxies.get(key)
        if proxy is None:
            real = self._live.get(domain, service)
            proxy = Service(
                real.domain,
                real.name,
                self._record,
                real.schema,
                real.supports_response,
                JobType.CALLBACK,
                real.description,
            )
            self._proxies[key] = proxy
        return proxy

    def _record(self, call: ServiceCall) -> dict[str, Any] | None:
        sandbox = self._sandbox
        recorded = RecordedCall(
            sandbox.clock.now(),
            call.domain,
            call.service,
            dict(call.data),
            call.target.as_dict(),
            call.context.id,
        )
        self.recorded.append(recorded)
        recorded.simulated = simulate(sandbox.states, call, sandbox.clock.now().timestamp())
        supports = self._live.get(call.domain, call.service).supports_response
        return {} if supports is not SupportsResponse.NONE else None


class Sandbox:
    """The isolated runtime of one replay. Only what automations and templates use is here."""

    def __init__(self, live: Runtime, start: datetime) -> None:
        self.loop = live.loop
        self._live = live
        self.clock = FakeClock(start)
        self.bus = EventBus(self.loop, live.executor_job)
        self.states = ReplayStates(self.bus)
        self.services = ReplayServices(self, live.services)
        self.core = live.core
        self.config = live.config
        self.config_dir = live.config_dir
        self.loader = live.loader
        self.area_registry = live.area_registry
        self.device_registry = live.device_registry
        self.entity_registry = live.entity_registry
        self.data = RuntimeData()
        self.notifications = Notifications()
        self.http = None
        self.state = CoreState.RUNNING
        self.scheduler = Scheduler(
            self.loop,
            tz=live.core.tzinfo,
            latitude=live.core.latitude,
            longitude=live.core.longitude,
            elevation=live.core.elevation,
            clock=self.clock,
        )
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def ready(self) -> bool:
        """The replay is always running."""
        return True

    @property
    def has_scheduler(self) -> bool:
        """The replay's scheduler exists from the start."""
        return True

    def executor_job(self, func: Callable[[], Any]) -> asyncio.Future[Any]:
        """The live runtime's thread pool (templates and plugins may use it)."""
        return self._live.executor_job(func)

    async def run_in_executor(self, func: Callable[..., Any], *args: object) -> Any:
        """The live runtime's thread pool."""
        return await self._live.run_in_executor(func, *args)

    def create_task(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """A task of the replay, cancelled when it closes."""
        task = self.loop.create_task(coro, name=f"backtest[{name}]")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def close(self) -> None:
        """Stop the scheduler and every task of the replay."""
        self.scheduler.close()
        for task in list(self._tasks):
            task.cancel()

    def next_due(self) -> float | None:
        """When the scheduler's earliest job is due (POSIX time), or None."""
        jobs = self.scheduler.jobs()
        if not jobs or jobs[0].next_run is None:
            return None
        return jobs[0].next_run.timestamp()
