"""The running ``tuya`` integration: a device, a session and entities per configured device.

Imported from ``edgewise_setup`` only, with tinytuya.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import voluptuous as vol

from core import Permission, Runtime, ServiceCall, SupportsResponse, add_entities

from .const import (
    DISCOVERY_DEFAULT_DURATION,
    DISCOVERY_MAX_DURATION,
    DOMAIN,
    SERVICE_DISCOVER,
)
from .discovery import discover
from .entities import TuyaDevice
from .profile import DpProfile, ProfileOverride, apply_override, detect_profile
from .schema import TuyaConfig, TuyaDeviceConfig
from .session import TuyaKeyError, TuyaSession
from .store import DeviceStore

_LOGGER = logging.getLogger(__name__)

DISCOVER_SCHEMA = vol.Schema(
    {
        vol.Optional("duration", default=DISCOVERY_DEFAULT_DURATION): vol.All(
            vol.Coerce(float), vol.Range(min=0.1, max=DISCOVERY_MAX_DURATION)
        )
    }
)


def key_notification_id(device_id: str) -> str:
    """The id of a device's wrong-key notification (one per device, replaced, never doubled)."""
    return f"tuya_local_key_{device_id}"


def _profile_from_override(override: ProfileOverride) -> DpProfile:
    return apply_override(DpProfile(), override)


class TuyaRuntime:
    """Every configured device of one runtime. Runs on the event loop."""

    def __init__(self, runtime: Runtime, config: TuyaConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.devices: dict[str, TuyaDevice] = {}
        self.store: DeviceStore | None = None
        self._remove_api: Callable[[], None] | None = None

    async def start(self) -> None:
        """Start each device's session (YAML first, then those added over the API)."""
        for device_config in self.config.devices:
            await self.add_device(device_config)
        self.store = DeviceStore(self.runtime)
        for device_config in await self.store.load():
            if device_config.device_id in self.devices:
                _LOGGER.warning(
                    "Tuya device %s is in the YAML and was added over the API: the YAML wins",
                    device_config.device_id,
                )
                continue
            await self.add_device(device_config, source="api")
        self.runtime.services.register(
            DOMAIN,
            SERVICE_DISCOVER,
            self._discover,
            DISCOVER_SCHEMA,
            supports_response=SupportsResponse.ONLY,
            description="Listen for Tuya devices broadcasting on the LAN and list them.",
            # Listening on the LAN and adding devices is configuration: admins only.
            permission=Permission.ADMIN,
        )
        from .api import register_api  # noqa: PLC0415 - the API's imports only when configured

        self._remove_api = register_api(self.runtime, self)

    async def add_device(self, device_config: TuyaDeviceConfig, *, source: str = "yaml") -> None:
        """Start a session for one device (its entities come with its profile).

        Raises:
            ValueError: a device with that id is running already.
        """
        if device_config.device_id in self.devices:
            raise ValueError(f"Tuya device {device_config.device_id} is configured already")
        device = TuyaDevice(device_config)
        device.source = source
        self.devices[device_config.device_id] = device
        device.session = self._session(device)
        if device_config.profile.complete:
            entities = device.build_entities(_profile_from_override(device_config.profile))
            await add_entities(self.runtime, DOMAIN, entities)
        device.session.start()

    async def remove_device(self, device_id: str) -> None:
        """Stop a device's session and remove its entities.

        Raises:
            KeyError: no such device.
        """
        device = self.devices.pop(device_id)
        if device.session is not None:
            await device.session.stop()
        for entity in device.entities:
            await entity.remove()

    async def stop(self) -> None:
        """Close every session and remove the API."""
        if self._remove_api is not None:
            self._remove_api()
            self._remove_api = None
        for device in self.devices.values():
            if device.session is not None:
                await device.session.stop()
        if self.runtime.services.has(DOMAIN, SERVICE_DISCOVER):
            self.runtime.services.remove(DOMAIN, SERVICE_DISCOVER)

    def _session(self, device: TuyaDevice) -> TuyaSession:
        config = device.config

        def on_dps(dps: dict[str, Any]) -> None:
            if device.profile is None:
                self._first_status(device, dps)
            device.update(dps)

        def on_available(_available: bool) -> None:
            if _available:
                self.runtime.notifications.dismiss(key_notification_id(config.device_id))
            device.availability_changed()

        def on_key_error(err: TuyaKeyError) -> None:
            self._report_key_error(config, err)
            device.availability_changed()

        def power_dps() -> list[int]:
            return device.profile.power_dps if device.profile is not None else []

        return TuyaSession(
            config,
            on_dps=on_dps,
            on_available=on_available,
            on_key_error=on_key_error,
            power_dps=power_dps,
        )

    def _first_status(self, device: TuyaDevice, dps: dict[str, Any]) -> None:
        """Detect the profile from the first status and add the entities."""
        profile = apply_override(detect_profile(dps), device.config.profile)
        _LOGGER.info("%s: data points %s", device.config.title, profile.as_dict())
        entities = device.build_entities(profile)
        self.runtime.create_task(
            add_entities(self.runtime, DOMAIN, entities),
            name=f"tuya[{device.config.device_id}].add_entities",
        )

    def _report_key_error(self, config: TuyaDeviceConfig, err: TuyaKeyError) -> None:
        """One persistent notification per device that says what is wrong and what to do."""
        self.runtime.notifications.create(
            f"Edgewise cannot read the Tuya device **{config.title}** (id `{config.device_id}`, "
            f"{config.host}:{config.port}): {err}. Its local key is wrong, or changed when the "
            "device was re-paired in the Tuya or Smart Life app. Get the current key (for "
            "example with `python -m tinytuya wizard`), put it in `secrets.yaml` under the name "
            "`local_key` refers to, and restart Edgewise. Until then Edgewise does not try to "
            "reconnect and the device's entities stay unavailable.",
            title=f"Tuya device {config.title}: local key not accepted",
            notification_id=key_notification_id(config.device_id),
        )

    async def _discover(self, call: ServiceCall) -> dict[str, Any]:
        result = await discover(self.config.discovery, float(call.data["duration"]))
        configured = set(self.devices)
        response = result.as_response()
        for device in response["devices"]:
            device["configured"] = device["device_id"] in configured
        return response
