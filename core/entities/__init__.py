"""The entity classes of each domain, and the services each domain registers.

``DOMAIN_SERVICES`` maps a domain to the function that registers its services; the entity
platform calls it once per runtime, when the first entity of that domain is added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from . import binary_sensor, button, climate, number, select, sensor, switch
from .binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from .button import ButtonDeviceClass, ButtonEntity
from .climate import ClimateEntity, HVACAction, HVACMode
from .number import NumberEntity, NumberMode
from .select import SelectEntity
from .sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from .switch import SwitchDeviceClass, SwitchEntity

if TYPE_CHECKING:
    from core.runtime import Runtime

DOMAIN_SERVICES: Final[dict[str, Callable[[Runtime], None]]] = {
    module.DOMAIN: module.register_services
    for module in (binary_sensor, button, climate, number, select, sensor, switch)
}

__all__ = [
    "DOMAIN_SERVICES",
    "BinarySensorDeviceClass",
    "BinarySensorEntity",
    "ButtonDeviceClass",
    "ButtonEntity",
    "ClimateEntity",
    "HVACAction",
    "HVACMode",
    "NumberEntity",
    "NumberMode",
    "SelectEntity",
    "SensorDeviceClass",
    "SensorEntity",
    "SensorStateClass",
    "SwitchDeviceClass",
    "SwitchEntity",
]
