"""Tuya devices added over the API, kept in ``.storage/tuya.devices``.

Each item is the device's data as the API received it (the same keys as a YAML device, local
key included, as Home Assistant keeps its config entries); items are validated again when they
are loaded, and one that no longer validates is logged with its id and skipped.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import voluptuous as vol

from core import Runtime
from core.storage import JsonStore, storage_path

from .const import CONF_DEVICE_ID
from .schema import TuyaDeviceConfig, device_config

_LOGGER = logging.getLogger(__name__)

STORE_KEY: Final = "tuya.devices"
_STORE_VERSION: Final = 1


class DeviceStore:
    """The devices added over the API. Use on the loop."""

    def __init__(self, runtime: Runtime) -> None:
        self._store = JsonStore(
            runtime.run_in_executor,
            storage_path(runtime.config_dir, STORE_KEY),
            version=_STORE_VERSION,
            key=STORE_KEY,
        )
        self.items: dict[str, dict[str, Any]] = {}

    async def load(self) -> list[TuyaDeviceConfig]:
        """The stored devices that still validate."""
        data = await self._store.load() or {}
        devices: list[TuyaDeviceConfig] = []
        for item in data.get("devices", []):
            try:
                config = device_config(item)
            except vol.Invalid as err:
                device_id = item.get(CONF_DEVICE_ID) if isinstance(item, dict) else None
                _LOGGER.error("Stored Tuya device %s skipped: %s", device_id, err)
                continue
            self.items[config.device_id] = dict(item)
            devices.append(config)
        return devices

    async def add(self, item: dict[str, Any]) -> None:
        """Keep ``item`` (already validated) and write the file now."""
        self.items[str(item[CONF_DEVICE_ID])] = dict(item)
        await self._store.save({"devices": list(self.items.values())})

    async def remove(self, device_id: str) -> None:
        """Forget a device and write the file now."""
        self.items.pop(device_id, None)
        await self._store.save({"devices": list(self.items.values())})
