"""The editor's saves (issue 28, "editor saves are unsafe"): an id in use is refused on create,
template errors are refused at their line, unknown entities are named in a warning, and each
error is reported at the right line and key of ``automations.yaml``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from core.auth import Role
from tests.conftest import ConfigDirFactory
from tests.core.http.conftest import HTTP_CONFIG, Api
from tests.core.http.test_ws_panel import connect

from .test_editor_input import CONFIG, GOOD, started

HEAD = "alias: X\ntriggers:\n  - trigger: event\n    event_type: go\n"


@pytest_asyncio.fixture
async def editor(config_dir: ConfigDirFactory) -> AsyncIterator[Api]:
    site = config_dir(HTTP_CONFIG + CONFIG, **{"automations.yaml": GOOD})
    async for api in started(site):
        yield api


async def save(api: Api, text: str, automation_id: str = "probe", **extra: Any) -> Any:
    admin = await connect(api, Role.ADMIN)
    answer = await admin.command(
        type="edgewise/automation/save", automation_id=automation_id, yaml=text, **extra
    )
    return answer["result"]


async def test_creating_with_an_id_in_use_is_refused_and_the_other_is_kept(editor: Api) -> None:
    before = (editor.runtime.config_dir / "automations.yaml").read_text()
    result = await save(editor, HEAD + "actions: []\n", "existing", create=True)
    assert result["saved"] is False
    assert result["field"] == "id"
    assert "'existing' is already used" in result["errors"][0]["message"]
    assert (editor.runtime.config_dir / "automations.yaml").read_text() == before


async def test_editing_an_id_replaces_that_automation(editor: Api) -> None:
    result = await save(editor, HEAD + "actions: []\n", "existing")
    assert result["saved"] is True
    assert result["created"] is False
    assert "alias: X" in (editor.runtime.config_dir / "automations.yaml").read_text()


async def test_a_template_error_is_refused_at_its_line(editor: Api) -> None:
    text = HEAD + "actions:\n  - action: light.turn_on\n    data:\n      v: '{{ 1 + }}'\n"
    result = await save(editor, text)
    assert result["saved"] is False
    [error] = result["errors"]
    assert error["line"] == 8
    assert "invalid template" in error["message"]
    assert "probe" not in (editor.runtime.config_dir / "automations.yaml").read_text()


async def test_unknown_entity_ids_are_saved_with_a_warning_naming_them(editor: Api) -> None:
    editor.runtime.states.set("sensor.real", "1")
    text = (
        "alias: X\ntriggers:\n  - trigger: state\n    entity_id: [sensor.ghost, sensor.real]\n"
        "actions:\n  - action: light.turn_on\n    target:\n      entity_id: switch.ghost\n"
    )
    result = await save(editor, text)
    assert result["saved"] is True
    assert result["warnings"] == ["Unknown entity id(s): sensor.ghost, switch.ghost"]


async def test_errors_name_automations_yaml_and_the_line_of_the_typo(editor: Api) -> None:
    result = await save(editor, "alias: X\ntrigers:\n  - trigger: event\n    event_type: go\n")
    typo = next(e for e in result["errors"] if "trigers" in e["message"])
    assert typo["line"] == 2
    assert typo["message"].startswith("automations.yaml, line 2: ")
    assert "automation.yaml" not in str(result)


async def test_a_word_for_a_number_is_reported_as_not_a_number(editor: Api) -> None:
    text = (
        "alias: X\ntriggers:\n  - trigger: numeric_state\n    entity_id: sensor.t\n"
        "    above: twenty\nactions: []\n"
    )
    [error] = (await save(editor, text))["errors"]
    assert error["line"] == 5
    assert "above: expected a number or an entity id" in error["message"]
    assert "invalid entity id" not in error["message"]


async def test_an_unknown_action_is_reported_at_its_line(editor: Api) -> None:
    text = HEAD + "actions:\n  - delay: 1\n  - action: nope.nothing\n"
    [error] = (await save(editor, text))["errors"]
    assert error == {"line": 7, "message": "unknown action(s) nope.nothing"}
