"""The automation pages' WebSocket commands: YAML in, errors with their line out, traces."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

import automations.integration
from core.auth import Role
from tests.conftest import ConfigDirFactory
from tests.core.http.conftest import HTTP_CONFIG, Api, ApiTestIntegration, start_api
from tests.core.http.test_ws_panel import connect

CONFIG = "automation: !include automations.yaml\n"


@pytest_asyncio.fixture
async def with_automations(config_dir: ConfigDirFactory) -> AsyncIterator[Api]:
    """The API with the automation integration and an empty automations.yaml."""
    site = config_dir(HTTP_CONFIG + CONFIG, **{"automations.yaml": "[]\n"})
    integration = ApiTestIntegration()
    runtime, tokens = await start_api(site, integration, automations.integration)
    assert runtime.http is not None
    async with aiohttp.ClientSession() as session:
        yield Api(runtime, f"http://127.0.0.1:{runtime.http.port}", session, integration, tokens)
    await runtime.stop()


async def test_save_reports_yaml_and_schema_errors_at_their_line(with_automations: Api) -> None:
    api = with_automations
    admin = await connect(api, Role.ADMIN)

    syntax = await admin.command(
        type="edgewise/automation/save", automation_id="a1", yaml="alias: x\ntriggers: [\n"
    )
    assert syntax["result"]["saved"] is False
    assert syntax["result"]["errors"][0]["line"] is not None

    schema = await admin.command(
        type="edgewise/automation/save",
        automation_id="a1",
        yaml="alias: x\ntriggers:\n  - trigger: nope\nactions: []\n",
    )
    assert schema["result"]["saved"] is False
    assert schema["result"]["errors"][0]["line"] == 3

    good = await admin.command(
        type="edgewise/automation/save",
        automation_id="a1",
        yaml="alias: Hello\ntriggers:\n  - trigger: event\n    event_type: go\nactions: []\n",
    )
    assert good["result"]["saved"] is True
    assert good["result"]["created"] is True
    listed = await admin.command(type="edgewise/automation/list")
    assert [a["alias"] for a in listed["result"]] == ["Hello"]
    fetched = await admin.command(type="edgewise/automation/get", automation_id="a1")
    assert "event_type: go" in fetched["result"]["yaml"]
    assert (await admin.command(type="trace/list", domain="automation"))["result"] == []
    missing = await admin.command(type="trace/get", domain="automation", item_id="a1", run_id="x")
    assert missing["error"]["code"] == "not_found"

    viewer = await connect(api, Role.VIEWER)
    denied = await viewer.command(type="edgewise/automation/delete", automation_id="a1")
    assert denied["error"]["code"] == "unauthorized"
    await admin.command(type="edgewise/automation/delete", automation_id="a1")
    assert (await admin.command(type="edgewise/automation/list"))["result"] == []


async def test_without_the_automation_integration_its_commands_do_not_exist(api: Api) -> None:
    admin = await connect(api, Role.ADMIN)
    for command in ("edgewise/automation/list", "trace/list", "execute_script"):
        answer = await admin.command(type=command)
        assert answer["error"]["code"] == "unknown_command", command


async def test_the_editor_and_traces_are_admin_only(with_automations: Api) -> None:
    api = with_automations
    for role in (Role.VIEWER, Role.OPERATOR):
        client = await connect(api, role)
        for command, fields in (
            ("edgewise/automation/list", {}),
            ("edgewise/automation/get", {"automation_id": "a1"}),
            ("trace/list", {}),
            ("trace/get", {"domain": "automation", "item_id": "a1", "run_id": "x"}),
        ):
            answer = await client.command(type=command, **fields)
            assert answer["error"]["code"] == "unauthorized", (role, command)
