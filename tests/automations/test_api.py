"""automations.api: traces, execute_script, subscribe_trigger, validate_config and CRUD."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from automations import api
from automations.script_integration import ScriptManager
from core.context import Context

from .conftest import site

FILE = """\
# My automations (this comment stays)
- id: keep_me  # inline comment stays too
  alias: Keep me
  triggers: [{trigger: event, event_type: keep}]
  actions:
    - action: test.record   # the action
      data: {who: keep}

# Edited through the API below
- id: edit_me
  triggers: [{trigger: event, event_type: edit}]
  actions: [{action: test.record, data: {who: before}}]
"""


async def test_crud_by_id_keeps_the_other_entries_and_their_comments(cfg: Path) -> None:
    async with site(
        cfg, "automation: !include automations.yaml\n", files={"automations.yaml": FILE}
    ) as s:
        rt = s.runtime
        assert (await api.get_automation_config(rt, "edit_me"))["actions"][0]["data"] == {
            "who": "before"
        }
        created = await api.save_automation_config(
            rt,
            "edit_me",
            {
                "alias": "Edited",
                "triggers": [{"trigger": "event", "event_type": "edit"}],
                "actions": [{"action": "test.record", "data": {"who": "after"}}],
            },
        )
        assert created is False
        created = await api.save_automation_config(
            rt,
            "brand_new",
            {
                "triggers": [{"trigger": "event", "event_type": "new"}],
                "actions": [{"action": "test.record", "data": {"who": "new"}}],
            },
        )
        assert created is True
        text = (cfg / "automations.yaml").read_text()
        assert "# My automations (this comment stays)" in text
        assert "# inline comment stays too" in text
        assert "# the action" in text
        assert set(s.manager.automations) == {"keep_me", "edit_me", "brand_new"}
        assert rt.states.get("automation.edited") is not None
        rt.bus.fire("edit")
        rt.bus.fire("new")
        await s.wait_for(lambda: len(s.calls) == 2)
        assert sorted(c.data["who"] for c in s.calls) == ["after", "new"]

        with pytest.raises(api.InvalidConfig, match="bad_one"):
            await api.save_automation_config(rt, "bad_one", {"triggers": [], "actons": []})
        assert "bad_one" not in (cfg / "automations.yaml").read_text()

        assert await api.delete_automation_config(rt, "edit_me") is True
        assert await api.delete_automation_config(rt, "edit_me") is False
        assert set(s.manager.automations) == {"keep_me", "brand_new"}
        configs = await api.list_automation_configs(rt)
        assert [c["id"] for c in configs] == ["keep_me", "brand_new"]
        assert "# inline comment stays too" in (cfg / "automations.yaml").read_text()


async def test_execute_script_subscribe_trigger_and_validate_config(cfg: Path) -> None:
    async with site(cfg, "automation:\n") as s:
        rt = s.runtime
        result = await api.execute_script(
            rt,
            [
                {"action": "test.record", "data": {"x": "{{ x }}"}},
                {"variables": {"answer": {"double": "{{ x * 2 }}"}}},
                {"stop": "done", "response_variable": "answer"},
            ],
            {"x": 21},
        )
        assert result["response"] == {"double": 42}
        assert result["execution"] == "finished"
        trace = api.get_trace(rt, "script", "execute_script", result["run_id"])
        assert trace is not None
        assert trace["script_execution"] == "finished"
        assert [t["run_id"] for t in api.list_traces(rt, "script")] == [result["run_id"]]

        seen: list[tuple[dict[str, Any], Context | None]] = []
        unsubscribe = await api.subscribe_trigger(
            rt,
            {"trigger": "state", "entity_id": "light.x", "to": "on"},
            lambda data, context: seen.append((data, context)),
        )
        s.set("light.x", "on")
        await s.wait_for(lambda: len(seen) == 1)
        assert seen[0][0]["trigger"]["entity_id"] == "light.x"
        unsubscribe()
        s.set("light.x", "off")
        s.set("light.x", "on")
        await s.settle()
        assert len(seen) == 1

        checked = api.validate_config(
            rt,
            triggers=[{"trigger": "state", "entity_id": "light.x"}],
            conditions={"condition": "state", "entity_id": "light.x"},
            actions=[{"delay": "soon"}],
        )
        assert checked["triggers"] == {"valid": True, "error": None}
        assert checked["conditions"]["valid"] is False
        assert "state" in checked["conditions"]["error"]
        assert checked["actions"]["valid"] is False
        with pytest.raises(api.InvalidConfig):
            await api.execute_script(rt, [{"nonsense": 1}])
        assert api.automation_errors(rt) == {}


SCRIPTS_FILE = """\
# My scripts (this comment stays)
keep_script:  # inline comment stays too
  alias: Keep me
  sequence:
    - action: test.record   # the action
      data: {who: keep}

# Edited through the API below
edit_script:
  sequence: [{action: test.record, data: {who: before}}]
"""


async def test_script_crud_keeps_the_other_entries_and_reloads(cfg: Path) -> None:
    async with site(
        cfg, "script: !include scripts.yaml\n", files={"scripts.yaml": SCRIPTS_FILE}
    ) as s:
        rt = s.runtime
        scripts = rt.data[ScriptManager.KEY]
        assert await api.get_script_config(rt, "edit_script") == {
            "sequence": [{"action": "test.record", "data": {"who": "before"}}]
        }
        assert await api.get_script_config(rt, "nope") is None
        created = await api.save_script_config(
            rt,
            "edit_script",
            {
                "alias": "Edited",
                "fields": {"who": {"description": "Who asks"}},
                "sequence": [{"action": "test.record", "data": {"who": "{{ who }}"}}],
            },
        )
        assert created is False
        created = await api.save_script_config(
            rt,
            "brand_new",
            {"mode": "queued", "sequence": [{"action": "test.record", "data": {"who": "new"}}]},
        )
        assert created is True
        text = (cfg / "scripts.yaml").read_text()
        assert "# My scripts (this comment stays)" in text
        assert "# inline comment stays too" in text
        assert "# the action" in text
        assert text.index("keep_script:") < text.index("edit_script:") < text.index("brand_new:")
        # Reloaded: the new and the edited scripts are services now.
        assert set(scripts.scripts) == {"keep_script", "edit_script", "brand_new"}
        assert rt.states.get("script.brand_new") is not None
        assert rt.states.get("script.edit_script").attributes["friendly_name"] == "Edited"
        await rt.services.call("script", "edit_script", {"who": "after"})
        await rt.services.call("script", "brand_new", {})
        assert [c.data["who"] for c in s.calls] == ["after", "new"]

        # Invalid: refused naming the script and the key, nothing written.
        with pytest.raises(api.InvalidConfig) as err:
            await api.save_script_config(
                rt, "bad_one", {"sequence": [{"action": "test.record"}], "mdoe": "queued"}
            )
        assert "Script 'bad_one'" in str(err.value)
        assert "mdoe" in str(err.value)
        with pytest.raises(api.InvalidConfig, match="unknown action"):
            await api.save_script_config(rt, "bad_two", {"sequence": [{"teleport": "home"}]})
        with pytest.raises(api.InvalidConfig, match=r"unknown action\(s\) test.nothing"):
            await api.save_script_config(
                rt, "bad_three", {"sequence": [{"action": "test.nothing"}]}
            )
        with pytest.raises(api.InvalidConfig, match="invalid template"):
            await api.save_script_config(
                rt,
                "bad_four",
                {"sequence": [{"action": "test.record", "data": {"x": "{{ 1 + }}"}}]},
            )
        with pytest.raises(api.InvalidConfig, match="script id 'Bad Id' is not valid"):
            await api.save_script_config(rt, "Bad Id", {"sequence": []})
        assert "bad_" not in (cfg / "scripts.yaml").read_text()

        assert await api.delete_script_config(rt, "edit_script") is True
        assert await api.delete_script_config(rt, "edit_script") is False
        assert set(scripts.scripts) == {"keep_script", "brand_new"}
        assert not rt.services.has("script", "edit_script")
        text = (cfg / "scripts.yaml").read_text()
        assert "# inline comment stays too" in text
        assert "edit_script" not in text
