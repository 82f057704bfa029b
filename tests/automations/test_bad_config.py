"""Bad input: one broken automation is reported with its id, alias, file and line; the rest load."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from .conftest import site

GOOD = """\
- id: good
  triggers: [{trigger: event, event_type: go}]
  actions: [{action: test.record}]
"""


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (
            "- id: typo\n  alias: Typo\n"
            "  triggers: [{trigger: state, entity_id: light.x, tow: 'on'}]\n"
            "  actions: [{action: test.record}]\n",
            ["id 'typo'", "alias 'Typo'", "automations.yaml", "tow", "extra keys not allowed"],
        ),
        (
            "- id: wrong_type\n"
            "  triggers: [{trigger: numeric_state, entity_id: sensor.t, above: high}]\n"
            "  actions: [{action: test.record}]\n",
            ["id 'wrong_type'", "above", "entity id"],
        ),
        (
            "- id: no_service\n  triggers: [{trigger: event, event_type: go}]\n"
            "  actions: [{action: light.explode}]\n",
            ["id 'no_service'", "unknown action(s) light.explode"],
        ),
        (
            "- id: no_platform\n  triggers: [{trigger: telepathy}]\n"
            "  actions: [{action: test.record}]\n",
            ["id 'no_platform'", "unknown trigger platform 'telepathy'"],
        ),
        (
            "- id: bad_template\n  triggers: [{trigger: event, event_type: go}]\n"
            "  actions: [{action: test.record, data: {x: '{{ 1 + }}'}}]\n",
            ["id 'bad_template'"],
        ),
        (
            "- alias: No actions\n  triggers: [{trigger: event, event_type: go}]\n",
            ["alias 'No actions'", "actions"],
        ),
        (
            # Out of range: refused when the file is read, not left to fail when it attaches.
            "- id: bad_pattern\n  triggers: [{trigger: time_pattern, minutes: /61}]\n"
            "  actions: [{action: test.record}]\n",
            ["id 'bad_pattern'", "minutes", "minutes step '/61' must be 1..59"],
        ),
        (
            "- id: bad_hour\n  triggers: [{trigger: time_pattern, hours: 24}]\n"
            "  actions: [{action: test.record}]\n",
            ["id 'bad_hour'", "hours '24' must be 0..23"],
        ),
        (
            "- id: bad_mode\n  mode: sometimes\n  triggers: [{trigger: event, event_type: go}]\n"
            "  actions: [{action: test.record}]\n",
            ["id 'bad_mode'", "mode"],
        ),
    ],
)
async def test_one_bad_automation_is_reported_and_the_others_load(
    cfg: Path, caplog: pytest.LogCaptureFixture, bad: str, expected: list[str]
) -> None:
    with caplog.at_level(logging.ERROR):
        async with site(
            cfg, "automation: !include automations.yaml\n", files={"automations.yaml": GOOD + bad}
        ) as s:
            assert set(s.manager.automations) == {"good"}
            assert len(s.manager.errors) == 1
            message = next(iter(s.manager.errors.values()))
            for part in expected:
                assert part in message, message
            s.runtime.bus.fire("go")
            await s.wait_for(lambda: len(s.calls) == 1)
    assert any("is not loaded" in r.message for r in caplog.records)


async def test_line_of_the_bad_key_is_named(cfg: Path) -> None:
    bad = "- id: typo\n  triggers:\n    - trigger: state\n      entity_id: 12\n  actions: []\n"
    async with site(
        cfg, "automation: !include automations.yaml\n", files={"automations.yaml": GOOD + bad}
    ) as s:
        message = next(iter(s.manager.errors.values()))
        assert "automations.yaml, line 7" in message, message


async def test_duplicate_ids_keep_the_first(cfg: Path) -> None:
    async with site(
        cfg, "automation: !include automations.yaml\n", files={"automations.yaml": GOOD + GOOD}
    ) as s:
        assert set(s.manager.automations) == {"good"}
        assert "used twice" in next(iter(s.manager.errors.values()))


async def test_empty_automations_file_loads_nothing(cfg: Path) -> None:
    async with site(
        cfg, "automation: !include automations.yaml\n", files={"automations.yaml": ""}
    ) as s:
        assert s.manager.automations == {}
        assert s.manager.errors == {}
