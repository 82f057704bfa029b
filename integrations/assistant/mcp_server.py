"""The assistant's tools over the Model Context Protocol: streamable HTTP at ``/api/mcp``.

Served by the ``mcp`` package itself: a low-level ``mcp.server.lowlevel.Server`` with the chat's
tools, behind its ``StreamableHTTPSessionManager`` (sessions with the ``mcp-session-id`` header,
answers as server-sent events, the GET stream, DELETE to end a session). The transport is ASGI;
``asgi.serve_asgi`` bridges one aiohttp request to it.

The route is an ordinary Edgewise route: the bearer token is the user's (a long-lived access
token), checked by Edgewise's middleware like any other. The user is handed to the transport
as its authenticated principal, so a session belongs to the user who opened it: another user's
token with that session id is answered 404, as if there were no such session. Every tool runs
as the user of the request that carries the call, with the same checks, audit and confirmation
rule as in the chat (a call that needs confirmation answers its ``confirmation_id``; the user
confirms with ``POST /api/assistant/confirm`` or in the panel).

``mcp`` and what it pulls in (starlette, pydantic, sse-starlette…) are imported at the first
request to ``/api/mcp``, not before. A request body is bounded (``MAX_MCP_BODY`` bytes, and the
JSON's depth and size by ``core.json.json_loads``) before the library sees it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from core.auth import Permission, User
from core.auth.areas import area_aware
from core.http import register_route
from core.http.view import current_user, json_response
from core.json import json_loads

from .asgi import serve_asgi
from .tools import run_tool

if TYPE_CHECKING:
    from collections.abc import Callable

    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from core.runtime import Runtime

    from .assistant import Assistant

_LOGGER = logging.getLogger(__name__)

ROUTE_MCP: Final = "/api/mcp"
SERVER_NAME: Final = "edgewise-assistant"
SERVER_VERSION: Final = "0.2.0"
#: The largest request body accepted (JSON-RPC messages are small).
MAX_MCP_BODY: Final = 256 * 1024
#: Sessions open at once (all users); more are answered 503 until some end or expire.
MAX_MCP_SESSIONS: Final = 100
#: Seconds a session may stay idle (no request, no open stream) before it is closed.
MCP_SESSION_IDLE: Final = 30 * 60.0
#: The scope key that carries the Edgewise user to the tool handlers.
SCOPE_USER: Final = "edgewise.user"

PARSE_ERROR: Final = -32700


def _rpc_error(status: int, code: int, message: str) -> web.Response:
    return json_response(
        {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}, status
    )


class McpEndpoint:
    """``/api/mcp``: the ``mcp`` package's session manager, started at the first request."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self._manager: StreamableHTTPSessionManager | None = None
        self._starting = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    # --- the mcp server ------------------------------------------------------------------------

    def _server(self) -> Any:
        from mcp import types  # noqa: PLC0415 - heavy: only once /api/mcp is used
        from mcp.server.lowlevel import Server  # noqa: PLC0415 - likewise

        assistant = self.assistant

        async def list_tools(
            _ctx: Any, _params: types.PaginatedRequestParams | None
        ) -> types.ListToolsResult:
            return types.ListToolsResult(
                tools=[
                    types.Tool(
                        name=tool.name,
                        description=tool.description,
                        input_schema=dict(tool.input_schema),
                    )
                    for tool in assistant.tools()
                ]
            )

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            request = ctx.request
            user = request.scope.get(SCOPE_USER) if request is not None else None
            tool = next((t for t in assistant.tools() if t.name == params.name), None)
            if not isinstance(user, User) or tool is None:
                message = "no user" if tool is not None else f"Unknown tool: {params.name}"
                return types.CallToolResult(
                    content=[types.TextContent(text=message)], is_error=True
                )
            text, is_error = await run_tool(
                assistant.tool_context(user), tool, params.arguments or {}
            )
            return types.CallToolResult(content=[types.TextContent(text=text)], is_error=is_error)

        return Server(
            SERVER_NAME,
            version=SERVER_VERSION,
            instructions="Edgewise site tools; they run as the token's user, with their rights.",
            on_list_tools=list_tools,
            on_call_tool=call_tool,
        )

    async def _started(self) -> StreamableHTTPSessionManager:
        async with self._starting:
            if self._manager is not None:
                return self._manager
            from mcp.server.streamable_http_manager import (  # noqa: PLC0415 - first request
                StreamableHTTPSessionManager,
            )
            from mcp.server.transport_security import (  # noqa: PLC0415 - likewise
                TransportSecuritySettings,
            )

            manager = StreamableHTTPSessionManager(
                self._server(),
                max_request_body_size=MAX_MCP_BODY,
                max_sessions=MAX_MCP_SESSIONS,
                session_idle_timeout=MCP_SESSION_IDLE,
                # Edgewise's bearer tokens already stop a rebinding page: a browser cannot send
                # one it does not have. The Host check would refuse the site's own names.
                security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )
            ready = asyncio.Event()

            async def run() -> None:
                async with manager.run():
                    ready.set()
                    await self._stop.wait()

            # A runtime task: cancelled at shutdown, its failure logged with its name.
            self._task = self.assistant.runtime.create_task(run(), "assistant-mcp")
            waiter = asyncio.ensure_future(ready.wait())
            done, _ = await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if self._task in done:
                self._task.result()  # raises what stopped it
            self._manager = manager
            _LOGGER.info("MCP endpoint started at %s", ROUTE_MCP)
            return manager

    async def close(self) -> None:
        """End every session and the manager."""
        self._stop.set()
        if self._task is not None:
            # asyncio.wait raises nothing: the task may have been cancelled at shutdown already.
            await asyncio.wait({self._task}, timeout=10)
            self._task = None

    # --- the route -----------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One request to ``/api/mcp`` (POST, GET or DELETE), as the authenticated user."""
        body = b""
        if request.method == "POST":
            if (request.content_length or 0) > MAX_MCP_BODY:
                return _rpc_error(413, PARSE_ERROR, f"The body is over {MAX_MCP_BODY} bytes")
            read = await _read_body(request, MAX_MCP_BODY)
            if read is None:
                return _rpc_error(413, PARSE_ERROR, f"The body is over {MAX_MCP_BODY} bytes")
            body = read
            try:
                json_loads(body, "MCP message")
            except ValueError as err:
                return _rpc_error(400, PARSE_ERROR, f"Parse error: {err}"[:300])
        try:
            manager = await self._started()
        except ImportError as err:
            _LOGGER.error("MCP needs the mcp package (pip install 'edgewise[assistant]'): %s", err)
            return _rpc_error(503, -32603, "MCP is not installed on this site")
        return await serve_asgi(
            manager.handle_request,
            request,
            body,
            scope_extra={SCOPE_USER: (user := current_user(request)), "user": _principal(user)},
        )


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None once it passes ``limit`` bytes (chunked bodies included)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _principal(user: User) -> Any:
    """The user as the ``mcp`` transport's authenticated principal (the owner of sessions)."""
    from mcp.server.auth.middleware.bearer_auth import (  # noqa: PLC0415 - after _started
        AuthenticatedUser,
    )
    from mcp.server.auth.provider import AccessToken  # noqa: PLC0415 - likewise

    return AuthenticatedUser(
        AccessToken(token=f"edgewise-user:{user.id}", client_id=user.id, subject=user.id, scopes=[])
    )


def register_mcp(runtime: Runtime, endpoint: McpEndpoint) -> Callable[[], None]:
    """Serve ``/api/mcp``; returns the function that removes the routes."""

    @area_aware  # the tools keep to the user's areas
    async def handle(request: web.Request) -> web.StreamResponse:
        return await endpoint.handle(request)

    removers = [
        register_route(runtime, method, ROUTE_MCP, handle, Permission.READ)
        for method in ("POST", "GET", "DELETE")
    ]

    def remove() -> None:
        for remover in removers:
            remover()

    return remove
