"""Tuya on loopback: command to confirmed state, push to state, 50 plugs' CPU cost, reconnect.

Edgewise runs the ``tuya`` integration alone (no recorder) against device doubles that speak
the real protocol (``integrations/tuya/device_double.py``, built on tinytuya's encoding).

- ``tuya_command_confirmed_p50_ms`` / ``_p99_ms``: ``switch.turn_on``/``turn_off`` service
  call, through the audited write pipeline, until the device's STATUS echo confirmed it (the
  call returns then); one protocol 3.3 plug in the same process.
- ``tuya_push_to_state_p50_ms``: the device pushes a new power reading until the state machine
  holds it; same plug.
- ``tuya_50_plugs_cpu_pct``: 50 plugs (half 3.3, half 3.5) in another process, each pushing a
  new power reading once a second; Edgewise's CPU time over the window as a share of one core.
- ``tuya_reconnect_s``: a plug stops and starts again on its port, until its entities are
  available again.

Prints one JSON object per figure (bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from figures import emit  # bench/ is the script directory, so on sys.path

import integrations.tuya
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from integrations.tuya.deferred import prepare_tinytuya

# tinytuya as a site imports it (PyCryptodomex for AES, requests deferred): before its import.
prepare_tinytuya()
from integrations.tuya.device_double import TuyaDeviceDouble  # noqa: E402 - after the above

KEY = "0123456789abcdef"


def device_id(index: int) -> str:
    """The bench plug's id."""
    return f"benchplug{index:011d}"


def free_port_block(count: int) -> int:
    """A port such that it and the ``count - 1`` after it are free now."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count > 65000:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base


def config_yaml(ports: list[tuple[int, float]], heartbeat: float = 10.0) -> str:
    """A ``tuya:`` section with a plug per (port, version)."""
    lines = ["tuya:", "  devices:"]
    for index, (port, version) in enumerate(ports):
        lines.append(
            f"    - {{device_id: {device_id(index)}, local_key: {KEY}, host: 127.0.0.1, "
            f"port: {port}, version: {version}, name: Plug {index}, "
            f"heartbeat_interval: {heartbeat}, dps: {{switch: [1], power: 19}}}}"
        )
    return "\n".join(lines) + "\n"


async def wait_until(predicate: Callable[[], bool], limit: float = 30.0) -> None:
    """Poll ``predicate`` (the bench's own waits; tests await events instead)."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the bench waited too long")
        await asyncio.sleep(0.005)


async def start_runtime(config_dir: Path, yaml: str) -> Runtime:
    """Edgewise with the tuya integration alone."""
    (config_dir / "configuration.yaml").write_text(yaml)
    loader = IntegrationLoader()
    loader.register(integrations.tuya, source="bench")
    runtime = Runtime(config_dir, loader=loader)
    await runtime.start()
    return runtime


def available(runtime: Runtime, entity_id: str) -> bool:
    state = runtime.states.get(entity_id)
    return state is not None and state.state not in ("unavailable", "unknown")


async def one_plug(runs: int, reconnects: int) -> None:
    """Command, push and reconnect figures with one plug in this process."""
    double = TuyaDeviceDouble(device_id(0), KEY, 3.3, {"1": False, "19": 0})
    await double.start()
    with tempfile.TemporaryDirectory() as tmp:
        runtime = await start_runtime(Path(tmp), config_yaml([(double.port, 3.3)]))
        try:
            await wait_until(lambda: available(runtime, "switch.plug_0"))
            commands: list[float] = []
            for step in range(runs):
                service = "turn_on" if step % 2 == 0 else "turn_off"
                started = time.perf_counter()
                await runtime.services.call(
                    "switch", service, target={"entity_id": "switch.plug_0"}
                )
                commands.append((time.perf_counter() - started) * 1000.0)
            ordered = sorted(commands)
            emit(
                "tuya_command_confirmed_p50_ms",
                [statistics.median(commands)],
                "ms",
                f"switch service call to the device's echo, protocol 3.3, loopback; "
                f"p50 of {runs} commands",
            )
            emit(
                "tuya_command_confirmed_p99_ms",
                [ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]],
                "ms",
                f"p99 of the same {runs} commands",
            )
            pushes: list[float] = []
            arrived = asyncio.Event()
            runtime.states.track("sensor.plug_0_power", lambda _event: arrived.set())
            for step in range(1, runs + 1):
                arrived.clear()
                started = time.perf_counter()
                double.set_dps({"19": step * 10})
                await asyncio.wait_for(arrived.wait(), 5)
                pushes.append((time.perf_counter() - started) * 1000.0)
            emit(
                "tuya_push_to_state_p50_ms",
                pushes,
                "ms",
                f"device push (encrypt, send) until the power sensor's state changed; "
                f"{runs} pushes",
            )
            recoveries: list[float] = []
            port = double.port
            for _ in range(reconnects):
                await double.stop()
                await wait_until(lambda: not available(runtime, "switch.plug_0"))
                double = TuyaDeviceDouble(device_id(0), KEY, 3.3, {"1": False, "19": 0}, port=port)
                await double.start()
                started = time.perf_counter()
                await wait_until(lambda: available(runtime, "switch.plug_0"))
                recoveries.append(time.perf_counter() - started)
            emit(
                "tuya_reconnect_s",
                recoveries,
                "s",
                "device stopped and started again on its port until the switch is available "
                f"(jittered backoff from 0.25 s); median of {reconnects}",
            )
        finally:
            await runtime.stop()
            await double.stop()


async def serve_plugs(count: int, base: int) -> None:
    """The device side of the 50-plug figure: run in its own process, push once a second."""
    doubles = [
        TuyaDeviceDouble(
            device_id(i), KEY, 3.3 if i % 2 == 0 else 3.5, {"1": True, "19": 0}, port=base + i
        )
        for i in range(count)
    ]
    for double in doubles:
        await double.start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or stop.set_result(None))
    rng = random.Random(1)  # noqa: S311 - load generation
    offsets = [rng.random() for _ in doubles]
    start = loop.time()
    tick = 0
    while not stop.done():
        tick += 1
        for double, offset in zip(doubles, offsets, strict=True):
            loop.call_at(start + tick + offset, double.set_dps, {"19": rng.randrange(1, 30000)})
        await asyncio.wait([stop], timeout=max(0.0, start + tick - loop.time()))
    for double in doubles:
        await double.stop()


async def many_plugs(count: int, window: float) -> None:
    """Edgewise's CPU share with ``count`` plugs pushing once a second in another process."""
    base = free_port_block(count)
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve-plugs",
        str(count),
        "--base-port",
        str(base),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        if (await server.stdout.readline()).strip() != b"ready":
            raise RuntimeError("the plug process did not start")
        ports = [(base + i, 3.3 if i % 2 == 0 else 3.5) for i in range(count)]
        with tempfile.TemporaryDirectory() as tmp:
            runtime = await start_runtime(Path(tmp), config_yaml(ports))
            try:
                ids = [f"sensor.plug_{i}_power" for i in range(count)]
                await wait_until(lambda: all(available(runtime, e) for e in ids), 60)
                await asyncio.sleep(2.0)  # settle: first pushes, first UPDATEDPS
                shares: list[float] = []
                for _ in range(3):
                    cpu, wall = time.process_time(), time.perf_counter()
                    await asyncio.sleep(window)
                    shares.append(
                        (time.process_time() - cpu) / (time.perf_counter() - wall) * 100.0
                    )
            finally:
                await runtime.stop()
        emit(
            "tuya_50_plugs_cpu_pct",
            shares,
            "%",
            f"{count} plugs (half 3.3, half 3.5) in another process, each pushing power once a "
            f"second, UPDATEDPS every 10 s, heartbeats every 10 s; Edgewise process CPU / wall "
            f"over {window:.0f} s windows, median of 3",
        )
    finally:
        if server.stdin is not None:
            server.stdin.close()
        await asyncio.wait_for(server.wait(), 10)


def _args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="commands and pushes timed")
    parser.add_argument("--reconnects", type=int, default=5, help="device restarts timed")
    parser.add_argument("--plugs", type=int, default=50, help="plugs for the CPU figure")
    parser.add_argument("--window", type=float, default=10.0, help="CPU window, s")
    parser.add_argument("--serve-plugs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base-port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


async def main(args: Any) -> None:
    await one_plug(args.runs, args.reconnects)
    await many_plugs(args.plugs, args.window)


if __name__ == "__main__":
    arguments = _args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    if arguments.serve_plugs:
        asyncio.run(serve_plugs(arguments.serve_plugs, arguments.base_port))
    else:
        asyncio.run(main(arguments))
