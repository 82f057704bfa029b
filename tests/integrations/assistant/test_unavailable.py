"""Without a key, or with the API unreachable, the assistant says so and the site keeps running."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from core.auth import Role
from tests._helpers import free_port
from tests.core.http.conftest import password_hash

from .conftest import start_site
from .messages_server import MessagesServer


async def _ask(runtime_port: int, token: str, text: str) -> tuple[dict, dict]:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"ws://127.0.0.1:{runtime_port}/api/websocket")
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        await ws.receive_json()
        await ws.send_json({"id": 1, "type": "assistant/chat", "text": text})
        answer = await ws.receive_json(timeout=30)
        while answer["type"] == "event" or answer.get("success"):
            if answer["type"] == "event" and answer["event"]["type"] in ("error", "done"):
                break
            answer = await ws.receive_json(timeout=30)
        await ws.send_json({"id": 2, "type": "get_states"})
        states = await ws.receive_json(timeout=30)
        await ws.close()
        return answer, states


async def _token(runtime) -> str:
    auth = runtime.http.auth
    user = auth.data.add_user("viewer-user", password_hash(Role.VIEWER), role=Role.VIEWER)
    _, token = await auth.create_long_lived_token(user, "tests")
    return token


async def test_without_a_key_the_chat_says_so_and_the_rest_runs(tmp_path: Path) -> None:
    """A bare ``assistant:``: a clear message; the WebSocket API answers as usual."""
    runtime, _site = await start_site(tmp_path, MessagesServer(), "assistant:\n")
    try:
        answer, states = await _ask(runtime.http.port, await _token(runtime), "Hello")
    finally:
        await runtime.stop()
    assert answer["success"] is False
    assert "no API key" in answer["error"]["message"]
    assert states["success"]
    assert any(s["entity_id"] == "switch.north_heating" for s in states["result"])


async def test_with_the_api_unreachable_the_chat_says_so(tmp_path: Path) -> None:
    """Nothing listens at base_url: the turn ends with 'cannot be reached', nothing else breaks."""
    yaml = f"assistant:\n  api_key: k\n  base_url: http://127.0.0.1:{free_port()}\n  timeout: 5\n"
    runtime, _site = await start_site(tmp_path, MessagesServer(), yaml)
    try:
        answer, states = await _ask(runtime.http.port, await _token(runtime), "Hello")
    finally:
        await runtime.stop()
    assert answer["event"]["type"] == "error"
    assert "The Anthropic API cannot be reached" in answer["event"]["message"]
    assert states["success"]
