"""Restore state: entities that opt in get their last state back after a restart.

An entity opts in by deriving from ``RestoreEntity``. While it runs, its current state is what
would be saved; when it is removed (shutdown, reload, deletion) its last state is kept. Every
``DUMP_INTERVAL`` and at the final write of a shutdown the states are written, atomically, to
``.storage/core.restore_state``; on the next start an entity reads its own with
``last_state()`` (and ``last_extra_data()`` for what the state string cannot carry, such as a
timer's end time) in ``added_to_runtime``, before its first state is written.

The stored states of entities that did not come back are kept for ``STATE_EXPIRATION``, so an
integration that fails to start for a day does not lose its entities' last values. The store is
loaded when the first restoring entity is added; a run without any leaves the file untouched.

File format (``data`` of the store, version 1)::

    {"states": [{"state": {<State.as_dict()>}, "extra_data": {...} | null,
                 "last_seen": "2024-06-01T12:00:00+00:00"}]}
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .bus import Event
from .const import EVENT_EDGEWISE_FINAL_WRITE, STATE_UNAVAILABLE
from .context import Context
from .entity import Entity
from .runtime import RuntimeKey
from .state import State
from .storage import JsonStore

if TYPE_CHECKING:
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY = "core.restore_state"
STORAGE_VERSION = 1
#: How often the states of running entities are written, besides the final write at shutdown.
DUMP_INTERVAL = timedelta(minutes=15)
#: How long the stored state of an entity that did not come back is kept.
STATE_EXPIRATION = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class StoredState:
    """An entity's last state as saved: the State, extra data, and when it was last seen."""

    state: State
    extra_data: dict[str, Any] | None
    last_seen: datetime

    def as_dict(self) -> dict[str, Any]:
        """The JSON form written to the store."""
        return {
            "state": dict(self.state.as_dict()),
            "extra_data": self.extra_data,
            "last_seen": self.last_seen.isoformat(),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StoredState:
        """Read the JSON form back.

        Raises:
            KeyError, TypeError, ValueError: the entry is malformed.
        """
        state = raw["state"]
        if not isinstance(state, Mapping):
            raise TypeError("state is not a mapping")
        attributes = state.get("attributes") or {}
        if not isinstance(attributes, Mapping):
            raise TypeError("attributes is not a mapping")
        context = state.get("context") or {}
        extra = raw.get("extra_data")
        if extra is not None and not isinstance(extra, dict):
            raise TypeError("extra_data is not a mapping")
        return cls(
            state=State(
                str(state["entity_id"]),
                str(state["state"]),
                attributes,
                last_changed=_timestamp(state.get("last_changed")),
                last_updated=_timestamp(state.get("last_updated")),
                last_reported=_timestamp(state.get("last_reported")),
                context=Context(
                    user_id=context.get("user_id"),
                    parent_id=context.get("parent_id"),
                    id=context.get("id"),
                ),
            ),
            extra_data=extra,
            last_seen=datetime.fromisoformat(str(raw["last_seen"])),
        )


def _timestamp(value: object) -> float | None:
    """A POSIX timestamp from an ISO 8601 string, or None when there is none."""
    if value is None:
        return None
    return datetime.fromisoformat(str(value)).timestamp()


class RestoreStateStore:
    """The last states of the entities that opt in, loaded at start and written periodically.

    One per runtime (``restore_state_store``). Must be used from the event loop.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._store = JsonStore.for_runtime(
            runtime,
            STORAGE_KEY,
            version=STORAGE_VERSION,
        )
        #: What was loaded or kept at removal, by entity id.
        self._last_states: dict[str, StoredState] = {}
        self._entities: set[RestoreEntity] = set()
        self._load_lock = asyncio.Lock()
        self._loaded = False
        self._unsubscribes: list[Callable[[], None]] = []

    @property
    def loaded(self) -> bool:
        """Whether the stored states have been read."""
        return self._loaded

    async def load(self) -> None:
        """Read the stored states once, then start the periodic and final writes.

        A missing or corrupt file (moved aside by the store) starts empty; malformed entries are
        skipped with a warning. Safe to call again: later calls return at once.
        """
        async with self._load_lock:
            if self._loaded:
                return
            data = await self._store.load()
            for raw in (data or {}).get("states", ()):
                try:
                    stored = StoredState.from_dict(raw)
                except (KeyError, TypeError, ValueError, AttributeError) as err:
                    _LOGGER.warning("Skipping a malformed stored state %r: %s", raw, err)
                    continue
                self._last_states[stored.state.entity_id] = stored
            self._loaded = True
            _LOGGER.debug("Loaded %d stored states", len(self._last_states))
            self._start_writing()

    def _start_writing(self) -> None:
        runtime = self._runtime
        self._unsubscribes.append(runtime.bus.listen(EVENT_EDGEWISE_FINAL_WRITE, self._final_write))
        if runtime.has_scheduler:
            self._unsubscribes.append(
                runtime.scheduler.every(DUMP_INTERVAL, self._periodic_dump, name="restore_state")
            )

    async def _periodic_dump(self, when: datetime) -> None:
        await self._dump_logged()

    async def _final_write(self, event: Event[Any]) -> None:
        await self._dump_logged()
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()

    async def _dump_logged(self) -> None:
        try:
            await self.dump()
        except Exception:  # a background write: nobody awaits it, so log it here
            _LOGGER.exception("Error writing the restore state")

    def last_state(self, entity_id: str) -> StoredState | None:
        """What was stored for ``entity_id`` (at the last start or at its last removal)."""
        return self._last_states.get(entity_id)

    def register(self, entity: RestoreEntity) -> None:
        """Save ``entity``'s state from now on."""
        self._entities.add(entity)

    def entity_removed(self, entity: RestoreEntity) -> None:
        """Keep ``entity``'s current state: it is removed, and its state goes with it."""
        self._entities.discard(entity)
        if (stored := self._current(entity)) is not None:
            self._last_states[stored.state.entity_id] = stored

    def _current(self, entity: RestoreEntity) -> StoredState | None:
        """The entity's current state to store; None when it has none worth restoring."""
        if not entity.has_entity_id:
            return None
        state = self._runtime.states.get(entity.entity_id)
        if state is None or state.state == STATE_UNAVAILABLE:
            return None
        try:
            extra = entity.extra_restore_data
        except Exception:  # an entity's own code must not stop the others from being saved
            _LOGGER.exception("Error reading the restore data of %s", entity.entity_id)
            extra = None
        return StoredState(state, extra, self._runtime.clock.now())

    def snapshot(self) -> list[StoredState]:
        """What would be written now: running entities, then recent states of removed ones."""
        now = self._runtime.clock.now()
        current: dict[str, StoredState] = {}
        for entity in self._entities:
            if (stored := self._current(entity)) is not None:
                current[stored.state.entity_id] = stored
        for entity_id, stored in self._last_states.items():
            if entity_id not in current and now - stored.last_seen < STATE_EXPIRATION:
                current[entity_id] = stored
        return sorted(current.values(), key=lambda stored: stored.state.entity_id)

    async def dump(self) -> None:
        """Write the snapshot to ``.storage/core.restore_state`` now (atomically).

        Raises:
            OSError, TypeError: the file cannot be written or a state is not JSON.
        """
        states = self.snapshot()
        await self._store.save({"states": [stored.as_dict() for stored in states]})
        _LOGGER.debug("Wrote %d states to restore", len(states))


_RESTORE_STATE: RuntimeKey[RestoreStateStore] = RuntimeKey("restore_state")


async def restore_state_store(runtime: Runtime) -> RestoreStateStore:
    """The runtime's ``RestoreStateStore``, created and loaded on first use."""
    store = runtime.data.setdefault(_RESTORE_STATE, lambda: RestoreStateStore(runtime))
    if not store.loaded:
        await store.load()
    return store


class RestoreEntity(Entity):
    """An entity whose last state is saved and given back after a restart.

    Subclasses that override ``added_to_runtime`` or ``will_remove`` must call ``super()``;
    they read their old state with ``await self.last_state()`` in ``added_to_runtime``.
    """

    @property
    def extra_restore_data(self) -> dict[str, Any] | None:
        """JSON data to save next to the state (what the state string cannot carry)."""
        return None

    async def added_to_runtime(self) -> None:
        """Load the stored states (once per runtime) and save this entity's from now on."""
        await super().added_to_runtime()
        store = await restore_state_store(self.runtime)
        store.register(self)

    async def will_remove(self) -> None:
        """Keep the entity's last state for the next write."""
        await super().will_remove()
        store = self.runtime.data.get(_RESTORE_STATE)
        if store is not None:
            store.entity_removed(self)

    async def _stored(self) -> StoredState | None:
        store = await restore_state_store(self.runtime)
        return store.last_state(self.entity_id)

    async def last_state(self) -> State | None:
        """The entity's state when it was last saved, or None."""
        stored = await self._stored()
        return stored.state if stored is not None else None

    async def last_extra_data(self) -> dict[str, Any] | None:
        """The extra data saved with the last state, or None."""
        stored = await self._stored()
        return stored.extra_data if stored is not None else None
