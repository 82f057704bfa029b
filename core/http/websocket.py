"""Home Assistant's WebSocket API at ``/api/websocket``: the connection and its send queue.

A connection authenticates in-band (``auth_required`` → ``auth`` → ``auth_ok``/``auth_invalid``,
each carrying ``ha_version``), then runs commands (``core.http.ws_commands``). Every message to
the client goes through a bounded queue drained by one writer task, so the runtime never waits
on a client: a client whose queue reaches ``http: websocket_send_queue`` messages is
disconnected and the reason is logged. A client that sends faster than it reads is paced: its
commands wait while its queue is more than half full. With ``supported_features:
{coalesce_messages: 1}`` the writer sends what is queued as one JSON array per frame.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from core.auth import Permission, RefreshToken, User
from core.const import HA_COMPAT_VERSION
from core.core_sections import HttpConfig
from core.json import json_bytes, json_loads

from . import ws_commands
from .view import AUTH, GUARD, RUNTIME, json_message, remote_address, requires
from .ws_messages import ERR_ID_REUSE, ERR_INVALID_FORMAT, error_message

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

#: Seconds a client has to authenticate.
AUTH_TIMEOUT = 10.0
#: Largest message a client may send (bytes).
MAX_INCOMING_MESSAGE = 1024 * 1024
#: Seconds a close handshake may take before the connection is cut.
CLOSE_TIMEOUT = 2.0
#: Most queued messages sent in one coalesced frame.
MAX_COALESCED = 512

HUB: web.AppKey[WebSocketHub] = web.AppKey("websocket_hub")


class Connection:
    """One authenticated WebSocket client. Runs on the loop."""

    def __init__(
        self,
        hub: WebSocketHub,
        app: web.Application,
        *,
        ws: web.WebSocketResponse,
        runtime: Runtime,
        user: User,
        grant: RefreshToken,
        address: str,
        transport: asyncio.Transport | None = None,
    ) -> None:
        self.hub = hub
        self.app = app
        #: The users and tokens (for the ``auth/*`` commands).
        self.auth = app[AUTH]
        self.ws = ws
        self.runtime = runtime
        self.user = user
        self.grant = grant
        self.address = address
        self.transport = transport
        #: Cancel functions of the client's subscriptions, by the id of the command.
        self.subscriptions: dict[int, Callable[[], None]] = {}
        self.coalesce = False
        self.last_id = 0
        self._queue: deque[bytes] = deque()
        self._limit = hub.send_queue_limit
        self._wake = asyncio.Event()
        self._roomy = asyncio.Event()
        self._roomy.set()
        self._drained = asyncio.Event()
        self._closing: str | None = None
        self._writer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"<WebSocket {self.user.username}@{self.address}>"

    # --- sending -------------------------------------------------------------------------------

    def send(self, message: bytes) -> None:
        """Queue a message (JSON bytes) for the client; never blocks.

        A client too far behind is disconnected instead.
        """
        if self._closing is not None:
            return
        queue = self._queue
        if len(queue) >= self._limit:
            self.close_later(
                f"client fell behind: {len(queue)} messages waiting to be sent (it does not read)",
                abort=True,
            )
            return
        queue.append(message)
        self._drained.clear()
        if len(queue) > self._limit // 2:
            self._roomy.clear()
        self._wake.set()

    async def _write_loop(self) -> None:
        queue = self._queue
        ws = self.ws
        while True:
            await self._wake.wait()
            self._wake.clear()
            while queue:
                if self.coalesce and len(queue) > 1:
                    batch = [queue.popleft() for _ in range(min(len(queue), MAX_COALESCED))]
                    frame = b"[" + b",".join(batch) + b"]"
                else:
                    frame = queue.popleft()
                if len(queue) <= self._limit // 2:
                    self._roomy.set()
                try:
                    await ws.send_frame(frame, WSMsgType.TEXT)
                except ConnectionError:
                    return  # the connection is gone; the reader ends and cleans up
            self._roomy.set()
            self._drained.set()

    async def wait_for_room(self) -> None:
        """Wait while the send queue is more than half full (paces a client that only sends)."""
        await self._roomy.wait()

    def close_later(self, reason: str, *, abort: bool = False) -> None:
        """Disconnect the client with a logged reason, from any callback.

        ``abort`` drops the connection without a close handshake (for a client that does not
        read).
        """
        if self._closing is not None:
            return
        self._closing = reason
        if abort:
            self._queue.clear()
        # Release a reader paced by wait_for_room, so that it sees the close and ends.
        self._roomy.set()
        _LOGGER.warning("Disconnecting WebSocket client %r: %s", self, reason)
        self.hub.disconnects.labels(reason.split(":", maxsplit=1)[0]).inc()
        task = asyncio.get_running_loop().create_task(
            self._close(reason, abort), name="websocket.close"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close(self, reason: str, abort: bool) -> None:
        if abort and self.transport is not None:
            # A client that does not read cannot take a close frame either: cut it off.
            self.transport.abort()
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                # What was queued before the close (a command's last answer) goes first.
                if self._queue and self._writer is not None and not self._writer.done():
                    await self._drained.wait()
                await self.ws.close(code=1008, message=reason[:120].encode())
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()

    def track_command(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run a command's coroutine as a task tied to the connection."""
        task = asyncio.get_running_loop().create_task(coro, name=f"websocket.{name}")
        self.track_task(task)

    def track_task(self, task: asyncio.Task[Any]) -> None:
        """Keep a command's task until it finishes; it is cancelled when the client goes."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- receiving -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve commands until the client goes; then cancel its subscriptions and tasks."""
        self._writer = asyncio.get_running_loop().create_task(
            self._write_loop(), name=f"websocket[{self.address}].writer"
        )
        try:
            async for msg in self.ws:
                if msg.type is not WSMsgType.TEXT:
                    self.close_later(f"sent a non-text message ({msg.type.name})")
                    break
                try:
                    data = json_loads(msg.data)
                except ValueError:
                    self.close_later("sent invalid JSON")
                    break
                messages = data if isinstance(data, list) else [data]
                for message in messages:
                    self.handle(message)
                await self.wait_for_room()
        finally:
            self._cleanup()

    def handle(self, message: Any) -> None:
        """Check a message's form and id, and run its command."""
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("id"), int)
            or not isinstance(message.get("type"), str)
        ):
            given = message.get("id") if isinstance(message, dict) else None
            self.send(
                error_message(
                    given if isinstance(given, int) else None,
                    ERR_INVALID_FORMAT,
                    "Message incorrectly formatted.",
                )
            )
            return
        msg_id: int = message["id"]
        if msg_id <= self.last_id:
            self.send(error_message(msg_id, ERR_ID_REUSE, "Identifier values have to increase."))
            return
        self.last_id = msg_id
        ws_commands.dispatch(self, message)

    def _cleanup(self) -> None:
        for cancel in self.subscriptions.values():
            cancel()
        self.subscriptions.clear()
        for task in list(self._tasks):
            if task.get_name() != "websocket.close":
                task.cancel()
        if self._writer is not None:
            self._writer.cancel()
        self._queue.clear()


class WebSocketHub:
    """Every open WebSocket connection, and the ``/api/websocket`` handler."""

    def __init__(self, config: HttpConfig, runtime: Runtime) -> None:
        self.send_queue_limit = config.websocket_send_queue
        self.connections: set[Connection] = set()
        metrics = runtime.metrics
        metrics.value(
            "edgewise_websocket_clients",
            "Connected WebSocket clients",
            lambda: len(self.connections),
        )
        self.disconnects = metrics.counter(
            "edgewise_websocket_disconnects",
            "WebSocket clients disconnected by the server",
            ["reason"],
        )

    def revoked(self, grant_id: str) -> None:
        """Disconnect the clients that authenticated with a revoked grant."""
        for conn in list(self.connections):
            if conn.grant.id == grant_id:
                conn.close_later("its token was revoked")

    async def close_all(self, reason: str) -> None:
        """Close every connection (server shutdown)."""
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=reason.encode())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Upgrade, authenticate, serve."""
        runtime = request.app[RUNTIME]
        address = remote_address(request)
        guard = request.app[GUARD]
        if guard.banned_for(address) > 0:
            return json_message("Too many failed login attempts; try again later", 429)
        ws = web.WebSocketResponse(max_msg_size=MAX_INCOMING_MESSAGE, heartbeat=55)
        await ws.prepare(request)
        await ws.send_frame(
            json_bytes({"type": "auth_required", "ha_version": HA_COMPAT_VERSION}), WSMsgType.TEXT
        )
        found = None
        try:
            async with asyncio.timeout(AUTH_TIMEOUT):
                msg = await ws.receive()
            if msg.type is WSMsgType.TEXT:
                data = json_loads(msg.data)
                token = data.get("access_token") if isinstance(data, dict) else None
                if isinstance(data, dict) and data.get("type") == "auth" and isinstance(token, str):
                    found = request.app[AUTH].validate_access_token(token)
        except (TimeoutError, ValueError):
            found = None
        if found is None:
            guard.failed(address, "WebSocket authentication")
            if not ws.closed:
                await ws.send_frame(
                    json_bytes(
                        {
                            "type": "auth_invalid",
                            "message": "Invalid access token or password",
                            "ha_version": HA_COMPAT_VERSION,
                        }
                    ),
                    WSMsgType.TEXT,
                )
                await ws.close()
            return ws
        user, grant = found
        await ws.send_frame(
            json_bytes({"type": "auth_ok", "ha_version": HA_COMPAT_VERSION}), WSMsgType.TEXT
        )
        conn = Connection(
            self,
            request.app,
            ws=ws,
            runtime=runtime,
            user=user,
            grant=grant,
            address=address,
            transport=request.transport,
        )
        self.connections.add(conn)
        _LOGGER.debug("WebSocket client %r connected", conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)
            _LOGGER.debug("WebSocket client %r disconnected", conn)
        return ws


def add_routes(app: web.Application, config: HttpConfig) -> WebSocketHub:
    """Mount ``/api/websocket``; returns the hub (closed by the server at shutdown)."""
    hub = WebSocketHub(config, app[RUNTIME])
    app[HUB] = hub
    app[AUTH].on_revoke.append(hub.revoked)

    @requires(Permission.PUBLIC)  # authenticates in-band, as Home Assistant's does
    async def websocket(request: web.Request) -> web.StreamResponse:
        return await hub.handle(request)

    app.router.add_get("/api/websocket", websocket)
    return hub
