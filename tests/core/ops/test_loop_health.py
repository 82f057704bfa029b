"""Loop health: a blocking callback is named, the lag is measured, probes mean a healthy loop."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time

import pytest

from core.ops.loop_health import Culprit, LoopMonitor, name_culprit

Block = tuple[float, Culprit | None]


def hog_the_loop() -> None:
    """A callback that blocks the loop for 300 ms."""
    time.sleep(0.3)


async def hogging_task() -> None:
    """A task that blocks the loop for 300 ms between awaits."""
    await asyncio.sleep(0)
    time.sleep(0.3)  # noqa: ASYNC251 - the blocking call under test


def _monitor() -> tuple[LoopMonitor, asyncio.Future[Block]]:
    """A monitor probing every 50 ms and the future of the first block it reports."""
    loop = asyncio.get_running_loop()
    first: asyncio.Future[Block] = loop.create_future()

    def report(blocked: float, culprit: Culprit | None) -> None:
        loop.call_soon_threadsafe(lambda: first.done() or first.set_result((blocked, culprit)))

    return LoopMonitor(loop, interval=0.05, threshold=0.1, on_block=report), first


async def test_a_blocking_callback_is_logged_with_its_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "core.ops.loop_health")
    monitor, first = _monitor()
    monitor.start()
    try:
        asyncio.get_running_loop().call_soon(hog_the_loop)
        async with asyncio.timeout(10):
            blocked, culprit = await first
    finally:
        monitor.stop()
    assert monitor.blocks == 1
    assert monitor.last_block == (blocked, culprit)
    assert blocked >= 0.1
    assert culprit is not None
    assert culprit.callback.startswith("hog_the_loop (")
    assert "test_loop_health.py" in culprit.callback
    message = caplog.records[-1].getMessage()
    assert message.startswith("The event loop was blocked for ")
    assert "by hog_the_loop (" in message


async def test_a_blocking_task_is_named_by_its_coroutine() -> None:
    monitor, first = _monitor()
    monitor.start()
    try:
        await asyncio.create_task(hogging_task(), name="hog")
        async with asyncio.timeout(10):
            _, culprit = await first
    finally:
        monitor.stop()
    assert culprit is not None
    assert culprit.callback.startswith("hogging_task (")
    assert "time.sleep" not in culprit.callback


async def test_an_idle_loop_has_little_lag_and_stays_healthy() -> None:
    healthy = 0
    five = asyncio.Event()

    def count() -> None:
        nonlocal healthy
        healthy += 1
        if healthy == 5:
            five.set()

    monitor = LoopMonitor(asyncio.get_running_loop(), interval=0.02, on_healthy=count)
    monitor.start()
    try:
        async with asyncio.timeout(10):
            await five.wait()
    finally:
        monitor.stop()
    assert monitor.blocks == 0
    assert 0 <= monitor.lag < 0.1
    assert monitor.max_lag >= monitor.lag


async def test_a_late_loop_with_no_callback_running_is_not_blamed_on_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Waiting in the selector (a busy CPU, the GIL elsewhere) is lateness, not a block."""
    caplog.set_level(logging.INFO, "core.ops.loop_health")
    parked = threading.Event()
    waiter = threading.Thread(target=parked.wait, name="parked")
    waiter.start()
    try:
        frame = sys._current_frames()[waiter.ident]  # type: ignore[index]
        culprit = name_culprit(frame)
    finally:
        parked.set()
        waiter.join()
    assert culprit is not None
    assert culprit.callback is None
    monitor = LoopMonitor(asyncio.get_running_loop())
    monitor._report(0.15, Culprit(None, culprit.where, ("worker in import_module (x.py:1)",)))
    assert (monitor.blocks, monitor.late) == (0, 1)
    assert caplog.records[-1].levelno == logging.INFO
    assert caplog.records[-1].getMessage() == (
        "The event loop ran 150 ms late with no callback running (the CPU was busy, or another "
        "thread held the GIL); other threads: worker in import_module (x.py:1)"
    )
