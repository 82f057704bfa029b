"""Automations built to break the engine (issue 25, item 12): nothing is written before the
whole entry validates and compiles, and one entry that cannot load never stops the others."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from automations import api
from automations.script_integration import ScriptManager

from .conftest import site

GOOD = """\
- id: good
  triggers: [{trigger: event, event_type: go}]
  actions: [{action: test.record}]
"""

#: A template nested 3,000 parentheses deep: Jinja's parser recurses once per level.
DEEP_TEMPLATE = "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"


def deep_entry(item_id: str) -> str:
    return (
        f"- id: {item_id}\n  triggers: [{{trigger: event, event_type: go}}]\n"
        f"  actions: [{{action: test.record, data: {{x: '{DEEP_TEMPLATE}'}}}}]\n"
    )


async def test_a_deeply_nested_template_is_refused_before_anything_is_written(
    cfg: Path,
) -> None:
    async with site(
        cfg, "automation: !include automations.yaml\n", files={"automations.yaml": GOOD}
    ) as s:
        with pytest.raises(api.InvalidConfig, match="id 'deep'"):
            await api.save_automation_config(
                s.runtime,
                "deep",
                {
                    "triggers": [{"trigger": "event", "event_type": "go"}],
                    "actions": [{"action": "test.record", "data": {"x": DEEP_TEMPLATE}}],
                },
            )
        assert (cfg / "automations.yaml").read_text() == GOOD
        assert set(s.manager.automations) == {"good"}


async def test_an_entry_that_breaks_the_parser_is_reported_and_the_others_load(
    cfg: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = deep_entry("deep_first") + GOOD
    with caplog.at_level(logging.ERROR):
        async with site(
            cfg, "automation: !include automations.yaml\n", files={"automations.yaml": text}
        ) as s:
            assert set(s.manager.automations) == {"good"}
            [message] = s.manager.errors.values()
            assert "id 'deep_first'" in message
            assert "automations.yaml, line 1" in message
            s.runtime.bus.fire("go")
            await s.wait_for(lambda: len(s.calls) == 1)


async def test_a_script_with_a_deeply_nested_template_is_refused_and_the_others_load(
    cfg: Path,
) -> None:
    scripts = (
        "good:\n  sequence: [{action: test.record}]\n"
        f"deep:\n  sequence: [{{action: test.record, data: {{x: '{DEEP_TEMPLATE}'}}}}]\n"
    )
    async with site(cfg, "script: !include scripts.yaml\n", files={"scripts.yaml": scripts}) as s:
        manager = s.runtime.data[ScriptManager.KEY]
        assert set(manager.scripts) == {"good"}
        [message] = manager.errors.values()
        assert "'deep'" in message
        assert "nested too deeply" in message
        with pytest.raises(api.InvalidConfig, match="nested too deeply"):
            await api.save_script_config(
                s.runtime,
                "deeper",
                {"sequence": [{"action": "test.record", "data": {"x": DEEP_TEMPLATE}}]},
            )
        assert "deeper" not in (cfg / "scripts.yaml").read_text()


async def test_validate_config_answers_for_a_part_given_as_null(cfg: Path) -> None:
    # Found by tests/core/http/test_fuzz_inputs.py: {"trigger": null} answered unknown_error.
    async with site(cfg, "automation: []\n") as s:
        checked = api.validate_config(s.runtime, triggers=None, actions=[{"delay": 1}])
        assert checked["triggers"]["valid"] is False
        assert checked["actions"] == {"valid": True, "error": None}
