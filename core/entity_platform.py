"""Adding entities to a runtime: ids from the registries, the first state, polling, renames.

An integration hands its entities to ``add_entities``; from then on the entities of one
integration and one domain form an ``EntityPlatform``, which polls those that ask for it (one
task per platform) and removes them at shutdown or reload (``remove_entities``). Every added
entity is in the runtime's ``EntityIndex``, where domain services find the entities a call targets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from .bus import Event, Unsubscribe, callback
from .const import (
    ATTR_DEVICE_ID,
    ATTR_ENTITY_ID,
    EVENT_DEVICE_REGISTRY_UPDATED,
    EVENT_ENTITY_REGISTRY_UPDATED,
)
from .entity import Entity
from .entity_registry import UNDEFINED, UndefinedType
from .errors import ServiceValidationError
from .runtime import Runtime, RuntimeKey
from .services import ServiceCall
from .slug import slugify
from .target import resolve_target

_LOGGER = logging.getLogger(__name__)

_E = TypeVar("_E", bound=Entity)
_V = TypeVar("_V")


class EntityIndex:
    """Every entity added to a runtime, by entity id. Used from the event loop."""

    __slots__ = ("_entities",)

    def __init__(self) -> None:
        self._entities: dict[str, Entity] = {}

    def get(self, entity_id: str) -> Entity | None:
        """The entity with ``entity_id``, or None."""
        return self._entities.get(entity_id.lower())

    def add(self, entity: Entity) -> None:
        """Index ``entity`` under its entity id.

        Raises:
            ValueError: another entity already has that id.
        """
        entity_id = entity.entity_id
        if entity_id in self._entities and self._entities[entity_id] is not entity:
            raise ValueError(f"Entity id {entity_id} is already taken")
        self._entities[entity_id] = entity

    def remove(self, entity_id: str) -> Entity | None:
        """Drop ``entity_id`` from the index; returns the entity it named, if any."""
        return self._entities.pop(entity_id.lower(), None)

    def rename(self, old_entity_id: str, new_entity_id: str) -> None:
        """Move the entity at ``old_entity_id`` to ``new_entity_id``."""
        entity = self._entities.pop(old_entity_id, None)
        if entity is not None:
            self._entities[new_entity_id] = entity

    def entity_ids(self, domain: str | None = None) -> set[str]:
        """The ids of every indexed entity, optionally of one domain."""
        if domain is None:
            return set(self._entities)
        return {eid for eid, entity in self._entities.items() if entity.domain == domain}

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._entities

    def __iter__(self) -> Iterator[Entity]:
        return iter(list(self._entities.values()))

    def __len__(self) -> int:
        return len(self._entities)


#: The runtime's index of added entities; create it with ``entity_index(runtime)``.
ENTITIES: RuntimeKey[EntityIndex] = RuntimeKey("entities")


def entity_index(runtime: Runtime) -> EntityIndex:
    """The runtime's ``EntityIndex``, created on first use."""
    return runtime.data.setdefault(ENTITIES, EntityIndex)


@dataclass(slots=True)
class _Platforms:
    """What the entity platforms of one runtime share."""

    by_key: dict[tuple[str, str], EntityPlatform] = field(default_factory=dict)
    service_domains: set[str] = field(default_factory=set)
    unsubscribes: list[Unsubscribe] = field(default_factory=list)


_PLATFORMS: RuntimeKey[_Platforms] = RuntimeKey("entity_platforms")


def _platforms(runtime: Runtime) -> _Platforms:
    state = runtime.data.get(_PLATFORMS)
    if state is None:
        state = runtime.data[_PLATFORMS] = _Platforms()
        state.unsubscribes = [
            runtime.bus.listen(EVENT_ENTITY_REGISTRY_UPDATED, partial(_registry_updated, runtime)),
            runtime.bus.listen(EVENT_DEVICE_REGISTRY_UPDATED, partial(_device_updated, runtime)),
        ]
    return state


class EntityPlatform:
    """The entities of one integration in one domain, and the task that polls them."""

    def __init__(self, runtime: Runtime, integration: str, domain: str) -> None:
        self.runtime = runtime
        self.integration = integration
        self.domain = domain
        self.entities: list[Entity] = []
        self._next_poll: dict[Entity, float] = {}
        self._poll_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def poll_task_name(self) -> str:
        """The name of the platform's poll task."""
        return f"entity_poll[{self.integration}.{self.domain}]"

    @callback
    def track(self, entity: Entity) -> None:
        """Own ``entity`` and poll it when it asks for polling."""
        self.entities.append(entity)
        if not entity.should_poll:
            return
        self._next_poll[entity] = self.runtime.loop.time() + entity.scan_interval
        if self._poll_task is None or self._poll_task.done():
            self._poll_task = self.runtime.create_task(self._poll_loop(), name=self.poll_task_name)
        else:
            # The new entity may be due before the one the loop is sleeping for.
            self._wake.set()

    @callback
    def forget(self, entity: Entity) -> None:
        """Stop owning and polling ``entity``; called by ``Entity.remove``."""
        if entity in self.entities:
            self.entities.remove(entity)
        if self._next_poll.pop(entity, None) is not None:
            self._wake.set()  # the poll loop ends once it has nothing left to poll
        if entity.has_entity_id:
            index = entity_index(self.runtime)
            if index.get(entity.entity_id) is entity:
                index.remove(entity.entity_id)

    async def _poll_loop(self) -> None:
        """Poll each entity every ``scan_interval`` until none is left to poll.

        One task serves the whole platform: entities that are due together are updated together,
        and a slow device delays only the next round of its own platform. Cancelling the task
        stops polling; an update in flight is cancelled with it.
        """
        loop = self.runtime.loop
        while self._next_poll:
            now = loop.time()
            due_at = min(self._next_poll.values())
            if due_at > now:
                self._wake.clear()
                try:
                    async with asyncio.timeout(due_at - now):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                continue
            due = [entity for entity, when in self._next_poll.items() if when <= now]
            for entity in due:
                self._next_poll[entity] = now + entity.scan_interval
            _LOGGER.debug("Polling %d entities of %s", len(due), self.poll_task_name)
            results = await asyncio.gather(
                *(entity.update_and_write() for entity in due), return_exceptions=True
            )
            for entity, result in zip(due, results, strict=True):
                if isinstance(result, Exception):
                    _LOGGER.error("Error writing the state of %r", entity, exc_info=result)

    async def async_remove(self) -> None:
        """Stop polling and remove every entity of the platform."""
        if self._poll_task is not None:
            self._poll_task.cancel()
            # We cancelled our own task: its CancelledError is expected.
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
            self._poll_task = None
        for entity in list(self.entities):
            try:
                await entity.remove()
            except Exception:  # one entity's clean-up must not keep the others alive
                _LOGGER.exception("Error removing %r", entity)
        self.entities.clear()
        self._next_poll.clear()


def _suggested_object_id(entity: Entity, integration: str) -> str:
    """The object id to ask for: a preset entity id, else the full name, else the integration."""
    if entity.has_entity_id:
        return entity.entity_id.partition(".")[2]
    name = entity.friendly_name()
    return slugify(name) if name else integration


def _register_domain_services(runtime: Runtime, domain: str, platforms: _Platforms) -> None:
    """Register the services of ``domain`` the first time one of its entities is added."""
    if domain in platforms.service_domains:
        return
    platforms.service_domains.add(domain)
    # The domain modules import this module for entity_index and entities_for_call.
    from .entities import DOMAIN_SERVICES  # noqa: PLC0415 - import cycle, see above

    if (register := DOMAIN_SERVICES.get(domain)) is not None:
        register(runtime)


async def _prepare(runtime: Runtime, integration: str, entity: Entity) -> bool:
    """Give ``entity`` its registry entry, device and id; False when it must not be added."""
    domain = entity.domain
    info = entity.device_info
    if info is not None and (info.identifiers or info.connections):
        # A field the entity leaves out (None) keeps what another entity of the device said:
        # a later discovery message without a name must not erase the device's name.
        device = runtime.device_registry.get_or_create(
            integration,
            identifiers=set(info.identifiers),
            connections=set(info.connections),
            name=_given(info.name),
            manufacturer=_given(info.manufacturer),
            model=_given(info.model),
            sw_version=_given(info.sw_version),
            hw_version=_given(info.hw_version),
            serial_number=_given(info.serial_number),
            via_device=_given(info.via_device),
            configuration_url=_given(info.configuration_url),
            suggested_area=info.suggested_area,
        )
        entity.device_id = device.id
    unique_id = entity.unique_id
    if unique_id is None:
        # Without a unique id the registry cannot recognise the entity after a restart, so it
        # is not registered and users cannot rename it (Home Assistant behaves the same).
        entity.entity_id = runtime.entity_registry.async_generate_entity_id(
            domain, _suggested_object_id(entity, integration)
        )
        return True
    entry = runtime.entity_registry.get_or_create(
        domain,
        integration,
        unique_id,
        suggested_object_id=_suggested_object_id(entity, integration),
        device_id=entity.device_id,
        original_name=entity.name,
        original_device_class=entity.device_class,
        unit_of_measurement=entity.unit_of_measurement,
        entity_category=entity.entity_category,
    )
    if entry.disabled:
        _LOGGER.debug("Not adding %s: disabled by %s", entry.entity_id, entry.disabled_by)
        return False
    entity.registry_entry = entry
    entity.entity_id = entry.entity_id
    return True


async def add_entities(
    runtime: Runtime,
    integration: str,
    entities: Iterable[Entity],
    *,
    update_before_add: bool = False,
) -> None:
    """Add ``entities`` of ``integration`` to the runtime and write their first states.

    Each entity gets its registry entry (when it has a unique id), its device, and its entity id;
    disabled entities are skipped. ``update_before_add`` runs every ``async_update`` first, all at
    once; an entity whose update fails is still added, as unavailable, so that polling can bring
    it back when its device answers. An entity that fails in ``added_to_runtime`` is logged and
    left out. Must run on the event loop.
    """
    entities = list(entities)
    platforms = _platforms(runtime)
    index = entity_index(runtime)
    if update_before_add:
        await asyncio.gather(*(entity.update_and_write() for entity in entities))
    for entity in entities:
        if not entity.domain:
            _LOGGER.error("%s: %r has no domain; use a domain entity class", integration, entity)
            continue
        if not await _prepare(runtime, integration, entity):
            continue
        entity_id = entity.entity_id
        if entity_id in index:
            _LOGGER.error(
                "%s: not adding %r: entity id %s is taken (is unique id %r unique?)",
                integration,
                entity,
                entity_id,
                entity.unique_id,
            )
            continue
        key = (integration, entity.domain)
        platform = platforms.by_key.get(key)
        if platform is None:
            platform = platforms.by_key[key] = EntityPlatform(runtime, *key)
        entity.runtime = runtime
        entity.platform = platform
        index.add(entity)
        _register_domain_services(runtime, entity.domain, platforms)
        try:
            await entity.added_to_runtime()
        except Exception:  # an isolation boundary: one entity only
            _LOGGER.exception("%s: error adding %s; it is left out", integration, entity_id)
            index.remove(entity_id)
            entity.platform = None
            continue
        platform.track(entity)
        entity.write_state()
        _LOGGER.debug("%s: added %s", integration, entity_id)


async def remove_entities(runtime: Runtime, integration: str) -> None:
    """Remove every entity of ``integration`` (shutdown, reload), stopping its polling."""
    platforms = _platforms(runtime)
    for key in [key for key in platforms.by_key if key[0] == integration]:
        await platforms.by_key.pop(key).async_remove()


@callback
def _registry_updated(runtime: Runtime, event: Event[Any]) -> None:
    """Follow the registry: renames, user names/icons/areas, disabling and removal."""
    data = event.data
    action = data.get("action")
    entity_id: str | None = data.get(ATTR_ENTITY_ID)
    if entity_id is None or action not in ("update", "remove"):
        return
    index = entity_index(runtime)
    old_entity_id: str | None = data.get("old_entity_id")
    entity = index.get(old_entity_id or entity_id)
    if entity is None:
        return
    entry = runtime.entity_registry.get(entity_id) if action == "update" else None
    if entry is None or entry.disabled:
        # Removed from the registry or disabled by the user: the entity goes away until the
        # integration adds it again (on reload, if it was re-enabled).
        _LOGGER.info("Removing %s: %s in the entity registry", entity.entity_id, action)
        runtime.create_task(entity.remove(), name=f"entity_remove[{entity.entity_id}]")
        return
    if old_entity_id is not None and old_entity_id != entity_id:
        index.rename(old_entity_id, entity_id)
        runtime.states.remove(old_entity_id, context=event.context)
        entity.entity_id = entity_id
        _LOGGER.info("%s is now %s", old_entity_id, entity_id)
    entity.registry_entry = entry
    entity.write_state()


@callback
def _device_updated(runtime: Runtime, event: Event[Any]) -> None:
    """Re-write the states of a renamed device's entities: their friendly names may change."""
    device_id = event.data.get(ATTR_DEVICE_ID)
    if event.data.get("action") != "update" or device_id is None:
        return
    for entity in entity_index(runtime):
        if entity.device_id == device_id and entity.added:
            entity.write_state()


def entities_for_call(runtime: Runtime, call: ServiceCall, entity_class: type[_E]) -> list[_E]:
    """The available entities of ``entity_class``'s domain that a service call targets.

    Entity ids named outright must exist in that domain; devices, areas and labels are resolved
    through the registries. Unavailable entities are skipped, as Home Assistant does.

    Raises:
        ServiceValidationError: an entity id named in the call is not an entity of the domain.
    """
    domain = entity_class.domain
    index = entity_index(runtime)
    unknown = sorted(
        entity_id
        for entity_id in call.target.entity_ids
        if not isinstance(index.get(entity_id), entity_class)
    )
    if unknown:
        raise ServiceValidationError(
            f"{call.domain}.{call.service}: unknown {domain} entities: {', '.join(unknown)}",
            domain=call.domain,
            service=call.service,
            key=ATTR_ENTITY_ID,
        )
    entity_ids = set(resolve_target(runtime, call.target, domain)) | set(call.target.entity_ids)
    if call.target.match_all:
        entity_ids |= index.entity_ids(domain)
    entities: list[_E] = []
    for entity_id in sorted(entity_ids):
        entity = index.get(entity_id)
        if not isinstance(entity, entity_class):
            continue
        if not entity.available or entity.update_failed:
            _LOGGER.debug("%s.%s: skipping unavailable %s", call.domain, call.service, entity_id)
            continue
        entities.append(entity)
    if not entities:
        _LOGGER.debug(
            "%s.%s: the target %s matches no available entity",
            call.domain,
            call.service,
            call.target.as_dict(),
        )
    return entities


async def for_each_entity(
    entities: Sequence[_E], action: Callable[[_E], Awaitable[object]]
) -> None:
    """Run ``action`` on every entity at once; every one runs even when another fails.

    Raises:
        The first exception any of them raised.
    """
    results = await asyncio.gather(*(action(entity) for entity in entities), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def require_in_range(
    call: ServiceCall,
    entity_id: str,
    value: float,
    *,
    minimum: float,
    maximum: float,
    key: str,
) -> None:
    """Refuse ``value`` before it reaches the device when it is outside [minimum, maximum].

    Raises:
        ServiceValidationError: naming the entity, the value and the bounds.
    """
    if minimum <= value <= maximum:
        return
    raise ServiceValidationError(
        f"{call.domain}.{call.service}: {key} {value:g} for {entity_id} is outside its range "
        f"{minimum:g} to {maximum:g}",
        domain=call.domain,
        service=call.service,
        key=key,
    )


def _given(value: _V | None) -> _V | UndefinedType:
    """``UNDEFINED`` for a device field the entity does not give, so it keeps its value."""
    return UNDEFINED if value is None else value
