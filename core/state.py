"""The state machine: the current state of every entity, and the events its changes fire.

A State is immutable. Writing the same state and attributes again changes nothing and fires
nothing (only ``last_reported`` moves). Listeners can subscribe to the changes of given entity ids;
those subscriptions are indexed, so a change costs the listeners of that entity, not all of them.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Self, TypedDict

from .bus import Event, EventBus, EventListener, EventOrigin, Listener, Unsubscribe
from .const import (
    ATTR_FRIENDLY_NAME,
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    MAX_STATE_LENGTH,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from .context import Context, ContextDict
from .errors import InvalidEntityIdError
from .json import json_bytes

_ENTITY_ID_RE = re.compile(r"^(?!_)[a-z0-9_]+(?<!_)\.(?!_)[a-z0-9_]+(?<!_)$")
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_LOCAL = EventOrigin.local
_new_state = object.__new__
_new_event = object.__new__
_new_context = object.__new__


def valid_entity_id(entity_id: str) -> bool:
    """Whether ``entity_id`` has the form ``domain.object_id`` (lower-case, digits, ``_``)."""
    return _ENTITY_ID_RE.match(entity_id) is not None


def split_entity_id(entity_id: str) -> tuple[str, str]:
    """Split ``domain.object_id``.

    Raises:
        InvalidEntityIdError: when ``entity_id`` is not valid.
    """
    if not valid_entity_id(entity_id):
        raise InvalidEntityIdError(entity_id)
    domain, _, object_id = entity_id.partition(".")
    return domain, object_id


def finite_number(value: object) -> float | None:
    """``value`` (a state, or a number or text read back from storage) as a finite float.

    None for what is not one: ``unknown``, ``unavailable`` and other text, None, a bool, NaN
    and infinities. A sensor that once reads ``nan`` or ``inf`` (a template, an MQTT payload)
    must not poison a total, a mean or a price it feeds for good.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # text; an int beyond a double's range
        return None
    return number if math.isfinite(number) else None


def _dt(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class StateDict(TypedDict):
    """The JSON form of a State, as Home Assistant clients expect it."""

    entity_id: str
    state: str
    attributes: dict[str, Any]
    last_changed: str
    last_updated: str
    last_reported: str
    context: ContextDict


class State:
    """An entity's state at one moment: immutable; a change is a new State.

    Timestamps are kept as POSIX floats and turned into aware datetimes when first read.
    """

    __slots__ = (
        "_as_dict",
        "_json",
        "attributes",
        "context",
        "domain",
        "entity_id",
        "last_changed_timestamp",
        "last_reported_timestamp",
        "last_updated_timestamp",
        "object_id",
        "state",
    )

    def __init__(
        self,
        entity_id: str,
        state: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        last_changed: float | None = None,
        last_updated: float | None = None,
        last_reported: float | None = None,
        context: Context | None = None,
        validate: bool = True,
    ) -> None:
        if validate and not valid_entity_id(entity_id):
            raise InvalidEntityIdError(entity_id)
        if len(state) > MAX_STATE_LENGTH:
            raise ValueError(
                f"State of {entity_id} is longer than {MAX_STATE_LENGTH} characters: "
                f"{state[:40]!r}…"
            )
        now = last_updated if last_updated is not None else time.time()
        self.entity_id = entity_id
        self.state = state
        self.attributes: Mapping[str, Any] = (
            MappingProxyType(dict(attributes)) if attributes else _EMPTY
        )
        self.last_updated_timestamp = now
        self.last_changed_timestamp = last_changed if last_changed is not None else now
        self.last_reported_timestamp = last_reported if last_reported is not None else now
        self.context = context if context is not None else Context()
        self.domain, _, self.object_id = entity_id.partition(".")
        self._as_dict: StateDict | None = None
        self._json: bytes | None = None

    @classmethod
    def trusted(  # noqa: PLR0917 - positional only: the cheapest call on the hot path
        cls,
        entity_id: str,
        state: str,
        attributes: Mapping[str, Any],
        last_changed: float,
        updated: float,
        context: Context | None,
        domain: str,
        object_id: str,
        /,
    ) -> Self:
        """A State from values already checked: the fast constructor of hot paths.

        ``StateMachine.set`` and the recorder's history reader make States with it. Nothing is
        validated or copied: ``entity_id`` is valid and lower-case and ``domain``/``object_id``
        are its halves, ``state`` is at most 255 characters, ``attributes`` is a read-only
        mapping nobody changes (``MappingProxyType``, possibly shared with other States), and
        ``updated`` is both ``last_updated`` and ``last_reported``. ``context`` None leaves
        the slot unset: only for a subclass that provides ``context`` itself (the recorder's
        ``RecordedState`` makes it from its row when first read). This and ``__init__`` are the
        only code that knows State's slots; a subclass sets its own after calling this.
        """
        new = _new_state(cls)
        new.entity_id = entity_id
        new.state = state
        new.attributes = attributes
        new.last_changed_timestamp = last_changed
        new.last_updated_timestamp = new.last_reported_timestamp = updated
        if context is not None:
            new.context = context
        new.domain = domain
        new.object_id = object_id
        new._as_dict = None  # noqa: SLF001 - its own class's cache, empty for a new State
        new._json = None  # noqa: SLF001 - same
        return new

    @property
    def last_changed(self) -> datetime:
        """When ``state`` last took a different value."""
        return _dt(self.last_changed_timestamp)

    @property
    def last_updated(self) -> datetime:
        """When the state or any attribute last changed."""
        return _dt(self.last_updated_timestamp)

    @property
    def last_reported(self) -> datetime:
        """When the entity last wrote its state, changed or not."""
        return _dt(self.last_reported_timestamp)

    @property
    def name(self) -> str:
        """The friendly name, or the object id with spaces."""
        name = self.attributes.get(ATTR_FRIENDLY_NAME)
        return str(name) if name else self.object_id.replace("_", " ")

    @property
    def available(self) -> bool:
        """Whether the state is a real value, not ``unavailable``/``unknown``."""
        return self.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)

    def as_dict(self) -> StateDict:
        """The JSON form; built once and cached, since states are immutable."""
        if self._as_dict is None:
            last_changed = self.last_changed.isoformat()
            last_updated = (
                last_changed
                if self.last_updated_timestamp == self.last_changed_timestamp
                else self.last_updated.isoformat()
            )
            as_dict: StateDict = {
                "entity_id": self.entity_id,
                "state": self.state,
                "attributes": dict(self.attributes),
                "last_changed": last_changed,
                "last_updated": last_updated,
                "last_reported": self.last_reported.isoformat(),
                "context": self.context.as_dict(),
            }
            self._as_dict = as_dict
            return as_dict
        return self._as_dict

    def as_json(self) -> bytes:
        """The JSON form as UTF-8 bytes; encoded once and cached, for the APIs."""
        if self._json is None:
            if self._as_dict is not None:
                self._json = json_bytes(self._as_dict)
            else:
                # Straight to JSON: orjson writes datetimes itself, in the same ISO 8601 form
                # as ``isoformat()``, far faster than building the dict's strings first.
                changed = _dt(self.last_changed_timestamp)
                updated = (
                    changed
                    if self.last_updated_timestamp == self.last_changed_timestamp
                    else _dt(self.last_updated_timestamp)
                )
                reported = (
                    updated
                    if self.last_reported_timestamp == self.last_updated_timestamp
                    else _dt(self.last_reported_timestamp)
                )
                self._json = json_bytes(
                    {
                        "entity_id": self.entity_id,
                        "state": self.state,
                        "attributes": dict(self.attributes),
                        "last_changed": changed,
                        "last_updated": updated,
                        "last_reported": reported,
                        "context": self.context.as_dict(),
                    }
                )
        return self._json

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, State)
            and self.entity_id == other.entity_id
            and self.state == other.state
            and self.attributes == other.attributes
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking equality, not hashable

    def __repr__(self) -> str:
        attrs = f"; {dict(self.attributes)}" if self.attributes else ""
        return f"<state {self.entity_id}={self.state}{attrs} @ {self.last_changed.isoformat()}>"


_trusted_state = State.trusted


class StateChangedData(TypedDict):
    """The data of a ``state_changed`` event."""

    entity_id: str
    old_state: State | None
    new_state: State | None


class StateReportedData(TypedDict):
    """The data of a ``state_reported`` event: a write that changed nothing."""

    entity_id: str
    new_state: State
    old_last_reported: float


class StateMachine:
    """Holds the current State of every entity and fires ``state_changed`` on each change.

    Must be used from the event loop.
    """

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._states: dict[str, State] = {}
        #: Entity ids per domain, in insertion order; updated only when an entity appears or goes.
        self._by_domain: dict[str, dict[str, None]] = {}
        self._entity_listeners: dict[str, list[Listener]] = {}
        #: State changes so far (read by ``/metrics``).
        self.changes = 0

    # --- reading -------------------------------------------------------------------------------

    def get(self, entity_id: str) -> State | None:
        """The current state of ``entity_id`` (case-insensitive), or None."""
        state = self._states.get(entity_id)
        if state is None and entity_id != entity_id.lower():
            state = self._states.get(entity_id.lower())
        return state

    def all(self, domain_filter: str | Iterable[str] | None = None) -> list[State]:
        """Every current state, optionally only of the given domain(s)."""
        if domain_filter is None:
            return list(self._states.values())
        domains = (domain_filter,) if isinstance(domain_filter, str) else domain_filter
        states = self._states
        return [states[e] for d in domains for e in self._by_domain.get(d.lower(), ())]

    def entity_ids(self, domain_filter: str | None = None) -> list[str]:
        """The ids of every entity that has a state, optionally of one domain."""
        if domain_filter is None:
            return list(self._states)
        return list(self._by_domain.get(domain_filter.lower(), ()))

    def domains(self) -> Iterator[str]:
        """The domains that have at least one entity."""
        return (d for d, ids in self._by_domain.items() if ids)

    def is_state(self, entity_id: str, state: str) -> bool:
        """Whether ``entity_id`` exists and is in ``state``."""
        current = self._states.get(entity_id)
        return current is not None and current.state == state

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._states

    # --- writing -------------------------------------------------------------------------------

    def set(
        self,
        entity_id: str,
        new_state: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        force_update: bool = False,
        context: Context | None = None,
        timestamp: float | None = None,
    ) -> State:
        """Set the state of an entity, firing ``state_changed`` if anything changed.

        Args:
            entity_id: ``domain.object_id``; checked the first time an entity is set.
            new_state: the state string (at most 255 characters).
            attributes: the complete new attributes (not a patch).
            force_update: fire even if nothing changed (``last_changed`` still only moves
                when the state string changed).
            context: why the state changed; a new context when not given.
            timestamp: the time of the change, for replays and tests; now when not given.

        Returns:
            The state now current (the old one when nothing changed).

        Raises:
            InvalidEntityIdError: for a malformed entity id.
            ValueError: for a state longer than 255 characters.
        """
        old = self._states.get(entity_id)
        if old is None:
            entity_id = entity_id.lower()
            if not valid_entity_id(entity_id):
                raise InvalidEntityIdError(entity_id)
            old = self._states.get(entity_id)
        if len(new_state) > MAX_STATE_LENGTH:
            raise ValueError(
                f"State of {entity_id} is longer than {MAX_STATE_LENGTH} characters: "
                f"{new_state[:40]!r}…"
            )
        now = time.time() if timestamp is None else timestamp
        if old is None:
            domain, _, object_id = entity_id.partition(".")
            last_changed = now
        else:
            domain, object_id = old.domain, old.object_id
            if old.state == new_state:
                same_attributes = old.attributes == attributes if attributes else not old.attributes
                if same_attributes and not force_update:
                    self._report(old, now, context)
                    return old
                last_changed = old.last_changed_timestamp
            else:
                last_changed = now
        if context is None:
            # Context() and Event() spelled out: a Python-level __init__ call each is a
            # noticeable share of a write on a busy bus.
            context = _new_context(Context)
            context._id = context.user_id = context.parent_id = None  # noqa: SLF001 - as __init__
        if not attributes:
            frozen = _EMPTY
        elif old is not None and old.attributes == attributes:
            # Most changes touch only the state: share the old read-only mapping, copy nothing.
            frozen = old.attributes
        else:
            frozen = MappingProxyType(dict(attributes))
        state = _trusted_state(
            entity_id, new_state, frozen, last_changed, now, context, domain, object_id
        )
        self._states[entity_id] = state
        if old is None:
            self._by_domain.setdefault(domain, {})[entity_id] = None
        # _fire_changed, inlined on this hot path.
        self.changes += 1
        data: StateChangedData = {"entity_id": entity_id, "old_state": old, "new_state": state}
        event: Event[StateChangedData] = _new_event(Event)
        event.event_type = EVENT_STATE_CHANGED
        event.data = data
        event.origin = _LOCAL
        event.context = context
        event.time_fired_timestamp = now
        event._time_fired = None  # noqa: SLF001 - as Event.__init__ does
        self._bus.fire_event(event)
        listeners = self._entity_listeners.get(entity_id)
        if listeners:
            self._bus.dispatch(event, listeners)
        return state

    def _report(self, state: State, now: float, context: Context | None) -> None:
        """Record a write that changed nothing: only ``last_reported`` moves."""
        old_reported = state.last_reported_timestamp
        state.last_reported_timestamp = now
        state._as_dict = None  # noqa: SLF001 - the cache of a state this machine owns
        state._json = None  # noqa: SLF001 - same
        if self._bus.has_listeners(EVENT_STATE_REPORTED):
            data: StateReportedData = {
                "entity_id": state.entity_id,
                "new_state": state,
                "old_last_reported": old_reported,
            }
            self._bus.fire(EVENT_STATE_REPORTED, data, context)

    def remove(self, entity_id: str, context: Context | None = None) -> bool:
        """Remove an entity's state; fires ``state_changed`` with ``new_state`` None.

        Returns:
            Whether there was a state to remove.
        """
        entity_id = entity_id.lower()
        old = self._states.pop(entity_id, None)
        if old is None:
            return False
        self._by_domain.get(old.domain, {}).pop(entity_id, None)
        self._fire_changed(entity_id, old, None, context or Context(), time.time())
        return True

    def _fire_changed(
        self,
        entity_id: str,
        old: State | None,
        new: State | None,
        context: Context,
        timestamp: float,
    ) -> None:
        self.changes += 1
        data: StateChangedData = {"entity_id": entity_id, "old_state": old, "new_state": new}
        event = Event(EVENT_STATE_CHANGED, data, EventOrigin.local, context, timestamp)
        self._bus.fire_event(event)
        listeners = self._entity_listeners.get(entity_id)
        if listeners:
            self._bus.dispatch(event, listeners)

    # --- subscribing ---------------------------------------------------------------------------

    def track(self, entity_ids: str | Iterable[str], listener: EventListener) -> Unsubscribe:
        """Call ``listener`` with the ``state_changed`` event of any of ``entity_ids``.

        The subscription is indexed by entity id: it costs nothing when other entities change.

        Returns:
            A function that removes the subscription.
        """
        ids = [entity_ids] if isinstance(entity_ids, str) else list(entity_ids)
        entry = Listener(listener)
        for entity_id in ids:
            self._entity_listeners.setdefault(entity_id.lower(), []).append(entry)

        def remove() -> None:
            if entry.removed:
                return
            entry.removed = True
            for entity_id in ids:
                bucket = self._entity_listeners.get(entity_id.lower())
                if bucket is not None:
                    bucket.remove(entry)
                    if not bucket:
                        del self._entity_listeners[entity_id.lower()]

        return remove
