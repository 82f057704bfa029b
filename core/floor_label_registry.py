"""Floors and labels: two small registries of named things, ids made from the names.

A floor groups areas (``AreaEntry.floor_id``); a label tags entities (``RegistryEntry.labels``)
and can be a service target (``label_id``). Deleting a floor takes its areas off it; deleting a
label takes it off every entity. Stored in ``.storage/core.floor_registry`` and
``.storage/core.label_registry``, in Home Assistant's keys.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from .entity_registry import UNDEFINED, UndefinedType
from .slug import slugify
from .storage import JsonStore

if TYPE_CHECKING:
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)

FLOOR_STORAGE_KEY: Final = "core.floor_registry"
LABEL_STORAGE_KEY: Final = "core.label_registry"
EVENT_FLOOR_REGISTRY_UPDATED: Final = "floor_registry_updated"
EVENT_LABEL_REGISTRY_UPDATED: Final = "label_registry_updated"
_STORAGE_VERSION: Final = 1
_SAVE_DELAY: Final = 10.0


@dataclass(frozen=True, slots=True)
class FloorEntry:
    """One floor of the site; ``level`` orders floors (0 the ground floor)."""

    floor_id: str
    name: str
    icon: str | None = None
    level: int | None = None
    aliases: frozenset[str] = frozenset()
    created_at: float = 0.0
    modified_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``config/floor_registry/list``)."""
        return {**dataclasses.asdict(self), "aliases": sorted(self.aliases)}


@dataclass(frozen=True, slots=True)
class LabelEntry:
    """One label that entities can carry."""

    label_id: str
    name: str
    icon: str | None = None
    color: str | None = None
    description: str | None = None
    created_at: float = 0.0
    modified_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``config/label_registry/list``)."""
        return dataclasses.asdict(self)


_E = TypeVar("_E", FloorEntry, LabelEntry)


class _NamedRegistry(Generic[_E]):
    """Entries by id, ids slugs of their names; names unique (case-insensitive).

    Must be used from the event loop.
    """

    def __init__(
        self,
        runtime: Runtime,
        entry_type: type[_E],
        *,
        key: str,
        event: str,
        id_field: str,
        on_delete: Callable[[str], None],
    ) -> None:
        self._runtime = runtime
        self._type: type[_E] = entry_type
        self._store = JsonStore.for_runtime(runtime, key, version=_STORAGE_VERSION)
        self._event = event
        self._id_field = id_field
        self._on_delete = on_delete
        self._entries: dict[str, _E] = {}
        self._kind = id_field.removesuffix("_id")

    async def load(self) -> None:
        """Read the entries from storage; a missing file starts empty, bad items are skipped."""
        data = await self._store.load()
        for raw in (data or {}).get(f"{self._kind}s", ()):
            try:
                values = dict(raw)
                if "aliases" in values:
                    values["aliases"] = frozenset(values["aliases"] or ())
                entry = self._type(**values)
            except TypeError as err:
                _LOGGER.warning("Skipping a malformed %s %r: %s", self._kind, raw, err)
                continue
            self._entries[getattr(entry, self._id_field)] = entry

    async def flush(self) -> None:
        """Write pending changes now (the final write at shutdown)."""
        await self._store.flush()

    def _changed(self, action: str, entry_id: str) -> None:
        self._runtime.bus.fire(self._event, {"action": action, self._id_field: entry_id})
        self._store.schedule_save(
            lambda: {f"{self._kind}s": [e.as_dict() for e in self._entries.values()]},
            _SAVE_DELAY,
        )

    def get(self, entry_id: str) -> _E | None:
        """The entry with ``entry_id``, or None."""
        return self._entries.get(entry_id)

    def values(self) -> list[_E]:
        """Every entry."""
        return list(self._entries.values())

    def _check_name_free(self, name: str, own_id: str | None = None) -> None:
        if not name.strip():
            raise ValueError(f"A {self._kind} needs a name")
        for entry in self._entries.values():
            if (
                entry.name.casefold() == name.casefold()
                and getattr(entry, self._id_field) != own_id
            ):
                raise ValueError(f"A {self._kind} called {entry.name!r} already exists")

    def create(self, name: str, **fields: Any) -> _E:
        """Create an entry; its id is the slug of ``name``, suffixed ``_2``… when taken.

        Raises:
            ValueError: the name is empty or taken.
        """
        self._check_name_free(name)
        base = slugify(name) or self._kind
        entry_id, counter = base, 1
        while entry_id in self._entries:
            counter += 1
            entry_id = f"{base}_{counter}"
        now = time.time()
        values = {k: v for k, v in fields.items() if v is not UNDEFINED}
        if "aliases" in values:
            values["aliases"] = frozenset(values["aliases"])
        values.update({self._id_field: entry_id, "name": name, "created_at": now})
        entry: _E = self._type(modified_at=now, **values)
        self._entries[entry_id] = entry
        self._changed("create", entry_id)
        return entry

    def update(self, entry_id: str, name: str | UndefinedType = UNDEFINED, **fields: Any) -> _E:
        """Change the given fields; its id stays.

        Raises:
            KeyError: it does not exist.
            ValueError: another entry already has the new name.
        """
        entry = self._entries.get(entry_id)
        if entry is None:
            raise KeyError(f"{self._kind.capitalize()} {entry_id} does not exist")
        changes = {k: v for k, v in fields.items() if v is not UNDEFINED}
        if "aliases" in changes:
            changes["aliases"] = frozenset(changes["aliases"])
        if not isinstance(name, UndefinedType):
            self._check_name_free(name, entry_id)
            changes["name"] = name
        new = dataclasses.replace(entry, **changes)
        if new == entry:
            return entry
        new = dataclasses.replace(new, modified_at=time.time())
        self._entries[entry_id] = new
        self._changed("update", entry_id)
        return new

    def delete(self, entry_id: str) -> None:
        """Delete an entry; what referred to it no longer does.

        Raises:
            KeyError: it does not exist.
        """
        if entry_id not in self._entries:
            raise KeyError(f"{self._kind.capitalize()} {entry_id} does not exist")
        self._on_delete(entry_id)
        del self._entries[entry_id]
        self._changed("remove", entry_id)


class FloorRegistry(_NamedRegistry[FloorEntry]):
    """The floors of the site."""

    def __init__(self, runtime: Runtime) -> None:
        def clear_areas(floor_id: str) -> None:
            areas = runtime.area_registry
            for area in areas.values():
                if area.floor_id == floor_id:
                    areas.update(area.id, floor_id=None)

        super().__init__(
            runtime,
            FloorEntry,
            key=FLOOR_STORAGE_KEY,
            event=EVENT_FLOOR_REGISTRY_UPDATED,
            id_field="floor_id",
            on_delete=clear_areas,
        )


class LabelRegistry(_NamedRegistry[LabelEntry]):
    """The labels entities can carry."""

    def __init__(self, runtime: Runtime) -> None:
        def clear_entities(label_id: str) -> None:
            entities = runtime.entity_registry
            for entry in entities.entities_for_label(label_id):
                entities.update(entry.entity_id, labels=_without(entry.labels, label_id))

        super().__init__(
            runtime,
            LabelEntry,
            key=LABEL_STORAGE_KEY,
            event=EVENT_LABEL_REGISTRY_UPDATED,
            id_field="label_id",
            on_delete=clear_entities,
        )


def _without(labels: Iterable[str], label_id: str) -> list[str]:
    return [label for label in labels if label != label_id]
