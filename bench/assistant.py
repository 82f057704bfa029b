"""Assistant benchmarks: tokens sent per turn (flat in the number of entities), tool time.

    .venv/bin/python bench/assistant.py            # about ten seconds

A real Runtime with the assistant configured against the local Messages API server of the
tests (tests/integrations/assistant/messages_server.py, driven by the real ``anthropic`` SDK),
on sites of 100 and 1,000 temperature sensors in 20 areas. The typical question ("which zone
is warmest?") is answered by a scripted model in three requests: find_entities (one page),
get_state, the answer. Tokens are counted by the server as the API would report them (4
characters a token): input + cache write + cache read, summed over the turn's requests.

Figures: ``assistant_tokens_per_turn_100_entities``, ``assistant_tokens_per_turn_1000_entities``
(the point: equal), ``assistant_tool_find_entities_p50_ms`` and ``assistant_tool_get_state_p50_ms``
(1,000 entities, the tool as the chat runs it: checks, JSON, audit event);
``assistant_mcp_get_state_p50_ms`` (a ``tools/call`` of get_state through ``/api/mcp`` by the
``mcp`` package's client: HTTP, the bridge, the session manager, an SSE answer) and
``assistant_mcp_first_session_rss_mib`` (the resident memory the first MCP session adds: the
``mcp`` import, starlette, pydantic models, the session manager).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from figures import emit  # bench/ is the script directory, so on sys.path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.auth import Role, User
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from integrations.assistant.api import ASSISTANT
from integrations.assistant.tools import run_tool
from tests.integrations.assistant.messages_server import (
    API_KEY,
    MessagesServer,
    text,
    tool_results,
    tool_use,
)


async def site(folder: Path, server: MessagesServer, entities: int) -> Runtime:
    """A runtime with ``entities`` temperature sensors and the assistant."""
    (folder / "configuration.yaml").write_text(
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
        f"assistant:\n  api_key: {API_KEY}\n  base_url: {server.url}\n",
        encoding="utf-8",
    )
    loader = IntegrationLoader()
    loader.load_entry_points()
    runtime = Runtime(folder, loader=loader)
    await runtime.start()
    for i in range(entities):
        runtime.states.set(
            f"sensor.zone_{i % 20}_temperature_{i}",
            f"{18 + (i % 70) / 10:.1f}",
            {"friendly_name": f"Zone {i % 20} temperature {i}", "device_class": "temperature",
             "unit_of_measurement": "°C"},
        )  # fmt: skip
    return runtime


async def tokens_per_turn(entities: int) -> int:
    """Tokens sent for the typical question on a site of ``entities`` sensors."""
    server = MessagesServer()
    await server.start()
    with tempfile.TemporaryDirectory() as folder:
        runtime = await site(Path(folder), server, entities)
        try:
            assistant = runtime.data[ASSISTANT]
            user = User("bench", "Bench", Role.VIEWER, "")

            def pick(request: dict[str, Any]) -> list[dict[str, Any]]:
                found = tool_results(request)[0]["content"]["entities"]
                warmest = max(found, key=lambda e: float(e["state"]))
                return [tool_use("get_state", {"entity_id": warmest["entity_id"]})]

            server.script(
                [tool_use("find_entities", {"device_class": "temperature"})],
                pick,
                lambda req: [text(f"Warmest: {tool_results(req)[0]['content']['entity_id']}.")],
            )
            await assistant.chat(user, "Which zone is warmest?")
            return sum(
                usage["input_tokens"]
                + usage["cache_creation_input_tokens"]
                + usage["cache_read_input_tokens"]
                for usage in server.usages
            )
        finally:
            await runtime.stop()
            await server.stop()


async def tool_times(runs: int) -> tuple[list[float], list[float]]:
    """Milliseconds of find_entities (one page of 1,000) and get_state, as the chat runs them."""
    server = MessagesServer()
    await server.start()
    with tempfile.TemporaryDirectory() as folder:
        runtime = await site(Path(folder), server, 1000)
        try:
            assistant = runtime.data[ASSISTANT]
            ctx = assistant.tool_context(User("bench", "Bench", Role.VIEWER, ""))
            tools = {tool.name: tool for tool in assistant.tools()}
            find, get = [], []
            for i in range(runs):
                started = time.perf_counter()
                await run_tool(
                    ctx, tools["find_entities"], {"device_class": "temperature", "query": "zone"}
                )
                find.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await run_tool(
                    ctx, tools["get_state"], {"entity_id": f"sensor.zone_{i % 20}_temperature_{i}"}
                )
                get.append((time.perf_counter() - started) * 1000)
            return find, get
        finally:
            await runtime.stop()
            await server.stop()


_RSS_SCRIPT = """
import asyncio, sys
from pathlib import Path
import aiohttp, psutil
from core.auth import Role
from core.runtime import Runtime
from tests.core.http.conftest import password_hash

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "b", "version": "1"}}}

async def main():
    runtime = Runtime(Path(sys.argv[1]))
    await runtime.start()
    try:
        auth = runtime.http.auth
        user = auth.data.add_user("bench", password_hash(Role.VIEWER), role=Role.VIEWER)
        _, token = await auth.create_long_lived_token(user, "bench")
        headers = {"Authorization": "Bearer " + token,
                   "Accept": "application/json, text/event-stream"}
        url = f"http://127.0.0.1:{runtime.http.port}/api/mcp"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{runtime.http.port}/api/", headers=headers):
                pass
            await asyncio.sleep(0.5)
            before = psutil.Process().memory_info().rss
            async with http.post(url, json=INIT, headers=headers) as response:
                assert response.status == 200, response.status
                await response.read()
            await asyncio.sleep(0.5)
            after = psutil.Process().memory_info().rss
        print((after - before) / 2**20)
    finally:
        await runtime.stop()

asyncio.run(main())
"""


def mcp_first_session_rss_mib() -> float:
    """MiB of resident memory the first MCP session adds to a site (a process of its own,
    asked by plain aiohttp so no client library is counted)."""
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "configuration.yaml").write_text(
            "http:\n  server_host: 127.0.0.1\n  server_port: 0\nassistant:\n", encoding="utf-8"
        )
        done = subprocess.run(
            [sys.executable, "-c", _RSS_SCRIPT, folder],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[1],
        )
    return float(done.stdout.split()[-1])


async def mcp_get_state_ms(runs: int) -> list[float]:
    """Milliseconds of get_state over MCP (1,000 entities), by the mcp package's client."""
    from core.auth.models import User as AuthUser
    from tests.core.http.conftest import password_hash

    server = MessagesServer()
    await server.start()
    with tempfile.TemporaryDirectory() as folder:
        runtime = await site(Path(folder), server, 1000)
        try:
            assert runtime.http is not None
            auth = runtime.http.auth
            user: AuthUser = auth.data.add_user(
                "bench", password_hash(Role.VIEWER), role=Role.VIEWER
            )
            _, token = await auth.create_long_lived_token(user, "bench")
            url = f"http://127.0.0.1:{runtime.http.port}/api/mcp"
            from mcp.client.session import ClientSession
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            times = []
            async with (
                create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                for i in range(runs):
                    started = time.perf_counter()
                    result = await session.call_tool(
                        "get_state", {"entity_id": f"sensor.zone_{i % 20}_temperature_{i}"}
                    )
                    times.append((time.perf_counter() - started) * 1000)
                    assert not result.is_error
            return times
        finally:
            await runtime.stop()
            await server.stop()


async def main(runs: int) -> None:
    """Print the figures."""
    for entities in (100, 1000):
        tokens = await tokens_per_turn(entities)
        note = f"typical question, 3 requests, {entities} sensors; must not grow with entities"
        emit(f"assistant_tokens_per_turn_{entities}_entities", [tokens], "tokens", note)
    find, get = await tool_times(runs)
    emit("assistant_tool_find_entities_p50_ms", find, "ms", "1,000 entities, one page of 20")
    emit("assistant_tool_get_state_p50_ms", get, "ms", "1,000 entities")
    over_mcp = await mcp_get_state_ms(min(runs, 100))
    emit("assistant_mcp_get_state_p50_ms", over_mcp, "ms", "tools/call over /api/mcp, SSE answer")
    emit(
        "assistant_mcp_first_session_rss_mib",
        [mcp_first_session_rss_mib()],
        "MiB",
        "a site's RSS before and after its first MCP initialize (mcp imported then)",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args().runs))
