"""The running ``tuya`` integration: a device, a session and entities per configured device.

Imported from ``edgewise_setup`` only, with tinytuya.
"""

from __future__ import annotations

import logging
from typing import Any

import voluptuous as vol

from core import Runtime, ServiceCall, SupportsResponse, add_entities

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

    async def start(self) -> None:
        """Start each device's session; add the entities whose profile the YAML gives."""
        for device_config in self.config.devices:
            device = TuyaDevice(device_config)
            self.devices[device_config.device_id] = device
            device.session = self._session(device)
            if device_config.profile.complete:
                entities = device.build_entities(_profile_from_override(device_config.profile))
                await add_entities(self.runtime, DOMAIN, entities)
            device.session.start()
        self.runtime.services.register(
            DOMAIN,
            SERVICE_DISCOVER,
            self._discover,
            DISCOVER_SCHEMA,
            supports_response=SupportsResponse.ONLY,
            description="Listen for Tuya devices broadcasting on the LAN and list them.",
        )

    async def stop(self) -> None:
        """Close every session."""
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
