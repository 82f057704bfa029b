"""Automation entities, the automation.* services, reload, restart (on/off and traces kept)."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import site

TWO = """\
automation: !include automations.yaml
"""

FILE = """\
- id: first
  alias: First one
  triggers: [{trigger: event, event_type: go}]
  conditions: "{{ trigger.event.data.ok | default(true) }}"
  actions: [{action: test.record, data: {who: first}}]
- id: second
  triggers: [{trigger: event, event_type: go}]
  actions: [{action: test.record, data: {who: second}}]
"""


async def test_entities_show_state_and_attributes(cfg: Path) -> None:
    async with site(cfg, TWO, files={"automations.yaml": FILE}) as s:
        first = s.runtime.states.get("automation.first_one")
        assert first is not None
        assert first.state == "on"
        assert dict(first.attributes) == {
            "id": "first",
            "last_triggered": None,
            "mode": "single",
            "current": 0,
            "friendly_name": "First one",
        }
        assert s.runtime.states.get("automation.second") is not None
        s.runtime.bus.fire("go")
        await s.wait_for(lambda: len(s.calls) == 2)
        first = s.runtime.states.get("automation.first_one")
        assert first.attributes["last_triggered"] == s.clock.now().isoformat()


async def test_turn_off_on_toggle_and_trigger_with_skip_condition(cfg: Path) -> None:
    async with site(cfg, TWO, files={"automations.yaml": FILE}) as s:
        services = s.runtime.services
        await services.call("automation", "turn_off", target={"entity_id": "automation.first_one"})
        assert s.runtime.states.get("automation.first_one").state == "off"
        s.runtime.bus.fire("go")
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"who": "second"}

        await services.call("automation", "toggle", target={"entity_id": "automation.first_one"})
        assert s.runtime.states.get("automation.first_one").state == "on"
        await services.call("automation", "toggle", target={"entity_id": "automation.second"})
        assert s.runtime.states.get("automation.second").state == "off"

        # trigger skips conditions by default...
        await services.call(
            "automation",
            "trigger",
            {"variables": {"trigger": {"event": {"data": {"ok": False}}}}},
            target={"entity_id": "automation.first_one"},
        )
        assert len(s.calls) == 2
        # ...and honours them when asked.
        await services.call(
            "automation",
            "trigger",
            {"skip_condition": False, "variables": {"trigger": {"event": {"data": {"ok": False}}}}},
            target={"entity_id": "automation.first_one"},
        )
        assert len(s.calls) == 2
        await services.call("automation", "turn_on", target={"entity_id": "all"})
        assert s.runtime.states.get("automation.second").state == "on"


async def test_reload_keeps_unchanged_automations_and_applies_changes(cfg: Path) -> None:
    async with site(cfg, TWO, files={"automations.yaml": FILE}) as s:
        manager = s.manager
        first_before = manager.automations["first"]
        (cfg / "automations.yaml").write_text(
            FILE.replace("who: second", "who: changed")
            + "- id: third\n  triggers: [{trigger: event, event_type: go}]\n"
            "  actions: [{action: test.record, data: {who: third}}]\n"
        )
        reloaded = s.events("automation_reloaded")
        await s.runtime.services.call("automation", "reload")
        await s.settle()
        assert len(reloaded) == 1
        assert manager.automations["first"] is first_before
        assert set(manager.automations) == {"first", "second", "third"}
        s.runtime.bus.fire("go")
        await s.wait_for(lambda: len(s.calls) == 3)
        assert sorted(c.data["who"] for c in s.calls) == ["changed", "first", "third"]

        (cfg / "automations.yaml").write_text(FILE.split("- id: second", maxsplit=1)[0])
        await s.runtime.services.call("automation", "reload")
        assert set(manager.automations) == {"first"}
        assert s.runtime.states.get("automation.second") is None


async def test_restart_keeps_on_off_last_triggered_and_traces(cfg: Path) -> None:
    async with site(cfg, TWO, files={"automations.yaml": FILE}) as s:
        s.runtime.bus.fire("go")
        await s.wait_for(lambda: len(s.calls) == 2)
        await s.settle()
        await s.runtime.services.call(
            "automation", "turn_off", target={"entity_id": "automation.second"}
        )
        run_ids = [t["run_id"] for t in s.manager.traces.store.list("automation", "first")]
        last = s.runtime.states.get("automation.first_one").attributes["last_triggered"]
    stored = json.loads((cfg / ".storage" / "trace.saved_traces").read_text())
    assert "automation.first" in stored["data"]

    async with site(cfg, TWO) as s:
        assert s.runtime.states.get("automation.second").state == "off"
        first = s.runtime.states.get("automation.first_one")
        assert first.state == "on"
        assert first.attributes["last_triggered"] == last
        store = s.manager.traces.store
        assert [t["run_id"] for t in store.list("automation", "first")] == run_ids
        full = store.get("automation", "first", run_ids[0])
        assert full is not None
        assert full["trace"]["action/0"][0]["result"]["params"]["service"] == "record"
        s.runtime.bus.fire("go")
        await s.wait_for(lambda: len(s.calls) == 1)  # second stays off after the restart


async def test_initial_state_wins_over_restored_state(cfg: Path) -> None:
    yaml = """\
automation:
  - id: x
    initial_state: false
    triggers: [{trigger: event, event_type: go}]
    actions: [{action: test.record}]
"""
    async with site(cfg, yaml) as s:
        assert s.runtime.states.get("automation.x").state == "off"


async def test_labelled_sections_and_packages_are_merged(cfg: Path) -> None:
    yaml = """\
automation:
  - id: plain
    triggers: [{trigger: event, event_type: go}]
    actions: [{action: test.record, data: {who: plain}}]
automation labelled:
  - id: labelled
    triggers: [{trigger: event, event_type: go}]
    actions: [{action: test.record, data: {who: labelled}}]
"""
    async with site(cfg, yaml) as s:
        s.runtime.bus.fire("go")
        await s.wait_for(lambda: len(s.calls) == 2)
        assert sorted(c.data["who"] for c in s.calls) == ["labelled", "plain"]


async def test_automations_from_a_package_join_the_others(cfg: Path) -> None:
    yaml = """\
automation:
  - id: main_one
    triggers: [{trigger: event, event_type: go}]
    actions: [{action: test.record, data: {who: main}}]
"""
    package = """\
automation:
  - id: from_package
    triggers: [{trigger: event, event_type: go}]
    actions: [{action: test.record, data: {who: package}}]
"""
    async with site(
        cfg,
        yaml,
        files={"packages/garden.yaml": package},
        core_extra=("  packages:\n    garden: !include packages/garden.yaml\n"),
    ) as s:
        assert set(s.manager.automations) == {"main_one", "from_package"}


async def test_trace_shapes_match_home_assistant(cfg: Path) -> None:
    yaml = """\
automation:
  - id: traced
    trace: {stored_traces: 2}
    triggers: [{trigger: state, entity_id: input_boolean.x, to: "on"}]
    conditions: [{condition: state, entity_id: input_boolean.x, state: "on"}]
    actions:
      - variables: {level: 5}
      - action: test.record
        data: {level: "{{ level }}"}
"""
    async with site(cfg, yaml) as s:
        for _ in range(3):
            s.set("input_boolean.x", "off")
            s.set("input_boolean.x", "on")
            await s.settle()
        await s.wait_for(lambda: len(s.calls) == 3)
        short = s.manager.traces.store.list("automation", "traced")
        assert len(short) == 2  # stored_traces
        item = short[-1]
        assert set(item) >= {
            "last_step",
            "run_id",
            "state",
            "script_execution",
            "timestamp",
            "domain",
            "item_id",
            "trigger",
        }
        assert item["trigger"] == "state of input_boolean.x"
        assert item["last_step"] == "action/1"
        full = s.manager.traces.store.get("automation", "traced", item["run_id"])
        assert full is not None
        steps = full["trace"]
        assert list(steps) == ["trigger/0", "condition/0", "action/0", "action/1"]
        assert steps["trigger/0"][0]["changed_variables"]["trigger"]["to_state"]["state"] == "on"
        assert steps["condition/0"][0]["result"] == {"result": True}
        assert steps["action/0"][0]["changed_variables"] == {"level": 5}
        assert steps["action/1"][0]["result"]["params"]["service_data"] == {"level": 5}
        assert full["config"]["id"] == "traced"
        assert full["context"]["id"]
        json.dumps(full)  # serialisable as the API returns it

        # The same through the services (response data, as the API serves services).
        listed = await s.runtime.services.call(
            "automation", "list_traces", {"item_id": "traced"}, return_response=True
        )
        assert listed == {"traces": short}
        got = await s.runtime.services.call(
            "automation",
            "get_trace",
            {"domain": "automation", "item_id": "traced", "run_id": item["run_id"]},
            return_response=True,
        )
        assert got == full
