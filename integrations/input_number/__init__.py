"""The ``input_number`` helper: a number within bounds, set from the panel or by automations.

Example ``configuration.yaml`` entry::

    input_number:
      comfort_setpoint:
        name: Comfort setpoint
        min: 16
        max: 26
        step: 0.5
        mode: box
        unit_of_measurement: °C

Services: ``input_number.set_value`` (refused outside ``min``..``max``), ``increment`` and
``decrement`` (by ``step``, stopping at the bounds) and ``reload``. Without ``initial`` the last
value is restored after a restart when it is still within the bounds.
"""

from __future__ import annotations

from core.collection import HelperDomain, helper_integration

from .entity import DOMAIN, ITEM_SCHEMA, InputNumber, register_services

SPEC = HelperDomain(DOMAIN, ITEM_SCHEMA, InputNumber)

edgewise_manifest, edgewise_setup, edgewise_stop = helper_integration(
    SPEC,
    name="Input number",
    register_services=register_services,
    documentation="https://www.home-assistant.io/integrations/input_number/",
)
