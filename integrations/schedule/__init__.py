"""The ``schedule`` helper: weekly on/off blocks, as in Home Assistant.

Example ``configuration.yaml`` entry::

    schedule:
      office_hours:
        name: Office hours
        monday:
          - from: "07:30:00"
            to: "12:00:00"
            data: {setpoint: 21}
          - from: "13:00:00"
            to: "18:00:00"
        saturday:
          - from: "09:00:00"
            to: "24:00:00"

The state is ``on`` inside a block and ``off`` outside; ``next_event`` says when it next
changes, and a block's ``data`` becomes attributes while it is on. Times are local wall time in
the site's time zone: on a day when the clocks go forward a block edge inside the missing hour
moves forward by the length of the gap, and on a day when they go back an edge inside the
repeated hour happens at its first occurrence. Services: ``schedule.get_schedule`` (returns
the blocks) and ``reload``.
"""

from __future__ import annotations

from core.collection import HelperDomain, helper_integration

from .entity import DOMAIN, ITEM_SCHEMA, Schedule, register_services

SPEC = HelperDomain(DOMAIN, ITEM_SCHEMA, Schedule)

edgewise_manifest, edgewise_setup, edgewise_stop = helper_integration(
    SPEC,
    name="Schedule",
    register_services=register_services,
    documentation="https://www.home-assistant.io/integrations/schedule/",
)
