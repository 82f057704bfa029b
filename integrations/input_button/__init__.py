"""The ``input_button`` helper: a button to press from the panel; automations trigger on it.

Example ``configuration.yaml`` entry::

    input_button:
      ring_bell:
        name: Ring the bell
        icon: mdi:bell

Services: ``input_button.press`` and ``reload``. The state is the time of the last press (ISO
8601, UTC), restored after a restart.
"""

from __future__ import annotations

from core.collection import HelperDomain, helper_integration

from .entity import DOMAIN, ITEM_SCHEMA, InputButton, register_services

SPEC = HelperDomain(DOMAIN, ITEM_SCHEMA, InputButton)

edgewise_manifest, edgewise_setup, edgewise_stop = helper_integration(
    SPEC,
    name="Input button",
    register_services=register_services,
    documentation="https://www.home-assistant.io/integrations/input_button/",
)
