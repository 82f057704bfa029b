"""The ``input_boolean`` helper: an on/off switch users and automations flip, as in Home Assistant.

Example ``configuration.yaml`` entry::

    input_boolean:
      guest_mode:
        name: Guest mode
        icon: mdi:account-multiple
        initial: false

Services: ``input_boolean.turn_on``, ``turn_off``, ``toggle`` and ``reload``. Without
``initial`` the last state is restored after a restart.
"""

from __future__ import annotations

from core.collection import HelperDomain, helper_integration

from .entity import DOMAIN, ITEM_SCHEMA, InputBoolean, register_services

SPEC = HelperDomain(DOMAIN, ITEM_SCHEMA, InputBoolean)

edgewise_manifest, edgewise_setup, edgewise_stop = helper_integration(
    SPEC,
    name="Input boolean",
    register_services=register_services,
    documentation="https://www.home-assistant.io/integrations/input_boolean/",
)
