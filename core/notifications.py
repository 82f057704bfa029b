"""Persistent notifications and alarms: messages for whoever looks after the site.

A notification has an id, an optional title, a message, the time it was created and, as an
Edgewise extension that Home Assistant clients ignore, a severity (``info``, ``warning``,
``critical``), how many times it was raised (``count``, with ``updated_at`` the last time), and who
acknowledged it and when. Raising the id of an active notification again stacks on it (count + 1,
the newest title and message, acknowledgement withdrawn: it happened again); a notification raised
without an id stacks on an active one with the same title and message, so an automation that says
"House power high" three times leaves one entry with a count of 3.

Clearing (``dismiss``) moves a notification into the history, with who cleared it and when; the
history keeps the newest :data:`MAX_HISTORY`. Alarms (notifications raised with an explicit
severity) and the history are kept in ``.storage/notifications`` once the runtime has started, so
they survive a restart; plain notifications live in memory, as in Home Assistant, and whatever
still holds (an integration that cannot set up) is reported again.

The runtime reports its own trouble here (invalid configuration, integrations that failed);
the ``persistent_notification`` and ``notify`` integrations make them services; the WebSocket
command ``persistent_notification/subscribe`` streams them to the panel in Home Assistant's
format (``current``, then ``added``/``updated``/``removed`` with the notifications concerned).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypedDict

from ulid_transform import ulid_now

from .bus import Unsubscribe

if TYPE_CHECKING:
    from .storage import JsonStore

_LOGGER = logging.getLogger(__name__)

#: At most this many notifications are kept; creating one more drops the oldest. An automation
#: that creates a notification per event must not fill a Pi's memory.
MAX_NOTIFICATIONS = 500
#: At most this many cleared notifications are kept in the history (the oldest go first).
MAX_HISTORY = 200
#: Seconds a change waits before the store is written (changes in between share one write).
SAVE_DELAY = 2.0
STORAGE_KEY = "notifications"
STORAGE_VERSION = 1


class Severity(StrEnum):
    """How urgent a notification is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Notification(TypedDict):
    """A notification in the form clients know (Home Assistant's keys first)."""

    notification_id: str
    title: str | None
    message: str
    created_at: str
    severity: str
    count: int
    updated_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None


class ClearedNotification(Notification):
    """A notification in the history: who cleared it and when (``None``: the system)."""

    cleared_at: str
    cleared_by: str | None


class UpdateType(StrEnum):
    """What happened to the notifications that come with an update."""

    CURRENT = "current"
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"


NotificationListener = Callable[[UpdateType, dict[str, Notification]], None]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Notifications:
    """The site's notifications, their history, and who listens to changes. Use on the loop."""

    def __init__(self, limit: int = MAX_NOTIFICATIONS, history_limit: int = MAX_HISTORY) -> None:
        self._limit = limit
        self._items: dict[str, Notification] = {}
        #: Ids of the alarms: raised with an explicit severity, kept across restarts.
        self._kept: set[str] = set()
        self._history: deque[ClearedNotification] = deque(maxlen=history_limit)
        self._listeners: list[NotificationListener] = []
        self._store: JsonStore | None = None

    def __len__(self) -> int:
        return len(self._items)

    def get(self, notification_id: str) -> Notification | None:
        """The notification with that id, if there is one."""
        return self._items.get(notification_id)

    def all(self) -> dict[str, Notification]:
        """Every notification by id, oldest first (a copy)."""
        return dict(self._items)

    def history(self) -> list[ClearedNotification]:
        """The cleared notifications, the most recently cleared first."""
        return list(reversed(self._history))

    def create(
        self,
        message: str,
        title: str | None = None,
        notification_id: str | None = None,
        severity: Severity | str | None = None,
    ) -> str:
        """Raise a notification, or stack on the active one it repeats; answer its id.

        Args:
            message: what it says.
            title: its title.
            notification_id: its id; raising the id of an active notification again stacks on
                it. Without one, an active notification with the same title and message is
                stacked on, or a new id is made.
            severity: ``info``, ``warning`` or ``critical``; given, the notification is an
                alarm and is kept across restarts. Without one, a repeat keeps the severity it
                had (``info`` for a new one).

        Raises:
            ValueError: ``severity`` is none of the three.
        """
        level = Severity(severity) if severity is not None else None
        if notification_id is None:
            notification_id = (
                next(
                    (
                        key
                        for key, item in self._items.items()
                        if item["message"] == message and item["title"] == title
                    ),
                    None,
                )
                or ulid_now()
            )
        now = _now()
        previous = self._items.pop(notification_id, None)
        kind = level or (Severity(previous["severity"]) if previous else Severity.INFO)
        notification: Notification = {
            "notification_id": notification_id,
            "title": title,
            "message": message,
            "created_at": previous["created_at"] if previous else now,
            "severity": kind.value,
            "count": previous["count"] + 1 if previous else 1,
            "updated_at": now,
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
        self._items[notification_id] = notification
        if level is not None:
            self._kept.add(notification_id)
        dropped: dict[str, Notification] = {}
        while len(self._items) > self._limit:
            oldest = next(iter(self._items))
            dropped[oldest] = self._items.pop(oldest)
            self._kept.discard(oldest)
        if dropped:
            _LOGGER.warning(
                "More than %d persistent notifications: dropped the %d oldest",
                self._limit,
                len(dropped),
            )
            self._notify(UpdateType.REMOVED, dropped)
        self._notify(
            UpdateType.UPDATED if previous else UpdateType.ADDED, {notification_id: notification}
        )
        self._changed(notification_id)
        return notification_id

    def report_problems(
        self, notification_id: str, title: str, intro: str, problems: Iterable[str]
    ) -> None:
        """Keep one notification listing ``problems`` current: replaced, or dismissed if none.

        For a part of the configuration that is checked again on every reload: fixing the last
        problem takes the notification away.
        """
        lines = [f"- {problem}" for problem in problems]
        if lines:
            self.create(f"{intro}\n\n" + "\n".join(lines), title, notification_id)
        else:
            self.dismiss(notification_id)

    def acknowledge(self, notification_id: str, user_id: str | None = None) -> bool:
        """Mark a notification seen by ``user_id`` (now); answer whether there was one."""
        notification = self._items.get(notification_id)
        if notification is None:
            return False
        notification = {**notification, "acknowledged_at": _now(), "acknowledged_by": user_id}
        self._items[notification_id] = notification
        self._notify(UpdateType.UPDATED, {notification_id: notification})
        self._changed(notification_id)
        return True

    def dismiss(self, notification_id: str, user_id: str | None = None) -> bool:
        """Clear a notification into the history; answer whether there was one."""
        notification = self._items.pop(notification_id, None)
        if notification is None:
            return False
        self._to_history({notification_id: notification}, user_id)
        self._notify(UpdateType.REMOVED, {notification_id: notification})
        return True

    def dismiss_all(self, user_id: str | None = None) -> None:
        """Clear every notification into the history."""
        if self._items:
            removed, self._items = self._items, {}
            self._to_history(removed, user_id)
            self._notify(UpdateType.REMOVED, removed)

    def subscribe(self, listener: NotificationListener) -> Unsubscribe:
        """Call ``listener`` with ``current`` now, then with every change; answer an unsubscribe."""
        self._listeners.append(listener)
        listener(UpdateType.CURRENT, self.all())

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    # -- storage ----------------------------------------------------------------------------------

    async def load(self, store: JsonStore) -> None:
        """Read the kept alarms and the history from ``store``, and save to it from now on.

        What was raised before (during start-up) stays and wins over a stored entry of its id;
        malformed stored entries are skipped with a warning.
        """
        self._store = store
        data = await store.load()
        if not data:
            return
        restored: dict[str, Notification] = {}
        for raw in data.get("active", ()):
            item = _parse(raw, _ACTIVE_KEYS)
            if item is None:
                _LOGGER.warning("Skipping a malformed stored notification %r", raw)
            elif item["notification_id"] not in self._items:
                restored[item["notification_id"]] = item  # type: ignore[assignment]  # checked
        for raw in data.get("history", ()):
            item = _parse(raw, _CLEARED_KEYS)
            if item is None:
                _LOGGER.warning("Skipping a malformed stored notification %r", raw)
            else:
                self._history.append(item)  # type: ignore[arg-type]  # checked by _parse
        if restored:
            self._items = {**restored, **self._items}
            self._kept.update(restored)
            self._notify(UpdateType.ADDED, restored)

    async def flush(self) -> None:
        """Write pending changes now (the final write at shutdown)."""
        if self._store is not None:
            await self._store.flush()

    def _data_to_save(self) -> dict[str, Any]:
        return {
            "active": [item for key, item in self._items.items() if key in self._kept],
            "history": list(self._history),
        }

    def _changed(self, notification_id: str | None) -> None:
        if self._store is not None and (notification_id is None or notification_id in self._kept):
            self._store.schedule_save(self._data_to_save, SAVE_DELAY)

    def _to_history(self, removed: dict[str, Notification], user_id: str | None) -> None:
        now = _now()
        for key, item in removed.items():
            self._kept.discard(key)
            self._history.append({**item, "cleared_at": now, "cleared_by": user_id})
        self._changed(None)

    def _notify(self, update: UpdateType, notifications: dict[str, Notification]) -> None:
        for listener in list(self._listeners):
            try:
                listener(update, notifications)
            except Exception:  # one bad listener must not stop the others
                _LOGGER.exception("Error in a persistent notification listener")


_TYPES: dict[str, tuple[type, ...]] = {
    "notification_id": (str,),
    "title": (str, type(None)),
    "message": (str,),
    "created_at": (str,),
    "severity": (str,),
    "count": (int,),
    "updated_at": (str,),
    "acknowledged_at": (str, type(None)),
    "acknowledged_by": (str, type(None)),
    "cleared_at": (str,),
    "cleared_by": (str, type(None)),
}


_ACTIVE_KEYS = tuple(_TYPES)[:9]
_CLEARED_KEYS = tuple(_TYPES)


def _parse(raw: object, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """``raw`` with exactly ``keys`` of the right types, or None."""
    if not isinstance(raw, dict):
        return None
    item = {key: raw.get(key) for key in keys}
    if not all(isinstance(item[key], _TYPES[key]) for key in keys):
        return None
    if item["severity"] not in {level.value for level in Severity}:
        return None
    return item
