"""What a template rendered for an area-limited user sees: the site limited to their areas.

``area_view(runtime, user)`` is a stand-in for the runtime that a ``Template`` renders with:
its ``states`` and registries hold only what ``user`` may see (``core.auth.areas``), so
``states``, ``expand``, ``area_entities``, ``device_id`` and the rest never name another
building's entities; everything else (clock, time zone, scheduler) is the runtime's own. The
views only read: a template never writes, and a view has no method to write with.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from .areas import may_see, may_see_device

if TYPE_CHECKING:
    from core.bus import EventListener, Unsubscribe
    from core.device_registry import AreaEntry, DeviceEntry
    from core.entity_registry import RegistryEntry
    from core.runtime import Runtime
    from core.state import State

    from .models import User


class _View:
    __slots__ = ("_areas", "_runtime", "_user")

    def __init__(self, runtime: Runtime, user: User) -> None:
        self._runtime = runtime
        self._user = user
        self._areas: frozenset[str] = user.areas or frozenset()

    def _sees(self, entity_id: str) -> bool:
        return may_see(self._runtime, self._user, entity_id)


class AreaStates(_View):
    """The state machine's reading side, limited to the user's areas."""

    __slots__ = ()

    def get(self, entity_id: str) -> State | None:
        """The state of a visible entity, else None."""
        return self._runtime.states.get(entity_id) if self._sees(entity_id) else None

    def all(self, domain_filter: str | Iterable[str] | None = None) -> list[State]:
        """The visible states (of some domains)."""
        return [s for s in self._runtime.states.all(domain_filter) if self._sees(s.entity_id)]

    def entity_ids(self, domain_filter: str | None = None) -> list[str]:
        """The visible entity ids (of one domain)."""
        return [e for e in self._runtime.states.entity_ids(domain_filter) if self._sees(e)]

    def domains(self) -> Iterator[str]:
        """The domains of the visible states."""
        return iter(sorted({s.domain for s in self.all()}))

    def is_state(self, entity_id: str, state: str) -> bool:
        """Whether a visible entity is in ``state``."""
        found = self.get(entity_id)
        return found is not None and found.state == state

    def track(self, entity_ids: str | Iterable[str], listener: EventListener) -> Unsubscribe:
        """Follow entities (the runtime's own tracking; invisible ones read as absent)."""
        return self._runtime.states.track(entity_ids, listener)

    def __len__(self) -> int:
        return len(self.all())

    def __contains__(self, entity_id: object) -> bool:
        return isinstance(entity_id, str) and self.get(entity_id) is not None


class AreaEntities(_View):
    """The entity registry's reading side, limited to the user's areas."""

    __slots__ = ()

    def get(self, entity_id: str) -> RegistryEntry | None:
        """A visible entity's entry, else None."""
        return self._runtime.entity_registry.get(entity_id) if self._sees(entity_id) else None

    def values(self) -> list[RegistryEntry]:
        """The visible entries."""
        return [e for e in self._runtime.entity_registry.values() if self._sees(e.entity_id)]

    def entities_for_device(self, device_id: str) -> list[RegistryEntry]:
        """The visible entities of a device."""
        found = self._runtime.entity_registry.entities_for_device(device_id)
        return [e for e in found if self._sees(e.entity_id)]

    def entities_for_area(self, area_id: str) -> list[RegistryEntry]:
        """The entities of an area of the user's (none for another)."""
        if area_id not in self._areas:
            return []
        return self._runtime.entity_registry.entities_for_area(area_id)

    def entities_for_label(self, label_id: str) -> list[RegistryEntry]:
        """The visible entities that carry a label."""
        found = self._runtime.entity_registry.entities_for_label(label_id)
        return [e for e in found if self._sees(e.entity_id)]

    def __len__(self) -> int:
        return len(self.values())

    def __contains__(self, entity_id: object) -> bool:
        return isinstance(entity_id, str) and self.get(entity_id) is not None


class AreaDevices(_View):
    """The device registry's reading side, limited to the user's areas."""

    __slots__ = ()

    def get(self, device_id: str) -> DeviceEntry | None:
        """A visible device, else None."""
        if not may_see_device(self._runtime, self._user, device_id):
            return None
        return self._runtime.device_registry.get(device_id)

    def values(self) -> list[DeviceEntry]:
        """The visible devices."""
        return [
            d
            for d in self._runtime.device_registry.values()
            if may_see_device(self._runtime, self._user, d.id)
        ]

    def devices_for_area(self, area_id: str) -> list[DeviceEntry]:
        """The devices of an area of the user's (none for another)."""
        if area_id not in self._areas:
            return []
        return self._runtime.device_registry.devices_for_area(area_id)

    def __len__(self) -> int:
        return len(self.values())

    def __contains__(self, device_id: object) -> bool:
        return isinstance(device_id, str) and self.get(device_id) is not None


class AreaAreas(_View):
    """The area registry's reading side: the user's areas only."""

    __slots__ = ()

    def get(self, area_id: str) -> AreaEntry | None:
        """One of the user's areas, else None."""
        return self._runtime.area_registry.get(area_id) if area_id in self._areas else None

    def get_by_name(self, name: str) -> AreaEntry | None:
        """One of the user's areas by name, else None."""
        found = self._runtime.area_registry.get_by_name(name)
        return found if found is not None and found.id in self._areas else None

    def values(self) -> list[AreaEntry]:
        """The user's areas."""
        return [a for a in self._runtime.area_registry.values() if a.id in self._areas]

    def __len__(self) -> int:
        return len(self.values())

    def __contains__(self, area_id: object) -> bool:
        return self.get(area_id) is not None if isinstance(area_id, str) else False


#: What the template engine reads of the runtime besides states and registries.
_PASSED_THROUGH = frozenset({"bus", "clock", "core", "has_scheduler", "scheduler"})


class AreaRuntime:
    """The runtime as an area-limited user's template sees it (see the module docstring)."""

    def __init__(self, runtime: Runtime, user: User) -> None:
        self._runtime = runtime
        self.states = AreaStates(runtime, user)
        self.entity_registry = AreaEntities(runtime, user)
        self.device_registry = AreaDevices(runtime, user)
        self.area_registry = AreaAreas(runtime, user)

    def __getattr__(self, name: str) -> Any:
        # Only what a template reads besides the above; anything else fails closed.
        if name not in _PASSED_THROUGH:
            raise AttributeError(f"A template limited to areas cannot read runtime.{name}")
        return getattr(self._runtime, name)


def area_view(runtime: Runtime, user: User) -> Runtime:
    """The runtime, or for an area-limited ``user`` the view of it limited to their areas."""
    if user.areas is None:
        return runtime
    # Duck-typed: it has the reading side of everything a template reads (module docstring).
    return cast("Runtime", AreaRuntime(runtime, user))
