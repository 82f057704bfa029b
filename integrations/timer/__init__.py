"""The ``timer`` helper: a countdown that fires events, as in Home Assistant.

Example ``configuration.yaml`` entry::

    timer:
      hallway_light:
        name: Hallway light
        duration: "00:05:00"
        restore: true

States ``idle``, ``active`` and ``paused``; attributes ``duration``, ``remaining``,
``finishes_at`` (while active) and ``restore``. Services: ``timer.start`` (optional
``duration``), ``pause``, ``cancel``, ``finish``, ``change`` (add or take away time from an
active timer) and ``reload``. Events: ``timer.started``, ``timer.restarted``, ``timer.paused``,
``timer.cancelled``, ``timer.changed`` and ``timer.finished`` (with ``finished_at``).

With ``restore: true`` an active or paused timer survives a restart; one that should have
finished while Edgewise was down finishes at start, firing ``timer.finished`` with the time it
was due.
"""

from __future__ import annotations

from core.collection import HelperDomain, helper_integration

from .entity import DOMAIN, ITEM_SCHEMA, Timer, register_services

SPEC = HelperDomain(DOMAIN, ITEM_SCHEMA, Timer)

edgewise_manifest, edgewise_setup, edgewise_stop = helper_integration(
    SPEC,
    name="Timer",
    register_services=register_services,
    documentation="https://www.home-assistant.io/integrations/timer/",
)
