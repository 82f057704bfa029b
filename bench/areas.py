"""What area filtering costs subscribe_events: an area-limited subscriber against an admin.

A site of 1,000 sensors in 10 areas (100 each). One WebSocket client (its own process,
``coalesce_messages``) subscribes to ``state_changed``: an admin, who gets every change, or an
operator limited to one area, who gets a tenth of them. The runtime then writes ``--changes``
states round the 1,000 sensors. Figures (median of ``--runs``):

- ``areas_ws_changes_per_s_admin`` / ``_limited``: states written per second, from the first
  write to the client's last event;
- ``areas_ws_delivered_per_s_admin`` / ``_limited``: events the client received per second;
- ``areas_state_write_us_admin`` / ``_limited``: the runtime's time per state write with that
  subscriber (the filter runs inside the write's delivery);
- ``areas_event_visible_us``: one ``core.auth.areas.event_visible`` call for a state change.

Run: ``.venv/bin/python bench/areas.py`` (``--runs 5 --changes 100000``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from figures import emit  # bench/ is the script directory, so on sys.path

from core.auth import Role
from core.auth.areas import event_visible
from core.bus import Event
from core.const import EVENT_STATE_CHANGED
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime, tune_gc

SCRIPT = Path(__file__).resolve()
#: Values never written before: every write is a change.
_VALUES = itertools.count(1)
AREAS = 10
PER_AREA = 100


class _Nothing:
    """An integration that does nothing, so the runtime loads no entry points."""

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="bench", name="Bench", config_schema=None, default=True)


async def _site(directory: Path) -> tuple[Runtime, dict[str, str]]:
    """The runtime with 1,000 sensors in 10 areas; tokens of an admin and a limited operator."""
    (directory / "configuration.yaml").write_text(
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\n  websocket_send_queue: 200000\n"
    )
    loader = IntegrationLoader()
    loader.register(_Nothing(), source="bench")
    runtime = Runtime(directory, loader=loader)
    await runtime.start()
    tune_gc()
    for a in range(AREAS):
        area = runtime.area_registry.create(f"Building {a}")
        for i in range(PER_AREA):
            entry = runtime.entity_registry.get_or_create(
                "sensor", "bench", f"{a}_{i}", suggested_object_id=f"b{a}_{i}"
            )
            runtime.entity_registry.update(entry.entity_id, area_id=area.id)
            runtime.states.set(entry.entity_id, "0", {"unit_of_measurement": "W"})
    assert runtime.http is not None
    auth = runtime.http.auth
    tokens = {}
    admin = await auth.create_user("bench", "bench-password", role=Role.ADMIN)
    _, tokens["admin"] = await auth.create_long_lived_token(admin, "bench")
    limited = await auth.create_user("b0", "bench-password", role=Role.OPERATOR)
    limited.areas = frozenset({"building_0"})
    _, tokens["limited"] = await auth.create_long_lived_token(limited, "bench")
    return runtime, tokens


async def _client(host: str, token: str, expect: int) -> None:
    """A client process: subscribe, say ready, count ``expect`` events, print the last's time."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://{host}/api/websocket", max_msg_size=0) as ws,
    ):
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        await ws.receive_json()
        await ws.send_json(
            {"id": 1, "type": "supported_features", "features": {"coalesce_messages": 1}}
        )
        await ws.send_json({"id": 2, "type": "subscribe_events", "event_type": "state_changed"})
        answered = 0
        while answered < 2:
            data = orjson.loads((await ws.receive()).data)
            answered += len(data) if isinstance(data, list) else 1
        print("ready", flush=True)
        received = 0
        while received < expect:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"after {received} events: {msg.type.name} {msg.data!r}")
            data = orjson.loads(msg.data)
            received += len(data) if isinstance(data, list) else 1
        print(json.dumps({"received": received, "last": time.time()}), flush=True)


async def _one_run(runtime: Runtime, token: str, changes: int, expect: int) -> dict[str, float]:
    assert runtime.http is not None
    host = f"127.0.0.1:{runtime.http.port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--client",
        host,
        token,
        str(expect),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await proc.stdout.readline()).decode()
    if line.strip() != "ready":
        raise RuntimeError(f"client failed to start: {line!r}")
    ids = [f"sensor.b{a}_{i}" for i in range(PER_AREA) for a in range(AREAS)]
    started = time.time()
    writing = 0.0
    for n in range(changes):
        t = time.perf_counter()
        runtime.states.set(ids[n % len(ids)], str(next(_VALUES)), {"unit_of_measurement": "W"})
        writing += time.perf_counter() - t
        if n % 1000 == 999:
            await asyncio.sleep(0)  # let the writer send between bursts, as a live bus does
    result = json.loads(await proc.stdout.read())
    await proc.wait()
    seconds = result["last"] - started
    return {
        "changes_per_s": changes / seconds,
        "delivered_per_s": result["received"] / seconds,
        "write_us": writing / changes * 1e6,
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        runtime, tokens = await _site(Path(folder))
        try:
            for kind, share in (("admin", 1), ("limited", AREAS)):
                # Every AREAS-th write is to building 0 (ids interleave the areas).
                runs = [
                    await _one_run(runtime, tokens[kind], args.changes, args.changes // share)
                    for _ in range(args.runs)
                ]
                note = (
                    f"median of {args.runs}; {args.changes:,} state writes round 1,000 sensors "
                    f"in 10 areas; one subscribe_events client ({kind}"
                    + (", limited to 1 area: gets a tenth" if kind == "limited" else "")
                    + "), own process, coalesce_messages"
                )
                emit(
                    f"areas_ws_changes_per_s_{kind}",
                    [r["changes_per_s"] for r in runs],
                    "1/s",
                    note,
                )
                emit(
                    f"areas_ws_delivered_per_s_{kind}",
                    [r["delivered_per_s"] for r in runs],
                    "1/s",
                    note,
                )
                emit(f"areas_state_write_us_{kind}", [r["write_us"] for r in runs], "µs", note)
            assert runtime.http is not None
            user = runtime.http.auth.data.user_by_username("b0")
            assert user is not None
            state = runtime.states.get("sensor.b3_7")
            event: Event[Any] = Event(
                EVENT_STATE_CHANGED,
                {"entity_id": "sensor.b3_7", "old_state": state, "new_state": state},
            )
            timings = []
            for _ in range(args.runs):
                started = time.perf_counter()
                for _ in range(100_000):
                    event_visible(runtime, user, event)
                timings.append((time.perf_counter() - started) / 100_000 * 1e6)
            emit(
                "areas_event_visible_us",
                timings,
                "µs",
                f"median of {args.runs}; 100,000 calls for an entity outside the user's area",
            )
        finally:
            await runtime.stop()


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.client:
        host, token, expect = arguments.client
        asyncio.run(_client(host, token, int(expect)))
    else:
        asyncio.run(main(arguments))
