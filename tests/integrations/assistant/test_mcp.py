"""The assistant's tools over MCP (/api/mcp), driven by the ``mcp`` package's own client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from core.auth import Role

from .conftest import Env


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


async def test_mcp_client_lists_and_calls_the_tools_as_the_tokens_user(env: Env) -> None:
    """tools/list gives the chat's tools; tools/call runs them, reads freely, writes refused."""
    async with mcp_session(env, Role.VIEWER) as session:
        listed = await session.list_tools()
        names = {tool.name for tool in listed.tools}
        assert {"find_entities", "get_state", "summarize_history", "call_service"} <= names
        assert "run_optimizer" not in names  # the optimizer is not configured here
        found = await session.call_tool("find_entities", {"device_class": "temperature"})
        assert not found.is_error
        entities = json.loads(found.content[0].text)["entities"]
        assert [e["entity_id"] for e in entities] == [
            "sensor.zone_north_temperature",
            "sensor.zone_south_temperature",
        ]
        refused = await session.call_tool(
            "call_service",
            {"domain": "switch", "service": "turn_on", "entity_ids": ["switch.north_heating"]},
        )
        assert refused.is_error
        assert json.loads(refused.content[0].text)["error"] == "refused"
    assert env.site.calls == []


async def test_mcp_write_needs_confirmation_then_confirmed_over_rest(env: Env) -> None:
    """An operator's equipment write over MCP waits; POST /api/assistant/confirm runs it."""
    async with mcp_session(env, Role.OPERATOR) as session:
        held = await session.call_tool(
            "call_service",
            {"domain": "switch", "service": "turn_on", "entity_ids": ["switch.north_heating"]},
        )
    answer = json.loads(held.content[0].text)
    assert answer["status"] == "needs_confirmation"
    assert env.runtime.states.get("switch.north_heating").state == "off"
    async with env.session.post(
        env.url + "/api/assistant/confirm",
        json={"confirmation_id": answer["confirmation_id"]},
        headers=env.headers(Role.OPERATOR),
    ) as response:
        assert response.status == 200
    assert env.runtime.states.get("switch.north_heating").state == "on"


async def test_mcp_without_a_token_is_refused(env: Env) -> None:
    """The endpoint is an authenticated route like any other."""
    async with env.session.post(
        env.url + "/api/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    ) as response:
        assert response.status == 401
