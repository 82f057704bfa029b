"""Per-user settings of the panel, kept on the server: Home Assistant's ``frontend/*_user_data``.

Each user has a small JSON object of their own (the overview's layout, the history page's
last selection…), stored in ``.storage/frontend.user_data_<user id>`` as Home Assistant does.
A user reads and writes only their own data, whatever their role and areas (it holds no
entity of the site, so an area-limited user has theirs too):

- ``frontend/get_user_data`` with ``key``: ``{"value": <value or null>}``; without ``key``:
  ``{"value": {every key: value}}``.
- ``frontend/set_user_data`` with ``key`` and ``value`` (``null`` removes the key).
- ``frontend/subscribe_user_data`` with optional ``key``: the value now, then each change
  (from any of the user's tabs), as events ``{"value": ...}``.

Sizes are bounded: keys of at most :data:`MAX_KEY_LENGTH` characters, at most :data:`MAX_KEYS`
keys per user, and at most :data:`MAX_USER_BYTES` of JSON per user; a write past a bound is
refused with a message naming it, and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from core.auth import Permission
from core.auth.areas import area_aware
from core.json import json_bytes
from core.storage import JsonStore

from .ws_commands import InvalidMessage, field, register_command
from .ws_messages import event_message, result_message

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .websocket import Connection

#: The longest key.
MAX_KEY_LENGTH: Final = 64
#: The most keys one user may keep.
MAX_KEYS: Final = 64
#: The most JSON bytes one user's data may take.
MAX_USER_BYTES: Final = 64 * 1024
STORAGE_VERSION: Final = 1
_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")

Listener = Callable[[str, Any], None]


class UserDataStore:
    """Every user's panel data, loaded on first use and saved (coalesced) on change.

    Must be used from the event loop.
    """

    def __init__(self, runtime: Runtime) -> None:
        """Nothing is read until a user's data is first asked for."""
        self._runtime = runtime
        self._stores: dict[str, JsonStore] = {}
        self._data: dict[str, dict[str, Any]] = {}
        self._listeners: dict[str, set[Listener]] = {}

    def _store(self, user_id: str) -> JsonStore:
        store = self._stores.get(user_id)
        if store is None:
            store = JsonStore.for_runtime(
                self._runtime, f"frontend.user_data_{user_id}", version=STORAGE_VERSION
            )
            self._stores[user_id] = store
        return store

    async def get(self, user_id: str) -> dict[str, Any]:
        """The user's data (a live dict: do not change it)."""
        data = self._data.get(user_id)
        if data is None:
            loaded = await self._store(user_id).load()
            data = self._data.setdefault(user_id, dict(loaded or {}))
        return data

    def cached(self, user_id: str) -> dict[str, Any]:
        """The user's data as loaded so far (empty before :meth:`get`)."""
        return self._data.get(user_id, {})

    async def set(self, user_id: str, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` (None removes it), then tell the user's listeners.

        Raises:
            InvalidMessage: the key is malformed, or the data would pass a bound.
        """
        if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
            raise InvalidMessage(
                f"key must be 1 to {MAX_KEY_LENGTH} letters, digits, '_', '.' or '-' @ data['key']"
            )
        data = await self.get(user_id)
        updated = dict(data)
        if value is None:
            updated.pop(key, None)
        else:
            updated[key] = value
        if len(updated) > MAX_KEYS:
            raise InvalidMessage(f"at most {MAX_KEYS} keys per user @ data['key']")
        size = len(json_bytes(updated))
        if size > MAX_USER_BYTES:
            raise InvalidMessage(
                f"a user's data may take at most {MAX_USER_BYTES} bytes of JSON "
                f"(this would take {size}) @ data['value']"
            )
        self._data[user_id] = updated
        self._store(user_id).schedule_save(lambda: self._data[user_id])
        for listener in list(self._listeners.get(user_id, ())):
            listener(key, value)

    def listen(self, user_id: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(key, value)`` after each change of the user's data.

        Returns:
            The function that removes the listener.
        """
        listeners = self._listeners.setdefault(user_id, set())
        listeners.add(listener)
        return lambda: listeners.discard(listener)

    async def flush(self) -> None:
        """Write every pending save (at shutdown)."""
        for store in self._stores.values():
            await store.flush()


def _store_of(conn: Connection) -> UserDataStore:
    store: UserDataStore = conn.runtime.http.user_data
    return store


@register_command("frontend/get_user_data", Permission.READ)
@area_aware
async def get_user_data(conn: Connection, msg: dict[str, Any]) -> None:
    """The connection's user's value of ``key``, or all of their data without ``key``."""
    key = field(msg, "key", str, None)
    data = await _store_of(conn).get(conn.user.id)
    conn.send(result_message(msg["id"], {"value": data.get(key) if key else data}))


@register_command("frontend/set_user_data", Permission.READ)
@area_aware
async def set_user_data(conn: Connection, msg: dict[str, Any]) -> None:
    """Store ``value`` under ``key`` for the connection's user (null removes it)."""
    key = field(msg, "key", str)
    if "value" not in msg:
        raise InvalidMessage("required key not provided @ data['value']")
    await _store_of(conn).set(conn.user.id, key, msg["value"])
    conn.send(result_message(msg["id"]))


@register_command("frontend/subscribe_user_data", Permission.READ)
@area_aware
async def subscribe_user_data(conn: Connection, msg: dict[str, Any]) -> None:
    """The user's value of ``key`` (or all their data) now, then after each change."""
    msg_id: int = msg["id"]
    key = field(msg, "key", str, None)
    store = _store_of(conn)
    user_id = conn.user.id
    data = await store.get(user_id)

    def current() -> Any:
        now = store.cached(user_id)
        return now.get(key) if key else now

    def changed(changed_key: str, _value: Any) -> None:
        if key is None or changed_key == key:
            conn.send(event_message(msg_id, {"value": current()}))

    conn.send(result_message(msg_id))
    conn.send(event_message(msg_id, {"value": data.get(key) if key else data}))
    conn.subscriptions[msg_id] = store.listen(user_id, changed)
