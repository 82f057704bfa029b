"""Tuya device doubles on 127.0.0.1 for the Tuya tests, and a thread to drive tinytuya from."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from core import Runtime, State
from integrations.tuya.device_double import DpsValue, TuyaDeviceDouble

KEY = "0123456789abcdef"
DEVICE_ID = "bf0123456789abcdefgh"

#: A metering plug as a 3.3 device reports it.
PLUG_DPS: dict[str, DpsValue] = {
    "1": False,
    "9": 0,
    "17": 12,
    "18": 0,
    "19": 0,
    "20": 2301,
}


def plug_dps() -> dict[str, DpsValue]:
    """A fresh copy of the plug's data points."""
    return dict(PLUG_DPS)


class LoopThread:
    """An event loop in a thread, so a blocking tinytuya client can run on the test's thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Any) -> Any:
        """Run ``coro`` on the thread's loop and return its result."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=10)

    def call(self, func: Callable[[], Any]) -> Any:
        """Call ``func`` on the thread's loop."""

        async def wrapper() -> Any:
            return func()

        return self.run(wrapper())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    """An event loop in a thread, stopped after the test."""
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
async def make_double() -> AsyncIterator[Callable[..., Any]]:
    """Start device doubles on the test's loop: ``await make_double(version, ...)``."""
    started: list[TuyaDeviceDouble] = []

    async def make(
        version: float, dps: dict[str, DpsValue] | None = None, **kwargs: Any
    ) -> TuyaDeviceDouble:
        kwargs.setdefault("local_key", KEY)
        kwargs.setdefault("device_id", DEVICE_ID)
        double = TuyaDeviceDouble(version=version, dps=plug_dps() if dps is None else dps, **kwargs)
        await double.start()
        started.append(double)
        return double

    yield make
    for double in started:
        await double.stop()


async def state_becomes(
    runtime: Runtime, entity_id: str, expected: str | Callable[[str], bool], limit: float = 5.0
) -> State:
    """Wait for ``entity_id``'s state to be ``expected`` (or satisfy it), by its state changes."""

    def matches() -> State | None:
        state = runtime.states.get(entity_id)
        if state is None:
            return None
        ok = expected(state.state) if callable(expected) else state.state == expected
        return state if ok else None

    changed = asyncio.Event()
    unsubscribe = runtime.states.track(entity_id, lambda _event: changed.set())
    try:
        async with asyncio.timeout(limit):
            while (state := matches()) is None:
                changed.clear()
                await changed.wait()
    except TimeoutError:
        current = runtime.states.get(entity_id)
        raise AssertionError(
            f"{entity_id} never became {expected!r}; it is {current and current.state!r}"
        ) from None
    finally:
        unsubscribe()
    return state


def tuya_yaml(devices: list[dict[str, Any]], extra: str = "") -> str:
    """A configuration with an HTTP server on a free port and a ``tuya:`` section."""
    lines = ["http:", "  server_host: 127.0.0.1", "  server_port: 0", "tuya:", "  devices:"]
    for device in devices:
        first = True
        for key, value in device.items():
            prefix = "    - " if first else "      "
            first = False
            lines.append(f"{prefix}{key}: {value}")
    return "\n".join(lines) + "\n" + extra
