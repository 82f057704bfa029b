"""What ``edgewise run`` adds for operations: loop lag, memory and rates in ``/metrics``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.const import CoreState
from core.ops import running
from core.ops.running import attach
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
    assert _sample(text, "process_resident_memory_bytes") > 10 * 1024 * 1024
    assert _sample(text, "edgewise_state_writes_per_second") > 0
    assert _sample(text, "edgewise_bus_events_per_second") > 0
    await runtime.stop()
    assert operations.monitor._stopping.is_set()
