"""Scripts: services script.<id> and script.turn_on, fields, modes, responses, traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ServiceValidationError

from .conftest import site

SCRIPTS = """\
script:
  greet:
    alias: Greet someone
    fields:
      who: {description: Whom to greet, required: true}
      times: {default: 2}
    sequence:
      - repeat:
          count: "{{ times }}"
          sequence: [{action: test.record, data: {hello: "{{ who }}"}}]
      - variables: {answer: {greeted: "{{ who }}", n: "{{ times }}"}}
      - stop: done
        response_variable: answer
  slow:
    mode: queued
    sequence:
      - delay: 60
      - action: test.record
        data: {slow: done}
  broken:
    sequence:
      - action: test.fail
automation:
  - id: uses_script
    triggers: [{trigger: event, event_type: go}]
    actions:
      - action: script.greet
        data: {who: automation}
        response_variable: result
      - action: test.record
        data: {from_script: "{{ result.greeted }}"}
"""


async def test_script_service_with_fields_defaults_and_response(cfg: Path) -> None:
    async with site(cfg, SCRIPTS) as s:
        response = await s.runtime.services.call(
            "script", "greet", {"who": "ann"}, return_response=True
        )
        assert response == {"greeted": "ann", "n": 2}
        assert [c.data for c in s.calls] == [{"hello": "ann"}, {"hello": "ann"}]
        state = s.runtime.states.get("script.greet")
        assert state is not None
        assert state.state == "off"
        assert state.attributes["friendly_name"] == "Greet someone"
        assert state.attributes["last_triggered"] is not None
        with pytest.raises(ServiceValidationError, match="needs the field 'who'"):
            await s.runtime.services.call("script", "greet", {})


async def test_automation_calls_a_script_and_reads_its_response(cfg: Path) -> None:
    async with site(cfg, SCRIPTS) as s:
        s.runtime.bus.fire("go")
        await s.wait_for(lambda: len(s.calls) == 3)
        assert s.calls[-1].data == {"from_script": "automation"}


async def test_turn_on_starts_without_waiting_and_turn_off_stops(cfg: Path) -> None:
    async with site(cfg, SCRIPTS) as s:
        await s.runtime.services.call("script", "turn_on", target={"entity_id": "script.slow"})
        await s.settle()
        state = s.runtime.states.get("script.slow")
        assert state.state == "on"
        assert state.attributes["current"] == 1
        await s.runtime.services.call("script", "turn_off", target={"entity_id": "script.slow"})
        await s.settle()
        assert s.runtime.states.get("script.slow").state == "off"
        await s.advance(seconds=61)
        assert s.calls == []
        await s.runtime.services.call("script", "turn_on", target={"entity_id": "script.slow"})
        await s.advance(seconds=61)
        await s.wait_for(lambda: len(s.calls) == 1)


async def test_failing_script_raises_to_the_caller_and_is_traced(cfg: Path) -> None:
    async with site(cfg, SCRIPTS) as s:
        with pytest.raises(ServiceValidationError, match="the device said no"):
            await s.runtime.services.call("script", "broken")
        traces = s.manager.traces.store.list("script", "broken")
        assert traces[-1]["script_execution"] == "error"


async def test_bad_script_is_reported_and_the_others_load(cfg: Path) -> None:
    yaml = """\
script:
  fine:
    sequence: [{action: test.record}]
  typo:
    sequenze: [{action: test.record}]
  unknown_service:
    sequence: [{action: light.explode}]
"""
    from automations.script_integration import ScriptManager

    async with site(cfg, yaml) as s:
        manager = s.runtime.data[ScriptManager.KEY]
        assert set(manager.scripts) == {"fine"}
        messages = " ".join(manager.errors.values())
        assert "'typo'" in messages
        assert "light.explode" in messages
        assert not s.runtime.services.has("script", "unknown_service")
