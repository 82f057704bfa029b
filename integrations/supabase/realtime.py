"""Supabase Realtime's ``postgres_changes`` over its Phoenix-channel websocket, kept alive.

``RealtimeFeed.run`` connects to ``<url>/realtime/v1/websocket?apikey=…&vsn=1.0.0``, joins one
topic with the configured bindings and a fresh access token, and hands each change on. It sends
a heartbeat every ``heartbeat_interval`` (25 s, as Supabase's clients do) and treats a heartbeat
left unanswered until the next one as a dead connection. Before the token expires it sends a
fresh one (``access_token``); when the server closes the channel anyway (an expired token, a
``phx_error``) it rejoins on the same socket with a fresh token. After every (re)join the owner
is told (``on_joined``) so it can re-read the table: a change made while the feed was down is
then never missed. A lost socket is reconnected with jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from core.errors import DeviceError
from core.limits import safe_repr

from .const import (
    JOIN_TIMEOUT,
    MAX_MESSAGE_BYTES,
    RECONNECT_MAX,
    RECONNECT_MIN,
    TOKEN_REFRESH_SHARE,
)

_LOGGER = logging.getLogger(__name__)

#: A change as Realtime sends it (``payload.data``).
ChangeHandler = Callable[[dict[str, Any]], None]


class FeedClosed(Exception):
    """The socket or the channel ended; reconnect or rejoin."""

    def __init__(self, message: str, *, rejoin: bool = False) -> None:
        super().__init__(message)
        self.rejoin = rejoin


def token_expiry(token: str) -> float | None:
    """The ``exp`` of a JWT (read, not verified: the server verifies), or None."""
    try:
        body = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


class RealtimeFeed:
    """One websocket and one channel of ``postgres_changes`` bindings. Runs on the event loop.

    Args:
        session: the aiohttp session.
        url: the project URL.
        apikey: the anon key (the socket's ``apikey``).
        topic: the channel's name (``realtime:<topic>``).
        bindings: ``postgres_changes`` items (``event``, ``schema``, ``table``, ``filter``).
        token: gives a fresh access token for every join and refresh.
        on_change: called with each change's ``data``.
        on_joined: awaited after every successful join (re-read what may have been missed);
            a ``DeviceError`` from it makes the feed reconnect and try again.
        on_down: called when the feed is lost.
        heartbeat_interval: seconds between heartbeats.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        apikey: str,
        topic: str,
        bindings: list[dict[str, Any]],
        *,
        token: Callable[[], str],
        on_change: ChangeHandler,
        on_joined: Callable[[], Awaitable[None]],
        on_down: Callable[[], None],
        heartbeat_interval: float,
    ) -> None:
        self._session = session
        ws_url = url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        self._url = f"{ws_url}/realtime/v1/websocket"
        self._apikey = apikey
        self.topic = f"realtime:{topic}"
        self.bindings = bindings
        self._token = token
        self._on_change = on_change
        self._on_joined = on_joined
        self._on_down = on_down
        self._heartbeat_interval = heartbeat_interval
        self._ref = 0
        self._join_ref: str | None = None
        self._pending_heartbeat: str | None = None
        self.joined = False
        self.ids: set[int] = set()
        #: How many times the feed joined (tests and diagnostics).
        self.joins = 0

    def _next_ref(self) -> str:
        self._ref += 1
        return str(self._ref)

    async def run(self) -> None:
        """Connect, join and deliver changes until cancelled."""
        attempt = 0
        while True:
            try:
                async with self._session.ws_connect(
                    self._url,
                    params={"apikey": self._apikey, "vsn": "1.0.0"},
                    max_msg_size=MAX_MESSAGE_BYTES,
                    autoping=True,
                ) as ws:
                    attempt = 0
                    await self._serve(ws)
            except (aiohttp.ClientError, TimeoutError, FeedClosed, OSError) as err:
                self._lost(str(err) or type(err).__name__)
            delay = min(RECONNECT_MAX, RECONNECT_MIN * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
            attempt += 1
            await asyncio.sleep(delay)

    def _lost(self, why: str) -> None:
        was = self.joined
        self.joined = False
        self._pending_heartbeat = None
        if was:
            _LOGGER.warning("Supabase Realtime %s lost: %s", self.topic, why)
        else:
            _LOGGER.debug("Supabase Realtime %s not connected: %s", self.topic, why)
        self._on_down()

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, msg: dict[str, Any]) -> None:
        await ws.send_str(json.dumps(msg))

    async def _join(self, ws: aiohttp.ClientWebSocketResponse) -> tuple[str, str]:
        ref = self._next_ref()
        self._join_ref = ref
        token = self._token()
        await self._send(
            ws,
            {
                "event": "phx_join",
                "topic": self.topic,
                "payload": {
                    "config": {
                        "broadcast": {"ack": False, "self": False},
                        "presence": {"key": ""},
                        "postgres_changes": self.bindings,
                        "private": False,
                    },
                    "access_token": token,
                },
                "ref": ref,
                "join_ref": ref,
            },
        )
        return ref, token

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        heartbeat = asyncio.get_running_loop().create_task(
            self._heartbeats(ws), name=f"supabase[{self.topic}].heartbeat"
        )
        refresh: asyncio.Task[None] | None = None
        try:
            join_ref, token = await self._join(ws)
            join_deadline = asyncio.get_running_loop().time() + JOIN_TIMEOUT
            while True:
                timeout = None
                if not self.joined:
                    timeout = max(0.0, join_deadline - asyncio.get_running_loop().time())
                try:
                    msg = await ws.receive(timeout=timeout)
                except TimeoutError as err:
                    raise FeedClosed("no answer to phx_join") from err
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise FeedClosed(f"socket {msg.type.name.lower()}")
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                if not isinstance(data, dict):
                    continue
                try:
                    if await self._handle(ws, data, join_ref):
                        if refresh is not None:
                            refresh.cancel()
                        refresh = asyncio.get_running_loop().create_task(
                            self._refresh_token(ws, token), name=f"supabase[{self.topic}].token"
                        )
                except FeedClosed as closed:
                    if not closed.rejoin:
                        raise
                    _LOGGER.info("Supabase Realtime %s: %s; rejoining", self.topic, closed)
                    self._lost(str(closed))
                    join_ref, token = await self._join(ws)
                    join_deadline = asyncio.get_running_loop().time() + JOIN_TIMEOUT
                except Exception:  # one message's parts of unexpected types must not end the feed
                    _LOGGER.exception(
                        "Supabase Realtime %s: a message could not be handled; skipped: %s",
                        self.topic,
                        safe_repr(data),
                    )
        finally:
            heartbeat.cancel()
            if refresh is not None:
                refresh.cancel()

    async def _handle(
        self, ws: aiohttp.ClientWebSocketResponse, data: dict[str, Any], join_ref: str
    ) -> bool:
        """Act on one server message; True when it completed a join."""
        event, topic, payload = data.get("event"), data.get("topic"), data.get("payload")
        if not isinstance(payload, dict):
            payload = {}
        if topic == "phoenix":
            if data.get("ref") == self._pending_heartbeat:
                self._pending_heartbeat = None
            return False
        if topic != self.topic:
            return False
        if event == "phx_reply" and data.get("ref") == join_ref:
            if payload.get("status") != "ok":
                raise FeedClosed(f"join refused: {payload.get('response')}")
            response = payload.get("response") or {}
            self.ids = {
                int(b["id"])
                for b in response.get("postgres_changes") or []
                if isinstance(b, dict) and "id" in b
            }
            try:
                await self._on_joined()
            except DeviceError as err:
                # Joined but the table could not be re-read: changes may have been missed, so
                # this join does not count; reconnect (with backoff) and read again.
                raise FeedClosed(f"re-reading after the join failed: {err}") from err
            self.joined = True
            self.joins += 1
            _LOGGER.info("Supabase Realtime %s joined", self.topic)
            return True
        if event == "postgres_changes":
            ids = payload.get("ids")
            change = payload.get("data")
            if isinstance(change, dict) and (
                not self.ids or not isinstance(ids, list) or self.ids & set(ids)
            ):
                self._on_change(change)
        elif event == "system" and payload.get("status") == "error":
            raise FeedClosed(f"system: {payload.get('message')}", rejoin=True)
        elif event in ("phx_close", "phx_error") and (
            # A close for an earlier join (after a token error we rejoined already) is stale.
            (data.get("join_ref") or data.get("ref")) in (None, join_ref)
        ):
            raise FeedClosed(str(event), rejoin=True)
        return False

    async def _heartbeats(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            if self._pending_heartbeat is not None:
                _LOGGER.warning("Supabase Realtime %s: heartbeat unanswered", self.topic)
                await ws.close()
                return
            ref = self._next_ref()
            self._pending_heartbeat = ref
            await self._send(
                ws, {"event": "heartbeat", "topic": "phoenix", "payload": {}, "ref": ref}
            )

    async def _refresh_token(self, ws: aiohttp.ClientWebSocketResponse, token: str) -> None:
        """Send a fresh token before ``token`` expires (each fresh one in turn)."""
        while True:
            exp = token_expiry(token)
            if exp is None:
                return
            left = exp - time.time()
            await asyncio.sleep(max(0.0, left * TOKEN_REFRESH_SHARE))
            token = self._token()
            await self._send(
                ws,
                {
                    "event": "access_token",
                    "topic": self.topic,
                    "payload": {"access_token": token},
                    "ref": self._next_ref(),
                    "join_ref": self._join_ref,
                },
            )
