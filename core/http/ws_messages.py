"""The messages of Home Assistant's WebSocket API, encoded once to JSON bytes.

Result and error shapes, error codes, the event message, and the compressed states of
``subscribe_entities`` (``a`` added, ``c`` changed with ``+``/``-``, ``r`` removed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from core.bus import Event
from core.const import EVENT_STATE_CHANGED
from core.context import Context
from core.json import json_bytes
from core.state import State

# Error codes, as Home Assistant names them.
ERR_ID_REUSE: Final = "id_reuse"
ERR_INVALID_FORMAT: Final = "invalid_format"
ERR_NOT_FOUND: Final = "not_found"
ERR_NOT_SUPPORTED: Final = "not_supported"
ERR_HOME_ASSISTANT_ERROR: Final = "home_assistant_error"
ERR_SERVICE_VALIDATION_ERROR: Final = "service_validation_error"
ERR_UNKNOWN_COMMAND: Final = "unknown_command"
ERR_UNKNOWN_ERROR: Final = "unknown_error"
ERR_UNAUTHORIZED: Final = "unauthorized"
ERR_TIMEOUT: Final = "timeout"
ERR_TEMPLATE_ERROR: Final = "template_error"


def result_message(msg_id: int, result: object = None) -> bytes:
    """A successful result."""
    return json_bytes({"id": msg_id, "type": "result", "success": True, "result": result})


def raw_result_message(msg_id: int, result_json: bytes) -> bytes:
    """A successful result whose ``result`` is already JSON."""
    return b'{"id":%d,"type":"result","success":true,"result":%s}' % (msg_id, result_json)


def error_message(msg_id: int | None, code: str, message: str) -> bytes:
    """A failed result."""
    return json_bytes(
        {
            "id": msg_id,
            "type": "result",
            "success": False,
            "error": {"code": code, "message": message},
        }
    )


def event_message(msg_id: int, event: Mapping[str, Any]) -> bytes:
    """An event of a subscription."""
    return json_bytes({"id": msg_id, "type": "event", "event": event})


def raw_event_message(msg_id: int, event_json: bytes) -> bytes:
    """An event of a subscription, its body already JSON."""
    return b'{"id":%d,"type":"event","event":%s}' % (msg_id, event_json)


class EventJsonCache:
    """Encodes an event once for all the clients subscribed to it.

    The bus delivers one event to every subscriber before the next one, so remembering the last
    event encoded is enough.
    """

    __slots__ = ("_event", "_json")

    def __init__(self) -> None:
        self._event: Event[Any] | None = None
        self._json = b""

    def get(self, event: Event[Any]) -> bytes:
        """The event's JSON (Home Assistant's event shape)."""
        if event is self._event:
            return self._json
        if event.event_type == EVENT_STATE_CHANGED:
            data = event.data
            old, new = data["old_state"], data["new_state"]
            encoded = (
                b'{"event_type":"state_changed","data":{"entity_id":%s,"old_state":%s,"new_state":%s},"origin":%s,"time_fired":%s,"context":%s}'
                % (
                    json_bytes(data["entity_id"]),
                    b"null" if old is None else old.as_json(),
                    b"null" if new is None else new.as_json(),
                    json_bytes(event.origin.value),
                    json_bytes(event.time_fired.isoformat()),
                    json_bytes(event.context.as_dict()),
                )
            )
        else:
            encoded = json_bytes(event.as_dict())
        self._event = event
        self._json = encoded
        return encoded


EVENT_JSON = EventJsonCache()


def _compressed_context(context: Context) -> str | dict[str, Any]:
    if context.parent_id is None and context.user_id is None:
        return context.id
    return dict(context.as_dict())


def compressed_state(state: State) -> dict[str, Any]:
    """A state in ``subscribe_entities``' compressed form."""
    compressed: dict[str, Any] = {
        "s": state.state,
        "a": dict(state.attributes),
        "c": _compressed_context(state.context),
        "lc": state.last_changed_timestamp,
    }
    if state.last_updated_timestamp != state.last_changed_timestamp:
        compressed["lu"] = state.last_updated_timestamp
    return compressed


def state_diff(old: State, new: State) -> dict[str, Any]:
    """What changed from ``old`` to ``new``: ``{"+": {...}, "-": {"a": [removed keys]}}``."""
    additions: dict[str, Any] = {}
    diff: dict[str, Any] = {"+": additions}
    if old.state != new.state:
        additions["s"] = new.state
    if old.last_changed_timestamp != new.last_changed_timestamp:
        additions["lc"] = new.last_changed_timestamp
    elif old.last_updated_timestamp != new.last_updated_timestamp:
        additions["lu"] = new.last_updated_timestamp
    if old.context.id != new.context.id:
        additions["c"] = _compressed_context(new.context)
    old_attrs, new_attrs = old.attributes, new.attributes
    if old_attrs is not new_attrs:
        changed = {k: v for k, v in new_attrs.items() if k not in old_attrs or old_attrs[k] != v}
        if changed:
            additions["a"] = changed
        if removed := [k for k in old_attrs if k not in new_attrs]:
            diff["-"] = {"a": removed}
    return diff
