"""Home Assistant's WebSocket API at ``/api/websocket``: the connection and its send queue.

A connection authenticates in-band (``auth_required`` → ``auth`` → ``auth_ok``/``auth_invalid``,
each carrying ``ha_version``), then runs commands (``core.http.ws_commands``).

Rights are never cached: before each command the connection looks its user and grant up again
(re-reading ``.storage/auth`` when the command line changed it), and a user removed,
deactivated or demoted, or a grant revoked, closes its connections at once (``on_user_change``,
``on_revoke``; a periodic check on the runtime's clock catches changes made on disk while a
client is idle). A banned address may still connect with a valid token; only a token the
server never issued counts towards a ban.

Every message to the client goes through a queue drained by one writer task, so the runtime
never waits on a client: a client whose queue (counting the frame being written) reaches
``http: websocket_send_queue`` messages or ``http: websocket_send_queue_bytes`` bytes is cut
off and the reason is logged; its queue is dropped with it. A client that sends faster than it
reads is paced: its commands wait while its queue is more than half full. With
``supported_features: {coalesce_messages: 1}`` the writer sends what is queued as one JSON array
per frame.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from core.auth import AuthManager, Permission, RefreshToken, User
from core.bus import callback
from core.const import HA_COMPAT_VERSION
from core.core_sections import HttpConfig
from core.json import json_bytes, json_loads

from . import ws_commands
from .view import AUTH, GUARD, RUNTIME, remote_address, requires
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
#: How often idle connections are checked against changes of users and tokens made on disk.
AUTH_CHECK_INTERVAL = timedelta(seconds=1)

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
        self.user_id = user.id
        self.grant_id = grant.id
        self._last_user = user
        self._last_grant = grant
        self.address = address
        self.transport = transport
        #: Cancel functions of the client's subscriptions, by the id of the command.
        self.subscriptions: dict[int, Callable[[], None]] = {}
        self.coalesce = False
        self.last_id = 0
        self._queue: deque[bytes] = deque()
        self._limit = hub.send_queue_limit
        self._byte_limit = hub.send_queue_bytes
        #: Bytes queued plus the frame being written.
        self.queued_bytes = 0
        self._wake = asyncio.Event()
        self._roomy = asyncio.Event()
        self._roomy.set()
        self._drained = asyncio.Event()
        self._closing: str | None = None
        self._writer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"<WebSocket {self._last_user.username}@{self.address}>"

    # --- who --------------------------------------------------------------------------------------

    @property
    def user(self) -> User:
        """The connection's user as it is now (inactive when it was removed)."""
        user = self.auth.get_user(self.user_id)
        if user is None:
            if self._last_user.is_active:
                self._last_user = dataclasses.replace(self._last_user, is_active=False)
            return self._last_user
        self._last_user = user
        return user

    @property
    def grant(self) -> RefreshToken:
        """The grant the connection authenticated with (the last known one when revoked)."""
        grant = self.auth.data.tokens.get(self.grant_id)
        if grant is not None:
            self._last_grant = grant
        return self._last_grant

    def authorised(self) -> bool:
        """Whether the user is still active and its grant still valid; closes when not."""
        self.auth.reload_if_changed()
        user = self.auth.get_user(self.user_id)
        grant = self.auth.data.tokens.get(self.grant_id)
        if user is None or not user.is_active:
            self.close_later("its user was removed or deactivated")
            return False
        if grant is None or (
            grant.expires_at is not None and grant.expires_at < self.auth.data.now()
        ):
            self.close_later("its token was revoked or expired")
            return False
        return True

    # --- sending -------------------------------------------------------------------------------

    def send(self, message: bytes) -> None:
        """Queue a message (JSON bytes) for the client; never blocks.

        A client too far behind is disconnected instead.
        """
        if self._closing is not None:
            return
        queue = self._queue
        size = len(message)
        if len(queue) >= self._limit or (
            self.queued_bytes and self.queued_bytes + size > self._byte_limit
        ):
            self.close_later(
                f"client fell behind: {len(queue)} messages, {self.queued_bytes + size} bytes "
                "waiting to be sent (it does not read)",
                abort=True,
            )
            return
        self.queued_bytes += size
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
                    sent = sum(map(len, batch))
                    frame = b"[" + b",".join(batch) + b"]"
                    del batch
                else:
                    frame = queue.popleft()
                    sent = len(frame)
                if len(queue) <= self._limit // 2:
                    self._roomy.set()
                try:
                    await ws.send_frame(frame, WSMsgType.TEXT)
                except ConnectionError:
                    return  # the connection is gone; the reader ends and cleans up
                del frame
                self.queued_bytes -= sent
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
            self.queued_bytes = 0
        # Release a reader paced by wait_for_room, so that it sees the close and ends.
        self._roomy.set()
        _LOGGER.warning("Disconnecting WebSocket client %s: %s", repr(self), reason)
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
        if self._closing is not None or not self.authorised():
            return
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
        self.queued_bytes = 0


class WebSocketHub:
    """Every open WebSocket connection, and the ``/api/websocket`` handler."""

    def __init__(self, config: HttpConfig, runtime: Runtime) -> None:
        self.send_queue_limit = config.websocket_send_queue
        self.send_queue_bytes = config.websocket_send_queue_bytes
        self.connections: set[Connection] = set()
        self._stop_checking: Callable[[], None] | None = None
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
            if conn.grant_id == grant_id:
                conn.close_later("its token was revoked")

    def user_changed(self, user_id: str) -> None:
        """Disconnect the clients of a user removed, deactivated or demoted.

        A demoted user's client reconnects with the rights it has now; its subscriptions made
        with more rights end with the connection.
        """
        for conn in list(self.connections):
            if conn.user_id == user_id:
                conn.close_later("its user was removed, deactivated or lost rights")

    def start_checking(self, runtime: Runtime, auth: AuthManager) -> None:
        """Check users and tokens on disk every ``AUTH_CHECK_INTERVAL`` on the runtime's clock."""
        if not runtime.has_scheduler or self._stop_checking is not None:
            return

        @callback
        def check(_now: datetime) -> None:
            if self.connections:
                auth.reload_if_changed()

        self._stop_checking = runtime.scheduler.every(
            AUTH_CHECK_INTERVAL, check, name="websocket.auth_check"
        )

    async def close_all(self, reason: str) -> None:
        """Close every connection (server shutdown)."""
        if self._stop_checking is not None:
            self._stop_checking()
            self._stop_checking = None
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=reason.encode())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Upgrade, authenticate, serve."""
        runtime = request.app[RUNTIME]
        address = remote_address(request)
        guard = request.app[GUARD]
        auth = request.app[AUTH]
        self.start_checking(runtime, auth)
        ws = web.WebSocketResponse(max_msg_size=MAX_INCOMING_MESSAGE, heartbeat=55)
        await ws.prepare(request)
        await ws.send_frame(
            json_bytes({"type": "auth_required", "ha_version": HA_COMPAT_VERSION}), WSMsgType.TEXT
        )
        found = None
        token = None
        try:
            async with asyncio.timeout(AUTH_TIMEOUT):
                msg = await ws.receive()
            if msg.type is WSMsgType.TEXT:
                data = json_loads(msg.data)
                token = data.get("access_token") if isinstance(data, dict) else None
                if isinstance(data, dict) and data.get("type") == "auth" and isinstance(token, str):
                    found = await auth.authenticate(token)
        except (TimeoutError, ValueError):
            found = None
        if found is None:
            # A token this server (or a verifier's issuer) issued, stale after a restart, expired
            # or revoked, is a client retrying, not a guess; a banned address is not counted again.
            issued = isinstance(token, str) and await auth.issued_anywhere(token)
            if not issued and guard.banned_for(address) <= 0:
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
        _LOGGER.debug("WebSocket client %s connected", repr(conn))
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)
            _LOGGER.debug("WebSocket client %s disconnected", repr(conn))
        return ws


def add_routes(app: web.Application, config: HttpConfig) -> WebSocketHub:
    """Mount ``/api/websocket``; returns the hub (closed by the server at shutdown)."""
    hub = WebSocketHub(config, app[RUNTIME])
    app[HUB] = hub
    app[AUTH].on_revoke.append(hub.revoked)
    app[AUTH].on_user_change.append(hub.user_changed)

    @requires(Permission.PUBLIC)  # authenticates in-band, as Home Assistant's does
    async def websocket(request: web.Request) -> web.StreamResponse:
        return await hub.handle(request)

    app.router.add_get("/api/websocket", websocket)
    return hub
