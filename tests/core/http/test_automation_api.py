"""Automations and scripts over the APIs: configuration CRUD, webhooks, execute_script,
subscribe_trigger, validate_config and traces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from automations import integration as automation_integration
from automations import script_integration
from core.auth import Role
from core.webhook import register_webhook
from tests._helpers import wait_for
from tests.core.http.conftest import Api
from tests.core.http.test_websocket import connect

AUTOMATIONS = """\
- id: lights_on
  alias: Lights on
  triggers: [{trigger: event, event_type: dusk}]
  actions: [{action: light.turn_on, target: {entity_id: light.kitchen}}]
"""


async def start(api_factory: Callable[..., Any]) -> Api:
    api: Api = await api_factory(
        "automation: !include automations.yaml\n",
        automation_integration,
        script_integration,
        files={"automations.yaml": AUTOMATIONS},
    )
    return api


async def test_automation_config_crud(api_factory: Callable[..., Any]) -> None:
    api = await start(api_factory)
    status, config = await api.request("GET", "/api/config/automation/config/lights_on")
    assert status == 200
    assert config["alias"] == "Lights on"
    assert await api.request("GET", "/api/config/automation/config/nope") == (
        404,
        {"message": "Resource not found"},
    )
    new = {
        "alias": "Bell",
        "triggers": [{"trigger": "event", "event_type": "bell"}],
        "actions": [{"action": "light.turn_on", "target": {"entity_id": "light.hall"}}],
    }
    status, _ = await api.request(
        "POST", "/api/config/automation/config/bell", role=Role.OPERATOR, json=new
    )
    assert status == 403
    assert await api.request("POST", "/api/config/automation/config/bell", json=new) == (
        200,
        {"result": "ok"},
    )
    api.runtime.bus.fire("bell")
    await wait_for(lambda: api.runtime.states.get("light.hall") is not None)
    status, body = await api.request(
        "POST", "/api/config/automation/config/broken", json={"triggers": [], "actons": []}
    )
    assert status == 400
    assert body["message"].startswith("Message malformed:")
    assert await api.request("DELETE", "/api/config/automation/config/bell") == (
        200,
        {"result": "ok"},
    )
    assert await api.request("DELETE", "/api/config/automation/config/bell") == (
        404,
        {"message": "Resource not found"},
    )
    assert "bell" not in (api.runtime.config_dir / "automations.yaml").read_text()


async def test_script_config_crud(api_factory: Callable[..., Any]) -> None:
    api: Api = await api_factory(
        "script: !include scripts.yaml\n",
        automation_integration,
        script_integration,
        files={
            "scripts.yaml": (
                "# kept\nwake_up:  # and this\n"
                "  sequence: [{action: light.turn_on, target: {entity_id: light.bed}}]\n"
            )
        },
    )
    status, config = await api.request("GET", "/api/config/script/config/wake_up")
    assert status == 200
    assert config == {
        "sequence": [{"action": "light.turn_on", "target": {"entity_id": "light.bed"}}]
    }
    assert await api.request("GET", "/api/config/script/config/nope") == (
        404,
        {"message": "Resource not found"},
    )
    new = {
        "alias": "Hall on",
        "sequence": [{"action": "light.turn_on", "target": {"entity_id": "light.hall"}}],
    }
    status, _ = await api.request(
        "POST", "/api/config/script/config/hall_on", role=Role.OPERATOR, json=new
    )
    assert status == 403
    assert await api.request("POST", "/api/config/script/config/hall_on", json=new) == (
        200,
        {"result": "ok"},
    )
    # Reloaded: the script is a service at once.
    status, _ = await api.request("POST", "/api/services/script/hall_on", json={})
    assert status == 200
    await wait_for(lambda: api.runtime.states.get("light.hall") is not None)
    status, body = await api.request(
        "POST", "/api/config/script/config/broken", json={"sequence": [], "mdoe": "single"}
    )
    assert status == 400
    assert body["message"].startswith("Message malformed: Script 'broken'")
    assert "mdoe" in body["message"]
    text = (api.runtime.config_dir / "scripts.yaml").read_text()
    assert "# kept" in text
    assert "# and this" in text
    assert "broken" not in text
    assert await api.request("DELETE", "/api/config/script/config/hall_on") == (
        200,
        {"result": "ok"},
    )
    assert await api.request("DELETE", "/api/config/script/config/hall_on") == (
        404,
        {"message": "Resource not found"},
    )
    assert not api.runtime.services.has("script", "hall_on")
    assert "hall_on" not in (api.runtime.config_dir / "scripts.yaml").read_text()


async def test_webhooks_need_no_token(api_factory: Callable[..., Any]) -> None:
    api = await start(api_factory)
    seen: list[Any] = []

    async def handler(runtime: Any, webhook_id: str, request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response({"ok": webhook_id})

    register_webhook(api.runtime, "garage", handler)
    assert await api.request("POST", "/api/webhook/garage", role=None, json={"open": 1}) == (
        200,
        {"ok": "garage"},
    )
    assert seen == [{"open": 1}]
    status, _ = await api.request("POST", "/api/webhook/unknown", role=None, json={})
    assert status == 200


async def test_scripts_triggers_validation_and_traces(api_factory: Callable[..., Any]) -> None:
    api = await start(api_factory)
    async with connect(api) as client:
        ran = await client.command(
            "execute_script",
            sequence=[{"action": "light.turn_on", "target": {"entity_id": "light.kitchen"}}],
        )
        assert ran["success"] is True, ran
        assert set(ran["result"]) == {"context", "response"}
        state = api.runtime.states.get("light.kitchen")
        assert state is not None
        assert state.state == "on"
        bad = await client.command("execute_script", sequence=[{"no_such_action": 1}])
        assert bad["error"]["code"] == "invalid_format"

        sub = await client.command(
            "subscribe_trigger", trigger={"trigger": "event", "event_type": "knock"}
        )
        assert sub["success"] is True, sub
        api.runtime.bus.fire("knock", {"door": "front"})
        fired = await client.receive()
        assert fired["id"] == sub["id"]
        assert fired["event"]["variables"]["trigger"]["event"]["data"] == {"door": "front"}

        checked = await client.command(
            "validate_config",
            trigger={"trigger": "event", "event_type": "x"},
            action=[{"no_such_action": 1}],
        )
        assert checked["result"]["trigger"] == {"valid": True, "error": None}
        assert checked["result"]["action"]["valid"] is False

        api.runtime.bus.fire("dusk")
        await wait_for(lambda: bool(api.runtime.states.get("light.kitchen")))
        traces: list[Any] = []
        for _ in range(200):
            traces = (await client.command("trace/list", domain="automation"))["result"]
            if traces:
                break
        assert traces
        one = traces[-1]
        got = await client.command(
            "trace/get", domain="automation", item_id=one["item_id"], run_id=one["run_id"]
        )
        assert got["success"] is True
        missing = await client.command(
            "trace/get", domain="automation", item_id="lights_on", run_id="nope"
        )
        assert missing["error"]["code"] == "not_found"
    async with connect(api, Role.OPERATOR) as operator:
        denied = await operator.command("execute_script", sequence=[])
        assert denied["error"]["code"] == "unauthorized"
        denied = await operator.command("subscribe_trigger", trigger=[])
        assert denied["error"]["code"] == "unauthorized"
    async with connect(api, Role.VIEWER) as viewer:
        # Traces carry what triggered a run (webhook ids, payloads): admins only, as in HA.
        denied = await viewer.command("trace/list")
        assert denied["error"]["code"] == "unauthorized"
        checked = await viewer.command("validate_config", condition=[])
        assert checked["result"] == {"condition": {"valid": True, "error": None}}
