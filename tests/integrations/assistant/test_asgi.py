"""The aiohttp → ASGI bridge: scope, a streamed answer, a client that goes away, no answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from integrations.assistant.asgi import ASGIApp, Message, Receive, Send, serve_asgi
from tests._helpers import wait_for


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    """Serve an ASGI app at /asgi on a real aiohttp server; yields a function that sets it."""
    apps: list[ASGIApp] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        return await serve_asgi(apps[-1], request, body, scope_extra={"user": "ada"}, poll=0.05)

    app = web.Application()
    app.router.add_route("*", "/asgi", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]

    def use(asgi: ASGIApp) -> str:
        apps.append(asgi)
        return f"http://127.0.0.1:{port}/asgi"

    try:
        yield use
    finally:
        await runner.cleanup()


async def test_the_scope_and_body_reach_the_app_and_the_answer_comes_back(serve: Any) -> None:
    """Method, path, query, headers, body and the extra keys; status, headers and body back."""
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        seen.update(scope)
        seen["message"] = await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"text/plain"), (b"x-a", b"1"), (b"x-a", b"2")],
            }
        )
        await send({"type": "http.response.body", "body": b"made"})

    url = serve(app)
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "?q=1", data=b"hello", headers={"X-Test": "yes"}) as response,
    ):
        assert response.status == 201
        assert response.headers.getall("X-A") == ["1", "2"]
        assert await response.text() == "made"
    assert (seen["type"], seen["method"], seen["path"]) == ("http", "POST", "/asgi")
    assert seen["query_string"] == b"q=1"
    assert (b"x-test", b"yes") in seen["headers"]
    assert seen["user"] == "ada"
    assert seen["message"] == {"type": "http.request", "body": b"hello", "more_body": False}


async def test_a_streamed_answer_reaches_the_client_before_the_app_ends(serve: Any) -> None:
    """The first event is read while the app still waits to send the second."""
    go_on = asyncio.Event()

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await send({"type": "http.response.body", "body": b"data: one\n\n", "more_body": True})
        await go_on.wait()
        await send({"type": "http.response.body", "body": b"data: two\n\n"})

    url = serve(app)
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert await response.content.readline() == b"data: one\n"
        go_on.set()
        assert await response.read() == b"\ndata: two\n\n"


async def test_a_client_that_goes_away_is_told_to_the_app_as_a_disconnect(serve: Any) -> None:
    """After the body, receive waits; the client closing gives http.disconnect."""
    received: list[Message] = []

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"open", "more_body": True})
        received.append(await receive())
        received.append(await receive())  # waits until the client goes

    url = serve(app)
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert await response.content.readexactly(4) == b"open"
        await asyncio.sleep(0.2)
        assert len(received) == 1  # still waiting: the client is there
    await wait_for(lambda: len(received) == 2, "the disconnect")
    assert received[1] == {"type": "http.disconnect"}


async def test_an_app_that_answers_nothing_gives_500(serve: Any) -> None:
    """No http.response.start at all: 500, not a hang."""

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await receive()

    url = serve(app)
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 500
