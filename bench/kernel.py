"""Kernel benchmarks: bus throughput, state writes, cold start to /ready, idle memory.

Run: ``python bench/kernel.py`` (from the repository, with Edgewise installed). Prints one JSON
object per figure on standard output; see bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from figures import (  # bench/ is the script directory, so on sys.path
    config_copy,
    edgewise_command,
    emit,
    free_port,
    rss_mib,
    rss_tree_mib,
    stop,
    wait_ready,
)

from core.bus import Event, EventBus, callback
from core.const import EVENT_STATE_CHANGED
from core.runtime import tune_gc
from core.state import StateMachine

REPO = Path(__file__).resolve().parent.parent


def _counting_listener(total: int, done: asyncio.Future[None]) -> Callable[[Event[Any]], None]:
    count = 0

    @callback
    def listener(event: Event[Any]) -> None:
        nonlocal count
        count += 1
        if count == total:
            done.set_result(None)

    return listener


async def bus_events_per_s(events: int) -> float:
    """Fire ``events`` events to one listener; time from the first fire to the last call."""
    loop = asyncio.get_running_loop()
    bus = EventBus(loop)
    done: asyncio.Future[None] = loop.create_future()
    bus.listen("bench_event", _counting_listener(events, done))
    data = {"value": 1}
    started = time.perf_counter()
    for _ in range(events):
        bus.fire("bench_event", data)
    await done
    return events / (time.perf_counter() - started)


async def state_writes_per_s(writes: int, entities: int = 10_000) -> float:
    """Write ``writes`` new states round-robin over ``entities`` entities, one listener."""
    loop = asyncio.get_running_loop()
    bus = EventBus(loop)
    states = StateMachine(bus)
    ids = [f"sensor.bench_{i}" for i in range(entities)]
    for entity_id in ids:
        states.set(entity_id, "0", {"unit_of_measurement": "W"})
    done: asyncio.Future[None] = loop.create_future()
    bus.listen(EVENT_STATE_CHANGED, _counting_listener(writes, done))
    values = [str(v) for v in range(1, writes + 1)]
    attributes = {"unit_of_measurement": "W"}
    set_state = states.set
    started = time.perf_counter()
    for i in range(writes):
        set_state(ids[i % entities], values[i], attributes)
    await done
    return writes / (time.perf_counter() - started)


def run_process(idle_s: float) -> tuple[float, tuple[float, float] | None]:
    """Start ``edgewise run`` on a copy of the default config: seconds to /ready, and after
    ``idle_s`` seconds idle the RSS of the process and of it with its children (MiB)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="edgewise-bench-") as tmp:
        config = config_copy(Path(tmp) / "config", port)
        # As an installed site starts: Python's bytecode cache is used (and written by the
        # warm-up start in main()), even where the shell says PYTHONDONTWRITEBYTECODE.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*edgewise_command(), "run", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            ready_at = wait_ready(port, proc, started + 30)
            rss = None
            if idle_s > 0:
                time.sleep(idle_s)
                rss = rss_mib(proc.pid), rss_tree_mib(proc.pid)
            return ready_at - started, rss
        finally:
            stop(proc)


def main() -> None:
    """Run every kernel benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--writes", type=int, default=300_000)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds idle before RSS")
    args = parser.parse_args()
    tune_gc()

    bus = [asyncio.run(bus_events_per_s(args.events)) for _ in range(args.runs)]
    emit("bus_events_per_s", bus, "1/s", f"median of {args.runs}; HA 2024.3.3 here: 58,600")
    writes = [asyncio.run(state_writes_per_s(args.writes)) for _ in range(args.runs)]
    emit(
        "state_writes_per_s",
        writes,
        "1/s",
        f"10,000 entities, one state_changed listener; median of {args.runs}; HA: 48,000",
    )
    run_process(0)  # warm-up, not measured: writes the bytecode cache, as a site's first start
    starts = [run_process(0)[0] for _ in range(args.runs)]
    emit(
        "startup_to_ready_s",
        starts,
        "s",
        f"edgewise run on the default config until /ready; median of {args.runs}; HA: 2.9",
    )
    idle_runs = max(1, min(3, args.runs))
    rss = [run_process(args.idle)[1] or (0.0, 0.0) for _ in range(idle_runs)]
    emit(
        "idle_rss_mib",
        [own for own, _tree in rss],
        "MiB",
        f"VmRSS after {args.idle:g} s idle on the default config; median of {idle_runs}; HA: 123",
    )
    emit(
        "idle_rss_tree_mib",
        [tree for _own, tree in rss],
        "MiB",
        f"VmRSS of the process and its child processes added up, in the same runs; "
        f"median of {idle_runs}",
    )


if __name__ == "__main__":
    main()
