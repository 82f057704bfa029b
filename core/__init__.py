"""Edgewise's runtime kernel: what an integration author needs, and nothing else.

An integration imports from here::

    from core import Manifest, Runtime, SensorEntity, add_entities, hookimpl

The hooks themselves are documented in ``core.hookspecs``.
"""

from __future__ import annotations

from . import validators
from .bus import Event, EventOrigin, callback
from .context import Context
from .entities.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from .entities.button import ButtonEntity
from .entities.climate import ClimateEntity, HVACAction, HVACMode
from .entities.number import NumberEntity, NumberMode
from .entities.select import SelectEntity
from .entities.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from .entities.switch import SwitchEntity
from .entity import DeviceInfo, Entity, EntityCategory
from .entity_platform import add_entities, remove_entities
from .errors import (
    ConfigError,
    DeviceConnectError,
    DeviceError,
    DeviceProtocolError,
    DeviceTimeout,
    EdgewiseError,
    IntegrationError,
    WriteOutOfBounds,
)
from .hookspecs import hookimpl
from .integration import Manifest
from .runtime import Runtime, RuntimeKey
from .services import ServiceCall, ServiceResponse, SupportsResponse
from .state import State

__all__ = [
    "BinarySensorDeviceClass",
    "BinarySensorEntity",
    "ButtonEntity",
    "ClimateEntity",
    "ConfigError",
    "Context",
    "DeviceConnectError",
    "DeviceError",
    "DeviceInfo",
    "DeviceProtocolError",
    "DeviceTimeout",
    "EdgewiseError",
    "Entity",
    "EntityCategory",
    "Event",
    "EventOrigin",
    "HVACAction",
    "HVACMode",
    "IntegrationError",
    "Manifest",
    "NumberEntity",
    "NumberMode",
    "Runtime",
    "RuntimeKey",
    "SelectEntity",
    "SensorDeviceClass",
    "SensorEntity",
    "SensorStateClass",
    "ServiceCall",
    "ServiceResponse",
    "State",
    "SupportsResponse",
    "SwitchEntity",
    "WriteOutOfBounds",
    "add_entities",
    "callback",
    "hookimpl",
    "remove_entities",
    "validators",
]
