"""Edgewise's runtime kernel: what an integration author needs, and nothing else.

An integration imports from here::

    from core import Manifest, Runtime, SensorEntity, add_entities, hookimpl

Routes and WebSocket commands come from ``register_route`` and ``register_command``, services
from ``runtime.services.register`` (with the ``Permission`` a caller needs); all of it is removed
when the integration stops. The hooks themselves are documented in ``core.hookspecs``; the
integration author's guide is ``integrations/README.md``.
"""

from __future__ import annotations

from . import validators
from .auth import Permission
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
    NotStartedError,
    WriteOutOfBounds,
)
from .hookspecs import hookimpl
from .http import register_command, register_route
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
    "NotStartedError",
    "NumberEntity",
    "NumberMode",
    "Permission",
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
    "register_command",
    "register_route",
    "remove_entities",
    "validators",
]
