"""Binary sensors: something that is on or off (a door open, motion, a fault)."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from core.const import STATE_OFF, STATE_ON
from core.entity import Entity, StateType

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

DOMAIN: Final = "binary_sensor"


class BinarySensorDeviceClass(StrEnum):
    """What ``on`` means for a binary sensor."""

    BATTERY = "battery"
    CONNECTIVITY = "connectivity"
    DOOR = "door"
    HEAT = "heat"
    MOISTURE = "moisture"
    MOTION = "motion"
    OCCUPANCY = "occupancy"
    OPENING = "opening"
    PLUG = "plug"
    POWER = "power"
    PROBLEM = "problem"
    RUNNING = "running"
    SAFETY = "safety"
    SMOKE = "smoke"
    WINDOW = "window"


class BinarySensorEntity(Entity):
    """A binary sensor: its state is ``on`` or ``off`` from ``is_on``."""

    domain = DOMAIN

    _attr_is_on: bool | None = None

    @property
    def is_on(self) -> bool | None:
        """Whether the sensor is on; None when unknown."""
        return self._attr_is_on

    @property
    def state(self) -> StateType:
        """``on``, ``off``, or None (unknown)."""
        is_on = self.is_on
        if is_on is None:
            return None
        return STATE_ON if is_on else STATE_OFF


def register_services(runtime: Runtime) -> None:
    """Binary sensors are read-only: there is no binary_sensor service."""
    _LOGGER.debug("No services for %s", DOMAIN)
