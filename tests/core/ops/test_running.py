"""What ``edgewise run`` adds for operations: loop lag, memory and rates in ``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.const import CoreState
from core.ops import running
from core.ops.running import Operations, attach
from core.plugins import IntegrationLoader
from core.runtime import Runtime


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics:\n{text}")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    http = "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
    (tmp_path / "configuration.yaml").write_text(http)
    runtime = Runtime(tmp_path, loader=IntegrationLoader())
    yield runtime
    if runtime.state is not CoreState.NOT_RUNNING:
        await runtime.stop()


async def test_metrics_include_loop_lag_memory_and_rates(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    operations = attach(runtime)
    await runtime.start()
    # The rates close their window at the next probe; with no window, at this sample.
    monkeypatch.setattr(running, "RATE_WINDOW_S", 0.0)
    for index in range(50):
        runtime.states.set("sensor.counter", str(index))
    operations.rates.sample()
    text = runtime.metrics.render().decode()
    assert 0 <= _sample(text, "edgewise_loop_lag_seconds") < 1
    assert _sample(text, "edgewise_loop_lag_max_seconds") >= 0
    assert _sample(text, "edgewise_loop_blocks_total") == 0
    assert _sample(text, "edgewise_loop_late_total") >= 0
    assert _sample(text, "process_resident_memory_bytes") > 10 * 1024 * 1024
    assert _sample(text, "edgewise_state_writes_per_second") > 0
    assert _sample(text, "edgewise_bus_events_per_second") > 0
    await runtime.stop()
    assert operations.monitor._stopping.is_set()


async def test_the_watchdog_is_pinged_only_while_the_loop_turns(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = str(tmp_path / "notify")
    arrivals: list[tuple[float, bytes]] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(0.05)
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    data = sock.recv(4096)
                    arrivals.append((time.monotonic(), data))

        reader = threading.Thread(target=read, name="test-notify-reader")
        reader.start()
        try:
            # WATCHDOG_USEC of 0.1 s: a ping at every probe (0.2 s apart) while the loop turns.
            Operations(runtime, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})
            await runtime.start()
            await asyncio.sleep(1.0)
            blocked_from = time.monotonic()
            time.sleep(1.0)  # noqa: ASYNC251 - the loop blocked on purpose
            blocked_until = time.monotonic()
            await asyncio.sleep(1.0)
        finally:
            done.set()
            reader.join()
    pings = [at for at, data in arrivals if data == b"WATCHDOG=1"]
    assert arrivals[0][1] == b"READY=1\nSTATUS=Running"
    assert len([at for at in pings if at < blocked_from]) >= 2
    # The probe that was due during the block runs right after it: nothing before then.
    assert not [at for at in pings if blocked_from + 0.3 < at < blocked_until], [
        (round(at - blocked_from, 3), data) for at, data in arrivals
    ]
    assert len([at for at in pings if at > blocked_until]) >= 2


def test_malloc_arenas_are_limited_in_a_fresh_process_unless_the_environment_says() -> None:
    """``edgewise run`` sets glibc's arena limit itself, unless MALLOC_ARENA_MAX is set (then
    glibc has read it already, and the operator's choice stands)."""
    script = "from core.ops.running import limit_malloc_arenas as f; print(f())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    plain = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    chosen = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**env, "MALLOC_ARENA_MAX": "4"},
        check=True,
    )
    # This machine's libc is glibc (the Pi's too): the limit is taken.
    assert plain.stdout.strip() == "True"
    assert chosen.stdout.strip() == "False"
