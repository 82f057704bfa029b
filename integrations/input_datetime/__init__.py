"""The ``input_datetime`` helper: a date, a time of day, or both, as in Home Assistant.

Example ``configuration.yaml`` entry::

    input_datetime:
      wake_up:
        name: Wake up
        has_date: false
        has_time: true
        initial: "06:30"

Services: ``input_datetime.set_datetime`` (with ``date``, ``time``, ``datetime`` or
``timestamp``) and ``reload``. The state is ``YYYY-MM-DD HH:MM:SS``, ``YYYY-MM-DD`` or
``HH:MM:SS``; attributes give its parts and a ``timestamp``. Without ``initial`` the last value
is restored after a restart.
"""

from __future__ import annotations

from core.collection import HelperDomain, helper_integration

from .entity import DOMAIN, ITEM_SCHEMA, InputDatetime, register_services

SPEC = HelperDomain(DOMAIN, ITEM_SCHEMA, InputDatetime)

edgewise_manifest, edgewise_setup, edgewise_stop = helper_integration(
    SPEC,
    name="Input datetime",
    register_services=register_services,
    documentation="https://www.home-assistant.io/integrations/input_datetime/",
)
