"""The entity registry: the stable ``entity_id`` of every entity that has a ``unique_id``.

An integration asks for its entity by (domain, platform, unique_id) and gets the same entity id
back after every restart; users rename entities, hide or disable them and put them in areas here.
Removed entities are remembered, so an entity that comes back gets its old entity id again.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, Final, Literal, NotRequired, TypedDict

from ulid_transform import ulid_now

from .const import EVENT_ENTITY_REGISTRY_UPDATED
from .errors import InvalidEntityIdError
from .slug import slugify
from .state import valid_entity_id
from .storage import JsonStore

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = [
    "UNDEFINED",
    "DeletedEntry",
    "DisabledBy",
    "EntityRegistry",
    "EntityRegistryUpdatedData",
    "HiddenBy",
    "RegistryEntry",
    "UndefinedType",
    "slugify",
]

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY: Final = "core.entity_registry"
STORAGE_VERSION: Final = 1
STORAGE_MINOR_VERSION: Final = 1
#: Seconds a change may wait before it is written, so a burst of changes costs one write.
SAVE_DELAY: Final = 1.0
#: Entity ids are state-machine keys and end up in URLs and databases; Home Assistant's limit.
MAX_ENTITY_ID_LENGTH: Final = 255
#: Room left for a ``_<n>`` suffix when a generated id is taken.
_SUFFIX_ROOM = 6


class UndefinedType(Enum):
    """The type of ``UNDEFINED``: an argument that was not given, where None is a real value."""

    _singleton = 0


#: "Leave this field as it is" for ``update`` arguments whose value may legitimately be None.
UNDEFINED: Final = UndefinedType._singleton  # noqa: SLF001 - the enum's own sentinel member


class DisabledBy(StrEnum):
    """Who disabled an entity or a device."""

    USER = "user"
    INTEGRATION = "integration"
    #: Set on the entities of a disabled device; cleared when the device is enabled again.
    DEVICE = "device"


class HiddenBy(StrEnum):
    """Who hid an entity."""

    USER = "user"
    INTEGRATION = "integration"


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """What the registry knows about one entity; a change is a new entry."""

    entity_id: str
    unique_id: str
    #: The integration domain that created the entity.
    platform: str
    #: The entity domain, e.g. "sensor".
    domain: str
    #: A ULID that never changes, even when the entity is renamed.
    id: str
    device_id: str | None = None
    area_id: str | None = None
    #: Set by the user; wins over ``original_name``.
    name: str | None = None
    #: Set by the integration.
    original_name: str | None = None
    icon: str | None = None
    original_device_class: str | None = None
    device_class: str | None = None
    unit_of_measurement: str | None = None
    disabled_by: str | None = None
    hidden_by: str | None = None
    labels: frozenset[str] = frozenset()
    entity_category: str | None = None
    created_at: float = 0.0
    modified_at: float = 0.0

    @property
    def disabled(self) -> bool:
        """Whether anyone disabled the entity."""
        return self.disabled_by is not None

    @property
    def hidden(self) -> bool:
        """Whether anyone hid the entity."""
        return self.hidden_by is not None


@dataclass(frozen=True, slots=True)
class DeletedEntry:
    """A removed entity, kept so that it gets its entity id back when it reappears."""

    entity_id: str
    unique_id: str
    platform: str
    domain: str
    id: str
    created_at: float
    deleted_at: float


class EntityRegistryUpdatedData(TypedDict):
    """The data of ``entity_registry_updated``; ``changes`` maps each field to its old value."""

    action: Literal["create", "update", "remove"]
    entity_id: str
    old_entity_id: NotRequired[str]
    changes: NotRequired[dict[str, Any]]


_Key = tuple[str, str, str]
_ENTRY_FIELDS = frozenset(f.name for f in dataclasses.fields(RegistryEntry))
_DELETED_FIELDS = frozenset(f.name for f in dataclasses.fields(DeletedEntry))


def _check_choice(field: str, value: str | None, allowed: type[StrEnum]) -> None:
    if value is not None and value not in {member.value for member in allowed}:
        choices = ", ".join(member.value for member in allowed)
        raise ValueError(f"{field} must be one of {choices} or None, got {value!r}")


def _entry_to_json(entry: RegistryEntry) -> dict[str, Any]:
    data = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
    data["labels"] = sorted(entry.labels)
    return data


def _entry_from_json(raw: dict[str, Any]) -> RegistryEntry:
    values = {k: v for k, v in raw.items() if k in _ENTRY_FIELDS}
    values["labels"] = frozenset(values.get("labels") or ())
    entry = RegistryEntry(**values)
    if not valid_entity_id(entry.entity_id):
        raise InvalidEntityIdError(entry.entity_id)
    return entry


class EntityRegistry:
    """Maps (domain, platform, unique_id) to a stable entity id and the user's settings for it.

    Must be used from the event loop. Every change fires ``entity_registry_updated`` and is
    saved to ``.storage/core.entity_registry`` within ``SAVE_DELAY`` seconds.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._store = JsonStore.for_runtime(
            runtime,
            STORAGE_KEY,
            version=STORAGE_VERSION,
            minor_version=STORAGE_MINOR_VERSION,
        )
        self._entities: dict[str, RegistryEntry] = {}
        self._by_key: dict[_Key, str] = {}
        self._deleted: dict[_Key, DeletedEntry] = {}

    # --- persistence ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Read the registry from storage; a missing or corrupt file starts it empty."""
        data = await self._store.load()
        if data is None:
            return
        for raw in data.get("entities", ()):
            try:
                entry = _entry_from_json(raw)
            except (TypeError, ValueError) as err:
                _LOGGER.warning("Skipping a malformed entity registry entry %r: %s", raw, err)
                continue
            self._add(entry)
        for raw in data.get("deleted_entities", ()):
            try:
                deleted = DeletedEntry(**{k: v for k, v in raw.items() if k in _DELETED_FIELDS})
            except TypeError as err:
                _LOGGER.warning("Skipping a malformed deleted entity %r: %s", raw, err)
                continue
            key = (deleted.domain, deleted.platform, deleted.unique_id)
            if key not in self._by_key:
                self._deleted[key] = deleted
        _LOGGER.debug("Loaded %d entities from the entity registry", len(self._entities))

    async def flush(self) -> None:
        """Write pending changes now (the final write at shutdown)."""
        await self._store.flush()

    def _data_to_save(self) -> dict[str, Any]:
        return {
            "entities": [_entry_to_json(e) for e in self._entities.values()],
            "deleted_entities": [dataclasses.asdict(d) for d in self._deleted.values()],
        }

    def _changed(self, data: EntityRegistryUpdatedData) -> None:
        self._runtime.bus.fire(EVENT_ENTITY_REGISTRY_UPDATED, data)
        self._store.schedule_save(self._data_to_save, SAVE_DELAY)

    # --- reading -------------------------------------------------------------------------------

    def get(self, entity_id: str) -> RegistryEntry | None:
        """The entry of ``entity_id``, or None when it is not registered."""
        return self._entities.get(entity_id)

    def get_entity_id(self, domain: str, platform: str, unique_id: str) -> str | None:
        """The entity id registered for (domain, platform, unique_id), or None."""
        return self._by_key.get((domain, platform, unique_id))

    def values(self) -> list[RegistryEntry]:
        """Every registered entity."""
        return list(self._entities.values())

    def entities_for_device(self, device_id: str) -> list[RegistryEntry]:
        """The entities that belong to a device."""
        return [e for e in self._entities.values() if e.device_id == device_id]

    def entities_for_area(self, area_id: str) -> list[RegistryEntry]:
        """The entities in an area: their own area, or their device's when they have none."""
        devices = self._runtime.device_registry
        result = []
        for entry in self._entities.values():
            if entry.area_id is not None:
                if entry.area_id == area_id:
                    result.append(entry)
            elif entry.device_id is not None:
                device = devices.get(entry.device_id)
                if device is not None and device.area_id == area_id:
                    result.append(entry)
        return result

    def entities_for_label(self, label_id: str) -> list[RegistryEntry]:
        """The entities that carry a label."""
        return [e for e in self._entities.values() if label_id in e.labels]

    def __len__(self) -> int:
        return len(self._entities)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._entities

    # --- writing -------------------------------------------------------------------------------

    def async_generate_entity_id(self, domain: str, suggested_object_id: str) -> str:
        """A free entity id ``domain.<slug>``, suffixed ``_2``, ``_3``… when taken.

        Taken means registered here or holding a state in the state machine.

        Raises:
            InvalidEntityIdError: when ``domain`` cannot form a valid entity id.
        """
        room = MAX_ENTITY_ID_LENGTH - len(domain) - 1 - _SUFFIX_ROOM
        object_id = slugify(suggested_object_id)[:room].rstrip("_")
        base = f"{domain}.{object_id}"
        if not valid_entity_id(base):
            raise InvalidEntityIdError(base)
        candidate = base
        counter = 1
        while self._taken(candidate):
            counter += 1
            candidate = f"{base}_{counter}"
        return candidate

    def _taken(self, entity_id: str) -> bool:
        return entity_id in self._entities or entity_id in self._runtime.states

    def get_or_create(
        self,
        domain: str,
        platform: str,
        unique_id: str,
        *,
        suggested_object_id: str | None = None,
        device_id: str | None = None,
        original_name: str | None = None,
        original_device_class: str | None = None,
        unit_of_measurement: str | None = None,
        entity_category: str | None = None,
        disabled_by: str | None = None,
    ) -> RegistryEntry:
        """The entry for (domain, platform, unique_id), created on first sight.

        For a known entity, the fields the integration owns (``original_name``,
        ``original_device_class``, ``unit_of_measurement``, ``entity_category``) take the values
        given; ``device_id`` only when one is given; ``disabled_by`` only applies at creation,
        so a user's choice survives. An entity removed earlier gets its old entity id back.

        Raises:
            InvalidEntityIdError: when ``domain`` cannot form a valid entity id.
            ValueError: for an unknown ``disabled_by``.
        """
        key = (domain, platform, unique_id)
        if (entity_id := self._by_key.get(key)) is not None:
            changes: dict[str, Any] = {
                "original_name": original_name,
                "original_device_class": original_device_class,
                "unit_of_measurement": unit_of_measurement,
                "entity_category": entity_category,
            }
            if device_id is not None:
                changes["device_id"] = device_id
            return self._apply(self._entities[entity_id], changes)
        _check_choice("disabled_by", disabled_by, DisabledBy)
        now = time.time()
        deleted = self._deleted.get(key)
        if deleted is not None and not self._taken(deleted.entity_id):
            entity_id, entry_id, created_at = deleted.entity_id, deleted.id, deleted.created_at
        else:
            entity_id = self.async_generate_entity_id(
                domain, suggested_object_id or f"{platform}_{unique_id}"
            )
            entry_id, created_at = ulid_now(), now
        self._deleted.pop(key, None)
        entry = RegistryEntry(
            entity_id=entity_id,
            unique_id=unique_id,
            platform=platform,
            domain=domain,
            id=entry_id,
            device_id=device_id,
            original_name=original_name,
            original_device_class=original_device_class,
            unit_of_measurement=unit_of_measurement,
            entity_category=entity_category,
            disabled_by=disabled_by,
            created_at=created_at,
            modified_at=now,
        )
        self._add(entry)
        _LOGGER.debug("Registered %s for %s/%s", entity_id, platform, unique_id)
        self._changed({"action": "create", "entity_id": entity_id})
        return entry

    def update(
        self,
        entity_id: str,
        *,
        new_entity_id: str | UndefinedType = UNDEFINED,
        name: str | UndefinedType | None = UNDEFINED,
        area_id: str | UndefinedType | None = UNDEFINED,
        icon: str | UndefinedType | None = UNDEFINED,
        device_class: str | UndefinedType | None = UNDEFINED,
        disabled_by: str | UndefinedType | None = UNDEFINED,
        hidden_by: str | UndefinedType | None = UNDEFINED,
        labels: Iterable[str] | UndefinedType = UNDEFINED,
        device_id: str | UndefinedType | None = UNDEFINED,
        original_name: str | UndefinedType | None = UNDEFINED,
        unit_of_measurement: str | UndefinedType | None = UNDEFINED,
    ) -> RegistryEntry:
        """Change the given fields of an entity; fields left ``UNDEFINED`` keep their value.

        Returns:
            The new entry (the same one when nothing changed; then no event fires).

        Raises:
            KeyError: when ``entity_id`` is not registered.
            InvalidEntityIdError: when ``new_entity_id`` is malformed.
            ValueError: when ``new_entity_id`` is taken or of another domain, for an unknown
                ``disabled_by``/``hidden_by``, or an ``area_id``/``device_id`` that does not exist.
            TypeError: when ``labels`` is a single string.
        """
        entry = self._entities.get(entity_id)
        if entry is None:
            raise KeyError(f"Entity {entity_id} is not registered")
        changes: dict[str, Any] = {}
        for field, value in (
            ("name", name),
            ("icon", icon),
            ("device_class", device_class),
            ("original_name", original_name),
            ("unit_of_measurement", unit_of_measurement),
        ):
            if value is not UNDEFINED:
                changes[field] = value
        if disabled_by is not UNDEFINED:
            _check_choice("disabled_by", disabled_by, DisabledBy)
            changes["disabled_by"] = disabled_by
        if hidden_by is not UNDEFINED:
            _check_choice("hidden_by", hidden_by, HiddenBy)
            changes["hidden_by"] = hidden_by
        if labels is not UNDEFINED:
            if isinstance(labels, str):  # frozenset("energy") would be a set of letters
                raise TypeError("labels must be a collection of label ids, not a string")
            changes["labels"] = frozenset(labels)
        if area_id is not UNDEFINED:
            if area_id is not None and self._runtime.area_registry.get(area_id) is None:
                raise ValueError(f"Area {area_id} does not exist")
            changes["area_id"] = area_id
        if device_id is not UNDEFINED:
            if device_id is not None and self._runtime.device_registry.get(device_id) is None:
                raise ValueError(f"Device {device_id} does not exist")
            changes["device_id"] = device_id
        rename: str | None = None
        if new_entity_id is not UNDEFINED and new_entity_id != entity_id:
            if not valid_entity_id(new_entity_id):
                raise InvalidEntityIdError(new_entity_id)
            if new_entity_id.partition(".")[0] != entry.domain:
                raise ValueError(
                    f"Cannot rename {entity_id} to {new_entity_id}: the domain must stay "
                    f"{entry.domain}"
                )
            if self._taken(new_entity_id):
                raise ValueError(f"Entity id {new_entity_id} is already taken")
            rename = new_entity_id
        return self._apply(entry, changes, rename=rename)

    def remove(self, entity_id: str) -> None:
        """Remove an entity; it is remembered, so it gets ``entity_id`` back if it reappears.

        Raises:
            KeyError: when ``entity_id`` is not registered.
        """
        entry = self._entities.pop(entity_id, None)
        if entry is None:
            raise KeyError(f"Entity {entity_id} is not registered")
        key = (entry.domain, entry.platform, entry.unique_id)
        del self._by_key[key]
        self._deleted[key] = DeletedEntry(
            entity_id=entry.entity_id,
            unique_id=entry.unique_id,
            platform=entry.platform,
            domain=entry.domain,
            id=entry.id,
            created_at=entry.created_at,
            deleted_at=time.time(),
        )
        _LOGGER.debug("Removed %s from the entity registry", entity_id)
        self._changed({"action": "remove", "entity_id": entity_id})

    def clear_area(self, area_id: str) -> None:
        """Take every entity out of an area that is being deleted (called by the area registry)."""
        for entry in self.values():
            if entry.area_id == area_id:
                self._apply(entry, {"area_id": None})

    def device_disabled_changed(self, device_id: str, disabled: bool) -> None:
        """Disable a disabled device's enabled entities, or enable those it disabled."""
        for entry in self.entities_for_device(device_id):
            if disabled and entry.disabled_by is None:
                self._apply(entry, {"disabled_by": DisabledBy.DEVICE.value})
            elif not disabled and entry.disabled_by == DisabledBy.DEVICE:
                self._apply(entry, {"disabled_by": None})

    def _add(self, entry: RegistryEntry) -> None:
        self._entities[entry.entity_id] = entry
        self._by_key[(entry.domain, entry.platform, entry.unique_id)] = entry.entity_id

    def _apply(
        self, entry: RegistryEntry, values: dict[str, Any], *, rename: str | None = None
    ) -> RegistryEntry:
        """Store ``entry`` with ``values`` (and a new entity id), firing one update event."""
        old_values = {
            field: getattr(entry, field)
            for field, value in values.items()
            if getattr(entry, field) != value
        }
        if not old_values and rename is None:
            return entry
        changed = {field: values[field] for field in old_values}
        if rename is not None:
            changed["entity_id"] = rename
            old_values["entity_id"] = entry.entity_id
        new = dataclasses.replace(entry, **changed, modified_at=time.time())
        if rename is not None:
            del self._entities[entry.entity_id]
        self._add(new)
        data: EntityRegistryUpdatedData = {
            "action": "update",
            "entity_id": new.entity_id,
            # Sets become lists so the event can go out as JSON to clients as it is.
            "changes": {
                field: sorted(value) if isinstance(value, frozenset) else value
                for field, value in old_values.items()
            },
        }
        if rename is not None:
            data["old_entity_id"] = entry.entity_id
            _LOGGER.info("Renamed %s to %s", entry.entity_id, rename)
        self._changed(data)
        return new
