"""Hypothesis against a running ``edgewise run``: random, deep, large and garbage JSON to the
main REST routes and WebSocket commands. The server must answer every request with a 2xx or
4xx (never a 5xx), answer every WebSocket command or close the connection with a reason (never
an ``unknown_error``), and keep ``/live`` answering within 100 ms throughout (issue 25)."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ConfigDirFactory, EdgewiseFactory
from tests.core.http.test_e2e_hass_client import make_token

#: Examples per door (REST, WebSocket): the whole test runs in well under a minute.
FUZZ_EXAMPLES = 150
#: ``/live`` must answer within this, whatever the fuzzer sends (issue 25's bar), in 95% of
#: the polls; and never take longer than ``LIVE_STALL``.
LIVE_BUDGET = 0.100
LIVE_STALL = 1.0

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)


def deep_text(depth: int, opener: str) -> str:
    closer = "]" if opener == "[" else "}"
    return opener * depth + "1" + closer * depth


DEEP = st.builds(deep_text, st.integers(1, 3000), st.sampled_from(["[", '{"a":']))
#: A body or message as bytes: JSON, deep JSON, a long string, or garbage.
BODIES = st.one_of(
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    DEEP.map(str.encode),
    st.integers(0, 2_000_000).map(lambda n: b'{"s": "' + b"x" * n + b'"}'),
    st.binary(max_size=300),
)

REST_ROUTES = [
    ("POST", "/api/services/input_boolean/turn_on"),
    ("POST", "/api/services/script/turn_on"),
    ("POST", "/api/states/sensor.fuzz"),
    ("POST", "/api/events/fuzz_event"),
    ("POST", "/api/config/automation/config/fuzz"),
    ("POST", "/api/config/script/config/fuzz"),
]

WS_TYPES = [
    "call_service",
    "fire_event",
    "get_states",
    "get_services",
    "get_config",
    "subscribe_events",
    "unsubscribe_events",
    "validate_config",
    "ping",
    "edgewise/automation/save",
    "edgewise/automation/get",
    "no/such_command",
]
WS_FIELDS = st.dictionaries(
    st.sampled_from(
        [
            "domain",
            "service",
            "service_data",
            "target",
            "event_type",
            "event_data",
            "subscription",
            "trigger",
            "condition",
            "action",
            "automation_id",
            "yaml",
        ]
    ),
    JSON_VALUES,
    max_size=4,
)


#: What the fuzzer sent, from when (``time.time()``): to name the request a slow poll overlapped.
_doing: list[tuple[float, str]] = [(0.0, "starting")]

#: Polls ``/live`` every 20 ms until its standard input closes; prints ``<end> <latency>`` per
#: poll. A process of its own, so that neither the GIL nor the loop of the test (busy generating
#: and shrinking examples) is measured instead of the server.
_POLLER = """
import http.client, sys, threading, time
port = int(sys.argv[1])
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
while not done.wait(0.02):
    started = time.perf_counter()
    conn.request("GET", "/live")
    response = conn.getresponse()
    response.read()
    latency = time.perf_counter() - started
    assert response.status == 200, response.status
    print(time.time(), latency, flush=True)
"""


@contextmanager
def live_watch(port: int) -> Iterator[list[tuple[float, str]]]:
    """Poll ``/live`` from another process meanwhile; the list is filled on exit with each
    latency and what the fuzzer was sending when that poll ended."""
    latencies: list[tuple[float, str]] = []
    poller = subprocess.Popen(
        [sys.executable, "-c", _POLLER, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield latencies
    finally:
        out, _ = poller.communicate("", timeout=30)
    assert poller.returncode == 0, out
    for line in out.splitlines():
        ended, latency = (float(part) for part in line.split())
        doing = max((entry for entry in _doing if entry[0] <= ended), default=_doing[0])[1]
        latencies.append((latency, doing))


def settle(port: int) -> None:
    """Wait until ``/live`` answers fast ten times in a row: start-up work (the recorder
    importing SQLAlchemy, the statistics catch-up) is over."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    fast = 0
    deadline = time.monotonic() + 30
    while fast < 10 and time.monotonic() < deadline:
        started = time.perf_counter()
        conn.request("GET", "/live")
        conn.getresponse().read()
        fast = fast + 1 if time.perf_counter() - started < LIVE_BUDGET / 2 else 0
        time.sleep(0.05)
    conn.close()


class Client:
    """One aiohttp session and WebSocket, driven from the test's own event loop."""

    def __init__(self, port: int, token: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.url = f"http://127.0.0.1:{port}"
        self.token = token
        self.session = self.run(self._session())
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.next_id = 1_000_000

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"})

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        if self.ws is not None:
            self.run(self.ws.close())
        self.run(self.session.close())
        self.loop.close()

    async def post(self, method: str, path: str, body: bytes) -> int:
        async with self.session.request(
            method, self.url + path, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            await response.read()
            return response.status

    async def connect(self) -> aiohttp.ClientWebSocketResponse:
        if self.ws is not None and not self.ws.closed:
            return self.ws
        ws = await self.session.ws_connect(self.url + "/api/websocket")
        assert (await ws.receive_json())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": self.token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        self.ws = ws
        return ws

    async def send(self, text: str, msg_id: int) -> dict[str, Any] | None:
        """Send ``text``, then a ping with id ``msg_id + 1``; the answer to ``msg_id`` (None
        when there was none: garbage, or a message with another id), or None when the server
        closed the connection."""
        ws = await self.connect()
        await ws.send_str(text)
        await ws.send_str(json.dumps({"id": msg_id + 1, "type": "ping"}))
        answer = None
        async with asyncio.timeout(15):
            while True:
                msg = await ws.receive()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    return None
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                for item in data if isinstance(data, list) else [data]:
                    if item.get("id") == msg_id and answer is None:
                        answer = dict(item)  # the result (or ping's pong) comes first
                    if item.get("id") == msg_id + 1 and item.get("type") == "pong":
                        return answer


def test_random_deep_large_and_garbage_input_gets_4xx_and_live_stays_fast(
    config_dir: ConfigDirFactory, edgewise: EdgewiseFactory, unused_port: int
) -> None:
    site = config_dir(
        f"http:\n  server_host: 127.0.0.1\n  server_port: {unused_port}\n"
        "input_boolean:\n  porch:\n    name: Porch\n"
        "automation: !include automations.yaml\nscript: !include scripts.yaml\n",
        **{"automations.yaml": "[]\n", "scripts.yaml": "{}\n"},
    )
    token = make_token(site)
    process = edgewise("run", "-c", site, port=unused_port)
    process.wait_ready(30.0)
    settle(unused_port)
    client = Client(unused_port, token)
    try:
        with live_watch(unused_port) as latencies:

            @settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(route=st.sampled_from(REST_ROUTES), body=BODIES)
            def rest(route: tuple[str, str], body: bytes) -> None:
                _doing.append((time.time(), f"{route} {len(body)} bytes: {body[:60]!r}"))
                status = client.run(client.post(*route, body))
                assert status < 500, (route, body[:200], status)

            @settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(
                msg_type=st.sampled_from(WS_TYPES),
                fields=WS_FIELDS,
                raw=st.none() | BODIES.filter(lambda b: len(b) < 500_000),
            )
            def websocket(msg_type: str, fields: dict[str, Any], raw: bytes | None) -> None:
                msg_id = client.next_id
                client.next_id += 2
                if raw is not None:
                    text = raw.decode(errors="replace")
                else:
                    text = json.dumps({**fields, "id": msg_id, "type": msg_type})
                _doing.append((time.time(), f"ws {len(text)} chars: {text[:60]!r}"))
                answer = client.run(client.send(text, msg_id))
                if answer is not None and answer.get("success") is False:
                    assert answer["error"]["code"] != "unknown_error", answer

            rest()
            websocket()
        assert process.proc.poll() is None, process.output()
        assert process.get("/ready") == 200
    finally:
        client.close()
    assert latencies, "/live was never measured"
    # The bar is about the server's loop, not the machine: CI and laptops share their cores
    # with other work, so single polls are allowed to miss it by a scheduling hiccup. A blocked
    # loop (a backtracking regex, a parser stuck in a document) misses it for a whole stretch.
    slow = [(round(latency, 3), doing) for latency, doing in latencies if latency >= LIVE_BUDGET]
    assert len(slow) <= len(latencies) // 20, slow
    assert max(latency for latency, _ in latencies) < LIVE_STALL, slow
    assert "Traceback" not in process.output(), process.output()
