"""Points picked at run time (``bacnet.add_point``), kept in ``.storage/bacnet.points``.

They are merged with the YAML configuration on start: a picked point of a device that the YAML
also lists joins that device (the YAML wins when both name the same object); a picked point of
a device only discovered brings that device along, with the address it was found at.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from core import Runtime
from core.storage import JsonStore

from .const import CONF_ADDRESS, CONF_INSTANCE, CONF_NAME, CONF_POINTS, STORE_POINTS
from .schema import DEVICE_SCHEMA, POINT_SCHEMA, DeviceConfig, ObjectRef, PointConfig

if TYPE_CHECKING:
    from .hub import DeviceLink

_LOGGER = logging.getLogger(__name__)


class PointStore:
    """The picked points, by device instance. Used on the loop."""

    def __init__(self, runtime: Runtime) -> None:
        self._store = JsonStore.for_runtime(
            runtime,
            STORE_POINTS,
            version=1,
        )
        self._devices: dict[int, dict[str, Any]] = {}

    async def load(self) -> None:
        """Read the store."""
        data = await self._store.load() or {}
        for raw in data.get("devices", []):
            self._devices[int(raw[CONF_INSTANCE])] = raw

    def merged(
        self, devices: tuple[DeviceConfig, ...]
    ) -> list[tuple[DeviceConfig, list[PointConfig]]]:
        """Each device (configured or only picked) with its picked points; bad entries logged."""
        result: list[tuple[DeviceConfig, list[PointConfig]]] = []
        configured = {device.instance: device for device in devices}
        for instance in [*configured, *(i for i in self._devices if i not in configured)]:
            raw = self._devices.get(instance, {})
            device = configured.get(instance)
            if device is None:
                try:
                    device = DEVICE_SCHEMA(
                        {
                            k: v
                            for k, v in raw.items()
                            if k in (CONF_INSTANCE, CONF_NAME, CONF_ADDRESS)
                        }
                    )
                except vol.Invalid as err:
                    _LOGGER.error("Picked BACnet device %s is invalid (%s); skipped", raw, err)
                    continue
            picked: list[PointConfig] = []
            for point in raw.get(CONF_POINTS, []):
                try:
                    config: PointConfig = POINT_SCHEMA(point)
                except vol.Invalid as err:
                    _LOGGER.error("Picked BACnet point %s is invalid (%s); skipped", point, err)
                    continue
                if any(p.object == config.object for p in device.points):
                    continue
                picked.append(config)
            result.append((device, picked))
        return result

    async def add(self, link: DeviceLink, point: PointConfig) -> None:
        """Remember a picked point (and its device) and write the store now."""
        entry = self._devices.setdefault(
            link.config.instance,
            {CONF_INSTANCE: link.config.instance, CONF_NAME: link.config.name, CONF_POINTS: []},
        )
        if link.address is not None:
            entry[CONF_ADDRESS] = link.address
        entry[CONF_POINTS].append(point.as_dict())
        await self._save()

    async def remove(self, link: DeviceLink, ref: ObjectRef) -> None:
        """Forget a picked point and write the store now."""
        entry = self._devices.get(link.config.instance)
        if entry is None:
            return
        entry[CONF_POINTS] = [p for p in entry[CONF_POINTS] if p.get("object") != str(ref)]
        await self._save()

    async def _save(self) -> None:
        await self._store.save({"devices": list(self._devices.values())})
