"""BACnet benchmarks: requests per poll cycle (RPM vs ReadProperty), poll cycle time, and the
write round trip, against a real bacpypes3 device with 500 points on loopback.

Run: ``python bench/bacnet.py`` (from the repository, with Edgewise installed). The device runs
in its own process (``tests/integrations/bacnet/device.py``) on 127.0.0.2, Edgewise's client on
127.0.0.3 (bacpypes3 never sends to its own port on 127.x, so the two differ in address and
port). Prints one JSON object per figure; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from figures import emit  # bench/ is the script directory, so on sys.path

from core.runtime import Runtime, tune_gc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.integrations.bacnet.device import (  # noqa: E402 - after the path is set
    CLIENT_HOST,
    DEVICE_HOST,
    free_udp_port,
)

POINTS = 500
FIRST_INSTANCE = 1000


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Device:
    """The bench's device process: where it listens, and the CPU time it has used."""

    def __init__(self, address: str, pid: int) -> None:
        self.address = address
        self.pid = pid

    def cpu_seconds(self) -> float:
        """User and system CPU time of the device process so far (Linux ``/proc``)."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@contextmanager
def device_process(instance: int, *, rpm: bool) -> Iterator[Device]:
    """A device with ``POINTS`` analog values in its own process, as a controller would be."""
    port = free_udp_port(DEVICE_HOST)
    args = [
        sys.executable,
        str(REPO / "tests/integrations/bacnet/device.py"),
        f"{DEVICE_HOST}/8:{port}",
        str(instance),
        str(POINTS),
    ]
    if not rpm:
        args.append("no-rpm")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the device did not start")
        yield Device(f"{DEVICE_HOST}:{port}", proc.pid)
    finally:
        proc.kill()
        proc.wait()


def site_yaml(address: str, instance: int, *, rpm: bool) -> str:
    """Edgewise with one device of ``POINTS`` commandable analog values (numbers)."""
    points = "".join(
        f"        - object: analog-value,{FIRST_INSTANCE + i}\n"
        f"          min: 0\n          max: 1000\n          min_write_interval: 0\n"
        for i in range(POINTS)
    )
    return (
        textwrap.dedent(
            f"""\
        edgewise:
          time_zone: UTC
        http:
          server_host: 127.0.0.1
          server_port: 0
        recorder:
          exclude:
            domains: [number]
        bacnet:
          local:
            address: {CLIENT_HOST}/8
            port: {free_udp_port(CLIENT_HOST)}
          timeout: 10
          devices:
            - name: Bench
              instance: {instance}
              address: {address}
              scan_interval: 86400
              max_per_request: {100 if rpm else 0}
              points:
        """
        )
        + points
    )


async def _runtime(config_dir: Path, yaml: str) -> Runtime:
    (config_dir / "configuration.yaml").write_text(yaml)
    runtime = Runtime(config_dir)
    await runtime.start()
    return runtime


async def _first_cycle_done(link: Any) -> None:
    """Wait for the poll that setup starts (it also reads names and units) to finish."""
    deadline = time.monotonic() + 120
    while link.online is None or not all(p.value is not None for p in link.points.values()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the device was not read: {link.last_error}")
        await asyncio.sleep(0.05)


@dataclass
class Cycles:
    """Per poll cycle: requests sent, wall milliseconds, and the CPU milliseconds of each side."""

    requests: list[int] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    client_cpu_ms: list[float] = field(default_factory=list)
    device_cpu_ms: list[float] = field(default_factory=list)


async def poll_figures(rpm: bool, runs: int) -> Cycles:
    """Requests and milliseconds per full poll cycle, ``runs`` cycles after a first one.

    The wall time is what a site sees; the CPU time of Edgewise's process (the client) and of
    the device's process split it between the two sides (the rest is waiting on the socket).
    """
    instance = 4001 if rpm else 4002
    from integrations.bacnet import BACNET_DATA

    with device_process(instance, rpm=rpm) as device, tempfile.TemporaryDirectory() as tmp:
        runtime = await _runtime(Path(tmp), site_yaml(device.address, instance, rpm=rpm))
        try:
            link = runtime.data[BACNET_DATA].hub.links[instance]
            await _first_cycle_done(link)
            cycles = Cycles()
            for _ in range(runs):
                before = link.requests
                device_before = device.cpu_seconds()
                cpu_before = time.process_time()
                started = time.perf_counter()
                await link.poll()
                cycles.wall_ms.append((time.perf_counter() - started) * 1000)
                cycles.client_cpu_ms.append((time.process_time() - cpu_before) * 1000)
                cycles.device_cpu_ms.append((device.cpu_seconds() - device_before) * 1000)
                cycles.requests.append(link.requests - before)
            if link.online is not True or (rpm and link.rpm is not True):
                raise RuntimeError(f"the device was not read as expected: {link.last_error}")
            return cycles
        finally:
            await runtime.stop()


async def write_roundtrip(runs: int) -> list[float]:
    """Milliseconds from ``bacnet.write`` to the value read back from the device."""
    instance = 4003
    from integrations.bacnet import BACNET_DATA

    with device_process(instance, rpm=True) as device, tempfile.TemporaryDirectory() as tmp:
        runtime = await _runtime(Path(tmp), site_yaml(device.address, instance, rpm=True))
        try:
            await _first_cycle_done(runtime.data[BACNET_DATA].hub.links[instance])
            entity_id = "number.bench_analog_value_1000"
            times: list[float] = []
            for run in range(runs + 1):
                value = 100.0 + run
                started = time.perf_counter()
                await runtime.services.call(
                    "bacnet", "write", {"entity_id": entity_id, "value": value}
                )
                state = runtime.states.get(entity_id)
                elapsed = (time.perf_counter() - started) * 1000
                if state is None or float(state.state) != value:
                    raise RuntimeError(f"value not read back: {state}")
                if run:  # the first write also warms the device's caches
                    times.append(elapsed)
            return times
        finally:
            await runtime.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="poll cycles per figure")
    parser.add_argument("--writes", type=int, default=20, help="writes for the round trip")
    args = parser.parse_args()
    tune_gc()
    rpm = await poll_figures(True, args.runs)
    rp = await poll_figures(False, max(1, args.runs // 2))
    props = "present-value and status-flags of each point"
    emit(
        "bacnet_requests_per_cycle_rpm",
        rpm.requests,
        "count",
        f"{POINTS} points, {props}; ReadPropertyMultiple, 100 properties per request",
    )
    emit(
        "bacnet_requests_per_cycle_rp",
        rp.requests,
        "count",
        f"{POINTS} points, {props}; one ReadProperty per property "
        f"(cycle {statistics.median(rp.wall_ms):.0f} ms)",
    )
    emit(
        "bacnet_poll_cycle_ms",
        rpm.wall_ms,
        "ms",
        f"{POINTS} points with RPM, wall time, device in its own process on loopback (its "
        f"answers take {statistics.median(rpm.device_cpu_ms):.0f} ms CPU of this), entity "
        "states written (not recorded)",
    )
    emit(
        "bacnet_poll_cycle_client_cpu_ms",
        rpm.client_cpu_ms,
        "ms",
        "Edgewise's own CPU time in one RPM poll cycle: building requests, bacpypes3 encoding "
        "and decoding, mapping results, entity states written",
    )
    emit(
        "bacnet_poll_cycle_device_cpu_ms",
        rpm.device_cpu_ms,
        "ms",
        "the bench device's CPU time in the same cycle (bacpypes3 answering 1,000 properties); "
        "a real controller answers in its own time",
    )
    emit(
        "bacnet_write_roundtrip_ms",
        await write_roundtrip(args.writes),
        "ms",
        "bacnet.write through the audit pipeline and write-command queue, WriteProperty at "
        "priority 8, then present value, status flags and priority array read back",
    )


if __name__ == "__main__":
    asyncio.run(main())
