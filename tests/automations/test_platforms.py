"""Built-in trigger and condition platforms are plugins of the same protocol as third parties'."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from automations.conditions import BUILTIN_CONDITIONS
from automations.triggers import BUILTIN_TRIGGERS
from core.condition import ConditionInfo
from core.context import Context
from core.trigger import TriggerInfo

from .conftest import site


def test_every_builtin_trigger_has_the_plugin_attach_signature() -> None:
    for name, platform in BUILTIN_TRIGGERS.items():
        assert inspect.iscoroutinefunction(platform.attach), name
        params = list(inspect.signature(platform.attach).parameters)
        assert params == ["runtime", "config", "fire", "info"], name
        assert callable(platform.schema), name


def test_every_builtin_condition_has_the_plugin_checker_signature() -> None:
    assert set(BUILTIN_CONDITIONS) == {
        "state",
        "numeric_state",
        "template",
        "time",
        "sun",
        "trigger",
    }
    for name, platform in BUILTIN_CONDITIONS.items():
        params = list(inspect.signature(platform.checker).parameters)
        assert params == ["runtime", "config", "info"], name


def test_a_builtin_trigger_schema_rejects_an_unknown_key_by_name() -> None:
    schema = BUILTIN_TRIGGERS["state"].schema
    with pytest.raises(vol.Invalid, match="tow"):
        schema({"trigger": "state", "entity_id": "light.x", "tow": "on"})


async def test_the_state_platform_attached_as_a_third_party_would(cfg: Path) -> None:
    """Called through the protocol alone, with no engine around it, it fires and detaches."""
    async with site(cfg, "") as s:
        platform = BUILTIN_TRIGGERS["state"]
        config = platform.schema({"trigger": "state", "entity_id": "sensor.a", "to": "2"})
        fired: list[tuple[dict[str, Any], Context | None]] = []

        def fire(payload: dict[str, Any], context: Context | None) -> None:
            fired.append((payload, context))

        detach = await platform.attach(s.runtime, config, fire, TriggerInfo("direct"))
        s.set("sensor.a", "1")
        s.set("sensor.a", "2")
        await s.wait_for(lambda: len(fired) == 1)
        payload, context = fired[0]
        assert payload["to_state"].state == "2"
        assert context is s.runtime.states.get("sensor.a").context  # type: ignore[union-attr]
        detach()
        detach()  # harmless twice
        s.set("sensor.a", "1")
        s.set("sensor.a", "2")
        await s.settle()
        assert len(fired) == 1


async def test_the_time_condition_compiles_once_through_checker(cfg: Path) -> None:
    async with site(cfg, "") as s:  # noon in Amsterdam
        platform = BUILTIN_CONDITIONS["time"]
        morning = platform.checker(
            s.runtime,
            platform.schema({"condition": "time", "after": "06:00", "before": "11:00"}),
            ConditionInfo("condition/0"),
        )
        afternoon = platform.checker(
            s.runtime,
            platform.schema({"condition": "time", "after": "11:30"}),
            ConditionInfo("condition/1"),
        )
        assert morning({}) is False
        assert afternoon({}) is True


async def test_a_plugin_trigger_is_told_the_name_it_is_attached_for(cfg: Path) -> None:
    yaml = """\
automation:
  - id: p
    alias: Pulse watcher
    triggers: [{trigger: pulse, name: beat}]
    actions:
      - action: test.record
        data: {by: "{{ trigger.attached_by }}", platform: "{{ trigger.platform }}"}
"""
    async with site(cfg, yaml) as s:
        s.runtime.bus.fire("pulse", {"name": "beat"})
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data["platform"] == "pulse"
        assert "Pulse watcher" in s.calls[0].data["by"]
