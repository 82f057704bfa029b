"""Binary sensors: something that is on or off (a door open, motion, a fault)."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from core.entity import OnOffEntity

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


class BinarySensorEntity(OnOffEntity):
    """A binary sensor: its state is ``on`` or ``off`` from ``is_on``."""

    domain = DOMAIN


def register_services(runtime: Runtime) -> None:
    """Binary sensors are read-only: there is no binary_sensor service."""
    _LOGGER.debug("No services for %s", DOMAIN)
