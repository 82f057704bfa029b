"""``input_select`` in a real Runtime: selection services, cycling, set_options, restore."""

from __future__ import annotations

import pytest

from core.errors import ServiceValidationError
from core.runtime import Runtime
from tests.integrations.helpers.conftest import Site, attrs_of, state_of

YAML = """\
input_select:
  program:
    name: Program
    options: [comfort, eco, away]
  fixed:
    options: [a, b]
    initial: b
"""


async def call(runtime: Runtime, service: str, **data: object) -> None:
    await runtime.services.call(
        "input_select", service, {"entity_id": "input_select.program", **data}
    )


async def test_selection_services(site: Site) -> None:
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_select.program") == "comfort"
        assert attrs_of(runtime, "input_select.program") == {
            "options": ["comfort", "eco", "away"],
            "editable": False,
            "friendly_name": "Program",
        }
        assert state_of(runtime, "input_select.fixed") == "b"
        await call(runtime, "select_option", option="away")
        assert state_of(runtime, "input_select.program") == "away"
        await call(runtime, "select_next")
        assert state_of(runtime, "input_select.program") == "comfort"  # cycles
        await call(runtime, "select_previous", cycle=False)
        assert state_of(runtime, "input_select.program") == "comfort"  # stops
        await call(runtime, "select_previous")
        assert state_of(runtime, "input_select.program") == "away"
        await call(runtime, "select_next", cycle=False)
        assert state_of(runtime, "input_select.program") == "away"
        await call(runtime, "select_first")
        assert state_of(runtime, "input_select.program") == "comfort"
        await call(runtime, "select_last")
        assert state_of(runtime, "input_select.program") == "away"


async def test_unknown_option_is_refused(site: Site) -> None:
    async with site(YAML) as runtime:
        with pytest.raises(ServiceValidationError, match="'party' is not an option"):
            await call(runtime, "select_option", option="party")
        assert state_of(runtime, "input_select.program") == "comfort"


async def test_set_options(site: Site) -> None:
    async with site(YAML) as runtime:
        await call(runtime, "select_option", option="eco")
        await call(runtime, "set_options", options=["eco", "boost"])
        assert attrs_of(runtime, "input_select.program")["options"] == ["eco", "boost"]
        assert state_of(runtime, "input_select.program") == "eco"
        await call(runtime, "set_options", options=["x", "y"])
        assert state_of(runtime, "input_select.program") == "x"
        with pytest.raises(ServiceValidationError, match="duplicate options: x"):
            await call(runtime, "set_options", options=["x", "x"])


async def test_restore(site: Site) -> None:
    async with site(YAML) as runtime:
        await call(runtime, "select_option", option="eco")
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_select.program") == "eco"
    async with site(YAML.replace("[comfort, eco, away]", "[comfort, away]")) as runtime:
        assert state_of(runtime, "input_select.program") == "comfort"


async def test_bad_items_are_reported(site: Site) -> None:
    yaml = """\
input_select:
  dupes:
    options: [a, a]
  stranger:
    options: [a, b]
    initial: c
  empty:
    options: []
"""
    async with site(yaml) as runtime:
        assert runtime.config is not None
        issues = {issue.key: issue.message for issue in runtime.config.issues}
        assert "duplicate options: a" in issues["input_select.dupes.options"]
        assert "'c' is not one of the options" in issues["input_select.stranger.initial"]
        assert "at least one option" in issues["input_select.empty.options"]
        assert runtime.states.entity_ids("input_select") == []
