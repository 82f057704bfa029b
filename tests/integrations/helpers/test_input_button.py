"""``input_button`` in a real Runtime: press sets the state to the time; restored."""

from __future__ import annotations

from datetime import timedelta

from tests.integrations._runtime import clock_of
from tests.integrations.helpers.conftest import START, Site, attrs_of, state_of

YAML = """\
input_button:
  bell:
    name: Bell
    icon: mdi:bell
"""


async def test_press_and_restore(site: Site) -> None:
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_button.bell") == "unknown"
        assert attrs_of(runtime, "input_button.bell") == {
            "editable": False,
            "friendly_name": "Bell",
            "icon": "mdi:bell",
        }
        await clock_of(runtime).advance_and_settle(timedelta(seconds=5))
        await runtime.services.call("input_button", "press", {"entity_id": "input_button.bell"})
        pressed = (START + timedelta(seconds=5)).isoformat()
        assert state_of(runtime, "input_button.bell") == pressed
    async with site(YAML, START + timedelta(hours=1)) as runtime:
        assert state_of(runtime, "input_button.bell") == pressed


async def test_unknown_key_names_item_and_key(site: Site) -> None:
    async with site("input_button:\n  bell:\n    colour: red\n") as runtime:
        assert runtime.config is not None
        (issue,) = runtime.config.issues
        assert issue.key == "input_button.bell.colour"
        assert issue.message == "extra keys not allowed"
        assert runtime.states.get("input_button.bell") is None
