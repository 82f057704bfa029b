"""MQTT benchmarks: ingest rate into entity states, publish-to-state latency, QoS 1 outage loss.

Run: ``python bench/mqtt.py`` (from the repository, with Edgewise installed and ``mosquitto`` on
the PATH). Every figure uses a private Mosquitto on a free loopback port and a real Runtime with
the ``mqtt`` integration; the device side runs in a separate process (paho connects, then writes
pre-built QoS 0 PUBLISH packets), so the broker, the publisher and Edgewise each have their own
process. See bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from figures import emit  # bench/ is the script directory, so on sys.path

from core.bus import Event, callback
from core.const import EVENT_STATE_CHANGED
from core.runtime import Runtime, tune_gc

SENSORS = 1000
PREFIX = "bench"


# --- the broker ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """A private Mosquitto in the foreground; ``persistence`` keeps retained messages on stop."""

    def __init__(self, directory: Path, *, persistence: bool = False) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {directory}/",
            "max_queued_messages 0",
            "user root" if _is_root() else "",
        ]
        self.config = directory / "mosquitto.conf"
        directory.mkdir(parents=True, exist_ok=True)
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


# --- the device side, in its own process --------------------------------------------------------


def _remaining_length(length: int) -> bytes:
    """MQTT's variable-length encoding of a packet's remaining length."""
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _publish_packet(topic: bytes, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH packet (MQTT 3.1.1 section 3.3): no packet id, nothing to wait for."""
    body = len(topic).to_bytes(2, "big") + topic + payload
    return b"\x30" + _remaining_length(len(body)) + body


def publisher_main(args: argparse.Namespace) -> None:
    """Publish paced QoS 0 messages round-robin over the sensors' topics.

    paho connects (and checks the CONNACK); the QoS 0 PUBLISH packets of each 5 ms tick are then
    written to its socket in one ``sendall``. paho's ``publish`` costs the device side about
    45 µs of Python per message (its lock, packet queue and wake-up of the network thread): at
    10,000/s that is half a core taken from the two this machine has, so a paho-paced publisher
    measured itself as much as Edgewise. A QoS 0 PUBLISH has no reply and no packet id, so
    writing the packets is the same traffic for the broker and for Edgewise.

    Prints one JSON line: how many were sent and when the first and last left (monotonic).
    """
    import paho.mqtt.client as paho

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    client.connect("127.0.0.1", args.port)
    while not client.is_connected():
        client.loop(timeout=0.1)
    sock = client.socket()
    if sock is None:
        raise SystemExit("the publisher lost its connection to the broker")
    sock.setblocking(True)
    topics = [f"{PREFIX}/s{i}/state".encode() for i in range(args.sensors)]
    total = int(args.rate * args.seconds)
    tick = 0.005
    per_tick = max(1, round(args.rate * tick))
    started = time.monotonic()
    sent = 0
    while sent < total:
        due = started + (sent / args.rate)
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        batch = []
        for _ in range(min(per_tick, total - sent)):
            value = f"{time.monotonic():.6f}" if args.timestamps else str(args.base + sent)
            batch.append(_publish_packet(topics[sent % len(topics)], value.encode()))
            sent += 1
        sock.sendall(b"".join(batch))
    finished = time.monotonic()
    sock.setblocking(False)
    client.disconnect()
    print(json.dumps({"sent": sent, "started": started, "finished": finished}), flush=True)


async def run_publisher(
    port: int, rate: float, seconds: float, *, timestamps: bool = False, base: int = 0
) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--publisher",
        "--port",
        str(port),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--sensors",
        str(SENSORS),
        "--base",
        str(base),
        *(["--timestamps"] if timestamps else []),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


# --- Edgewise ------------------------------------------------------------------------------------


async def poll_until(predicate: Any, limit: float, step: float = 0.01) -> bool:
    """Wait until ``predicate()`` is true (True) or ``limit`` seconds passed (False)."""
    deadline = time.monotonic() + limit
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)


def write_config(directory: Path, port: int, extra: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "configuration.yaml").write_text(
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
        f"mqtt:\n  port: {port}\n  discovery_prefix: {PREFIX}/ha\n"
        "  reconnect: {min_delay: 0.1, max_delay: 1}\n" + extra
    )


async def start_runtime(directory: Path, port: int, extra: str = "") -> Runtime:
    write_config(directory, port, extra)
    # Only MQTT: the recorder (on by default) would measure SQLite, not MQTT.
    import integrations.mqtt
    from core.plugins import IntegrationLoader

    loader = IntegrationLoader()
    loader.register(integrations.mqtt, source="bench")
    runtime = Runtime(directory, loader=loader)
    await runtime.start()
    from integrations.mqtt.setup import get_hub

    async with asyncio.timeout(30):
        await get_hub(runtime).wait_connected()
    return runtime


async def discover_sensors(runtime: Runtime, port: int) -> None:
    """Announce SENSORS sensors by discovery and wait until every one is an entity."""
    import aiomqtt

    async with aiomqtt.Client("127.0.0.1", port) as client:
        for i in range(SENSORS):
            config = {
                "name": f"Bench {i}",
                "uniq_id": f"bench_{i}",
                "stat_t": f"{PREFIX}/s{i}/state",
                "dev": {"ids": [f"bench_dev_{i // 10}"], "name": f"Bench device {i // 10}"},
            }
            await client.publish(f"{PREFIX}/ha/sensor/s{i}/config", json.dumps(config), qos=1)
    if not await poll_until(lambda: len(runtime.states.entity_ids("sensor")) >= SENSORS, 120):
        raise RuntimeError("the discovered sensors did not all appear")


class Counter:
    """Counts state changes of the bench sensors; optionally the publish-to-state latency."""

    def __init__(self, runtime: Runtime, *, latency: bool = False) -> None:
        self.count = 0
        self.last_at = 0.0
        self.latencies: list[float] = []
        self._latency = latency
        self._unsub = runtime.bus.listen(EVENT_STATE_CHANGED, self._changed)

    @callback
    def _changed(self, event: Event[Any]) -> None:
        if not event.data["entity_id"].startswith("sensor.bench_"):
            return
        self.count += 1
        self.last_at = time.monotonic()
        if self._latency:
            new = event.data["new_state"]
            with contextlib.suppress(ValueError):
                self.latencies.append(self.last_at - float(new.state))

    def close(self) -> None:
        self._unsub()


# --- the figures ---------------------------------------------------------------------------------


async def ingest(work: Path, seconds: float, rates: list[int]) -> None:
    broker = Broker(work / "broker-ingest")
    broker.start()
    runtime = await start_runtime(work / "site-ingest", broker.port)
    try:
        await discover_sensors(runtime, broker.port)
        tune_gc()
        best = 0.0
        notes = []
        cpu_capacity: list[float] = []
        base = 1_000_000
        for rate in rates:
            counter = Counter(runtime)
            cpu_before = time.process_time()
            result = await run_publisher(broker.port, rate, seconds, base=base)
            base += result["sent"] + 1
            sent: int = result["sent"]
            await poll_until(lambda c=counter, n=sent: c.count >= n, 10)
            counter.close()
            cpu_per_message = (time.process_time() - cpu_before) / max(counter.count, 1)
            cpu_capacity.append(1 / cpu_per_message)
            offered = result["sent"] / (result["finished"] - result["started"])
            lag = counter.last_at - result["finished"]
            ok = counter.count >= result["sent"] and lag < 1.0
            notes.append(
                f"{offered:.0f}/s offered: {counter.count}/{result['sent']} applied, "
                f"last {lag:.2f} s after the publisher, {cpu_per_message * 1e6:.0f} µs CPU each"
            )
            if ok:
                best = max(best, offered)
            else:
                break
        emit(
            "mqtt_ingest_msgs_per_s",
            [best],
            "1/s",
            f"{SENSORS} discovered sensors, QoS 0, paced {seconds:g} s steps; highest offered "
            "rate fully applied within 1 s of the publisher's end; " + "; ".join(notes),
        )
        emit(
            "mqtt_ingest_cpu_capacity_msgs_per_s",
            cpu_capacity,
            "1/s",
            "1 / (Edgewise process CPU seconds per applied message) over the steps: what one "
            "free core would sustain, independent of the publisher and broker sharing the machine",
        )
    finally:
        await runtime.stop()
        broker.stop()


async def latency(work: Path, runs: int) -> None:
    broker = Broker(work / "broker-latency")
    broker.start()
    runtime = await start_runtime(work / "site-latency", broker.port)
    try:
        await discover_sensors(runtime, broker.port)
        p50s: list[float] = []
        p99s: list[float] = []
        for _ in range(runs):
            counter = Counter(runtime, latency=True)
            await run_publisher(broker.port, 500, 4, timestamps=True)
            await asyncio.sleep(0.5)
            counter.close()
            values = sorted(counter.latencies)
            p50s.append(statistics.median(values) * 1000)
            p99s.append(values[int(len(values) * 0.99) - 1] * 1000)
        note = f"publisher process -> Mosquitto -> state_changed, 500 msgs/s over {SENSORS} sensors"
        emit("mqtt_latency_p50_ms", p50s, "ms", note)
        emit("mqtt_latency_p99_ms", p99s, "ms", note)
    finally:
        await runtime.stop()
        broker.stop()


async def outage(work: Path, outage_s: float) -> None:
    import aiomqtt

    from integrations.mqtt.setup import get_hub

    directory = work / "broker-outage"
    broker = Broker(directory, persistence=True)
    broker.start()
    runtime = await start_runtime(work / "site-outage", broker.port)
    hub = get_hub(runtime)
    sent = 0
    stop = asyncio.Event()

    async def produce() -> None:
        nonlocal sent
        while not stop.is_set():
            await hub.publish(f"{PREFIX}/q/{sent}", str(sent), qos=1, retain=True)
            sent += 1
            await asyncio.sleep(0.01)

    try:
        producer = asyncio.create_task(produce())
        await asyncio.sleep(3)
        # SIGTERM: Mosquitto saves what it acknowledged, so any loss counted is Edgewise's.
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(outage_s)
        await asyncio.to_thread(broker.start)
        await asyncio.sleep(3)
        stop.set()
        await producer
        if not await poll_until(lambda: not hub.outbox and hub.connected, 120, 0.05):
            raise RuntimeError("the outbox did not drain")
        received: set[str] = set()
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe(f"{PREFIX}/q/#", qos=1)
            try:
                async with asyncio.timeout(10):
                    async for message in client.messages:
                        received.add(message.topic.value)
                        if len(received) >= sent:
                            break
            except TimeoutError:
                pass
        emit(
            "mqtt_qos1_lost_in_outage",
            [sent - len(received)],
            "count",
            f"{sent} retained QoS 1 messages at 100/s, {outage_s:g} s outage (SIGTERM, restart "
            f"on the same port); outbox dropped {hub.outbox.dropped}",
        )
    finally:
        await runtime.stop()
        broker.stop()


async def main(args: argparse.Namespace) -> None:
    if shutil.which("mosquitto") is None:
        raise SystemExit("mosquitto is not installed")
    with tempfile.TemporaryDirectory(prefix="edgewise-bench-mqtt-") as tmp:
        work = Path(tmp)
        if "ingest" in args.only:
            await ingest(work, args.seconds, args.rates)
        if "latency" in args.only:
            await latency(work, args.runs)
        if "outage" in args.only:
            await outage(work, args.outage)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--publisher", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=1883, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--sensors", type=int, default=SENSORS, help=argparse.SUPPRESS)
    parser.add_argument("--base", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--timestamps", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per ingest step")
    parser.add_argument(
        "--rates", type=int, nargs="+", default=[5000, 10000, 15000, 20000, 30000, 40000]
    )
    parser.add_argument("--runs", type=int, default=3, help="latency runs")
    parser.add_argument("--outage", type=float, default=30.0, help="broker outage in seconds")
    parser.add_argument(
        "--only", nargs="+", default=["ingest", "latency", "outage"], help="figures to take"
    )
    arguments = parser.parse_args()
    if arguments.publisher:
        publisher_main(arguments)
    else:
        asyncio.run(main(arguments))
