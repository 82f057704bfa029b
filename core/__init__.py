"""Edgewise's runtime kernel: what an integration author needs, and nothing else.

An integration imports from here::

    from core import Manifest, Runtime, SensorEntity, add_entities, hookimpl

Routes and WebSocket commands come from ``register_route`` and ``register_command``, services
from ``runtime.services.register`` (with the ``Permission`` a caller needs); all of it is removed
when the integration stops. The hooks themselves are documented in ``core.hookspecs``; the
integration author's guide is ``integrations/README.md``.

The names load on first use: importing ``core`` or one of its submodules does not import the
whole kernel (a spawned child process that only needs ``core.isolated`` stays small).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    from .ops.databases import BackupDatabase
    from .runtime import Runtime, RuntimeKey
    from .services import ServiceCall, ServiceResponse, SupportsResponse
    from .state import State

# What each name is imported from, on first use (PEP 562): ``import core`` (and with it any
# ``core.x`` submodule, such as ``core.isolated`` in a spawned child) loads none of the kernel.
_LAZY: dict[str, str] = {
    "BackupDatabase": "core.ops.databases",
    "BinarySensorDeviceClass": "core.entities.binary_sensor",
    "BinarySensorEntity": "core.entities.binary_sensor",
    "ButtonEntity": "core.entities.button",
    "ClimateEntity": "core.entities.climate",
    "ConfigError": "core.errors",
    "Context": "core.context",
    "DeviceConnectError": "core.errors",
    "DeviceError": "core.errors",
    "DeviceInfo": "core.entity",
    "DeviceProtocolError": "core.errors",
    "DeviceTimeout": "core.errors",
    "EdgewiseError": "core.errors",
    "Entity": "core.entity",
    "EntityCategory": "core.entity",
    "Event": "core.bus",
    "EventOrigin": "core.bus",
    "HVACAction": "core.entities.climate",
    "HVACMode": "core.entities.climate",
    "IntegrationError": "core.errors",
    "Manifest": "core.integration",
    "NotStartedError": "core.errors",
    "NumberEntity": "core.entities.number",
    "NumberMode": "core.entities.number",
    "Permission": "core.auth",
    "Runtime": "core.runtime",
    "RuntimeKey": "core.runtime",
    "SelectEntity": "core.entities.select",
    "SensorDeviceClass": "core.entities.sensor",
    "SensorEntity": "core.entities.sensor",
    "SensorStateClass": "core.entities.sensor",
    "ServiceCall": "core.services",
    "ServiceResponse": "core.services",
    "State": "core.state",
    "SupportsResponse": "core.services",
    "SwitchEntity": "core.entities.switch",
    "WriteOutOfBounds": "core.errors",
    "add_entities": "core.entity_platform",
    "callback": "core.bus",
    "hookimpl": "core.hookspecs",
    "register_command": "core.http",
    "register_route": "core.http",
    "remove_entities": "core.entity_platform",
    "validators": "core.validators",
}

__all__ = [
    "BackupDatabase",
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


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value  # once: later lookups find it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
