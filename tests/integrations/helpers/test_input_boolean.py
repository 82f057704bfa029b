"""``input_boolean`` in a real Runtime: services, initial, restore across a restart."""

from __future__ import annotations

from tests.integrations.helpers.conftest import Site, attrs_of, state_of

YAML = """\
input_boolean:
  guest_mode:
    name: Guest mode
    icon: mdi:account
  always_on:
    initial: true
  bare:
"""


async def test_services_turn_on_off_toggle(site: Site) -> None:
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_boolean.guest_mode") == "off"
        assert state_of(runtime, "input_boolean.always_on") == "on"
        assert state_of(runtime, "input_boolean.bare") == "off"
        attrs = attrs_of(runtime, "input_boolean.guest_mode")
        assert attrs == {"editable": False, "friendly_name": "Guest mode", "icon": "mdi:account"}
        await runtime.services.call(
            "input_boolean", "turn_on", {"entity_id": "input_boolean.guest_mode"}
        )
        assert state_of(runtime, "input_boolean.guest_mode") == "on"
        await runtime.services.call(
            "input_boolean", "toggle", target={"entity_id": "input_boolean.guest_mode"}
        )
        assert state_of(runtime, "input_boolean.guest_mode") == "off"
        await runtime.services.call("input_boolean", "toggle", {"entity_id": "all"})
        assert state_of(runtime, "input_boolean.guest_mode") == "on"
        assert state_of(runtime, "input_boolean.always_on") == "off"
        await runtime.services.call(
            "input_boolean", "turn_off", {"entity_id": "input_boolean.guest_mode"}
        )
        assert state_of(runtime, "input_boolean.guest_mode") == "off"


async def test_state_restored_unless_initial_is_set(site: Site) -> None:
    async with site(YAML) as runtime:
        await runtime.services.call(
            "input_boolean", "turn_on", {"entity_id": "input_boolean.guest_mode"}
        )
        await runtime.services.call(
            "input_boolean", "turn_off", {"entity_id": "input_boolean.always_on"}
        )
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_boolean.guest_mode") == "on"
        # initial wins over the restored state, as in Home Assistant.
        assert state_of(runtime, "input_boolean.always_on") == "on"
