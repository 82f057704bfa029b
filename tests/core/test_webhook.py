"""core/webhook.py: the registry and ``handle_webhook``, mounted in a small aiohttp app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.runtime import Runtime
from core.webhook import handle_webhook, is_local, register_webhook, registered_webhooks


@pytest.fixture
async def runtime(tmp_path: Path) -> Runtime:
    return Runtime(tmp_path)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async def route(request: web.Request) -> web.StreamResponse:
        return await handle_webhook(runtime, request.match_info["webhook_id"], request)

    app = web.Application()
    app.router.add_route("*", "/api/webhook/{webhook_id}", route)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def test_registered_webhook_gets_the_request_and_answers(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    received: list[Any] = []

    async def handler(rt: Runtime, webhook_id: str, request: web.Request) -> web.Response:
        received.append((webhook_id, await request.json()))
        return web.json_response({"ok": True})

    unregister = register_webhook(runtime, "hook-1", handler)
    assert registered_webhooks(runtime) == ["hook-1"]
    response = await client.post("/api/webhook/hook-1", json={"a": 1})
    assert response.status == 200
    assert await response.json() == {"ok": True}
    assert received == [("hook-1", {"a": 1})]

    unregister()
    unregister()  # harmless twice
    response = await client.post("/api/webhook/hook-1", json={"a": 2})
    assert response.status == 200  # unknown ids answer like known ones
    assert len(received) == 1


async def test_method_not_allowed_and_duplicate_id(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    async def handler(rt: Runtime, webhook_id: str, request: web.Request) -> None:
        return None

    register_webhook(runtime, "hook-2", handler, allowed_methods=("PUT",))
    assert (await client.post("/api/webhook/hook-2")).status == 405
    assert (await client.put("/api/webhook/hook-2")).status == 200
    with pytest.raises(ValueError, match="already registered"):
        register_webhook(runtime, "hook-2", handler)


async def test_failing_handler_is_isolated(runtime: Runtime, client: TestClient[Any, Any]) -> None:
    async def handler(rt: Runtime, webhook_id: str, request: web.Request) -> None:
        raise RuntimeError("boom")

    register_webhook(runtime, "hook-3", handler)
    assert (await client.post("/api/webhook/hook-3")).status == 200


@pytest.mark.parametrize(
    ("remote", "local"),
    [
        ("127.0.0.1", True),
        ("192.168.1.20", True),
        ("10.0.0.1", True),
        ("::1", True),
        ("::ffff:192.168.1.2", True),
        ("fe80::1", True),
        ("8.8.8.8", False),
        ("2001:4860::8888", False),
        (None, False),
        ("garbage", False),
    ],
)
def test_is_local(remote: str | None, local: bool) -> None:
    assert is_local(remote) is local
