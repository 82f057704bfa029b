"""The ``counter`` helper: an integer counted up and down, as in Home Assistant.

Example ``configuration.yaml`` entry::

    counter:
      door_openings:
        name: Door openings
        initial: 0
        step: 1
        minimum: 0
        maximum: 1000
        restore: true

Services: ``counter.increment`` and ``decrement`` (by ``step``, stopping at ``minimum`` and
``maximum``), ``reset`` (to ``initial``), ``set_value`` (refused outside the bounds) and
``reload``. With ``restore`` (the default) the count survives a restart.
"""

from __future__ import annotations

from core.collection import HelperDomain, helper_integration

from .entity import DOMAIN, ITEM_SCHEMA, Counter, register_services

SPEC = HelperDomain(DOMAIN, ITEM_SCHEMA, Counter)

edgewise_manifest, edgewise_setup, edgewise_stop = helper_integration(
    SPEC,
    name="Counter",
    register_services=register_services,
    documentation="https://www.home-assistant.io/integrations/counter/",
)
