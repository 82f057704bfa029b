"""The area and device registries: where things are, and which physical devices exist.

A device is found again by any of its identifiers (the integration's own ids) or connections
(MAC addresses and the like), so an integration that learns a new identifier for a known device
does not create a second one. Both registries persist under ``.storage``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, NotRequired, TypedDict

from ulid_transform import ulid_now

from .const import EVENT_DEVICE_REGISTRY_UPDATED
from .entity_registry import UNDEFINED, DisabledBy, UndefinedType
from .slug import slugify
from .storage import JsonStore

if TYPE_CHECKING:
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)

#: Fired on every change of the area registry (not in ``const`` yet: only this module fires it).
EVENT_AREA_REGISTRY_UPDATED: Final = "area_registry_updated"

AREA_STORAGE_KEY: Final = "core.area_registry"
DEVICE_STORAGE_KEY: Final = "core.device_registry"
STORAGE_VERSION: Final = 1
#: Seconds a change may wait before it is written, so a burst of changes costs one write.
SAVE_DELAY: Final = 1.0

#: The connection type of a network MAC address, normalised to ``aa:bb:cc:dd:ee:ff``.
CONNECTION_NETWORK_MAC: Final = "mac"

_HEX12 = re.compile(r"^[0-9a-f]{12}$")


def format_mac(mac: str) -> str:
    """A MAC in any usual spelling as ``aa:bb:cc:dd:ee:ff``; anything else just lower-cased."""
    lowered = mac.strip().lower()
    digits = lowered.replace(":", "").replace("-", "").replace(".", "")
    if _HEX12.match(digits):
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    # Not a MAC after all: compare it as given rather than guess at a format.
    return lowered


def _normalize_connections(connections: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset(
        (kind, format_mac(value) if kind == CONNECTION_NETWORK_MAC else value)
        for kind, value in connections
    )


def _normalize_name(name: str) -> str:
    # Names compare case- and space-insensitively, so "Living room" and "living  Room " clash.
    return " ".join(name.casefold().split())


# --- areas -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AreaEntry:
    """One area (a room, a floor zone, a plant room)."""

    id: str
    name: str
    icon: str | None = None
    aliases: frozenset[str] = frozenset()
    floor_id: str | None = None


class AreaRegistryUpdatedData(TypedDict):
    """The data of ``area_registry_updated``."""

    action: Literal["create", "update", "remove"]
    area_id: str


class AreaRegistry:
    """The areas of the site, by id; ids are slugs of the name they were created with.

    Must be used from the event loop.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._store = JsonStore.for_runtime(
            runtime,
            AREA_STORAGE_KEY,
            version=STORAGE_VERSION,
        )
        self._areas: dict[str, AreaEntry] = {}

    async def load(self) -> None:
        """Read the areas from storage; a missing or corrupt file starts empty."""
        data = await self._store.load()
        if data is None:
            return
        for raw in data.get("areas", ()):
            try:
                area = AreaEntry(
                    id=raw["id"],
                    name=raw["name"],
                    icon=raw.get("icon"),
                    aliases=frozenset(raw.get("aliases") or ()),
                    floor_id=raw.get("floor_id"),
                )
            except (KeyError, TypeError) as err:
                _LOGGER.warning("Skipping a malformed area %r: %s", raw, err)
                continue
            self._areas[area.id] = area

    async def flush(self) -> None:
        """Write pending changes now (the final write at shutdown)."""
        await self._store.flush()

    def _data_to_save(self) -> dict[str, Any]:
        areas = []
        for area in self._areas.values():
            raw = dataclasses.asdict(area)
            raw["aliases"] = sorted(area.aliases)
            areas.append(raw)
        return {"areas": areas}

    def _changed(self, action: Literal["create", "update", "remove"], area_id: str) -> None:
        data: AreaRegistryUpdatedData = {"action": action, "area_id": area_id}
        self._runtime.bus.fire(EVENT_AREA_REGISTRY_UPDATED, data)
        self._store.schedule_save(self._data_to_save, SAVE_DELAY)

    def get(self, area_id: str) -> AreaEntry | None:
        """The area with ``area_id``, or None."""
        return self._areas.get(area_id)

    def get_by_name(self, name: str) -> AreaEntry | None:
        """The area called ``name`` (case-insensitive), or None."""
        wanted = _normalize_name(name)
        for area in self._areas.values():
            if _normalize_name(area.name) == wanted:
                return area
        return None

    def values(self) -> list[AreaEntry]:
        """Every area."""
        return list(self._areas.values())

    def __len__(self) -> int:
        return len(self._areas)

    def __contains__(self, area_id: object) -> bool:
        return area_id in self._areas

    def _check_name_free(self, name: str, own_id: str | None = None) -> None:
        other = self.get_by_name(name)
        if other is not None and other.id != own_id:
            raise ValueError(f"An area called {other.name!r} already exists ({other.id})")

    def create(
        self, name: str, *, icon: str | None = None, aliases: Iterable[str] = ()
    ) -> AreaEntry:
        """Create an area; its id is the slug of ``name``, suffixed ``_2``… when taken.

        Raises:
            ValueError: when an area of that name (case-insensitive) exists.
        """
        self._check_name_free(name)
        base = slugify(name)
        area_id, counter = base, 1
        while area_id in self._areas:
            counter += 1
            area_id = f"{base}_{counter}"
        area = AreaEntry(id=area_id, name=name, icon=icon, aliases=frozenset(aliases))
        self._areas[area_id] = area
        self._changed("create", area_id)
        return area

    def update(
        self,
        area_id: str,
        *,
        name: str | UndefinedType = UNDEFINED,
        icon: str | UndefinedType | None = UNDEFINED,
        aliases: Iterable[str] | UndefinedType = UNDEFINED,
        floor_id: str | UndefinedType | None = UNDEFINED,
    ) -> AreaEntry:
        """Change the given fields of an area; its id stays.

        Raises:
            KeyError: when the area does not exist.
            ValueError: when another area already has the new name.
        """
        area = self._areas.get(area_id)
        if area is None:
            raise KeyError(f"Area {area_id} does not exist")
        changes: dict[str, Any] = {}
        if name is not UNDEFINED:
            self._check_name_free(name, area_id)
            changes["name"] = name
        if icon is not UNDEFINED:
            changes["icon"] = icon
        if aliases is not UNDEFINED:
            changes["aliases"] = frozenset(aliases)
        if floor_id is not UNDEFINED:
            changes["floor_id"] = floor_id
        new = dataclasses.replace(area, **changes)
        if new == area:
            return area
        self._areas[area_id] = new
        self._changed("update", area_id)
        return new

    def delete(self, area_id: str) -> None:
        """Delete an area and take the devices and entities in it out of it.

        Raises:
            KeyError: when the area does not exist.
        """
        if area_id not in self._areas:
            raise KeyError(f"Area {area_id} does not exist")
        self._runtime.device_registry.clear_area(area_id)
        self._runtime.entity_registry.clear_area(area_id)
        del self._areas[area_id]
        self._changed("remove", area_id)


# --- devices -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One physical (or logical) device and the integration that found it."""

    id: str
    integration: str
    identifiers: frozenset[tuple[str, str]] = frozenset()
    connections: frozenset[tuple[str, str]] = frozenset()
    name: str | None = None
    name_by_user: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None
    serial_number: str | None = None
    area_id: str | None = None
    via_device_id: str | None = None
    configuration_url: str | None = None
    disabled_by: str | None = None
    created_at: float = 0.0
    modified_at: float = 0.0

    @property
    def disabled(self) -> bool:
        """Whether anyone disabled the device."""
        return self.disabled_by is not None


class DeviceRegistryUpdatedData(TypedDict):
    """The data of ``device_registry_updated``; ``changes`` maps each field to its old value."""

    action: Literal["create", "update", "remove"]
    device_id: str
    changes: NotRequired[dict[str, Any]]


_DEVICE_FIELDS = frozenset(f.name for f in dataclasses.fields(DeviceEntry))
_PAIR_FIELDS = ("identifiers", "connections")


def _device_to_json(device: DeviceEntry) -> dict[str, Any]:
    data = {name: getattr(device, name) for name in _DEVICE_FIELDS}
    for name in _PAIR_FIELDS:
        data[name] = sorted([list(pair) for pair in getattr(device, name)])
    return data


def _device_from_json(raw: dict[str, Any]) -> DeviceEntry:
    values = {k: v for k, v in raw.items() if k in _DEVICE_FIELDS}
    for name in _PAIR_FIELDS:
        values[name] = frozenset((str(a), str(b)) for a, b in values.get(name) or ())
    return DeviceEntry(**values)


class DeviceRegistry:
    """The devices of the site, found by identifier or connection.

    Must be used from the event loop. Every change fires ``device_registry_updated`` and is
    saved to ``.storage/core.device_registry``.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._store = JsonStore.for_runtime(
            runtime,
            DEVICE_STORAGE_KEY,
            version=STORAGE_VERSION,
        )
        self._devices: dict[str, DeviceEntry] = {}
        self._by_identifier: dict[tuple[str, str], str] = {}
        self._by_connection: dict[tuple[str, str], str] = {}

    # --- persistence ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Read the devices from storage; a missing or corrupt file starts empty."""
        data = await self._store.load()
        if data is None:
            return
        for raw in data.get("devices", ()):
            try:
                device = _device_from_json(raw)
            except (TypeError, ValueError) as err:
                _LOGGER.warning("Skipping a malformed device %r: %s", raw, err)
                continue
            self._index(device)

    async def flush(self) -> None:
        """Write pending changes now (the final write at shutdown)."""
        await self._store.flush()

    def _data_to_save(self) -> dict[str, Any]:
        return {"devices": [_device_to_json(d) for d in self._devices.values()]}

    def _changed(self, data: DeviceRegistryUpdatedData) -> None:
        self._runtime.bus.fire(EVENT_DEVICE_REGISTRY_UPDATED, data)
        self._store.schedule_save(self._data_to_save, SAVE_DELAY)

    # --- reading -------------------------------------------------------------------------------

    def get(self, device_id: str) -> DeviceEntry | None:
        """The device with ``device_id``, or None."""
        return self._devices.get(device_id)

    def get_device(
        self,
        identifiers: Iterable[tuple[str, str]] = (),
        connections: Iterable[tuple[str, str]] = (),
    ) -> DeviceEntry | None:
        """The device that has any of ``identifiers`` or ``connections``, or None."""
        for domain, value in identifiers:
            if (device_id := self._by_identifier.get((domain, value))) is not None:
                return self._devices[device_id]
        for connection in _normalize_connections(connections):
            if (device_id := self._by_connection.get(connection)) is not None:
                return self._devices[device_id]
        return None

    def devices_for_area(self, area_id: str) -> list[DeviceEntry]:
        """The devices in an area."""
        return [d for d in self._devices.values() if d.area_id == area_id]

    def values(self) -> list[DeviceEntry]:
        """Every device."""
        return list(self._devices.values())

    def __len__(self) -> int:
        return len(self._devices)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._devices

    # --- writing -------------------------------------------------------------------------------

    def get_or_create(
        self,
        integration: str,
        *,
        identifiers: Iterable[tuple[str, str]],
        connections: Iterable[tuple[str, str]] = (),
        name: str | UndefinedType | None = UNDEFINED,
        manufacturer: str | UndefinedType | None = UNDEFINED,
        model: str | UndefinedType | None = UNDEFINED,
        sw_version: str | UndefinedType | None = UNDEFINED,
        hw_version: str | UndefinedType | None = UNDEFINED,
        serial_number: str | UndefinedType | None = UNDEFINED,
        via_device: tuple[str, str] | UndefinedType | None = UNDEFINED,
        configuration_url: str | UndefinedType | None = UNDEFINED,
        suggested_area: str | None = None,
    ) -> DeviceEntry:
        """The device with any of ``identifiers`` or ``connections``, created when there is none.

        A known device gains the new identifiers and connections and takes the given fields;
        fields not given keep their value. ``suggested_area`` (created when no area has that
        name) only applies when the device is created, so a user's later choice survives.

        Raises:
            ValueError: when neither identifiers nor connections are given.
        """
        ids = frozenset((str(a), str(b)) for a, b in identifiers)
        conns = _normalize_connections(connections)
        if not ids and not conns:
            raise ValueError("A device needs at least one identifier or connection")
        fields: dict[str, Any] = {}
        for field, value in (
            ("name", name),
            ("manufacturer", manufacturer),
            ("model", model),
            ("sw_version", sw_version),
            ("hw_version", hw_version),
            ("serial_number", serial_number),
            ("configuration_url", configuration_url),
        ):
            if value is not UNDEFINED:
                fields[field] = value
        if via_device is not UNDEFINED:
            via = self.get_device([via_device]) if via_device is not None else None
            if via_device is not None and via is None:
                _LOGGER.debug("Device %s: via device %s is not registered", ids, via_device)
            fields["via_device_id"] = via.id if via is not None else None

        device = self.get_device(ids, conns)
        if device is not None:
            fields["identifiers"] = device.identifiers | ids
            fields["connections"] = device.connections | conns
            return self._apply(device, fields)

        area_id = None
        if suggested_area:
            areas = self._runtime.area_registry
            area = areas.get_by_name(suggested_area) or areas.create(suggested_area)
            area_id = area.id
        now = time.time()
        device = DeviceEntry(
            id=ulid_now(),
            integration=integration,
            identifiers=ids,
            connections=conns,
            area_id=area_id,
            created_at=now,
            modified_at=now,
            **fields,
        )
        self._index(device)
        _LOGGER.debug("Registered device %s (%s) for %s", device.id, device.name, integration)
        self._changed({"action": "create", "device_id": device.id})
        return device

    def update(
        self,
        device_id: str,
        *,
        name_by_user: str | UndefinedType | None = UNDEFINED,
        area_id: str | UndefinedType | None = UNDEFINED,
        disabled_by: str | UndefinedType | None = UNDEFINED,
    ) -> DeviceEntry:
        """Change the user's settings of a device; disabling it disables its entities.

        Raises:
            KeyError: when the device does not exist.
            ValueError: for an area that does not exist or an unknown ``disabled_by``.
        """
        device = self._devices.get(device_id)
        if device is None:
            raise KeyError(f"Device {device_id} does not exist")
        fields: dict[str, Any] = {}
        if name_by_user is not UNDEFINED:
            fields["name_by_user"] = name_by_user
        if area_id is not UNDEFINED:
            if area_id is not None and self._runtime.area_registry.get(area_id) is None:
                raise ValueError(f"Area {area_id} does not exist")
            fields["area_id"] = area_id
        if disabled_by is not UNDEFINED:
            if disabled_by is not None and disabled_by not in (
                DisabledBy.USER,
                DisabledBy.INTEGRATION,
            ):
                raise ValueError(f"disabled_by must be user, integration or None: {disabled_by!r}")
            fields["disabled_by"] = disabled_by
        new = self._apply(device, fields)
        if new.disabled != device.disabled:
            self._runtime.entity_registry.device_disabled_changed(device_id, new.disabled)
        return new

    def remove(self, device_id: str) -> None:
        """Remove a device and its entities; devices connected through it lose that link.

        Raises:
            KeyError: when the device does not exist.
        """
        device = self._devices.get(device_id)
        if device is None:
            raise KeyError(f"Device {device_id} does not exist")
        entities = self._runtime.entity_registry
        for entry in entities.entities_for_device(device_id):
            entities.remove(entry.entity_id)
        for other in self.values():
            if other.via_device_id == device_id:
                self._apply(other, {"via_device_id": None})
        self._unindex(device)
        _LOGGER.debug("Removed device %s (%s)", device_id, device.name)
        self._changed({"action": "remove", "device_id": device_id})

    def clear_area(self, area_id: str) -> None:
        """Take every device out of an area that is being deleted (called by the area registry)."""
        for device in self.devices_for_area(area_id):
            self._apply(device, {"area_id": None})

    def _index(self, device: DeviceEntry) -> None:
        self._devices[device.id] = device
        for identifier in device.identifiers:
            self._by_identifier[identifier] = device.id
        for connection in device.connections:
            self._by_connection[connection] = device.id

    def _unindex(self, device: DeviceEntry) -> None:
        del self._devices[device.id]
        for identifier in device.identifiers:
            if self._by_identifier.get(identifier) == device.id:
                del self._by_identifier[identifier]
        for connection in device.connections:
            if self._by_connection.get(connection) == device.id:
                del self._by_connection[connection]

    def _apply(self, device: DeviceEntry, values: dict[str, Any]) -> DeviceEntry:
        """Store ``device`` with ``values``, firing one update event when anything changed."""
        old_values = {
            field: getattr(device, field)
            for field, value in values.items()
            if getattr(device, field) != value
        }
        if not old_values:
            return device
        changed = {field: values[field] for field in old_values}
        new = dataclasses.replace(device, **changed, modified_at=time.time())
        self._unindex(device)
        self._index(new)
        changes = {
            field: sorted(list(pair) for pair in value) if field in _PAIR_FIELDS else value
            for field, value in old_values.items()
        }
        # Sets become lists so the event can go out as JSON to clients as it is.
        self._changed({"action": "update", "device_id": device.id, "changes": changes})
        return new
