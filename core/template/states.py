"""Template helpers that read the state machine and the registries.

Each notes what it read in the current render (``render_info``): an entity id for
``states('sensor.x')``, a domain for iterating ``states.sensor``, everything for iterating
``states``. State objects are the state machine's own immutable ``State``: ``.state``,
``.attributes``, ``.last_changed``, ``.last_updated``, ``.entity_id``, ``.domain``,
``.object_id``, ``.name``, ``.context``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from core.const import ATTR_ENTITY_ID, ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE, STATE_UNKNOWN
from core.state import State, valid_entity_id

from .render_info import current, current_runtime

_MISSING: Any = object()


def _get(entity_id: str, helper: str) -> State | None:
    """The state of ``entity_id``, noting that the render read it."""
    runtime = current_runtime(helper)
    entity_id = str(entity_id).lower()
    current().entities.add(entity_id)
    return runtime.states.get(entity_id)


def _sorted(states: Iterable[State]) -> list[State]:
    return sorted(states, key=lambda state: state.entity_id)


class DomainStates:
    """``states.<domain>``: its entities by object id, iterable in entity id order."""

    __slots__ = ("_domain",)

    # Jinja2 asks every callable for these; they must not be looked up as domains or entities.
    unsafe_callable = False
    alters_data = False
    jinja_pass_arg = None

    def __init__(self, domain: str) -> None:
        self._domain = domain

    def __getattr__(self, object_id: str) -> State | None:
        if object_id.startswith("_"):
            raise AttributeError(object_id)
        return _get(f"{self._domain}.{object_id}", "states")

    def __getitem__(self, object_id: str) -> State | None:
        if str(object_id).startswith("_"):
            raise KeyError(object_id)
        return _get(f"{self._domain}.{object_id}", "states")

    def __iter__(self) -> Iterator[State]:
        runtime = current_runtime("states")
        state = current()
        state.domains.add(self._domain)
        return state.count(_sorted(runtime.states.all(self._domain)))

    def __len__(self) -> int:
        runtime = current_runtime("states")
        current().domains.add(self._domain)
        return len(runtime.states.entity_ids(self._domain))

    def __repr__(self) -> str:
        return f"<template DomainStates('{self._domain}')>"


class AllStates:
    """``states``: callable (``states('sensor.x')``), by domain (``states.sensor``), iterable."""

    __slots__ = ()

    # Jinja2 asks every callable for these; they must not be looked up as domains or entities.
    unsafe_callable = False
    alters_data = False
    jinja_pass_arg = None

    def __call__(self, entity_id: str, rounded: bool = False, with_unit: bool = False) -> str:
        """The state string of ``entity_id``; ``unknown`` when it does not exist.

        Args:
            entity_id: the entity to read.
            rounded: accepted for Home Assistant's signature; a sensor's state is already
                written rounded to its display precision, so it changes nothing.
            with_unit: append the entity's unit of measurement, if it has one.
        """
        state = _get(entity_id, "states")
        if state is None:
            return STATE_UNKNOWN
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
        if with_unit and unit:
            return f"{state.state} {unit}"
        return state.state

    def __getattr__(self, domain: str) -> DomainStates:
        if domain.startswith("_"):
            raise AttributeError(domain)
        return DomainStates(domain)

    def __getitem__(self, domain: str) -> DomainStates:
        if str(domain).startswith("_"):
            raise KeyError(domain)
        return DomainStates(domain)

    def __iter__(self) -> Iterator[State]:
        runtime = current_runtime("states")
        state = current()
        state.all_states = True
        return state.count(_sorted(runtime.states.all()))

    def __len__(self) -> int:
        runtime = current_runtime("states")
        current().all_states = True
        return len(runtime.states)

    def __repr__(self) -> str:
        return "<template AllStates>"


STATES = AllStates()


def _state_of(entity: Any, helper: str) -> State | None:
    if isinstance(entity, State):
        current().entities.add(entity.entity_id)
        return entity
    return _get(str(entity), helper)


def is_state(entity_id: Any, state: Any) -> bool:
    """Whether the entity is in ``state`` (or in one of a list of states)."""
    current_state = _state_of(entity_id, "is_state")
    if current_state is None:
        return False
    if isinstance(state, list | tuple | set | frozenset):
        return current_state.state in state
    return bool(current_state.state == state)


def state_attr(entity_id: Any, name: str) -> Any:
    """The attribute ``name`` of the entity; None when either does not exist."""
    state = _state_of(entity_id, "state_attr")
    if state is None:
        return None
    return state.attributes.get(name)


def is_state_attr(entity_id: Any, name: str, value: Any) -> bool:
    """Whether the entity's attribute ``name`` exists and equals ``value``."""
    attr = state_attr(entity_id, name)
    return attr is not None and attr == value


def has_value(entity_id: Any) -> bool:
    """Whether the entity exists and its state is neither ``unknown`` nor ``unavailable``."""
    if isinstance(entity_id, str) and not valid_entity_id(entity_id.lower()):
        return False
    state = _state_of(entity_id, "has_value")
    return state is not None and state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)


def expand(*args: Any) -> list[State]:
    """The states of the given entities, groups expanded to their members, sorted by id.

    Arguments may be entity ids, states, or lists of either. A state whose ``entity_id``
    attribute is a list (a group) stands for its members, recursively; each entity appears once.
    """
    runtime = current_runtime("expand")
    render = current()
    search: list[Any] = list(args)
    found: dict[str, State] = {}
    seen: set[str] = set()
    while search:
        item = search.pop()
        if isinstance(item, str):
            entity_id = item.lower()
            render.entities.add(entity_id)
            state = runtime.states.get(entity_id)
        elif isinstance(item, State):
            entity_id = item.entity_id
            render.entities.add(entity_id)
            state = item
        elif isinstance(item, Iterable):
            search.extend(render.count(item))
            continue
        else:
            continue
        if entity_id in seen or state is None:
            continue
        seen.add(entity_id)
        members = state.attributes.get(ATTR_ENTITY_ID)
        if isinstance(members, list | tuple):
            search.extend(str(member) for member in members)
            continue
        found[entity_id] = state
    return _sorted(found.values())


# --- registries ------------------------------------------------------------------------------


def _area_id_of(lookup: str) -> str | None:
    """The area of an area id, an area name, an entity (or its device) or a device."""
    runtime = current_runtime("area")
    areas = runtime.area_registry
    if areas.get(lookup) is not None:
        return lookup
    if (area := areas.get_by_name(lookup)) is not None:
        return area.id
    return _area_of_entity_or_device(lookup)


def _area_of_entity_or_device(lookup: str) -> str | None:
    runtime = current_runtime("area")
    entry = runtime.entity_registry.get(lookup) if valid_entity_id(lookup) else None
    if entry is not None:
        if entry.area_id is not None:
            return entry.area_id
        lookup = entry.device_id or ""
    device = runtime.device_registry.get(lookup)
    return device.area_id if device is not None else None


def area_id(lookup: Any) -> str | None:
    """The id of the area named ``lookup``, or of the area of an entity or device."""
    runtime = current_runtime("area_id")
    text = str(lookup)
    if (area := runtime.area_registry.get_by_name(text)) is not None:
        return area.id
    return _area_of_entity_or_device(text)


def area_name(lookup: Any) -> str | None:
    """The name of an area given its id, or of the area of an entity or device."""
    runtime = current_runtime("area_name")
    text = str(lookup)
    if (area := runtime.area_registry.get(text)) is not None:
        return area.name
    found = _area_of_entity_or_device(text)
    area = runtime.area_registry.get(found) if found is not None else None
    return area.name if area is not None else None


def area_entities(lookup: Any) -> list[str]:
    """The entity ids in an area (given its id or name), own or through their device."""
    runtime = current_runtime("area_entities")
    text = str(lookup)
    areas = runtime.area_registry
    found = text if areas.get(text) is not None else None
    if found is None and (area := areas.get_by_name(text)) is not None:
        found = area.id
    if found is None:
        return []
    return sorted(entry.entity_id for entry in runtime.entity_registry.entities_for_area(found))


def area_devices(lookup: Any) -> list[str]:
    """The ids of the devices in an area (given its id or name)."""
    runtime = current_runtime("area_devices")
    found = _area_id_of(str(lookup))
    if found is None:
        return []
    return [device.id for device in runtime.device_registry.devices_for_area(found)]


def device_id(lookup: Any) -> str | None:
    """The device of an entity, or the id of the device named ``lookup``."""
    runtime = current_runtime("device_id")
    text = str(lookup)
    if valid_entity_id(text) and (entry := runtime.entity_registry.get(text)) is not None:
        return entry.device_id
    for device in runtime.device_registry.values():
        if text in (device.name_by_user, device.name):
            return device.id
    return None


def device_attr(device_or_entity_id: Any, attr_name: str) -> Any:
    """An attribute of a device (``name``, ``model``, ``manufacturer``, ``area_id``...).

    ``device_or_entity_id`` may be a device id or the id of one of the device's entities.
    Only the device entry's public fields can be read; anything else is None.
    """
    runtime = current_runtime("device_attr")
    text = str(device_or_entity_id)
    device = runtime.device_registry.get(text)
    if device is None and valid_entity_id(text):
        entry = runtime.entity_registry.get(text)
        if entry is not None and entry.device_id is not None:
            device = runtime.device_registry.get(entry.device_id)
    if device is None or attr_name.startswith("_") or attr_name not in type(device).__slots__:
        return None
    return getattr(device, attr_name)


def is_device_attr(device_or_entity_id: Any, attr_name: str, value: Any) -> bool:
    """Whether the device attribute ``attr_name`` equals ``value``."""
    return bool(device_attr(device_or_entity_id, attr_name) == value)


def device_entities(device: Any) -> list[str]:
    """The entity ids of a device."""
    runtime = current_runtime("device_entities")
    return sorted(e.entity_id for e in runtime.entity_registry.entities_for_device(str(device)))


def integration_entities(integration: Any) -> list[str]:
    """The entity ids an integration created (by its domain, e.g. ``template``)."""
    runtime = current_runtime("integration_entities")
    return sorted(
        entry.entity_id
        for entry in runtime.entity_registry.values()
        if entry.platform == str(integration)
    )
