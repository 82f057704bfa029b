"""Area-limited users: what they may see and act on.

A user whose ``areas`` is set (Edgewise's own, or one an identity provider's claim limits) sees
and controls only the entities in those areas: an entity's own area, else its device's. Routes
and WebSocket commands are refused to such a user unless marked ``area_aware`` (they filter
what they return and check what they act on); everything else fails closed with 403, so a new
route cannot leak another building's data by forgetting the filter.

Filtering: states and registries with ``may_see``/``visible_states``/``may_see_device``,
events with ``event_visible``, templates through ``core.auth.area_view``; acting on entities
with ``check_call_in_areas``. Which route does what: ``tests/core/http/test_roles_areas.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from core.const import EVENT_STATE_CHANGED
from core.errors import Unauthorized

if TYPE_CHECKING:
    from core.bus import Event
    from core.runtime import Runtime
    from core.state import State

    from .models import User

_H = TypeVar("_H", bound=Callable[..., Any])

_AREA_AWARE_ATTR = "edgewise_area_aware"


def area_aware(handler: _H) -> _H:
    """Mark a route or command handler that limits itself to the user's areas."""
    setattr(handler, _AREA_AWARE_ATTR, True)
    return handler


def is_area_aware(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` was marked ``area_aware``."""
    return getattr(handler, _AREA_AWARE_ATTR, False) is True


def refused_outside_areas(user: User, handler: Callable[..., Any]) -> bool:
    """Whether an area-limited ``user`` must be refused ``handler``."""
    return user.areas is not None and not is_area_aware(handler)


def entity_area(runtime: Runtime, entity_id: str) -> str | None:
    """The area of an entity: its own, else its device's; None when it has none."""
    entry = runtime.entity_registry.get(entity_id)
    if entry is None:
        return None
    if entry.area_id is not None:
        return entry.area_id
    if entry.device_id is not None:
        device = runtime.device_registry.get(entry.device_id)
        if device is not None:
            return device.area_id
    return None


def may_see(runtime: Runtime, user: User, entity_id: str) -> bool:
    """Whether ``user`` may see (and, with the role for it, act on) ``entity_id``."""
    return user.areas is None or entity_area(runtime, entity_id) in user.areas


def may_see_device(runtime: Runtime, user: User, device_id: str) -> bool:
    """Whether ``user`` may see a device: it is in their areas, or one of its entities is."""
    if user.areas is None:
        return True
    device = runtime.device_registry.get(device_id)
    if device is None:
        return False
    if device.area_id in user.areas:
        return True
    return any(
        may_see(runtime, user, e.entity_id)
        for e in runtime.entity_registry.entities_for_device(device_id)
    )


#: Keys of event data that name what an event is about, and how deep they are looked for.
_ENTITY_KEYS: Final = ("entity_id", "entity_ids")
_DATA_DEPTH: Final = 4


def _names_only_visible(
    runtime: Runtime, user: User, areas: frozenset[str], data: Any, depth: int
) -> bool:
    if depth > _DATA_DEPTH:
        # Deeper than any event of ours names an entity: what cannot be checked is not sent.
        return not isinstance(data, Mapping | list | tuple)
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key in _ENTITY_KEYS:
                named = [value] if isinstance(value, str) else value
                if not isinstance(named, list | tuple) or not all(
                    isinstance(e, str) and may_see(runtime, user, e) for e in named
                ):
                    return False
            elif key == "device_id" and value is not None:
                if not isinstance(value, str) or not may_see_device(runtime, user, value):
                    return False
            elif key == "area_id" and value is not None:
                if value not in areas:
                    return False
            elif not _names_only_visible(runtime, user, areas, value, depth + 1):
                return False
        return True
    if isinstance(data, list | tuple):
        return all(_names_only_visible(runtime, user, areas, item, depth + 1) for item in data)
    return True


def event_visible(runtime: Runtime, user: User, event: Event[Any]) -> bool:
    """Whether ``user`` may receive ``event``.

    ``state_changed`` goes by its entity. Any other event is sent only when no entity, device
    or area its data names (``entity_id``/``entity_ids``, ``device_id``, ``area_id``, at any
    depth up to a few levels) lies outside the user's areas; an event that names none is sent.
    """
    areas = user.areas
    if areas is None:
        return True
    data = event.data
    if event.event_type == EVENT_STATE_CHANGED:
        return may_see(runtime, user, data["entity_id"])
    return _names_only_visible(runtime, user, areas, data, 0)


def visible_entity_ids(runtime: Runtime, user: User, entity_ids: Iterable[str]) -> list[str]:
    """The entity ids of ``entity_ids`` that ``user`` may see, in order."""
    if user.areas is None:
        return list(entity_ids)
    return [e for e in entity_ids if may_see(runtime, user, e)]


def visible_states(runtime: Runtime, user: User, states: Iterable[State]) -> list[State]:
    """The states ``user`` may see."""
    if user.areas is None:
        return list(states)
    return [s for s in states if may_see(runtime, user, s.entity_id)]


def check_call_in_areas(
    runtime: Runtime,
    user: User,
    domain: str,
    service: str,
    *,
    data: Mapping[str, Any] | None = None,
    target: Mapping[str, Any] | None = None,
) -> None:
    """Refuse a service call of an area-limited user that is not aimed only at their areas.

    Raises:
        Unauthorized: the call names no target, every entity, an area outside the user's, or
            resolves to an entity outside them.
    """
    if user.areas is None:
        return
    from core.services import extract_target  # noqa: PLC0415 - core.services imports core.auth
    from core.target import resolve_target  # noqa: PLC0415 - same cycle

    _, aimed = extract_target(data or {}, target, domain, service)
    if aimed.empty or aimed.match_all:
        raise Unauthorized(
            f"User {user.username} is limited to areas: {domain}.{service} needs a target there",
            user_id=user.id,
        )
    outside = set(aimed.area_ids) - user.areas
    # Named entities count whether or not they exist: a missing one is not in the user's areas.
    named = set(aimed.entity_ids) | resolve_target(runtime, aimed)
    outside |= {e for e in named if not may_see(runtime, user, e)}
    if outside:
        raise Unauthorized(
            f"User {user.username} may not act outside their areas: {', '.join(sorted(outside))}",
            user_id=user.id,
        )
