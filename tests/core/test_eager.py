"""Eager tasks: run at once up to the first suspension, then a Task like any other."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from core.eager import create_eager_task

_T = TypeVar("_T")

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="outside")


async def on_loop(make: Callable[[], _T]) -> _T:
    """Call ``make`` from a plain loop callback (not inside a task), as the bus does."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def run() -> None:
        future.set_result(make())

    loop.call_soon(run)
    return await future


def eager(coro: Coroutine[Any, Any, _T], seen: list[Any] | None = None) -> asyncio.Task[_T]:
    registered: list[asyncio.Task[_T]] = []
    task = create_eager_task(coro, name="eager-test", on_created=registered.append)
    assert registered == [task]
    if seen is not None:
        seen.append(("returned", task.done()))
    return task


async def test_runs_up_to_the_first_suspension_before_returning() -> None:
    seen: list[Any] = []
    gate = asyncio.get_running_loop().create_future()

    async def job() -> int:
        seen.append(("started", asyncio.current_task() is not None))
        value: int = await gate
        seen.append(("resumed", value))
        return value + 1

    task = await on_loop(lambda: eager(job(), seen))
    assert seen == [("started", True), ("returned", False)]
    gate.set_result(41)
    assert await task == 42
    assert seen[-1] == ("resumed", 41)


async def test_is_the_current_task_during_the_eager_step_and_keeps_its_name() -> None:
    current: list[asyncio.Task[Any] | None] = []

    async def job() -> None:
        current.append(asyncio.current_task())

    task = await on_loop(lambda: eager(job()))
    assert current == [task]
    assert task.get_name() == "eager-test"
    await task
    assert asyncio.current_task() is not task


async def test_a_coroutine_that_ends_eagerly_gives_its_result_to_the_task() -> None:
    ran: list[str] = []

    async def job() -> str:
        ran.append("ran")
        return "done"

    task = await on_loop(lambda: eager(job()))
    assert ran == ["ran"]
    assert await task == "done"


async def test_an_exception_in_the_eager_step_ends_the_task_with_it() -> None:
    async def job() -> None:
        raise ValueError("broken at once")

    task = await on_loop(lambda: eager(job()))
    with pytest.raises(ValueError, match="broken at once"):
        await task


async def test_cancelling_before_the_first_step_throws_into_the_suspended_coroutine() -> None:
    seen: list[str] = []
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def job() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled where it waited")
            raise
        finally:
            seen.append("cleaned up")

    def start_and_cancel() -> asyncio.Task[None]:
        task = eager(job())
        task.cancel()  # before the Task's own first step
        return task

    task = await on_loop(start_and_cancel)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert seen == ["cancelled where it waited", "cleaned up"]


async def test_cancelling_while_it_waits_cancels_it_as_any_task() -> None:
    seen: list[str] = []

    async def job() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            seen.append("cleaned up")

    task = await on_loop(lambda: eager(job()))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cleaned up"]


async def test_a_coroutine_that_handles_the_cancellation_goes_on() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def job() -> str:
        try:
            await gate
        except asyncio.CancelledError:
            await asyncio.sleep(0)
            return "recovered"
        return "not cancelled"

    def start_and_cancel() -> asyncio.Task[str]:
        task = eager(job())
        task.cancel()
        return task

    task = await on_loop(start_and_cancel)
    assert await task == "recovered"


async def test_a_cancellation_after_it_ended_eagerly_keeps_its_result() -> None:
    async def job() -> str:
        return "finished"

    def start_and_cancel() -> asyncio.Task[str]:
        task = eager(job())
        task.cancel()
        return task

    task = await on_loop(start_and_cancel)
    assert await task == "finished"


async def test_a_task_that_cancels_itself_eagerly_ends_cancelled_at_its_next_wait() -> None:
    seen: list[str] = []

    async def job() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        seen.append("went on")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = await on_loop(lambda: eager(job()))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["went on", "cancelled"]


async def test_asyncio_timeout_works_in_the_eager_step() -> None:
    async def job() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(30)
        except TimeoutError:
            return "timed out"
        return "slept"

    task = await on_loop(lambda: eager(job()))
    assert await task == "timed out"


async def test_runs_in_its_own_copy_of_the_context() -> None:
    seen: list[str] = []
    VAR.set("caller")

    async def job() -> None:
        seen.append(VAR.get())
        VAR.set("inside")
        await asyncio.sleep(0)
        seen.append(VAR.get())

    task = await on_loop(lambda: eager(job()))
    assert VAR.get() == "caller"
    await task
    assert seen == ["caller", "inside"]
    assert VAR.get() == "caller"


async def test_inside_a_task_it_starts_an_ordinary_task() -> None:
    ran: list[str] = []

    async def job() -> str:
        ran.append("ran")
        return "ok"

    task = eager(job())  # this test is itself a task
    assert ran == []
    assert await task == "ok"
    assert ran == ["ran"]


async def test_the_task_shows_where_its_coroutine_waits() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def waiting_job() -> None:
        await gate

    task = await on_loop(lambda: eager(waiting_job()))
    await asyncio.sleep(0)
    assert "test_eager.py" in repr(task)  # where the coroutine waits
    assert [frame.f_code.co_name for frame in task.get_stack()] == ["waiting_job"]
    gate.set_result(None)
    await task


async def test_cancelling_before_the_first_step_cancels_what_it_waits_on() -> None:
    children: list[asyncio.Task[None]] = []

    async def job() -> None:
        child = asyncio.ensure_future(asyncio.sleep(30))
        children.append(child)
        await asyncio.gather(child)

    def start_and_cancel() -> asyncio.Task[None]:
        task = eager(job())
        task.cancel()
        return task

    task = await on_loop(start_and_cancel)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert children[0].cancelled()  # the gather was cancelled, and it cancelled its child


async def test_cancelling_when_what_it_waits_on_is_already_done_still_cancels_it() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def job() -> None:
        try:
            seen.append(await gate)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    def start_release_and_cancel() -> asyncio.Task[None]:
        task = eager(job())
        gate.set_result("released")
        task.cancel()
        return task

    task = await on_loop(start_release_and_cancel)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]
