"""The assistant's tools over the Model Context Protocol: streamable HTTP at ``/api/mcp``.

The endpoint is an ordinary Edgewise route: the bearer token is the user's (a long-lived access
token), and every tool runs as that user with the same checks, audit and confirmation rule as
in the chat (a call that needs confirmation answers its ``confirmation_id``; the user confirms
with ``POST /api/assistant/confirm`` or in the panel). The server answers each JSON-RPC request
with a JSON response (the transport's JSON mode): ``initialize`` (the handshake versions),
``ping``, ``tools/list`` and ``tools/call``; notifications get 202. It keeps no session, so
``GET`` (a server-sent stream) is not offered (405) and ``DELETE`` is accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.auth import Permission
from core.auth.areas import area_aware
from core.http import register_route
from core.http.view import current_user, json_response, read_json_object

from .tools import run_tool

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .assistant import Assistant

_LOGGER = logging.getLogger(__name__)

ROUTE_MCP = "/api/mcp"
#: Protocol revisions of the initialize handshake this server speaks, oldest first.
PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
SERVER_INFO = {"name": "edgewise-assistant", "version": "0.1.0"}

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


def _error(msg_id: Any, code: int, message: str) -> web.Response:
    return json_response(
        {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
    )


def _result(msg_id: Any, result: dict[str, Any]) -> web.Response:
    return json_response({"jsonrpc": "2.0", "id": msg_id, "result": result})


def mcp_tool(definition: dict[str, Any]) -> dict[str, Any]:
    """A tool in MCP's form."""
    return {
        "name": definition["name"],
        "description": definition["description"],
        "inputSchema": definition["input_schema"],
    }


def register_mcp(runtime: Runtime, assistant: Assistant) -> Callable[[], None]:
    """Serve ``/api/mcp``; returns the function that removes it."""

    @area_aware
    async def post(request: web.Request) -> web.StreamResponse:
        body = await read_json_object(
            request, invalid="Invalid JSON", not_object="Expected one JSON-RPC message"
        )
        if isinstance(body, web.Response):
            return body
        msg_id, method, params = body.get("id"), body.get("method"), body.get("params") or {}
        if not isinstance(method, str) or not isinstance(params, dict):
            if "result" in body or "error" in body:  # a client's answer: nothing was asked
                return web.Response(status=202)
            return _error(msg_id, INVALID_REQUEST, "Expected a JSON-RPC request")
        if msg_id is None:  # a notification (initialized, cancelled…)
            return web.Response(status=202)
        if method == "initialize":
            asked = params.get("protocolVersion")
            version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[-1]
            return _result(
                msg_id,
                {
                    "protocolVersion": version,
                    "capabilities": {"tools": {"listChanged": False}},
                    "serverInfo": SERVER_INFO,
                    "instructions": "Edgewise site tools; they run as the token's user.",
                },
            )
        if method == "ping":
            return _result(msg_id, {})
        if method == "tools/list":
            tools = [mcp_tool(tool.definition()) for tool in assistant.tools()]
            return _result(msg_id, {"tools": tools})
        if method == "tools/call":
            name, arguments = params.get("name"), params.get("arguments") or {}
            tool = next((t for t in assistant.tools() if t.name == name), None)
            if tool is None:
                return _error(msg_id, INVALID_PARAMS, f"Unknown tool: {name}")
            ctx = assistant.tool_context(current_user(request))
            text, is_error = await run_tool(ctx, tool, arguments)
            return _result(
                msg_id, {"content": [{"type": "text", "text": text}], "isError": is_error}
            )
        return _error(msg_id, METHOD_NOT_FOUND, f"Method not found: {method}")

    @area_aware
    async def get(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=405, headers={"Allow": "POST, DELETE"})

    @area_aware
    async def delete(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=200)

    removers = [
        register_route(runtime, "POST", ROUTE_MCP, post, Permission.READ),
        register_route(runtime, "GET", ROUTE_MCP, get, Permission.READ),
        register_route(runtime, "DELETE", ROUTE_MCP, delete, Permission.READ),
    ]

    def remove() -> None:
        for remover in removers:
            remover()

    return remove
