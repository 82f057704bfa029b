"""The panel's YAML editor against hostile text (issue 25, items 10 and 11) and the shipped
automations it must open (issue 28), over the real WebSocket API."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import yaml

import automations.integration
from core.auth import Role
from tests.conftest import ConfigDirFactory
from tests.core.http.conftest import HTTP_CONFIG, Api, ApiTestIntegration, start_api
from tests.core.http.test_ws_panel import connect
from tests.core.test_yaml_limits import LAUGHS

from .test_config_store import SHIPPED, editor_template, shipped_automation_ids

CONFIG = "automation: !include automations.yaml\n"
GOOD = (
    "- id: existing\n  alias: Existing\n"
    "  triggers: [{trigger: event, event_type: go}]\n  actions: []\n"
)


async def started(site: Path) -> AsyncIterator[Api]:
    integration = ApiTestIntegration()
    runtime, tokens = await start_api(site, integration, automations.integration)
    assert runtime.http is not None
    async with aiohttp.ClientSession() as session:
        yield Api(runtime, f"http://127.0.0.1:{runtime.http.port}", session, integration, tokens)
    await runtime.stop()


@pytest_asyncio.fixture
async def editor(config_dir: ConfigDirFactory) -> AsyncIterator[Api]:
    site = config_dir(HTTP_CONFIG + CONFIG, **{"automations.yaml": GOOD})
    async for api in started(site):
        yield api


@pytest_asyncio.fixture
async def shipped(config_dir: ConfigDirFactory) -> AsyncIterator[Api]:
    site = config_dir(HTTP_CONFIG + CONFIG)
    shutil.copy(SHIPPED / "automations.yaml", site / "automations.yaml")
    async for api in started(site):
        yield api


async def test_env_var_in_the_editor_is_refused_and_nothing_is_written(
    editor: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGEWISE_TEST_SECRET", "hunter2-from-the-environment")
    before = (editor.runtime.config_dir / "automations.yaml").read_text()
    admin = await connect(editor, Role.ADMIN)
    answer = await admin.command(
        type="edgewise/automation/save",
        automation_id="leak",
        yaml=(
            "alias: Leak\ntriggers:\n  - trigger: event\n    event_type: go\n"
            "actions:\n  - action: test.record\n    data:\n"
            "      token: !env_var EDGEWISE_TEST_SECRET\n"
        ),
    )
    result = answer["result"]
    assert result["saved"] is False
    [error] = result["errors"]
    assert error["line"] == 8
    assert "!env_var is not allowed" in error["message"]
    text = (editor.runtime.config_dir / "automations.yaml").read_text()
    assert text == before
    assert "hunter2" not in text


async def test_an_anchor_bomb_in_the_editor_is_refused_in_well_under_a_second(editor: Api) -> None:
    admin = await connect(editor, Role.ADMIN)
    bomb = LAUGHS + "triggers: [{trigger: event, event_type: go}]\nactions: []\n"
    assert len(bomb.encode()) < 600
    before = (editor.runtime.config_dir / "automations.yaml").read_text()
    started_at = time.monotonic()
    answer = await admin.command(type="edgewise/automation/save", automation_id="bomb", yaml=bomb)
    assert time.monotonic() - started_at < 1.0
    assert answer["result"]["saved"] is False
    assert "aliases" in answer["result"]["errors"][0]["message"]
    assert (editor.runtime.config_dir / "automations.yaml").read_text() == before


async def test_the_editors_own_template_saves_and_opens_again(editor: Api) -> None:
    admin = await connect(editor, Role.ADMIN)
    saved = await admin.command(
        type="edgewise/automation/save", automation_id="from_template", yaml=editor_template()
    )
    # The template's switch.turn_on is not a service of this test site: refused, not written.
    assert saved["result"]["saved"] is False
    (editor.runtime.config_dir / "automations.yaml").write_text(
        GOOD
        + "- id: from_template\n"
        + "".join(f"  {line}\n" for line in editor_template().splitlines())
    )
    opened = await admin.command(type="edgewise/automation/get", automation_id="from_template")
    assert opened["success"] is True, opened
    assert yaml.safe_load(opened["result"]["yaml"])["triggers"][0]["to"] == "on"


@pytest.mark.parametrize("automation_id", shipped_automation_ids())
async def test_every_shipped_automation_opens_in_the_editor(
    shipped: Api, automation_id: str
) -> None:
    admin = await connect(shipped, Role.ADMIN)
    answer = await admin.command(type="edgewise/automation/get", automation_id=automation_id)
    assert answer["success"] is True, answer
    assert yaml.safe_load(answer["result"]["yaml"]) == answer["result"]["config"]
    assert answer["result"]["config"]["id"] == automation_id


async def test_the_config_api_answers_400_for_a_deep_template_and_writes_nothing(
    editor: Api,
) -> None:
    before = (editor.runtime.config_dir / "automations.yaml").read_text()
    template = "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"
    status, answer = await editor.request(
        "POST",
        "/api/config/automation/config/deep",
        json={
            "triggers": [{"trigger": "event", "event_type": "go"}],
            "actions": [{"action": "apitest.reload", "data": {"x": template}}],
        },
    )
    assert status == 400, answer
    assert "nested too deeply" in answer["message"]
    assert (editor.runtime.config_dir / "automations.yaml").read_text() == before
