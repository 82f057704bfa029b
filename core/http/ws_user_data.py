"""Per-user panel settings kept on the server, with Home Assistant's ``frontend/*_user_data``.

- ``frontend/get_user_data`` (``key`` optional): ``{"value": ...}``, the value under ``key`` for
  the connection's user (``None`` when unset), or every key's value when no key is given;
- ``frontend/set_user_data`` (``key``, ``value``): stores it (``null`` removes the key);
- ``frontend/subscribe_user_data`` (``key`` optional): the value now, then after every change.

Each user sees only their own data. Bounded: at most :data:`MAX_KEYS` keys per user, keys of at
most :data:`MAX_KEY_LENGTH` characters, values of at most :data:`MAX_VALUE_BYTES` as JSON. Kept
in ``.storage/frontend.user_data``, written a moment after a change and at shutdown.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from core.auth import Permission
from core.bus import Event
from core.const import EVENT_EDGEWISE_FINAL_WRITE
from core.json import json_bytes
from core.limits import InputLimitError, check_data
from core.storage import JsonStore

from .ws_commands import InvalidMessage, field, register_command
from .ws_messages import event_message, result_message

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .websocket import Connection

STORAGE_KEY: Final = "frontend.user_data"
MAX_KEYS: Final = 50
MAX_KEY_LENGTH: Final = 100
MAX_VALUE_BYTES: Final = 64 * 1024
SAVE_DELAY: Final = 1.0

UserDataListener = Callable[[str, object], None]


class UserData:
    """Every user's panel settings: ``{user_id: {key: value}}``. Use on the loop."""

    def __init__(self, runtime: Runtime) -> None:
        self._store = JsonStore.for_runtime(runtime, STORAGE_KEY, version=1)
        self._data: dict[str, dict[str, object]] = {}
        self._listeners: dict[str, list[UserDataListener]] = {}
        self._loaded = asyncio.Event()
        self._loading = False
        runtime.bus.listen(EVENT_EDGEWISE_FINAL_WRITE, self._final_write)

    async def ready(self) -> None:
        """Load the store the first time it is asked for."""
        if not self._loading:
            self._loading = True
            data = await self._store.load() or {}
            self._data = {
                user: dict(values)
                for user, values in data.get("users", {}).items()
                if isinstance(user, str) and isinstance(values, dict)
            }
            self._loaded.set()
        await self._loaded.wait()

    def get(self, user_id: str) -> dict[str, object]:
        """The user's data (a copy)."""
        return dict(self._data.get(user_id, {}))

    def set(self, user_id: str, key: str, value: object) -> None:
        """Store ``value`` under ``key`` for the user (``None`` removes it).

        Raises:
            InvalidMessage: the key or value is past the bounds.
        """
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidMessage(f"key must be 1 to {MAX_KEY_LENGTH} characters @ data['key']")
        values = self._data.setdefault(user_id, {})
        if value is None:
            values.pop(key, None)
        else:
            try:
                check_data(value, "value")
            except InputLimitError as err:
                raise InvalidMessage(f"{err} @ data['value']") from None
            if len(json_bytes(value)) > MAX_VALUE_BYTES:
                raise InvalidMessage(
                    f"value is larger than {MAX_VALUE_BYTES // 1024} KiB as JSON @ data['value']"
                )
            if key not in values and len(values) >= MAX_KEYS:
                raise InvalidMessage(f"at most {MAX_KEYS} keys per user @ data['key']")
            values[key] = value
        self._store.schedule_save(lambda: {"users": self._data}, SAVE_DELAY)
        for listener in list(self._listeners.get(user_id, ())):
            listener(key, value)

    def listen(self, user_id: str, listener: UserDataListener) -> Callable[[], None]:
        """Call ``listener(key, value)`` on each change of the user's data; answer the remover."""
        listeners = self._listeners.setdefault(user_id, [])
        listeners.append(listener)

        def remove() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return remove

    async def _final_write(self, event: Event[Any]) -> None:
        await self._store.flush()


#: Each runtime's user data, made the first time a command asks for it.
_USER_DATA: weakref.WeakKeyDictionary[Runtime, UserData] = weakref.WeakKeyDictionary()


async def _user_data(conn: Connection) -> UserData:
    runtime = conn.runtime
    data = _USER_DATA.get(runtime)
    if data is None:
        data = _USER_DATA[runtime] = UserData(runtime)
    await data.ready()
    return data


def _answer(values: dict[str, object], key: str | None) -> object:
    return values.get(key) if key is not None else values


@register_command("frontend/get_user_data", Permission.READ)
async def get_user_data(conn: Connection, msg: dict[str, Any]) -> None:
    """The value under ``key`` for this user, or all of the user's data without a key."""
    key = field(msg, "key", str, None)
    data = await _user_data(conn)
    conn.send(result_message(msg["id"], {"value": _answer(data.get(conn.user.id), key)}))


@register_command("frontend/set_user_data", Permission.READ)
async def set_user_data(conn: Connection, msg: dict[str, Any]) -> None:
    """Store ``value`` under ``key`` for this user (``null`` removes it)."""
    key = field(msg, "key", str)
    if "value" not in msg:
        raise InvalidMessage("required key not provided @ data['value']")
    data = await _user_data(conn)
    data.set(conn.user.id, key, msg["value"])
    conn.send(result_message(msg["id"]))


@register_command("frontend/subscribe_user_data", Permission.READ)
async def subscribe_user_data(conn: Connection, msg: dict[str, Any]) -> None:
    """The value (of ``key``, or all) now, then after each change of it."""
    key = field(msg, "key", str, None)
    msg_id: int = msg["id"]
    data = await _user_data(conn)
    user_id = conn.user.id

    def changed(changed_key: str, value: object) -> None:
        if key is None or changed_key == key:
            conn.send(event_message(msg_id, {"value": _answer(data.get(user_id), key)}))

    conn.send(result_message(msg_id))
    conn.send(event_message(msg_id, {"value": _answer(data.get(user_id), key)}))
    conn.subscriptions[msg_id] = data.listen(user_id, changed)
