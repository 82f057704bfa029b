"""One aiohttp request served by an ASGI application (the ``mcp`` package's transport is ASGI).

aiohttp-asgi (the adapter on PyPI) mounts a whole resource beside the router, which would put
the route outside Edgewise's authentication, and its ``receive`` keeps answering empty bodies
instead of ``http.disconnect`` once the body is read, so an open server-sent-event stream spins
(sse-starlette waits on ``receive`` for the disconnect). This bridge is small instead: it serves
one request from an ordinary, authenticated handler.

- The body is read (and bounded) by the handler and given whole in the first ``http.request``.
- After it, ``receive`` waits until the client goes away and then answers ``http.disconnect``
  (the transport is looked at every ``poll`` seconds: aiohttp does not cancel handlers on a
  disconnect by default), or until the application has answered.
- ``http.response.start`` prepares an ``aiohttp.web.StreamResponse`` (chunked unless the
  application gives a length); each ``http.response.body`` is written as it comes, so streams
  reach the client at once. A write to a client that has gone marks it disconnected; later
  messages are dropped (ASGI's rule before spec 2.4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from aiohttp import web

_LOGGER = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

#: Seconds between looks at the connection while the application waits for a disconnect.
DISCONNECT_POLL = 0.5


def http_scope(request: web.Request, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ASGI ``http`` scope of ``request`` (``extra`` keys added, e.g. the user)."""
    host, port = request.url.host, request.url.port
    peer = request.transport.get_extra_info("peername") if request.transport else None
    client = (peer[0], peer[1]) if isinstance(peer, tuple) and len(peer) >= 2 else None
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": f"{request.version.major}.{request.version.minor}",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.raw_path.split("?", 1)[0].encode("latin-1"),
        "query_string": request.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in request.raw_headers],
        "client": client,
        "server": (host, port) if host is not None else None,
        "state": {},
    }
    if extra:
        scope.update(extra)
    return scope


async def serve_asgi(
    app: ASGIApp,
    request: web.Request,
    body: bytes,
    *,
    scope_extra: Mapping[str, Any] | None = None,
    poll: float = DISCONNECT_POLL,
) -> web.StreamResponse:
    """Answer ``request`` (whose ``body`` the caller read) with the ASGI ``app``."""
    response: web.StreamResponse | None = None
    body_sent = False
    finished = asyncio.Event()
    gone = False

    def client_gone() -> bool:
        transport = request.transport
        return gone or transport is None or transport.is_closing()

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        while not client_gone() and not finished.is_set():
            try:
                await asyncio.wait_for(finished.wait(), poll)
            except TimeoutError:
                continue
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal response, gone
        if gone:
            return
        kind = message["type"]
        try:
            if kind == "http.response.start":
                if response is not None:
                    raise RuntimeError("http.response.start sent twice")
                response = web.StreamResponse(status=int(message["status"]))
                for name, value in message.get("headers", ()):
                    response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
                await response.prepare(request)
            elif kind == "http.response.body":
                if response is None:
                    raise RuntimeError("http.response.body before http.response.start")
                chunk = bytes(message.get("body", b""))
                if chunk:
                    await response.write(chunk)
                if not message.get("more_body", False):
                    await response.write_eof()
                    finished.set()
        except ConnectionResetError:
            gone = True

    try:
        await app(http_scope(request, scope_extra), receive, send)
    finally:
        finished.set()
    if response is None:
        _LOGGER.error(
            "The ASGI application answered %s %s with nothing", request.method, request.path
        )
        return web.Response(status=500, text="No response")
    if not gone and response.prepared:
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
    return response
