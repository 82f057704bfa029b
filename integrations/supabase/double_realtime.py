"""Supabase Realtime's Phoenix-channel protocol, for the Supabase test double.

Messages are ``{"event", "topic", "payload", "ref", "join_ref"}``. A client joins a topic
``realtime:<name>`` with ``phx_join`` whose ``config.postgres_changes`` lists bindings
(``event``, ``schema``, ``table``, ``filter`` such as ``site_id=eq.7``); the reply repeats
them with an ``id`` each, then a ``system`` message says it is subscribed. A change matching a
binding arrives as ``postgres_changes`` with the matching ``ids`` and ``data``. ``heartbeat``
on topic ``phoenix`` is answered; ``access_token`` replaces a channel's token. A channel whose
token expires gets a ``system`` error and ``phx_close``, as Realtime does; a message to a topic
not joined gets an ``unmatched topic`` error reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
from aiohttp import WSMsgType, web

from .filters import REALTIME_OPERATORS, RowFilter

if TYPE_CHECKING:
    from .double import SupabaseDouble

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Binding:
    """One ``postgres_changes`` binding of a channel."""

    id: int
    event: str
    schema: str
    table: str | None
    filter: str | None

    def reply(self) -> dict[str, Any]:
        """The binding as the join reply shows it."""
        out: dict[str, Any] = {"id": self.id, "event": self.event, "schema": self.schema}
        if self.table is not None:
            out["table"] = self.table
        if self.filter is not None:
            out["filter"] = self.filter
        return out

    def matches(self, change: dict[str, Any]) -> bool:
        """Whether ``change`` (a captured row change) is for this binding."""
        if self.event not in ("*", change["type"]) or self.schema != change["schema"]:
            return False
        if self.table is not None and self.table != change["table"]:
            return False
        if self.filter is None:
            return True
        row = change["record"] if change["type"] != "DELETE" else change["old_record"]
        return bool(row) and RowFilter.parse(self.filter).matches(row)


def parse_binding(raw: Any) -> Binding:
    """A ``Binding`` from a join's ``postgres_changes`` item (``ValueError`` when malformed)."""
    if not isinstance(raw, dict):
        raise ValueError("a postgres_changes binding must be an object")
    event = str(raw.get("event", "*")).upper()
    if event not in ("*", "INSERT", "UPDATE", "DELETE"):
        raise ValueError(f"unknown event {event!r}")
    schema = str(raw.get("schema", "public"))
    table = raw.get("table")
    filt = raw.get("filter")
    if filt is not None and RowFilter.parse(str(filt)).op not in REALTIME_OPERATORS:
        raise ValueError(f"invalid filter {filt!r}")
    key = f"{event}:{schema}:{table}:{filt}".encode()
    return Binding(zlib.crc32(key) or 1, event, schema, table, filt)


@dataclass(slots=True)
class Channel:
    """A joined topic on one socket."""

    topic: str
    join_ref: str | None
    bindings: list[Binding]
    expiry: asyncio.TimerHandle | None = None
    claims: dict[str, Any] = field(default_factory=dict)


class Socket:
    """One client's websocket and its channels."""

    def __init__(self, hub: RealtimeHub, ws: web.WebSocketResponse) -> None:
        self.hub = hub
        self.ws = ws
        self.channels: dict[str, Channel] = {}

    def send(self, message: dict[str, Any]) -> None:
        """Queue ``message`` (dropped when the socket is closing)."""
        if not self.ws.closed:
            self.hub.spawn(self.ws.send_str(json.dumps(message)))

    def reply(self, msg: dict[str, Any], status: str, response: dict[str, Any]) -> None:
        """Answer ``msg`` with ``phx_reply``."""
        self.send(
            {
                "event": "phx_reply",
                "topic": msg.get("topic"),
                "payload": {"status": status, "response": response},
                "ref": msg.get("ref"),
                "join_ref": msg.get("join_ref"),
            }
        )

    def _arm_expiry(self, channel: Channel, claims: dict[str, Any]) -> None:
        if channel.expiry is not None:
            channel.expiry.cancel()
        channel.claims = claims
        exp = claims.get("exp")
        if isinstance(exp, (int, float)):
            delay = max(0.0, exp - time.time())
            channel.expiry = asyncio.get_running_loop().call_later(
                delay, self._expire, channel.topic
            )

    def _expire(self, topic: str) -> None:
        channel = self.channels.pop(topic, None)
        if channel is None:
            return
        name = topic.removeprefix("realtime:")
        self.send(
            {
                "event": "system",
                "topic": topic,
                "payload": {
                    "channel": name,
                    "extension": "system",
                    "message": "Token has expired 0 seconds ago",
                    "status": "error",
                },
                "ref": None,
            }
        )
        self.send(
            {
                "event": "phx_close",
                "topic": topic,
                "payload": {},
                "ref": channel.join_ref,
                "join_ref": channel.join_ref,
            }
        )

    def handle(self, msg: dict[str, Any]) -> None:
        """Act on one client message."""
        event, topic = msg.get("event"), str(msg.get("topic"))
        if event == "heartbeat" and topic == "phoenix":
            self.reply(msg, "ok", {})
        elif event == "phx_join":
            self._join(msg, topic)
        elif topic not in self.channels:
            self.reply(msg, "error", {"reason": "unmatched topic"})
        elif event == "phx_leave":
            channel = self.channels.pop(topic)
            if channel.expiry is not None:
                channel.expiry.cancel()
            self.reply(msg, "ok", {})
            self.send(
                {
                    "event": "phx_close",
                    "topic": topic,
                    "payload": {},
                    "ref": channel.join_ref,
                    "join_ref": channel.join_ref,
                }
            )
        elif event == "access_token":
            token = (msg.get("payload") or {}).get("access_token")
            try:
                claims = self.hub.double.decode(str(token))
            except jwt.PyJWTError:
                self.send(
                    {
                        "event": "system",
                        "topic": topic,
                        "ref": None,
                        "payload": {
                            "channel": topic.removeprefix("realtime:"),
                            "extension": "system",
                            "message": "Invalid JWT",
                            "status": "error",
                        },
                    }
                )
                return
            self._arm_expiry(self.channels[topic], claims)
        else:
            self.reply(msg, "ok", {})

    def _join(self, msg: dict[str, Any], topic: str) -> None:
        payload = msg.get("payload") or {}
        config = payload.get("config") or {}
        token = payload.get("access_token") or self.hub.apikey(self)
        try:
            claims = self.hub.double.decode(str(token))
        except jwt.ExpiredSignatureError:
            self.reply(msg, "error", {"reason": "Token has expired"})
            return
        except jwt.PyJWTError:
            self.reply(msg, "error", {"reason": "Invalid JWT"})
            return
        try:
            bindings = [parse_binding(b) for b in config.get("postgres_changes") or []]
        except ValueError as err:
            self.reply(msg, "error", {"reason": str(err)})
            return
        old = self.channels.pop(topic, None)
        if old is not None and old.expiry is not None:
            old.expiry.cancel()
        channel = Channel(topic, msg.get("join_ref") or msg.get("ref"), bindings)
        self.channels[topic] = channel
        self._arm_expiry(channel, claims)
        self.reply(msg, "ok", {"postgres_changes": [b.reply() for b in bindings]})
        if bindings:
            self.send(
                {
                    "event": "system",
                    "topic": topic,
                    "payload": {
                        "channel": topic.removeprefix("realtime:"),
                        "extension": "postgres_changes",
                        "message": "Subscribed to PostgreSQL",
                        "status": "ok",
                    },
                    "ref": None,
                }
            )

    def dispatch(self, change: dict[str, Any]) -> None:
        """Send ``change`` to every channel with a matching binding."""
        for topic, channel in self.channels.items():
            ids = [b.id for b in channel.bindings if b.matches(change)]
            if ids:
                self.send(
                    {
                        "event": "postgres_changes",
                        "topic": topic,
                        "payload": {"ids": ids, "data": change},
                        "ref": None,
                    }
                )

    def close(self) -> None:
        """Cancel the channels' timers."""
        for channel in self.channels.values():
            if channel.expiry is not None:
                channel.expiry.cancel()
        self.channels.clear()


class RealtimeHub:
    """Every open Realtime socket of the double."""

    def __init__(self, double: SupabaseDouble) -> None:
        self.double = double
        self.sockets: dict[Socket, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any) -> None:
        """Run a send in the background (kept until done)."""
        task = asyncio.get_running_loop().create_task(coro, name="supabase_double.send")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def apikey(self, socket: Socket) -> str:
        """The apikey a socket connected with."""
        return self.sockets.get(socket, "")

    def dispatch(self, change: dict[str, Any]) -> None:
        """Hand a captured change to every socket."""
        for socket in list(self.sockets):
            socket.dispatch(change)

    async def close_all(self) -> None:
        """Close every socket (an outage, or shutdown)."""
        for socket in list(self.sockets):
            socket.close()
            with contextlib.suppress(Exception):
                await socket.ws.close()
        self.sockets.clear()

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """Serve ``/realtime/v1/websocket``."""
        if self.double.down:
            return web.Response(status=503, text="Service Unavailable")
        apikey = request.query.get("apikey", "")
        if apikey not in (self.double.anon_key, self.double.service_key):
            return web.json_response({"message": "Invalid API key"}, status=401)
        if request.query.get("vsn", "1.0.0") != "1.0.0":
            return web.json_response({"message": "unsupported vsn"}, status=400)
        ws = web.WebSocketResponse(max_msg_size=1024 * 1024)
        await ws.prepare(request)
        socket = Socket(self, ws)
        self.sockets[socket] = apikey
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                try:
                    msg = json.loads(message.data)
                except ValueError:
                    continue
                if isinstance(msg, dict):
                    socket.handle(msg)
        finally:
            socket.close()
            self.sockets.pop(socket, None)
        return ws
