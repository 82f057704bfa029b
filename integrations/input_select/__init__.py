"""The ``input_select`` helper: one option out of a list, as in Home Assistant.

Example ``configuration.yaml`` entry::

    input_select:
      hvac_program:
        name: HVAC program
        options: [comfort, eco, away]
        initial: comfort

Services: ``input_select.select_option``, ``select_first``, ``select_last``, ``select_next`` and
``select_previous`` (``cycle``, default true, wraps around), ``set_options`` and ``reload``.
Without ``initial`` the last option is restored after a restart when it is still an option.
"""

from __future__ import annotations

from core.collection import HelperDomain, helper_integration

from .entity import DOMAIN, ITEM_SCHEMA, InputSelect, register_services

SPEC = HelperDomain(DOMAIN, ITEM_SCHEMA, InputSelect)

edgewise_manifest, edgewise_setup, edgewise_stop = helper_integration(
    SPEC,
    name="Input select",
    register_services=register_services,
    documentation="https://www.home-assistant.io/integrations/input_select/",
)
