"""Eager tasks: run a coroutine at once, up to its first suspension, and only then as a Task.

``loop.create_task`` runs nothing until the next loop iteration, so a coroutine that has work to
do right away (an automation run calling a service) waits for a ``select()`` and a scheduling
round first. Python 3.12's ``asyncio.eager_task_factory`` removes that wait; Edgewise runs on
3.11, so this module gives the automation engine the same thing for one task at a time.

The Task is created first and is the current task while the coroutine runs eagerly, so
``asyncio.current_task()``, ``asyncio.timeout`` and the task's contextvars copy behave as in any
task. What the eager step leads to is handed to the Task, which reports it on its first step (one
loop iteration later, as a task created the ordinary way would):

* the coroutine suspended on a future: the Task waits on that future, then resumes the
  coroutine; a cancellation before then cancels that future (or, when it cannot be cancelled,
  is thrown into the coroutine where it suspended), as ``Task.cancel()`` does;
* the coroutine returned or raised: the Task ends with that result or exception. The coroutine
  has finished, so a cancellation that arrives before the Task's first step changes nothing: the
  Task ends with what the coroutine did, as a finished 3.12 eager task would.

3.11 cannot switch the current task, so inside a running task the coroutine is started as an
ordinary task.
"""

from __future__ import annotations

import asyncio
import contextvars

# asyncio's own hooks for running a step of a task (what Task.__step calls), the only way on 3.11
# to make the Task current while the coroutine runs outside it.
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Final, TypeVar

_T = TypeVar("_T")

#: Marks ``_Handover._first`` once the Task has taken what the eager step left.
_TAKEN: Final = object()


class _Handover(Coroutine[Any, Any, _T]):
    """What a Task runs after the eager step: first what that step left, then the coroutine."""

    __slots__ = ("_coro", "_first", "_outcome")

    def __init__(self, coro: Coroutine[Any, Any, _T]) -> None:
        self._coro = coro
        #: What the coroutine yielded when it first suspended (a future, or None for a bare yield).
        self._first: Any = _TAKEN
        #: How the coroutine ended during the eager step (StopIteration carries the result).
        self._outcome: BaseException | None = None

    def run_eagerly(self) -> None:
        """Run the coroutine up to its first suspension; keep what that leads to for the Task."""
        try:
            self._first = self._coro.send(None)
        except BaseException as exc:  # the Task reports it, as it would its own
            self._outcome = exc

    def send(self, value: Any) -> Any:
        """The Task's step: report the eager outcome or first suspension, then resume."""
        outcome = self._outcome
        if outcome is not None:
            self._outcome = None
            raise outcome
        first = self._first
        if first is not _TAKEN:
            self._first = _TAKEN
            return first
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        """Throw into the coroutine where it suspended (a cancellation, usually)."""
        first, self._first = self._first, _TAKEN
        outcome = self._outcome
        if outcome is not None:
            # The coroutine already ended: nothing is left to throw into.
            self._outcome = None
            raise outcome
        if (
            isinstance(typ, asyncio.CancelledError)
            and asyncio.isfuture(first)
            and first.cancel(msg=typ.args[0] if typ.args else None)
        ):
            # Cancelled before the Task took the future the coroutine waits on: cancel that
            # future, as Task.cancel() does with the one it waits on (a gather cancels its
            # children), and let the Task wait for it; the coroutine then gets the
            # CancelledError from it.
            return first
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)

    def close(self) -> None:
        """Close the coroutine."""
        self._coro.close()

    def __next__(self) -> Any:
        return self.send(None)

    def __iter__(self) -> _Handover[_T]:
        return self

    def __await__(self) -> Generator[Any, None, _T]:
        # Awaited directly rather than run by its Task, it is its own iterator: ``await`` drives
        # it through send/throw like any coroutine.
        return self

    # What asyncio reads of a task's coroutine for its repr and get_stack(): the inner one's.
    @property
    def cr_code(self) -> Any:
        return getattr(self._coro, "cr_code", None)

    @property
    def cr_frame(self) -> Any:
        return getattr(self._coro, "cr_frame", None)

    @property
    def cr_running(self) -> bool:
        return bool(getattr(self._coro, "cr_running", False))

    @property
    def cr_await(self) -> Any:
        return getattr(self._coro, "cr_await", None)

    def __repr__(self) -> str:
        return f"<eager {self._coro!r}>"


def create_eager_task(
    coro: Coroutine[Any, Any, _T],
    *,
    name: str,
    on_created: Callable[[asyncio.Task[_T]], object] | None = None,
) -> asyncio.Task[_T]:
    """Run ``coro`` now up to its first suspension, as the current task; return that Task.

    Must run on the loop. Inside another task the coroutine is started as an ordinary task.

    Args:
        coro: the coroutine to run.
        name: the Task's name.
        on_created: called with the Task before the coroutine starts (to register it where
            the coroutine may look for it).

    Returns:
        The Task; it is not done before the next loop iteration, even when the coroutine ended
        in its eager step.
    """
    loop = asyncio.get_running_loop()
    if asyncio.current_task(loop) is not None:
        task = loop.create_task(coro, name=name)
        if on_created is not None:
            on_created(task)
        return task
    handover = _Handover(coro)
    context = contextvars.copy_context()
    task = loop.create_task(handover, name=name, context=context)
    if on_created is not None:
        on_created(task)
    _enter_task(loop, task)
    try:
        context.run(handover.run_eagerly)
    finally:
        _leave_task(loop, task)
    return task
