"""The isolated child process: results and errors come back, a crash is survived and reported,
the child ends with its parent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from core.isolated import IsolatedProcess, WorkerDied, WorkerUnavailable


def _add(a: int, b: int) -> int:
    return a + b


def _fail(message: str) -> None:
    raise ValueError(message)


def _die() -> None:
    os._exit(3)


async def test_a_call_runs_in_another_process_and_its_error_comes_back() -> None:
    process = IsolatedProcess("test")
    try:
        assert await process.call(_add, 2, 3) == 5
        assert await process.pid() != os.getpid()
        with pytest.raises(ValueError, match="bad input"):
            await process.call(_fail, "bad input")
        assert process.process_alive
        assert process.starts == 1
    finally:
        process.stop()
    assert not process.process_alive


async def test_a_dead_child_is_replaced_after_a_backoff_and_reported_when_it_keeps_dying() -> None:
    health: list[tuple[bool, str]] = []
    process = IsolatedProcess(
        "test",
        backoff_first=0.2,
        unhealthy_after=2,
        on_health=lambda ok, why: health.append((ok, why)),
    )
    try:
        first = await process.pid()
        os.kill(first, signal.SIGKILL)
        with pytest.raises(WorkerDied):
            await process.call(_add, 1, 1)
        with pytest.raises(WorkerUnavailable, match="died"):
            await process.call(_add, 1, 1)  # within the backoff: refused at once
        await asyncio.sleep(0.25)
        with pytest.raises(WorkerDied):
            await process.call(_die)
        assert health == [(False, "the test process died 2 times in a row")]
        await asyncio.sleep(0.45)  # the backoff doubled
        assert await process.call(_add, 2, 2) == 4
        assert await process.pid() != first
        assert process.starts == 3
        assert health[-1] == (True, "the test process runs again")
    finally:
        process.stop()


async def test_calls_beyond_the_pending_bound_are_refused() -> None:
    process = IsolatedProcess("test", max_pending=1)
    try:
        first = asyncio.ensure_future(process.call(_add, 1, 2))
        await asyncio.sleep(0)
        with pytest.raises(WorkerUnavailable, match="waiting"):
            await process.call(_add, 1, 2)
        assert await first == 3
    finally:
        process.stop()


def test_the_child_ends_when_its_parent_is_killed() -> None:
    code = textwrap.dedent(
        """
        import asyncio, os, sys, time
        from core.isolated import IsolatedProcess

        async def main():
            process = IsolatedProcess("orphan")
            print(await process.pid(), flush=True)
            time.sleep(60)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        os.kill(child, 0)  # alive
        parent.kill()
        parent.wait(timeout=10)
        for _ in range(100):
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"child {child} still runs after its parent was killed")
    finally:
        parent.kill()


async def test_the_child_imports_neither_the_kernel_nor_asyncio() -> None:
    # It unpickles core.isolated's functions (and with them core/__init__.py): core's names
    # load on first use, so only core.isolated and what multiprocessing needs are loaded. (A
    # function of this test module would import the module, and pytest and asyncio with it.)
    process = IsolatedProcess("test")
    try:
        loaded = set(await process.modules())
    finally:
        process.stop()
    assert {"core", "core.isolated"} <= loaded
    assert not loaded & {"asyncio", "ssl", "aiohttp", "core.runtime", "core.http", "core.bus"}
