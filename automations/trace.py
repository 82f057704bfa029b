"""Traces: what each run of an automation or script did, step by step, in Home Assistant's shape.

Recording is cheap on purpose: a step appends one small slotted object holding references (no
copies, no formatting); turning a trace into JSON happens only when someone reads it. The last
``stored_traces`` traces of each automation are kept in memory and written to
``.storage/trace.saved_traces`` at shutdown (and on reload), so they survive a restart.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.context import Context
from core.state import State
from core.storage import JsonStore

if TYPE_CHECKING:
    from collections.abc import Iterable

_RUN_IDS = itertools.count(1)
_RUN_PREFIX = f"{int(time.time() * 1000):x}{os.getpid():x}"


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-friendly copy of a trace value (States as dicts, datetimes as ISO strings)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if depth > 20:
        return repr(value)
    if isinstance(value, State):
        return dict(value.as_dict())
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return {"__type": "<class 'datetime.timedelta'>", "total_seconds": value.total_seconds()}
    if isinstance(value, Context):
        return value.as_dict()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    return str(value)


class TraceElement:
    """One visit of one step (path ``action/0``, ``condition/1``, ``trigger/0``...)."""

    __slots__ = ("changed_variables", "error", "path", "result", "timestamp")

    def __init__(self, path: str, timestamp: float) -> None:
        self.path = path
        self.timestamp = timestamp
        self.changed_variables: Mapping[str, Any] | None = None
        self.result: Mapping[str, Any] | None = None
        self.error: str | None = None

    def update_variables(self, changed: Mapping[str, Any]) -> None:
        """Note variables this step set (added to any already noted)."""
        if self.changed_variables is None:
            self.changed_variables = changed
        else:
            self.changed_variables = {**self.changed_variables, **changed}

    def as_dict(self) -> dict[str, Any]:
        """Home Assistant's trace element form."""
        result: dict[str, Any] = {"path": self.path, "timestamp": _iso(self.timestamp)}
        if self.changed_variables:
            result["changed_variables"] = jsonable(self.changed_variables)
        if self.result is not None:
            result["result"] = jsonable(self.result)
        if self.error is not None:
            result["error"] = self.error
        return result


class Trace:
    """One run: trigger, steps, outcome. Created per run; cheap to fill."""

    __slots__ = (
        "_run_id",
        "_seq",
        "blueprint_inputs",
        "config",
        "context",
        "domain",
        "error",
        "finish",
        "item_id",
        "last_step",
        "script_execution",
        "start",
        "steps",
        "stored_form",
        "trigger_description",
    )

    def __init__(
        self,
        domain: str,
        item_id: str,
        config: Mapping[str, Any] | None,
        context: Context,
        *,
        trigger_description: str | None = None,
        blueprint_inputs: Mapping[str, Any] | None = None,
    ) -> None:
        self.domain = domain
        self.item_id = item_id
        self.config = config
        self.blueprint_inputs = blueprint_inputs
        self.context = context
        self._seq = next(_RUN_IDS)
        self._run_id: str | None = None
        self.start = time.time()
        self.finish: float | None = None
        self.steps: dict[str, list[TraceElement]] = {}
        self.last_step: str | None = None
        self.script_execution: str | None = None
        self.error: str | None = None
        self.trigger_description = trigger_description
        self.stored_form: dict[str, Any] | None = None

    @property
    def run_id(self) -> str:
        """The run's id, unique across restarts (made when first read: most are never read)."""
        if self._run_id is None:
            self._run_id = f"{_RUN_PREFIX}{self._seq:x}"
        return self._run_id

    def step(self, path: str) -> TraceElement:
        """Record a visit of ``path`` now and return it, to add a result or an error."""
        element = TraceElement(path, time.time())
        bucket = self.steps.get(path)
        if bucket is None:
            self.steps[path] = [element]
        else:
            bucket.append(element)
        self.last_step = path
        return element

    def finished(self, script_execution: str, error: str | None = None) -> None:
        """Mark the run over: ``finished``, ``failed_conditions``, ``cancelled``, ``error``..."""
        self.finish = time.time()
        self.script_execution = script_execution
        if error is not None:
            self.error = error

    @property
    def state(self) -> str:
        """``running`` or ``stopped``."""
        return "running" if self.finish is None else "stopped"

    def short_dict(self) -> dict[str, Any]:
        """The ``trace/list`` form."""
        if self.stored_form is not None:
            return {k: v for k, v in self.stored_form.items() if k in _SHORT_KEYS}
        result: dict[str, Any] = {
            "last_step": self.last_step,
            "run_id": self.run_id,
            "state": self.state,
            "script_execution": self.script_execution,
            "timestamp": {"start": _iso(self.start), "finish": _iso(self.finish)},
            "domain": self.domain,
            "item_id": self.item_id,
        }
        if self.domain == "automation":
            result["trigger"] = self.trigger_description
        if self.error is not None:
            result["error"] = self.error
        return result

    def as_dict(self) -> dict[str, Any]:
        """The ``trace/get`` form."""
        if self.stored_form is not None:
            return dict(self.stored_form)
        result = self.short_dict()
        result["trace"] = {
            path: [element.as_dict() for element in elements]
            for path, elements in self.steps.items()
        }
        result["config"] = jsonable(self.config)
        result["blueprint_inputs"] = jsonable(self.blueprint_inputs)
        result["context"] = self.context.as_dict()
        return result

    @classmethod
    def restored(cls, data: Mapping[str, Any]) -> Trace:
        """A trace read back from storage; it answers with what was stored."""
        trace = cls.__new__(cls)
        trace.domain = str(data.get("domain", ""))
        trace.item_id = str(data.get("item_id", ""))
        trace._run_id = str(data.get("run_id", ""))  # noqa: SLF001 - the class's own slot
        trace.finish = 0.0
        trace.stored_form = dict(data)
        return trace


_SHORT_KEYS = frozenset(
    {
        "last_step",
        "run_id",
        "state",
        "script_execution",
        "timestamp",
        "domain",
        "item_id",
        "trigger",
        "error",
    }
)


class TraceStore:
    """The last N traces of each automation and script, by ``(domain, item_id)``."""

    def __init__(self) -> None:
        self._traces: dict[tuple[str, str], deque[Trace]] = {}

    def add(self, trace: Trace, keep: int) -> None:
        """Keep ``trace``, dropping the oldest beyond ``keep`` for its item."""
        if keep <= 0:
            return
        key = (trace.domain, trace.item_id)
        bucket = self._traces.get(key)
        if bucket is None or bucket.maxlen != keep:
            bucket = deque(bucket or (), maxlen=keep)
            self._traces[key] = bucket
        bucket.append(trace)

    def list(self, domain: str | None = None, item_id: str | None = None) -> list[dict[str, Any]]:
        """``trace/list``: short forms, oldest first, of one item or of all."""
        result: list[dict[str, Any]] = []
        for (d, i), bucket in self._traces.items():
            if (domain is None or d == domain) and (item_id is None or i == item_id):
                result.extend(trace.short_dict() for trace in bucket)
        return result

    def get(self, domain: str, item_id: str, run_id: str) -> dict[str, Any] | None:
        """``trace/get``: one trace in full, or None."""
        for trace in self._traces.get((domain, item_id), ()):
            if trace.run_id == run_id:
                return trace.as_dict()
        return None

    def traces(self) -> Iterable[Trace]:
        """Every trace kept."""
        for bucket in self._traces.values():
            yield from bucket

    def as_storage(self) -> dict[str, Any]:
        """What ``.storage/trace.saved_traces`` holds: finished traces by ``domain.item_id``."""
        data: dict[str, list[dict[str, Any]]] = {}
        for (domain, item_id), bucket in self._traces.items():
            finished = [trace.as_dict() for trace in bucket if trace.state == "stopped"]
            if finished:
                data[f"{domain}.{item_id}"] = finished
        return data

    def restore(self, data: Mapping[str, Any], keep: Mapping[tuple[str, str], int]) -> None:
        """Put stored traces back (before any new run), at most ``keep`` per item (default 5)."""
        for key, traces in data.items():
            domain, _, item_id = str(key).partition(".")
            if not isinstance(traces, list):
                continue
            for stored in traces:
                if isinstance(stored, Mapping):
                    self.add(Trace.restored(stored), keep.get((domain, item_id), 5))


class TraceHolder:
    """The site's trace store and the file it is kept in across restarts."""

    STORAGE_KEY = "trace.saved_traces"

    def __init__(self, store: TraceStore, file: JsonStore) -> None:
        self.store = store
        self._file = file
        self._loaded = False

    async def load(self, keep: Mapping[tuple[str, str], int] | None = None) -> None:
        """Read the stored traces back (once)."""
        if self._loaded:
            return
        self._loaded = True
        data = await self._file.load()
        if data:
            self.store.restore(data, keep or {})

    async def save(self) -> None:
        """Write the finished traces now."""
        await self._file.save(self.store.as_storage())
