"""The WebSocket message encoders: event JSON as Event.as_dict says, compressed states."""

from __future__ import annotations

import json

from core.bus import Event, EventOrigin
from core.context import Context
from core.http.ws_messages import EventJsonCache, compressed_state, state_diff
from core.state import State


def test_event_json_is_event_as_dict() -> None:
    cache = EventJsonCache()
    event = Event("door", {"floor": 2}, EventOrigin.remote, Context(user_id="u"), 1700000000.25)
    assert json.loads(cache.get(event)) == event.as_dict()
    assert cache.get(event) is cache.get(event)


def test_state_changed_json_embeds_the_states() -> None:
    old = State("light.a", "off", last_changed=1700000000.0)
    new = State("light.a", "on", {"b": 1}, last_changed=1700000001.0)
    event = Event("state_changed", {"entity_id": "light.a", "old_state": old, "new_state": new})
    encoded = json.loads(EventJsonCache().get(event))
    assert encoded["data"]["old_state"] == json.loads(old.as_json())
    assert encoded["data"]["new_state"]["attributes"] == {"b": 1}
    assert encoded["event_type"] == "state_changed"


def test_compressed_state_and_diff() -> None:
    context = Context()
    old = State(
        "light.a", "off", {"x": 1, "gone": 2}, last_changed=10.0, last_updated=10.0, context=context
    )
    assert compressed_state(old) == {
        "s": "off",
        "a": {"x": 1, "gone": 2},
        "c": context.id,
        "lc": 10.0,
    }
    user_context = Context(user_id="u1")
    new = State(
        "light.a", "on", {"x": 3}, last_changed=12.0, last_updated=12.0, context=user_context
    )
    assert state_diff(old, new) == {
        "+": {"s": "on", "lc": 12.0, "c": user_context.as_dict(), "a": {"x": 3}},
        "-": {"a": ["gone"]},
    }
    attrs_only = State(
        "light.a",
        "off",
        {"x": 1, "gone": 2, "y": 0},
        last_changed=10.0,
        last_updated=11.0,
        context=context,
    )
    assert state_diff(old, attrs_only) == {"+": {"lu": 11.0, "a": {"y": 0}}}
    assert compressed_state(attrs_only)["lu"] == 11.0
