"""The editor's action form on the server (``edgewise/automation/actions``): the actions of the
YAML text as data, one added or replaced, hostile and broken text answered with a clear error,
and admins only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
import yaml

from core.auth import Role
from tests.conftest import ConfigDirFactory
from tests.core.http.conftest import HTTP_CONFIG, Api
from tests.core.http.test_ws_panel import connect

from .test_editor_input import CONFIG, GOOD, started

TEXT = """\
alias: Pump alarm
triggers:
  - trigger: state
    entity_id: switch.pump
    to: "on"
actions:
  - action: persistent_notification.create
    data: {message: Pump on, severity: warning}
"""


@pytest_asyncio.fixture
async def editor(config_dir: ConfigDirFactory) -> AsyncIterator[Api]:
    site = config_dir(HTTP_CONFIG + CONFIG, **{"automations.yaml": GOOD})
    async for api in started(site):
        yield api


async def actions(api: Api, role: Role = Role.ADMIN, **fields: Any) -> Any:
    client = await connect(api, role)
    return await client.command(type="edgewise/automation/actions", **fields)


async def test_the_actions_are_read_added_and_replaced(editor: Api) -> None:
    read = await actions(editor, yaml=TEXT)
    assert read["result"] == {
        "actions": [
            {
                "action": "persistent_notification.create",
                "data": {"message": "Pump on", "severity": "warning"},
            }
        ]
    }
    added = {
        "action": "number.set_value",
        "target": {"entity_id": "number.sp"},
        "data": {"value": 21.5},
    }
    answer = (await actions(editor, yaml=TEXT, action=added))["result"]
    config = yaml.safe_load(answer["yaml"])
    assert config["alias"] == "Pump alarm"
    assert config["triggers"][0]["entity_id"] == "switch.pump"
    assert config["actions"][1] == added
    replaced = {
        "action": "persistent_notification.create",
        "data": {"message": "x", "severity": "critical"},
    }
    answer = (await actions(editor, yaml=answer["yaml"], action=replaced, index=0))["result"]
    assert yaml.safe_load(answer["yaml"])["actions"] == [replaced, added]
    # The older single "action:" key and no actions at all.
    single = "alias: A\ntriggers: []\naction:\n  action: switch.turn_on\n"
    assert (await actions(editor, yaml=single))["result"]["actions"] == [
        {"action": "switch.turn_on"}
    ]
    empty = (await actions(editor, yaml="alias: A\n", action={"action": "switch.turn_on"}))[
        "result"
    ]
    assert yaml.safe_load(empty["yaml"])["actions"] == [{"action": "switch.turn_on"}]


async def test_broken_and_hostile_text_gets_an_error_naming_the_line(editor: Api) -> None:
    broken = (await actions(editor, yaml="alias: A\nactions: [\n"))["result"]
    assert "automations.yaml" in broken["error"]
    assert broken["line"] is not None
    assert (await actions(editor, yaml="- a\n- b\n"))["result"]["error"] == (
        "An automation is a mapping of keys"
    )
    assert "not a list" in (await actions(editor, yaml="actions: 3\n"))["result"]["error"]
    out_of_range = await actions(editor, yaml=TEXT, action={"action": "x.y"}, index=5)
    assert out_of_range["result"]["error"] == "There is no action 5"
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    assert "error" in (await actions(editor, yaml=bomb))["result"]
    not_a_mapping = await actions(editor, yaml=TEXT, action=["x"])
    assert not_a_mapping["success"] is False


async def test_only_admins_may_use_it(editor: Api) -> None:
    for role in (Role.OPERATOR, Role.VIEWER):
        answer = await actions(editor, role, yaml=TEXT)
        assert answer["success"] is False
        assert answer["error"]["code"] == "unauthorized"
