"""The webhook trigger, reached over HTTP through a small aiohttp app that mounts handle_webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.runtime import Runtime
from core.webhook import handle_webhook

from .conftest import site

YAML = """\
automation:
  - id: hook
    triggers:
      - trigger: webhook
        webhook_id: garage-door-8f3a
        allowed_methods: [POST, PUT]
    actions:
      - action: test.record
        data:
          json: "{{ trigger.json.door if trigger.json is defined else 'none' }}"
          query: "{{ trigger.query.source | default('') }}"
"""


async def _client(runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async def route(request: web.Request) -> web.StreamResponse:
        return await handle_webhook(runtime, request.match_info["webhook_id"], request)

    app = web.Application()
    app.router.add_route("*", "/api/webhook/{webhook_id}", route)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def test_webhook_trigger_fires_with_json_and_query(cfg: Path) -> None:
    async with site(cfg, YAML) as s:
        async for client in _client(s.runtime):
            response = await client.post(
                "/api/webhook/garage-door-8f3a?source=phone", json={"door": "open"}
            )
            assert response.status == 200
            await s.wait_for(lambda: len(s.calls) == 1)
            assert s.calls[0].data == {"json": "open", "query": "phone"}
            assert (await client.get("/api/webhook/garage-door-8f3a")).status == 405
            await client.post("/api/webhook/unknown", json={})
            await s.settle()
            assert len(s.calls) == 1


async def test_turning_the_automation_off_unregisters_the_webhook(cfg: Path) -> None:
    async with site(cfg, YAML) as s:
        await s.runtime.services.call("automation", "turn_off", target={"entity_id": "all"})
        async for client in _client(s.runtime):
            await client.post("/api/webhook/garage-door-8f3a", json={"door": "open"})
            await s.settle()
            assert s.calls == []
