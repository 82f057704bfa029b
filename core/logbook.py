"""Which events the logbook shows, and how: each integration describes its own.

The logbook (served by the recorder integration) lists recorded state changes and the events
registered here. An integration that fires an event worth a logbook line registers a describer
from its setup::

    runtime.logbook.register("my_meter_reset", describe_reset)

``describe(data)`` gets the event's data and returns the line's fields in Home Assistant's
logbook shape: ``name``, ``message``, ``domain``, ``entity_id`` and any extra key (``source``).
The describer is removed when the integration stops. The kernel describes its own start and stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from .const import EVENT_EDGEWISE_START, EVENT_EDGEWISE_STARTED, EVENT_EDGEWISE_STOP
from .registrations import Registrations, Remove

_LOGGER = logging.getLogger(__name__)

LogbookDescriber = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""``describe(event_data)``: the logbook line's fields (``name``, ``message``, ``domain``...)."""


def _started(_data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"name": "Edgewise", "message": "started", "domain": "homeassistant"}


def _stopped(_data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"name": "Edgewise", "message": "stopped", "domain": "homeassistant"}


class LogbookDescriptions:
    """The event types the logbook shows, each with its describer, for one runtime."""

    def __init__(self, registrations: Registrations) -> None:
        self._registrations = registrations
        self._describers: dict[str, LogbookDescriber] = {
            EVENT_EDGEWISE_START: _started,
            EVENT_EDGEWISE_STARTED: _started,
            EVENT_EDGEWISE_STOP: _stopped,
        }

    def register(self, event_type: str, describe: LogbookDescriber) -> Remove:
        """Show events of ``event_type`` in the logbook, described by ``describe``.

        Returns:
            A function that removes the description (also done when the integration stops).

        Raises:
            ValueError: the event type is described already.
        """
        if event_type in self._describers:
            raise ValueError(f"Logbook event {event_type!r} is already described")
        self._describers[event_type] = describe

        def remove() -> None:
            if self._describers.get(event_type) is describe:
                del self._describers[event_type]

        return self._registrations.track(remove)

    @property
    def event_types(self) -> tuple[str, ...]:
        """The event types the logbook shows."""
        return tuple(self._describers)

    def describe(self, event_type: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
        """The logbook fields of one event, or None when it is not (or no longer) described.

        A describer that raises is logged and its event left out.
        """
        describer = self._describers.get(event_type)
        if describer is None:
            return None
        try:
            return dict(describer(data))
        except Exception:  # an isolation boundary: one integration's describer
            _LOGGER.exception("Error describing a %s event for the logbook", event_type)
            return None
