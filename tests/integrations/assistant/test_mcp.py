"""The assistant's tools over MCP (/api/mcp): the ``mcp`` package's streamable-HTTP server,
driven by the ``mcp`` package's own client, and by plain HTTP for the session rules."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from core.auth import Role
from integrations.assistant.mcp_server import MAX_MCP_BODY

from .conftest import Env

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
PROTOCOL = "2025-06-18"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


@asynccontextmanager
async def mcp_session(env: Env, role: Role) -> AsyncIterator[ClientSession]:
    """An initialised MCP session with ``role``'s token."""
    async with (
        create_mcp_http_client(headers=env.headers(role)) as http,
        streamable_http_client(env.url + "/api/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _text(result: Any) -> dict[str, Any]:
    block = result.content[0]
    assert block.type == "text"
    answer: dict[str, Any] = json.loads(block.text)
    return answer


async def test_mcp_client_lists_and_calls_the_read_tools(env: Env) -> None:
    """tools/list gives the chat's tools; find_entities and get_state answer real states."""
    async with mcp_session(env, Role.VIEWER) as session:
        listed = await session.list_tools()
        names = {tool.name for tool in listed.tools}
        assert {"find_entities", "get_state", "summarize_history", "call_service"} <= names
        assert "run_optimizer" not in names  # the optimizer is not configured here
        found = await session.call_tool("find_entities", {"device_class": "temperature"})
        assert not found.is_error
        assert [e["entity_id"] for e in _text(found)["entities"]] == [
            "sensor.zone_north_temperature",
            "sensor.zone_south_temperature",
        ]
        state = await session.call_tool("get_state", {"entity_id": "sensor.zone_south_temperature"})
        assert not state.is_error
        assert _text(state)["state"] == "22.0"
        assert _text(state)["attributes"]["unit_of_measurement"] == "°C"


async def test_a_viewers_service_call_over_mcp_is_refused(env: Env) -> None:
    """The viewer's role allows no service: refused, nothing called, and audited."""
    audit: list[dict[str, Any]] = []
    env.runtime.bus.listen("assistant_tool_call", lambda event: audit.append(dict(event.data)))
    async with mcp_session(env, Role.VIEWER) as session:
        refused = await session.call_tool(
            "call_service",
            {"domain": "switch", "service": "turn_on", "entity_ids": ["switch.north_heating"]},
        )
    assert refused.is_error
    assert _text(refused)["error"] == "refused"
    assert env.site.calls == []
    assert env.runtime.states.get("switch.north_heating").state == "off"
    assert [(a["tool"], a["username"], a["outcome"]) for a in audit] == [
        ("call_service", "viewer-user", "refused")
    ]


async def test_an_operator_outside_their_areas_is_refused_over_mcp(env: Env) -> None:
    """The operator is limited to zone north (core's User.areas): south is out of reach."""
    async with mcp_session(env, Role.OPERATOR) as session:
        refused = await session.call_tool(
            "call_service",
            {"domain": "switch", "service": "turn_on", "entity_ids": ["switch.south_heating"]},
        )
        hidden = await session.call_tool("find_entities", {"domain": "switch"})
    assert refused.is_error
    assert "may not act outside their areas: switch.south_heating" in _text(refused)["reason"]
    assert [e["entity_id"] for e in _text(hidden)["entities"]] == ["switch.north_heating"]
    assert env.site.calls == []


async def test_mcp_write_needs_confirmation_then_confirmed_over_rest(env: Env) -> None:
    """An operator's equipment write over MCP waits; POST /api/assistant/confirm runs it."""
    async with mcp_session(env, Role.OPERATOR) as session:
        held = await session.call_tool(
            "call_service",
            {"domain": "switch", "service": "turn_on", "entity_ids": ["switch.north_heating"]},
        )
    answer = _text(held)
    assert not held.is_error
    assert answer["status"] == "needs_confirmation"
    assert env.runtime.states.get("switch.north_heating").state == "off"
    async with env.session.post(
        env.url + "/api/assistant/confirm",
        json={"confirmation_id": answer["confirmation_id"]},
        headers=env.headers(Role.VIEWER),  # another user cannot confirm it
    ) as response:
        assert response.status == 404
    async with env.session.post(
        env.url + "/api/assistant/confirm",
        json={"confirmation_id": answer["confirmation_id"]},
        headers=env.headers(Role.OPERATOR),
    ) as response:
        assert response.status == 200
    assert env.runtime.states.get("switch.north_heating").state == "on"
    assert env.site.calls[0].context.user_id == env.user(Role.OPERATOR).id


async def _initialize(env: Env, role: Role) -> str:
    """Open a session over plain HTTP; its id."""
    async with env.session.post(
        env.url + "/api/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **env.headers(role)}
    ) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        assert "protocolVersion" in await response.text()
        session_id = response.headers["mcp-session-id"]
    async with env.session.post(
        env.url + "/api/mcp",
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers=_session_headers(env, role, session_id),
    ) as response:
        assert response.status == 202
    return session_id


def _session_headers(env: Env, role: Role, session_id: str) -> dict[str, str]:
    return {
        **MCP_HEADERS,
        **env.headers(role),
        "mcp-session-id": session_id,
        "mcp-protocol-version": PROTOCOL,
    }


async def test_a_session_belongs_to_the_user_who_opened_it(env: Env) -> None:
    """Another user's token with the session id: 404, as if none; GET streams; DELETE ends."""
    session_id = await _initialize(env, Role.OPERATOR)
    tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    async with env.session.post(
        env.url + "/api/mcp", json=tools_list, headers=_session_headers(env, Role.ADMIN, session_id)
    ) as response:
        assert response.status == 404
    async with env.session.post(
        env.url + "/api/mcp",
        json=tools_list,
        headers=_session_headers(env, Role.OPERATOR, session_id),
    ) as response:
        assert response.status == 200
        assert "find_entities" in await response.text()
    # The GET stream (server-to-client messages) opens for the owner only.
    headers = {**_session_headers(env, Role.OPERATOR, session_id), "Accept": "text/event-stream"}
    async with env.session.get(env.url + "/api/mcp", headers=headers) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
    headers = {**_session_headers(env, Role.VIEWER, session_id), "Accept": "text/event-stream"}
    async with env.session.get(env.url + "/api/mcp", headers=headers) as response:
        assert response.status == 404
    async with env.session.delete(
        env.url + "/api/mcp", headers=_session_headers(env, Role.VIEWER, session_id)
    ) as response:
        assert response.status == 404
    async with env.session.delete(
        env.url + "/api/mcp", headers=_session_headers(env, Role.OPERATOR, session_id)
    ) as response:
        assert response.status == 200
    async with env.session.post(
        env.url + "/api/mcp",
        json=tools_list,
        headers=_session_headers(env, Role.OPERATOR, session_id),
    ) as response:
        assert response.status == 404  # ended


async def test_hostile_bodies_are_bounded_before_the_library_sees_them(env: Env) -> None:
    """Over the size limit: 413 (declared or chunked); nested 1,000 deep: 400; site unharmed."""
    headers = {**MCP_HEADERS, **env.headers(Role.ADMIN)}
    big = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + b"a" * MAX_MCP_BODY + b'"}}'
    async with env.session.post(env.url + "/api/mcp", data=big, headers=headers) as response:
        assert response.status == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * (MAX_MCP_BODY // 4)

    async with env.session.post(env.url + "/api/mcp", data=chunks(), headers=headers) as response:
        assert response.status == 413
    deep = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' + "[" * 1000 + "]" * 1000 + "}"
    async with env.session.post(env.url + "/api/mcp", data=deep, headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == -32700
    async with env.session.post(env.url + "/api/mcp", data=b"{not json", headers=headers) as r:
        assert r.status == 400
    # A large but allowed message that arrives in slow pieces is read whole.
    message = json.dumps(INITIALIZE).encode()

    async def slowly() -> AsyncIterator[bytes]:
        yield message[:1]
        for _ in range(4):
            await asyncio.sleep(0.05)
            yield b" " * (MAX_MCP_BODY // 5)
        yield message[1:]

    async with env.session.post(env.url + "/api/mcp", data=slowly(), headers=headers) as response:
        assert response.status == 200, await response.text()
        assert "protocolVersion" in await response.text()


async def test_mcp_without_a_token_is_refused(env: Env) -> None:
    """The endpoint is an authenticated route like any other."""
    async with env.session.post(
        env.url + "/api/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    ) as response:
        assert response.status == 401


def test_mcp_is_imported_at_the_first_request_to_the_endpoint(tmp_path: Path) -> None:
    """A site with the assistant configured starts without mcp; /api/mcp brings it in."""
    code = textwrap.dedent(
        f"""\
        import asyncio, sys
        from pathlib import Path
        import aiohttp
        from core.auth import Role
        from core.runtime import Runtime
        from tests.core.http.conftest import password_hash

        async def main():
            runtime = Runtime(Path({str(tmp_path)!r}))
            await runtime.start()
            try:
                heavy = ("mcp", "starlette", "sse_starlette", "anthropic")
                before = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
                auth = runtime.http.auth
                user = auth.data.add_user("viewer", password_hash(Role.VIEWER), role=Role.VIEWER)
                _, token = await auth.create_long_lived_token(user, "t")
                async with aiohttp.ClientSession() as http:
                    async with http.delete(
                        f"http://127.0.0.1:{{runtime.http.port}}/api/mcp",
                        headers={{"Authorization": "Bearer " + token, "mcp-session-id": "nope"}},
                    ) as response:
                        status = response.status
                after = "mcp" in sys.modules and "starlette" in sys.modules
                print(before, status, after)
            finally:
                await runtime.stop()

        asyncio.run(main())
        """
    )
    (tmp_path / "configuration.yaml").write_text(
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\nassistant:\n", encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[3],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[-2] == "[] 404 True"
