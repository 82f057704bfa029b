"""Persistent notifications: messages for whoever looks after the site, shown in the panel.

A notification has an id, an optional title, a message and the time it was created; creating one
with the id of another replaces it. They live in memory, as in Home Assistant: a restart starts
with none, and whatever still holds (an integration that cannot set up) is reported again.

The runtime reports its own trouble here (invalid configuration, integrations that failed);
the ``persistent_notification`` and ``notify`` integrations make them services; the WebSocket
command ``persistent_notification/subscribe`` streams them to the panel in Home Assistant's
format (``current``, then ``added``/``updated``/``removed`` with the notifications concerned).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypedDict

from ulid_transform import ulid_now

from .bus import Unsubscribe

_LOGGER = logging.getLogger(__name__)

#: At most this many notifications are kept; creating one more drops the oldest. An automation
#: that creates a notification per event must not fill a Pi's memory.
MAX_NOTIFICATIONS = 500


class Notification(TypedDict):
    """A notification in the form clients know."""

    notification_id: str
    title: str | None
    message: str
    created_at: str


class UpdateType(StrEnum):
    """What happened to the notifications that come with an update."""

    CURRENT = "current"
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"


NotificationListener = Callable[[UpdateType, dict[str, Notification]], None]


class Notifications:
    """The site's persistent notifications, and who listens to their changes. Use on the loop."""

    def __init__(self, limit: int = MAX_NOTIFICATIONS) -> None:
        self._limit = limit
        self._items: dict[str, Notification] = {}
        self._listeners: list[NotificationListener] = []

    def __len__(self) -> int:
        return len(self._items)

    def get(self, notification_id: str) -> Notification | None:
        """The notification with that id, if there is one."""
        return self._items.get(notification_id)

    def all(self) -> dict[str, Notification]:
        """Every notification by id, oldest first (a copy)."""
        return dict(self._items)

    def create(
        self, message: str, title: str | None = None, notification_id: str | None = None
    ) -> str:
        """Create a notification, or replace the one with the same id; answer its id."""
        notification_id = notification_id or ulid_now()
        replaced = self._items.pop(notification_id, None) is not None
        notification: Notification = {
            "notification_id": notification_id,
            "title": title,
            "message": message,
            "created_at": datetime.now(UTC).isoformat(),
        }
        self._items[notification_id] = notification
        dropped: dict[str, Notification] = {}
        while len(self._items) > self._limit:
            oldest = next(iter(self._items))
            dropped[oldest] = self._items.pop(oldest)
        if dropped:
            _LOGGER.warning(
                "More than %d persistent notifications: dropped the %d oldest",
                self._limit,
                len(dropped),
            )
            self._notify(UpdateType.REMOVED, dropped)
        self._notify(
            UpdateType.UPDATED if replaced else UpdateType.ADDED, {notification_id: notification}
        )
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

    def dismiss(self, notification_id: str) -> bool:
        """Remove a notification; answer whether there was one."""
        notification = self._items.pop(notification_id, None)
        if notification is None:
            return False
        self._notify(UpdateType.REMOVED, {notification_id: notification})
        return True

    def dismiss_all(self) -> None:
        """Remove every notification."""
        if self._items:
            removed, self._items = self._items, {}
            self._notify(UpdateType.REMOVED, removed)

    def subscribe(self, listener: NotificationListener) -> Unsubscribe:
        """Call ``listener`` with ``current`` now, then with every change; answer an unsubscribe."""
        self._listeners.append(listener)
        listener(UpdateType.CURRENT, self.all())

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _notify(self, update: UpdateType, notifications: dict[str, Notification]) -> None:
        for listener in list(self._listeners):
            try:
                listener(update, notifications)
            except Exception:  # one bad listener must not stop the others
                _LOGGER.exception("Error in a persistent notification listener")
