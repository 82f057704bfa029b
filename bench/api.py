"""API benchmarks: GET /api/states with 10,000 entities, WebSocket event delivery, fan-out lag.

Run: ``python bench/api.py`` (from the repository, with Edgewise installed). Prints one JSON
object per figure on standard output; see bench/README.md for what each figure means. The server
is a real Runtime in this process; the WebSocket clients run in separate processes
(``python bench/api.py --client ...``) so that their work does not count as the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from figures import emit  # bench/ is the script directory, so on sys.path

from core.auth import Role
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime, tune_gc

SCRIPT = Path(__file__).resolve()


class _Nothing:
    """An integration that does nothing, so the runtime loads no entry points."""

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="bench", name="Bench", config_schema=None, default=True)


async def start_runtime(directory: Path) -> tuple[Runtime, str, str]:
    """A runtime on 127.0.0.1 (free port) and an admin's long-lived token."""
    (directory / "configuration.yaml").write_text(
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\n  websocket_send_queue: 100000\n"
    )
    loader = IntegrationLoader()
    loader.register(_Nothing(), source="bench")
    runtime = Runtime(directory, loader=loader)
    await runtime.start()
    tune_gc()
    assert runtime.http is not None
    user = await runtime.http.auth.create_user("bench", "bench-password", role=Role.ADMIN)
    _, token = await runtime.http.auth.create_long_lived_token(user, "bench")
    return runtime, f"127.0.0.1:{runtime.http.port}", token


# --- GET /api/states -----------------------------------------------------------------------------


async def api_states(runtime: Runtime, host: str, token: str, runs: int) -> None:
    """Median time of GET /api/states with 10,000 entities, warm (cached JSON) and cold."""
    for i in range(10_000):
        runtime.states.set(
            f"sensor.bench_{i}",
            str(i),
            {
                "unit_of_measurement": "W",
                "device_class": "power",
                "state_class": "measurement",
                "friendly_name": f"Bench sensor {i}",
            },
        )
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://{host}/api/states"
    warm: list[float] = []
    cold: list[float] = []
    size = 0
    async with aiohttp.ClientSession() as session:

        async def one() -> float:
            nonlocal size
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                body = await response.read()
            size = len(body)
            return (time.perf_counter() - started) * 1000

        await one()
        for _ in range(runs):
            warm.append(await one())
        for run in range(max(3, runs // 3)):
            for i in range(10_000):  # every state new: nothing cached
                runtime.states.set(f"sensor.bench_{i}", str(i + run + 1), {"a": run})
            cold.append(await one())
    emit(
        "api_states_10k_ms",
        warm,
        "ms",
        f"median of {len(warm)}; request to last byte from a client in the same process, "
        f"{size // 1024} KiB; every state changed since the last request (no cached JSON): "
        f"{statistics.median(cold):.1f} ms",
    )


# --- WebSocket clients (separate processes) ------------------------------------------------------


async def _client_main(args: argparse.Namespace) -> None:
    """A client process: ``connections`` WebSocket clients subscribed to ``event_type``."""
    lags: list[float] = []
    counts = [0] * args.connections
    firsts: list[float] = []
    lasts: list[float] = []
    async with aiohttp.ClientSession() as session:

        async def one(index: int, ready: asyncio.Event) -> None:
            async with session.ws_connect(f"ws://{args.host}/api/websocket", max_msg_size=0) as ws:
                await ws.receive_json()
                await ws.send_json({"type": "auth", "access_token": args.token})
                await ws.receive_json()
                await ws.send_json(
                    {"id": 1, "type": "supported_features", "features": {"coalesce_messages": 1}}
                )
                await ws.send_json({"id": 2, "type": "subscribe_events", "event_type": args.event})
                subscribed = 0
                while subscribed < 2:
                    data = orjson.loads((await ws.receive()).data)
                    subscribed += len(data) if isinstance(data, list) else 1
                ready.set()
                first = 0.0
                while counts[index] < args.expect:
                    msg = await ws.receive()
                    now = time.time()
                    data = orjson.loads(msg.data)
                    batch = data if isinstance(data, list) else [data]
                    if not first:
                        first = time.perf_counter()
                    counts[index] += len(batch)
                    if args.lag:
                        for item in batch:
                            fired = datetime.fromisoformat(item["event"]["time_fired"]).timestamp()
                            lags.append((now - fired) * 1000)
                firsts.append(first)
                lasts.append(time.perf_counter())

        events = [asyncio.Event() for _ in range(args.connections)]
        tasks = [asyncio.create_task(one(i, events[i])) for i in range(args.connections)]
        for event in events:
            await event.wait()
        print("ready", flush=True)
        await asyncio.gather(*tasks)
    print(
        json.dumps(
            {
                "received": sum(counts),
                "seconds": max(lasts) - min(firsts),
                "lags": [round(x, 3) for x in lags],
            }
        ),
        flush=True,
    )


def _spawn_client(
    host: str, token: str, *, event: str, connections: int, expect: int, lag: bool
) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        str(SCRIPT),
        "--client",
        "--host",
        host,
        "--token",
        token,
        "--event",
        event,
        "--connections",
        str(connections),
        "--expect",
        str(expect),
    ]
    if lag:
        command.append("--lag")
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


async def _wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    if line.strip() != "ready":
        raise RuntimeError(f"client failed to start: {line!r}")


async def _result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    out = await asyncio.to_thread(proc.stdout.read)
    await asyncio.to_thread(proc.wait)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


async def ws_events(runtime: Runtime, host: str, token: str, runs: int, events: int) -> None:
    """Events per second delivered to one subscribe_events client."""
    rates: list[float] = []
    for run in range(runs):
        event_type = f"bench_ws_{run}"
        proc = _spawn_client(host, token, event=event_type, connections=1, expect=events, lag=False)
        await _wait_ready(proc)
        data = {"value": 1, "unit": "W"}
        for i in range(events):
            runtime.bus.fire(event_type, data)
            if i % 1000 == 999:
                await asyncio.sleep(0)  # let the writer send between bursts, as a live bus does
        result = await _result(proc)
        rates.append(result["received"] / result["seconds"])
    emit(
        "ws_events_per_s",
        rates,
        "1/s",
        f"median of {runs}; {events:,} events fired, subscribe_events with coalesce_messages, "
        "client in its own process; first to last event at the client",
    )


async def _paced(changes_per_s: int, seconds: float, change: Callable[[int], None]) -> None:
    tick = 0.01
    per_tick = int(changes_per_s * tick)
    loop = asyncio.get_running_loop()
    started = loop.time()
    n = 0
    ticks = int(seconds / tick)
    for t in range(ticks):
        for _ in range(per_tick):
            change(n)
            n += 1
        await asyncio.sleep(max(0.0, started + (t + 1) * tick - loop.time()))


async def ws_fanout(
    runtime: Runtime,
    host: str,
    token: str,
    runs: int,
    seconds: float,
    *,
    processes: int = 4,
    per_process: int = 25,
) -> None:
    """Lag from state change to 100 clients, at 1,000 changes/s: p99 over every delivery."""
    p99s: list[float] = []
    p50s: list[float] = []
    rate = 1000
    expect = int(rate * seconds)
    for _ in range(runs):
        procs = [
            _spawn_client(
                host,
                token,
                event="state_changed",
                connections=per_process,
                expect=expect,
                lag=True,
            )
            for _ in range(processes)
        ]
        for proc in procs:
            await _wait_ready(proc)

        def change(n: int) -> None:
            runtime.states.set(f"sensor.fanout_{n % 100}", str(n), {"unit_of_measurement": "W"})

        await _paced(rate, seconds, change)
        lags: list[float] = []
        for proc in procs:
            lags.extend((await _result(proc))["lags"])
        lags.sort()
        p99s.append(lags[int(len(lags) * 0.99)])
        p50s.append(lags[len(lags) // 2])
    emit(
        "ws_fanout_lag_p99_ms",
        p99s,
        "ms",
        f"median of {runs}; {processes * per_process} clients ({processes} processes x "
        f"{per_process}) subscribed to state_changed with "
        f"coalesce_messages, {rate:,} changes/s for {seconds:g} s; lag = receipt at the client "
        f"minus time_fired; p50 {statistics.median(p50s):.2f} ms",
    )


async def main(args: argparse.Namespace) -> None:
    """Run the chosen figures."""
    with tempfile.TemporaryDirectory(prefix="edgewise-bench-api-") as tmp:
        runtime, host, token = await start_runtime(Path(tmp))
        try:
            figures: dict[str, Callable[[], Awaitable[None]]] = {
                "states": lambda: api_states(runtime, host, token, args.runs * 4),
                "ws": lambda: ws_events(runtime, host, token, args.runs, args.events),
                "fanout": lambda: ws_fanout(
                    runtime,
                    host,
                    token,
                    args.runs,
                    args.seconds,
                    processes=args.fanout_processes,
                    per_process=args.fanout_clients,
                ),
            }
            for name in args.only or list(figures):
                await figures[name]()
        finally:
            await runtime.stop()


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--events", type=int, default=100_000, help="events for ws_events_per_s")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per fan-out run")
    parser.add_argument("--only", nargs="*", choices=["states", "ws", "fanout"])
    parser.add_argument(
        "--fanout-processes", type=int, default=4, help="client processes (default 4)"
    )
    parser.add_argument(
        "--fanout-clients", type=int, default=25, help="clients per process (default 25)"
    )
    client = parser.add_argument_group("client process (internal)")
    client.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    client.add_argument("--host", help=argparse.SUPPRESS)
    client.add_argument("--token", help=argparse.SUPPRESS)
    client.add_argument("--event", help=argparse.SUPPRESS)
    client.add_argument("--connections", type=int, default=1, help=argparse.SUPPRESS)
    client.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    client.add_argument("--lag", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.client:
        asyncio.run(_client_main(arguments))
    else:
        asyncio.run(main(arguments))
