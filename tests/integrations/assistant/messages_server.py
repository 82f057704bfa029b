"""A local server that speaks Anthropic's Messages API, for the real ``anthropic`` SDK.

``POST /v1/messages`` takes the request as the API does (``system``, ``tools``, ``messages``
with ``tool_use``/``tool_result`` blocks, ``stream``) and answers from a script: each reply is
a function of the request returning content blocks (``text`` or ``tool_use``), so a scripted
"model" can read the tool results it was sent and build its answer from them. Streaming sends
the API's server-sent events (``message_start``, ``content_block_start``,
``content_block_delta`` with ``text_delta`` or ``input_json_delta``, ``content_block_stop``,
``message_delta``, ``message_stop``).

Usage is counted as the API would report it, from the request's size (4 characters a token):
the prefix up to the last ``cache_control`` mark (tools, then system) is a cache write the
first time and a cache read after.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests._helpers import free_port

Block = dict[str, Any]
Reply = Callable[[dict[str, Any]], list[Block]]

API_KEY = "sk-test-key"


def text(value: str) -> Block:
    """A text block."""
    return {"type": "text", "text": value}


def tool_use(name: str, tool_input: dict[str, Any]) -> Block:
    """A tool_use block with a fresh id."""
    return {
        "type": "tool_use",
        "id": f"toolu_{uuid.uuid4().hex[:20]}",
        "name": name,
        "input": tool_input,
    }


def tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of the request's last (user) message, content parsed as JSON."""
    results = []
    for block in request["messages"][-1]["content"]:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            content = block["content"]
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content)
            results.append({**block, "content": json.loads(content)})
    return results


def _tokens(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"))) // 4


@dataclass
class MessagesServer:
    """The server, its scripted replies and the requests it received."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: The usage reported for each request.
    usages: list[dict[str, int]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _cached: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The base URL for the SDK."""
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: Reply | list[Block]) -> None:
        """Queue replies (a fixed list of blocks, or a function of the request)."""
        for reply in replies:
            self.replies.append(reply if callable(reply) else (lambda _req, r=reply: r))

    async def start(self) -> None:
        """Listen on 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def _usage(self, request: dict[str, Any]) -> dict[str, int]:
        prefix: list[Any] = []
        cached_upto: list[Any] | None = None
        for tool in request.get("tools", []):
            prefix.append(tool)
            if "cache_control" in tool:
                cached_upto = list(prefix)
        system = request.get("system")
        for block in system if isinstance(system, list) else []:
            prefix.append(block)
            if "cache_control" in block:
                cached_upto = list(prefix)
        total = (
            _tokens(request.get("tools", [])) + _tokens(system or "") + _tokens(request["messages"])
        )
        usage = {
            "input_tokens": total,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        if cached_upto is not None:
            key = json.dumps(cached_upto, sort_keys=True)
            cached = _tokens(cached_upto)
            usage["input_tokens"] = max(0, total - cached)
            if key in self._cached:
                usage["cache_read_input_tokens"] = cached
            else:
                self._cached.add(key)
                usage["cache_creation_input_tokens"] = cached
        return usage

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        # The SDK sends the key as x-api-key or (newer versions) as a bearer token.
        keys = {
            request.headers.get("x-api-key"),
            request.headers.get("Authorization", "").removeprefix("Bearer "),
        }
        if API_KEY not in keys:
            return web.json_response(
                {
                    "type": "error",
                    "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                },
                status=401,
            )
        body = await request.json()
        self.requests.append(body)
        blocks = [text("(no scripted reply)")] if not self.replies else self.replies.pop(0)(body)
        stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        usage = self._usage(body)
        usage["output_tokens"] = max(1, _tokens(blocks))
        self.usages.append(usage)
        message = {
            "id": f"msg_{uuid.uuid4().hex[:20]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return web.json_response(message)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            await response.write(
                f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode()
            )

        start_usage = {**usage, "output_tokens": 1}
        await send(
            "message_start",
            {"message": {**message, "content": [], "stop_reason": None, "usage": start_usage}},
        )
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                await send(
                    "content_block_start",
                    {"index": index, "content_block": {"type": "text", "text": ""}},
                )
                words = block["text"].split(" ")
                for i, word in enumerate(words):
                    piece = word if i == 0 else " " + word
                    await send(
                        "content_block_delta",
                        {"index": index, "delta": {"type": "text_delta", "text": piece}},
                    )
            else:
                await send(
                    "content_block_start",
                    {"index": index, "content_block": {**block, "input": {}}},
                )
                raw = json.dumps(block["input"])
                for i in range(0, len(raw), 16):
                    await send(
                        "content_block_delta",
                        {
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": raw[i : i + 16]},
                        },
                    )
            await send("content_block_stop", {"index": index})
        await send(
            "message_delta",
            {
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
        await send("message_stop", {})
        await response.write_eof()
        return response
