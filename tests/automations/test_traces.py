"""Traces show every step, nested ones included, at Home Assistant's trace paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import Site, site


def _last_trace(s: Site, item_id: str) -> dict[str, Any]:
    traces = s.traces(item_id)
    assert traces, f"no trace of {item_id}"
    return traces[-1]


async def _run_and_trace(s: Site, item_id: str, event: str = "go") -> dict[str, Any]:
    before = len(s.traces(item_id))
    s.runtime.bus.fire(event, {})
    await s.wait_for(
        lambda: len(s.traces(item_id)) > before and s.traces(item_id)[-1]["state"] == "stopped"
    )
    trace = _last_trace(s, item_id)
    json.dumps(trace)  # serialisable as the API returns it
    return trace


async def test_nested_conditions_of_the_automation(cfg: Path) -> None:
    yaml = """\
automation:
  - id: nested
    triggers: [{trigger: event, event_type: go}]
    conditions:
      - condition: and
        conditions:
          - condition: state
            entity_id: input_boolean.a
            state: "on"
          - condition: or
            conditions:
              - "{{ false }}"
              - condition: not
                conditions:
                  - condition: state
                    entity_id: input_boolean.b
                    state: "on"
      - condition: template
        value_template: "{{ true }}"
    actions:
      - action: test.record
"""
    async with site(cfg, yaml) as s:
        s.set("input_boolean.a", "on")
        s.set("input_boolean.b", "off")
        trace = await _run_and_trace(s, "nested")
        steps = trace["trace"]
        assert list(steps) == [
            "trigger/0",
            "condition/0",
            "condition/0/conditions/0",
            "condition/0/conditions/1",
            "condition/0/conditions/1/conditions/0",
            "condition/0/conditions/1/conditions/1",
            "condition/0/conditions/1/conditions/1/conditions/0",
            "condition/1",
            "action/0",
        ]
        result = {
            path: elements[0]["result"]["result"]
            for path, elements in steps.items()
            if path.startswith("condition")
        }
        assert result == {
            "condition/0": True,
            "condition/0/conditions/0": True,
            "condition/0/conditions/1": True,
            "condition/0/conditions/1/conditions/0": False,
            "condition/0/conditions/1/conditions/1": True,
            "condition/0/conditions/1/conditions/1/conditions/0": False,
            "condition/1": True,
        }
        for elements in steps.values():
            assert elements[0]["timestamp"]

        # A failing nested condition: the run ends there and the trace says where.
        s.set("input_boolean.b", "on")
        trace = await _run_and_trace(s, "nested")
        assert trace["script_execution"] == "failed_conditions"
        assert trace["trace"]["condition/0/conditions/1/conditions/1"][0]["result"] == {
            "result": False
        }
        assert "action/0" not in trace["trace"]


async def test_condition_errors_are_kept_on_the_nested_step(cfg: Path) -> None:
    yaml = """\
automation:
  - id: broken_condition
    triggers: [{trigger: event, event_type: go}]
    conditions:
      - condition: or
        conditions:
          - "{{ states('sensor.x') | float > 1 }}"
    actions:
      - action: test.record
"""
    async with site(cfg, yaml) as s:
        s.set("sensor.x", "not a number")
        trace = await _run_and_trace(s, "broken_condition")
        assert trace["script_execution"] == "failed_conditions"
        nested = trace["trace"]["condition/0/conditions/0"][0]
        assert nested["result"] == {"result": False}
        assert "float" in nested["error"]
        assert trace["trace"]["condition/0"][0]["error"] == nested["error"]
        assert s.calls == []


async def test_choose_if_and_condition_action_paths(cfg: Path) -> None:
    yaml = """\
automation:
  - id: branches
    triggers: [{trigger: event, event_type: go}]
    actions:
      - choose:
          - conditions:
              - condition: state
                entity_id: input_boolean.a
                state: "off"
            sequence:
              - action: test.record
                data: {branch: first}
          - conditions:
              - condition: and
                conditions:
                  - "{{ true }}"
                  - condition: state
                    entity_id: input_boolean.a
                    state: "on"
            sequence:
              - variables: {picked: second}
              - action: test.record
                data: {branch: "{{ picked }}"}
        default:
          - action: test.record
            data: {branch: default}
      - if:
          - condition: state
            entity_id: input_boolean.a
            state: "off"
        then:
          - action: test.record
            data: {branch: then}
        else:
          - action: test.record
            data: {branch: else}
      - condition: or
        conditions:
          - "{{ false }}"
          - "{{ true }}"
      - action: test.record
        data: {branch: end}
"""
    async with site(cfg, yaml) as s:
        s.set("input_boolean.a", "on")
        trace = await _run_and_trace(s, "branches")
        assert trace["script_execution"] == "finished"
        steps = trace["trace"]
        assert list(steps) == [
            "trigger/0",
            "action/0",
            "action/0/choose/0/conditions/0",
            "action/0/choose/1/conditions/0",
            "action/0/choose/1/conditions/0/conditions/0",
            "action/0/choose/1/conditions/0/conditions/1",
            "action/0/choose/1/sequence/0",
            "action/0/choose/1/sequence/1",
            "action/1",
            "action/1/if/condition/0",
            "action/1/else/0",
            "action/2",
            "action/2/conditions/0",
            "action/2/conditions/1",
            "action/3",
        ]
        assert steps["action/0"][0]["result"] == {"choice": 1}
        assert steps["action/0/choose/0/conditions/0"][0]["result"] == {"result": False}
        assert steps["action/0/choose/1/conditions/0"][0]["result"] == {"result": True}
        assert steps["action/0/choose/1/sequence/0"][0]["changed_variables"] == {"picked": "second"}
        service = steps["action/0/choose/1/sequence/1"][0]["result"]["params"]
        assert service["service_data"] == {"branch": "second"}
        assert steps["action/1"][0]["result"] == {"choice": "else"}
        assert steps["action/1/if/condition/0"][0]["result"] == {"result": False}
        assert steps["action/1/else/0"][0]["result"]["params"]["service_data"] == {"branch": "else"}
        assert steps["action/2"][0]["result"] == {"result": True}
        assert steps["action/2/conditions/0"][0]["result"] == {"result": False}
        assert steps["action/2/conditions/1"][0]["result"] == {"result": True}
        assert [c.data["branch"] for c in s.calls] == ["second", "else", "end"]

        # The default of choose, and then.
        s.set("input_boolean.a", "off")
        s.calls.clear()
        trace = await _run_and_trace(s, "branches")
        steps = trace["trace"]
        assert steps["action/0"][0]["result"] == {"choice": 0}
        assert "action/0/choose/0/sequence/0" in steps
        assert "action/1/then/0" in steps


async def test_repeat_while_until_and_for_each_paths(cfg: Path) -> None:
    yaml = """\
automation:
  - id: loops
    triggers: [{trigger: event, event_type: go}]
    actions:
      - repeat:
          while:
            - condition: template
              value_template: "{{ repeat.index <= 2 }}"
          sequence:
            - action: test.record
              data: {loop: while, n: "{{ repeat.index }}"}
      - repeat:
          sequence:
            - action: test.record
              data: {loop: until, n: "{{ repeat.index }}"}
          until:
            - condition: or
              conditions:
                - "{{ repeat.index >= 2 }}"
      - repeat:
          for_each: [red, blue]
          sequence:
            - action: test.record
              data: {loop: for_each, item: "{{ repeat.item }}"}
"""
    async with site(cfg, yaml) as s:
        trace = await _run_and_trace(s, "loops")
        assert trace["script_execution"] == "finished"
        steps = trace["trace"]
        whiles = steps["action/0/repeat/while/0"]
        assert [w["result"] for w in whiles] == [
            {"result": True},
            {"result": True},
            {"result": False},
        ]
        body = steps["action/0/repeat/sequence/0"]
        assert len(body) == 2
        # The repeat variable shows as changed by the first step of each iteration.
        assert body[0]["changed_variables"]["repeat"] == {"first": True, "index": 1}
        assert body[1]["changed_variables"]["repeat"] == {"first": False, "index": 2}
        assert [u["result"] for u in steps["action/1/repeat/until/0"]] == [
            {"result": False},
            {"result": True},
        ]
        assert len(steps["action/1/repeat/until/0/conditions/0"]) == 2
        assert len(steps["action/1/repeat/sequence/0"]) == 2
        items = steps["action/2/repeat/sequence/0"]
        assert [i["changed_variables"]["repeat"]["item"] for i in items] == ["red", "blue"]
        assert [i["result"]["params"]["service_data"]["item"] for i in items] == ["red", "blue"]


async def test_parallel_and_sequence_paths_and_nested_errors(cfg: Path) -> None:
    yaml = """\
automation:
  - id: groups
    triggers: [{trigger: event, event_type: go}]
    actions:
      - parallel:
          - action: test.record
            data: {branch: 0}
          - sequence:
              - variables: {x: 1}
              - action: test.record
                data: {branch: 1, x: "{{ x }}"}
      - sequence:
          - action: test.record
            data: {step: nested}
          - sequence:
              - action: test.fail
                continue_on_error: true
              - action: test.fail
"""
    async with site(cfg, yaml) as s:
        trace = await _run_and_trace(s, "groups")
        assert trace["script_execution"] == "error"
        assert trace["error"] == "the device said no"
        steps = trace["trace"]
        assert set(steps) == {
            "trigger/0",
            "action/0",
            "action/0/parallel/0/sequence/0",
            "action/0/parallel/1/sequence/0",
            "action/0/parallel/1/sequence/1",
            "action/1",
            "action/1/sequence/0",
            "action/1/sequence/1",
            "action/1/sequence/1/sequence/0",
            "action/1/sequence/1/sequence/1",
        }
        assert steps["action/0/parallel/1/sequence/0"][0]["changed_variables"] == {"x": 1}
        assert steps["action/0/parallel/1/sequence/1"][0]["result"]["params"]["service_data"] == {
            "branch": 1,
            "x": 1,
        }
        first_fail = steps["action/1/sequence/1/sequence/0"][0]
        assert first_fail["error"] == "the device said no"
        last_fail = steps["action/1/sequence/1/sequence/1"][0]
        assert last_fail["error"] == "the device said no"
        assert last_fail["timestamp"] >= first_fail["timestamp"]
        assert trace["last_step"] == "action/1/sequence/1/sequence/1"
