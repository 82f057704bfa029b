"""Collections of configured items (helpers): from YAML, and created through the API.

A helper integration (``input_number``, ``timer``, ``schedule``...) has items, each a small
mapping of options under an id. Items come from two sources:

* YAML: the integration's section of ``configuration.yaml``. Read-only through the API;
  ``<domain>.reload`` reads the section again and applies only what changed, so an item whose
  options did not change keeps its entity and its state.
* Storage: created, updated and deleted through ``ItemCollection.create/update/delete`` (which
  the HTTP API exposes), validated by the same schema, and kept in ``.storage/<domain>``.

``setup_helper`` wires one domain: its collection, the entity of each item (made by the
domain's ``CollectionEntity`` subclass), the reload service, and removal at shutdown. A YAML
section is validated item by item (``section_schema``): a wrong key or type in one item is
reported with the file, line and ``domain.item.key`` and only that item is left out.

For the HTTP API (Home Assistant's ``<domain>/list``, ``/create``, ``/update``, ``/delete``)::

    collection = get_collection(runtime, "input_number")   # None when not set up
    [item.as_dict() for item in collection.items()]        # every item, with "id"
    item = await collection.create({"name": "Level", "min": 0, "max": 10})
    item = await collection.update(item.id, {"max": 20})   # a partial change
    await collection.delete(item.id)

``ItemInvalidError`` (bad options; ``key`` names the field), ``ItemNotFoundError`` and
``ItemReadOnlyError`` (a YAML item) are ``CollectionError`` errors with ``domain`` and ``item_id``.
``item.editable`` is false for YAML items, as the ``editable`` attribute of their entities is.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import voluptuous as vol

from .auth import Permission
from .bus import Unsubscribe
from .config import PartialSection, SectionValidator, load_site_config
from .const import SERVICE_RELOAD
from .core_sections import CORE_SECTIONS
from .entity import Entity
from .entity_platform import add_entities, entities_for_call, for_each_entity, remove_entities
from .errors import EdgewiseError, ServiceValidationError
from .hookspecs import hookimpl
from .integration import Manifest
from .restore_state import RestoreEntity
from .runtime import RuntimeKey
from .services import ServiceCall, humanize
from .slug import slugify
from .state import State
from .storage import JsonStore, StorageError
from .validators import slug, string

if TYPE_CHECKING:
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)

_E = TypeVar("_E", bound=Entity)

STORAGE_VERSION = 1
CONF_ID = "id"
CONF_NAME = "name"
CONF_ICON = "icon"
ATTR_EDITABLE = "editable"

#: Validates one item's options (without its id) into a JSON-serialisable mapping.
ItemSchema = Callable[[object], dict[str, Any]]


def icon(value: object) -> str:
    """An icon name with its set's prefix, such as ``mdi:thermometer``."""
    text = string(value)
    if ":" not in text:
        raise vol.Invalid(f"icon {text!r} should be of the form 'prefix:name' (e.g. 'mdi:home')")
    return text


#: The options every helper item takes.
BASE_ITEM_FIELDS: dict[vol.Marker, Callable[[object], object]] = {
    vol.Optional(CONF_NAME): string,
    vol.Optional(CONF_ICON): icon,
}


class ItemSource(StrEnum):
    """Where an item was defined."""

    YAML = "yaml"
    STORAGE = "storage"


class ChangeType(StrEnum):
    """What happened to an item."""

    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Item:
    """One configured item: its id, where it comes from, and its validated options."""

    id: str
    source: ItemSource
    config: Mapping[str, Any]

    @property
    def editable(self) -> bool:
        """Whether the API may change it (only items created through the API)."""
        return self.source is ItemSource.STORAGE

    def as_dict(self) -> dict[str, Any]:
        """The item as the API shows it: its options with its ``id``."""
        return {CONF_ID: self.id, **self.config}


#: Called after each change of a collection, in order, and awaited.
ChangeListener = Callable[[ChangeType, Item], Awaitable[None]]


class CollectionError(EdgewiseError):
    """A change to a collection was refused.

    Attributes:
        domain: the collection's domain.
        item_id: the item concerned, if any.
        key: the option at fault, if any.
    """

    def __init__(
        self, message: str, *, domain: str, item_id: str | None = None, key: str | None = None
    ) -> None:
        super().__init__(message)
        self.domain = domain
        self.item_id = item_id
        self.key = key


class ItemNotFoundError(CollectionError):
    """No item has that id."""


class ItemReadOnlyError(CollectionError):
    """The item comes from YAML: change it in ``configuration.yaml`` instead."""


class ItemInvalidError(CollectionError):
    """The options given do not pass the domain's schema."""


def _invalid_key(err: vol.Invalid) -> str | None:
    """The dotted path of the first error, if it has one."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    if not errors:
        return None
    return ".".join(str(p) for p in errors[0].path) or None


def section_schema(item_schema: ItemSchema) -> SectionValidator:
    """A section validator that validates each item of ``{id: options}`` on its own.

    Returns a ``PartialSection``: the valid items, and an error per problem whose path starts
    with the item's id (so the issue reads ``input_number.level.max``). An item written as a
    bare key (``my_switch:``) is validated as empty options.
    """

    def validate(value: object) -> PartialSection:
        if value is None:
            return PartialSection({})
        if not isinstance(value, Mapping):
            raise vol.Invalid("expected a mapping of item ids to their options")
        items: dict[str, dict[str, Any]] = {}
        errors: list[vol.Invalid] = []
        for key, options in value.items():
            try:
                item_id = slug(key)
            except vol.Invalid as err:
                errors.append(vol.Invalid(f"invalid item id: {err.msg}", [key]))
                continue
            try:
                items[item_id] = item_schema({} if options is None else options)
            except vol.Invalid as err:
                inner = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
                errors.extend(
                    vol.Invalid(error.msg, [key, *error.path], error_message=error.error_message)
                    for error in inner
                )
        return PartialSection(items, tuple(errors))

    return validate


class ItemCollection:
    """The items of one domain, from YAML and from storage, with listeners for changes.

    Must be used from the event loop. Listeners run in order and are awaited, so when a change
    method returns, the entity of the item is added, updated or removed.
    """

    def __init__(self, runtime: Runtime, domain: str, item_schema: ItemSchema) -> None:
        self.runtime = runtime
        self.domain = domain
        self.item_schema = item_schema
        self._items: dict[str, Item] = {}
        self._listeners: list[ChangeListener] = []
        self._store = JsonStore.for_runtime(
            runtime,
            domain,
            version=STORAGE_VERSION,
        )
        #: Stored entries that failed validation: kept in the file, never silently dropped.
        self._invalid_stored: list[Any] = []
        self._storage_error: str | None = None

    # --- reading -------------------------------------------------------------------------------

    def get(self, item_id: str) -> Item | None:
        """The item with ``item_id``, or None."""
        return self._items.get(item_id)

    def items(self, source: ItemSource | None = None) -> list[Item]:
        """Every item, optionally from one source only."""
        return [i for i in self._items.values() if source is None or i.source is source]

    def listen(self, listener: ChangeListener) -> Unsubscribe:
        """Call ``listener(change, item)`` after each change; returns the unsubscribe."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    async def _notify(self, change: ChangeType, item: Item) -> None:
        for listener in list(self._listeners):
            try:
                await listener(change, item)
            except Exception:  # one listener's failure must not leave the others behind
                _LOGGER.exception("%s: error handling %s of item %s", self.domain, change, item.id)

    # --- YAML ----------------------------------------------------------------------------------

    async def load_yaml(self, items: Mapping[str, Mapping[str, Any]]) -> None:
        """Make the YAML items exactly ``items`` (validated options by id).

        New ids are added, removed ids are removed, and items whose options changed are
        updated; items whose options are the same are left alone, state and all. An id that a
        stored item already has is refused with an error.
        """
        for item in self.items(ItemSource.YAML):
            if item.id not in items:
                del self._items[item.id]
                await self._notify(ChangeType.REMOVED, item)
        for item_id, config in items.items():
            current = self._items.get(item_id)
            if current is not None and current.source is ItemSource.STORAGE:
                _LOGGER.error(
                    "%s: YAML item %s is ignored: an item created through the API has that id",
                    self.domain,
                    item_id,
                )
                continue
            item = Item(item_id, ItemSource.YAML, dict(config))
            if current is None:
                self._items[item_id] = item
                await self._notify(ChangeType.ADDED, item)
            elif current.config != item.config:
                self._items[item_id] = item
                await self._notify(ChangeType.UPDATED, item)

    # --- storage -------------------------------------------------------------------------------

    async def load_storage(self) -> None:
        """Load the items kept in ``.storage/<domain>`` and add them.

        A corrupt file is moved aside by the store (and the collection starts without stored
        items); an entry that no longer validates is logged and kept in the file untouched.
        """
        try:
            data = await self._store.load()
        except StorageError as err:
            self._storage_error = str(err)
            _LOGGER.error(
                "%s: stored items not loaded, and the API cannot change any: %s", self.domain, err
            )
            return
        for raw in (data or {}).get("items", ()):
            try:
                item_id = slug(raw[CONF_ID])
                options = {k: v for k, v in raw.items() if k != CONF_ID}
                config = self.item_schema(options)
            except (vol.Invalid, KeyError, TypeError) as err:
                message = humanize(err) if isinstance(err, vol.Invalid) else repr(err)
                _LOGGER.error(
                    "%s: stored item %r is invalid and not loaded: %s", self.domain, raw, message
                )
                self._invalid_stored.append(raw)
                continue
            if item_id in self._items:
                _LOGGER.error(
                    "%s: stored item %s is not loaded: a YAML item has that id",
                    self.domain,
                    item_id,
                )
                self._invalid_stored.append(raw)
                continue
            item = Item(item_id, ItemSource.STORAGE, config)
            self._items[item_id] = item
            await self._notify(ChangeType.ADDED, item)

    def _data_to_save(self) -> dict[str, Any]:
        stored = [item.as_dict() for item in self.items(ItemSource.STORAGE)]
        return {"items": [*stored, *self._invalid_stored]}

    async def _save(self) -> None:
        await self._store.save(self._data_to_save())

    def _check_writable(self, item_id: str | None = None) -> None:
        if self._storage_error is not None:
            raise CollectionError(
                f"{self.domain}: items cannot be changed: {self._storage_error}",
                domain=self.domain,
                item_id=item_id,
            )

    def _validate(self, item_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self.item_schema(dict(options))
        except vol.Invalid as err:
            raise ItemInvalidError(
                f"{self.domain}.{item_id}: {humanize(err)}",
                domain=self.domain,
                item_id=item_id,
                key=_invalid_key(err),
            ) from None

    def _new_id(self, data: Mapping[str, Any]) -> str:
        requested = data.get(CONF_ID)
        if requested is not None:
            try:
                item_id = slug(requested)
            except vol.Invalid as err:
                raise ItemInvalidError(
                    f"{self.domain}: {err.msg}", domain=self.domain, key=CONF_ID
                ) from None
            if item_id in self._items:
                raise ItemInvalidError(
                    f"{self.domain}: an item with id {item_id} already exists",
                    domain=self.domain,
                    item_id=item_id,
                    key=CONF_ID,
                )
            return item_id
        base = slugify(str(data[CONF_NAME]))
        item_id, counter = base, 1
        while item_id in self._items:
            counter += 1
            item_id = f"{base}_{counter}"
        return item_id

    async def create(self, data: Mapping[str, Any]) -> Item:
        """Create a stored item from ``data`` (``name`` required, ``id`` optional) and save it.

        Returns:
            The new item; its entity has been added.

        Raises:
            ItemInvalidError: the options do not pass the schema, or the id is taken.
            CollectionError: the storage file cannot be written to.
        """
        self._check_writable()
        name = data.get(CONF_NAME)
        if not isinstance(name, str) or not name.strip():
            raise ItemInvalidError(
                f"{self.domain}: a name is required", domain=self.domain, key=CONF_NAME
            )
        item_id = self._new_id(data)
        config = self._validate(item_id, {k: v for k, v in data.items() if k != CONF_ID})
        item = Item(item_id, ItemSource.STORAGE, config)
        self._items[item_id] = item
        await self._save()
        await self._notify(ChangeType.ADDED, item)
        return item

    def _editable(self, item_id: str) -> Item:
        self._check_writable(item_id)
        item = self._items.get(item_id)
        if item is None:
            raise ItemNotFoundError(
                f"{self.domain}: no item with id {item_id}", domain=self.domain, item_id=item_id
            )
        if not item.editable:
            raise ItemReadOnlyError(
                f"{self.domain}.{item_id} is defined in YAML and cannot be changed through the "
                "API; edit configuration.yaml and call reload",
                domain=self.domain,
                item_id=item_id,
            )
        return item

    async def update(self, item_id: str, changes: Mapping[str, Any]) -> Item:
        """Change some options of a stored item, validate the result, and save it.

        Raises:
            ItemNotFoundError, ItemReadOnlyError, ItemInvalidError, CollectionError.
        """
        current = self._editable(item_id)
        if CONF_ID in changes and changes[CONF_ID] != item_id:
            raise ItemInvalidError(
                f"{self.domain}.{item_id}: the id cannot be changed",
                domain=self.domain,
                item_id=item_id,
                key=CONF_ID,
            )
        merged = {**current.config, **{k: v for k, v in changes.items() if k != CONF_ID}}
        item = Item(item_id, ItemSource.STORAGE, self._validate(item_id, merged))
        self._items[item_id] = item
        await self._save()
        await self._notify(ChangeType.UPDATED, item)
        return item

    async def delete(self, item_id: str) -> None:
        """Delete a stored item and its entity, and save.

        Raises:
            ItemNotFoundError, ItemReadOnlyError, CollectionError.
        """
        item = self._editable(item_id)
        del self._items[item_id]
        await self._save()
        await self._notify(ChangeType.REMOVED, item)


class CollectionEntity(Entity):
    """The entity of one item: its id is ``<domain>.<item id>``, its options ``self.config``.

    Subclasses set ``domain``, describe their state from ``self.config`` and their own runtime
    values, and implement ``config_changed`` to apply new options (keeping their value where it
    still fits).
    """

    def __init__(self, item: Item) -> None:
        super().__init__()
        self.item = item
        self.entity_id = f"{self.domain}.{item.id}"
        self._attr_unique_id = item.id

    @property
    def config(self) -> Mapping[str, Any]:
        """The item's validated options."""
        return self.item.config

    @property
    def editable(self) -> bool:
        """Whether the item may be changed through the API."""
        return self.item.editable

    @property
    def name(self) -> str | None:
        """The item's ``name`` option."""
        name = self.config.get(CONF_NAME)
        return str(name) if name is not None else None

    @property
    def icon(self) -> str | None:
        """The item's ``icon`` option."""
        icon = self.config.get(CONF_ICON)
        return str(icon) if icon is not None else None

    @property
    def helper_attributes(self) -> dict[str, Any]:
        """The domain's own attributes (``min``, ``options``, ...), before ``editable``."""
        return {}

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """The domain's attributes and ``editable``."""
        return {**self.helper_attributes, ATTR_EDITABLE: self.editable}

    def config_changed(self) -> None:
        """Apply ``self.config`` after an update; the state is written afterwards."""

    async def update_item(self, item: Item) -> None:
        """Take the item's new options and write the state."""
        self.item = item
        self.config_changed()
        if self.added:
            self.write_state()


class RestoringCollectionEntity(CollectionEntity, RestoreEntity):
    """An item's entity that takes its last state back at start when ``restores`` says so."""

    @property
    def restores(self) -> bool:
        """Whether to restore: by default when the item has no ``initial`` value."""
        return self.config.get("initial") is None

    def restore(self, state: State, extra_data: Mapping[str, Any] | None) -> None:
        """Take the value of the last saved ``state``; ignore what no longer fits the options."""

    async def added_to_runtime(self) -> None:
        """Register for saving, and restore the last state before the first write."""
        await super().added_to_runtime()
        if not self.restores:
            return
        state = await self.last_state()
        if state is None:
            return
        try:
            self.restore(state, await self.last_extra_data())
        except (TypeError, ValueError, KeyError) as err:
            _LOGGER.warning("%s: not restoring %r: %s", self.entity_id, state.state, err)


EntityFactory = Callable[[Item], CollectionEntity]


class _EntitySync:
    """Keeps one entity per item: adds, updates and removes them as the collection changes."""

    def __init__(self, runtime: Runtime, domain: str, factory: EntityFactory) -> None:
        self.runtime = runtime
        self.domain = domain
        self.factory = factory
        self.entities: dict[str, CollectionEntity] = {}

    async def __call__(self, change: ChangeType, item: Item) -> None:
        if change is ChangeType.ADDED:
            entity = self.factory(item)
            await add_entities(self.runtime, self.domain, [entity])
            if entity.added:
                self.entities[item.id] = entity
            return
        if change is ChangeType.UPDATED:
            if (current := self.entities.get(item.id)) is not None:
                await current.update_item(item)
            return
        removed = self.entities.pop(item.id, None)
        if removed is None:
            return
        entity_id = removed.entity_id
        await removed.remove()
        # The item is gone for good: so is its registry entry (Home Assistant does the same).
        if entity_id in self.runtime.entity_registry:
            self.runtime.entity_registry.remove(entity_id)


@dataclass(frozen=True, slots=True)
class HelperDomain:
    """What ``setup_helper`` needs to know about one helper domain."""

    domain: str
    item_schema: ItemSchema
    entity_factory: EntityFactory


_COLLECTIONS: RuntimeKey[dict[str, ItemCollection]] = RuntimeKey("collections")


def get_collection(runtime: Runtime, domain: str) -> ItemCollection | None:
    """The collection of ``domain`` (for the HTTP API), or None when it is not set up."""
    collections = runtime.data.get(_COLLECTIONS)
    return None if collections is None else collections.get(domain)


async def read_yaml_section(runtime: Runtime, domain: str) -> object:
    """Read ``configuration.yaml`` again and return the validated section of ``domain``.

    Issues of that section are logged; a section that is absent gives None.

    Raises:
        CollectionError: the file cannot be read, or the section as a whole is invalid (the
            items as they are stay as they are).
    """
    known: dict[str, SectionValidator | None] = dict(CORE_SECTIONS)
    known.update({d: i.manifest.config_schema for d, i in runtime.loader.integrations.items()})
    loaded = await runtime.run_in_executor(load_site_config, runtime.config_dir, known)
    fatal = [issue for issue in loaded.issues if issue.fatal]
    if fatal:
        raise CollectionError(f"{domain}: cannot reload: {fatal[0]}", domain=domain)
    for issue in loaded.issues:
        if issue.key is not None and issue.key.split(".")[0].split(" ")[0] == domain:
            _LOGGER.error("Configuration: %s", issue)
    if domain in loaded.integrations:
        return loaded.integrations[domain]
    if any(str(key).split(" ")[0] == domain for key in loaded.raw):
        raise CollectionError(
            f"{domain}: cannot reload: its section is invalid (see the log)", domain=domain
        )
    return None


async def setup_helper(runtime: Runtime, spec: HelperDomain, config: object) -> ItemCollection:
    """Set a helper domain up: its collection, entities, stored items and reload service.

    Args:
        runtime: the runtime.
        spec: the domain's schema and entity class.
        config: the domain's section as validated by ``section_schema`` (``{id: options}``).

    Returns:
        The domain's collection, also found later with ``get_collection``.
    """
    collection = ItemCollection(runtime, spec.domain, spec.item_schema)
    collection.listen(_EntitySync(runtime, spec.domain, spec.entity_factory))
    runtime.data.setdefault(_COLLECTIONS, dict)[spec.domain] = collection
    await collection.load_yaml(_as_items(config))
    await collection.load_storage()

    async def reload(call: ServiceCall) -> None:
        section = await read_yaml_section(runtime, spec.domain)
        await collection.load_yaml(_as_items(section))
        _LOGGER.info("%s: reloaded %d YAML item(s)", spec.domain, len(_as_items(section)))

    runtime.services.register(
        spec.domain,
        SERVICE_RELOAD,
        reload,
        vol.Schema({}),
        description=f"Reload the {spec.domain} items of configuration.yaml.",
        permission=Permission.ADMIN,
    )
    return collection


async def stop_helper(runtime: Runtime, domain: str) -> None:
    """Remove the entities of a helper domain at shutdown (their last states are kept)."""
    await remove_entities(runtime, domain)
    collections = runtime.data.get(_COLLECTIONS)
    if collections is not None:
        collections.pop(domain, None)


def _as_items(config: object) -> dict[str, Mapping[str, Any]]:
    if not isinstance(config, Mapping):
        return {}
    return {str(k): v for k, v in config.items() if isinstance(v, Mapping)}


def register_entity_service(
    runtime: Runtime,
    entity_class: type[_E],
    service: str,
    schema: Callable[[Any], Any],
    action: Callable[[_E, ServiceCall], Awaitable[None] | None],
) -> None:
    """Register ``<domain>.<service>``: ``action(entity, call)`` on each targeted entity.

    The call's context becomes the reason of the entities' next state writes. Every targeted
    entity is acted on even when one of them raises; the first error is raised afterwards.
    """

    async def run(entity: _E, call: ServiceCall) -> None:
        entity.set_context(call.context)
        result = action(entity, call)
        if result is not None:
            await result

    async def handler(call: ServiceCall) -> None:
        entities = entities_for_call(runtime, call, entity_class)
        await for_each_entity(entities, lambda entity: run(entity, call))

    wrapped = schema if isinstance(schema, vol.Schema) else vol.Schema(schema)
    runtime.services.register(entity_class.domain, service, handler, wrapped)


#: A helper domain's services, registered once at setup.
ServiceRegistrar = Callable[["Runtime"], None]


def helper_integration(
    spec: HelperDomain,
    *,
    name: str,
    register_services: ServiceRegistrar,
    documentation: str = "",
) -> tuple[Callable[[], Manifest], Callable[..., Awaitable[None]], Callable[..., Awaitable[None]]]:
    """The three hooks of a helper integration, the same for every helper domain.

    A helper's ``__init__`` binds them to the hook names, which is all pluggy looks at::

        edgewise_manifest, edgewise_setup, edgewise_stop = helper_integration(SPEC, ...)
    """

    @hookimpl
    def edgewise_manifest() -> Manifest:
        return Manifest(
            domain=spec.domain,
            name=name,
            config_schema=section_schema(spec.item_schema),
            version="0.1.0",
            documentation=documentation,
        )

    @hookimpl
    async def edgewise_setup(runtime: Runtime, config: object) -> None:
        await setup_helper(runtime, spec, config)
        register_services(runtime)

    @hookimpl
    async def edgewise_stop(runtime: Runtime) -> None:
        await stop_helper(runtime, spec.domain)

    edgewise_manifest.__doc__ = f"Who the {spec.domain} integration is and which YAML it takes."
    edgewise_setup.__doc__ = f"Load the {spec.domain} items from YAML and storage."
    edgewise_stop.__doc__ = f"Remove the {spec.domain} entities; their states are kept."
    return edgewise_manifest, edgewise_setup, edgewise_stop


def service_error(
    call: ServiceCall, message: str, *, key: str | None = None
) -> ServiceValidationError:
    """A ``ServiceValidationError`` for ``call`` whose message starts with the service name."""
    return ServiceValidationError(
        f"{call.domain}.{call.service}: {message}",
        domain=call.domain,
        service=call.service,
        key=key,
    )
