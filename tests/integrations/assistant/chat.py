"""A WebSocket client for the assistant's tests: log in, send a command, collect its answers."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp

from core.auth import Role

from .conftest import Env


class Chat:
    """One logged-in WebSocket connection."""

    def __init__(self, env: Env, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.env = env
        self.ws = ws
        self._ids = itertools.count(1)

    @classmethod
    async def open(cls, env: Env, role: Role) -> Chat:
        """Connect and authenticate as ``role``'s user."""
        ws = await env.session.ws_connect(env.ws_url)
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": env.tokens[role]})
        answer = await ws.receive_json()
        assert answer["type"] == "auth_ok", answer
        return cls(env, ws)

    async def command(self, **msg: Any) -> dict[str, Any]:
        """Send a command; its result message."""
        msg_id = next(self._ids)
        await self.ws.send_json({"id": msg_id, **msg})
        while True:
            answer = await self.ws.receive_json(timeout=30)
            if answer["id"] == msg_id and answer["type"] == "result":
                return answer

    async def ask(
        self, text: str, session_id: str | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """``assistant/chat``: the result and every event up to ``done`` or ``error``."""
        msg_id = next(self._ids)
        msg: dict[str, Any] = {"id": msg_id, "type": "assistant/chat", "text": text}
        if session_id is not None:
            msg["session_id"] = session_id
        await self.ws.send_json(msg)
        return await self._stream(msg_id)

    async def settle(
        self, command: str, confirmation_id: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """``assistant/confirm`` or ``assistant/cancel``: the result and the events of the
        model's next answer (none when the result says the conversation does not go on)."""
        msg_id = next(self._ids)
        await self.ws.send_json({"id": msg_id, "type": command, "confirmation_id": confirmation_id})
        return await self._stream(msg_id)

    async def _stream(self, msg_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The result of ``msg_id`` and its events up to ``done`` or ``error`` (none after a
        failed result, or one whose ``continues`` is false)."""
        result: dict[str, Any] = {}
        events: list[dict[str, Any]] = []
        while True:
            answer = await self.ws.receive_json(timeout=30)
            if answer["id"] != msg_id:
                continue
            if answer["type"] == "result":
                result = answer
                if not answer["success"] or answer["result"].get("continues") is False:
                    return result, events
                continue
            events.append(answer["event"])
            if answer["event"]["type"] in ("done", "error"):
                return result, events

    async def close(self) -> None:
        """Disconnect."""
        await self.ws.close()
