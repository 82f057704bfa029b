"""The state machine: validation, change detection, events and the entity index."""

from __future__ import annotations

import asyncio

import pytest

from core.bus import Event, EventBus, callback
from core.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from core.context import Context
from core.errors import InvalidEntityIdError
from core.state import State, StateMachine, finite_number, split_entity_id, valid_entity_id
from tests._helpers import settle


@pytest.fixture
async def states() -> StateMachine:
    return StateMachine(EventBus(asyncio.get_running_loop()))


@pytest.mark.parametrize(
    "entity_id",
    ["sensor.temp", "switch.plug_1", "climate.zone_2b", "a.b"],
)
def test_valid_entity_ids_are_accepted(entity_id: str) -> None:
    assert valid_entity_id(entity_id)


@pytest.mark.parametrize(
    "entity_id",
    [
        "sensor",
        "Sensor.temp",
        "sensor.",
        ".temp",
        "sensor.te mp",
        "sensor._temp",
        "sensor.temp_",
        "sensor.temp.x",
        "sensör.temp",
        "sensor.temp-1",
    ],
)
def test_invalid_entity_ids_are_rejected(entity_id: str) -> None:
    assert not valid_entity_id(entity_id)


def test_split_entity_id_raises_on_invalid_id() -> None:
    assert split_entity_id("sensor.temp") == ("sensor", "temp")
    with pytest.raises(InvalidEntityIdError, match="sensor temp"):
        split_entity_id("sensor temp")


async def test_set_with_invalid_entity_id_raises(states: StateMachine) -> None:
    with pytest.raises(InvalidEntityIdError):
        states.set("not an id", "on")
    assert len(states) == 0


async def test_state_longer_than_255_characters_is_rejected(states: StateMachine) -> None:
    with pytest.raises(ValueError, match="longer than 255"):
        states.set("sensor.x", "x" * 256)


async def test_state_changed_carries_old_and_new_state(states: StateMachine) -> None:
    events: list[Event[dict[str, State | None]]] = []
    states._bus.listen(EVENT_STATE_CHANGED, callback(events.append))
    states.set("sensor.temp", "20")
    states.set("sensor.temp", "21", {"unit_of_measurement": "°C"})
    await settle()
    assert len(events) == 2
    first, second = events
    assert first.data["old_state"] is None
    assert second.data["old_state"] is not None
    assert second.data["old_state"].state == "20"
    new = second.data["new_state"]
    assert new is not None
    assert new.state == "21"
    assert new.attributes["unit_of_measurement"] == "°C"


async def test_setting_equal_state_fires_nothing_and_moves_last_reported(
    states: StateMachine,
) -> None:
    changed: list[Event[object]] = []
    reported: list[Event[object]] = []
    states._bus.listen(EVENT_STATE_CHANGED, callback(changed.append))
    states._bus.listen(EVENT_STATE_REPORTED, callback(reported.append))
    first = states.set("sensor.temp", "20", {"a": 1}, timestamp=1000.0)
    again = states.set("sensor.temp", "20", {"a": 1}, timestamp=1005.0)
    await settle()
    assert again is first
    assert len(changed) == 1
    assert len(reported) == 1
    assert again.last_updated_timestamp == 1000.0
    assert again.last_reported_timestamp == 1005.0


async def test_attribute_change_keeps_last_changed(states: StateMachine) -> None:
    states.set("sensor.temp", "20", {"a": 1}, timestamp=1000.0)
    new = states.set("sensor.temp", "20", {"a": 2}, timestamp=1010.0)
    assert new.last_changed_timestamp == 1000.0
    assert new.last_updated_timestamp == 1010.0


async def test_force_update_fires_even_when_equal(states: StateMachine) -> None:
    changed: list[Event[object]] = []
    states._bus.listen(EVENT_STATE_CHANGED, callback(changed.append))
    states.set("sensor.temp", "20")
    states.set("sensor.temp", "20", force_update=True)
    await settle()
    assert len(changed) == 2


async def test_entity_index_delivers_only_to_listeners_of_that_entity(
    states: StateMachine,
) -> None:
    a: list[str] = []
    b: list[str] = []
    states.track("sensor.a", callback(lambda e: a.append(e.data["new_state"].state)))
    unsub_b = states.track(["sensor.b"], callback(lambda e: b.append(e.data["new_state"].state)))
    states.set("sensor.a", "1")
    states.set("sensor.b", "2")
    states.set("sensor.c", "3")
    await settle()
    assert a == ["1"]
    assert b == ["2"]
    unsub_b()
    unsub_b()
    states.set("sensor.b", "4")
    await settle()
    assert b == ["2"]
    assert "sensor.b" not in states._entity_listeners


async def test_remove_fires_state_changed_with_no_new_state(states: StateMachine) -> None:
    changed: list[Event[dict[str, State | None]]] = []
    states.set("switch.plug", "on")
    states._bus.listen(EVENT_STATE_CHANGED, callback(changed.append))
    assert states.remove("switch.plug") is True
    assert states.remove("switch.plug") is False
    await settle()
    assert changed[0].data["new_state"] is None
    assert states.get("switch.plug") is None
    assert states.entity_ids("switch") == []


async def test_context_given_to_set_is_on_the_state(states: StateMachine) -> None:
    ctx = Context(user_id="alice")
    new = states.set("switch.plug", "on", context=ctx)
    assert new.context is ctx


async def test_queries_by_domain_and_case_insensitive_get(states: StateMachine) -> None:
    states.set("sensor.a", "1")
    states.set("switch.b", "on")
    assert {s.entity_id for s in states.all("sensor")} == {"sensor.a"}
    assert states.get("SENSOR.A") is not None
    assert states.is_state("switch.b", "on")
    assert set(states.domains()) == {"sensor", "switch"}


async def test_state_attributes_are_read_only_and_as_dict_is_ha_shaped(
    states: StateMachine,
) -> None:
    state = states.set("sensor.temp", "20", {"friendly_name": "Temp"})
    with pytest.raises(TypeError):
        state.attributes["x"] = 1  # type: ignore[index]
    data = state.as_dict()
    assert data["entity_id"] == "sensor.temp"
    assert data["attributes"] == {"friendly_name": "Temp"}
    assert data["last_changed"] == data["last_updated"]
    assert state.name == "Temp"


def test_as_json_is_as_dict_encoded() -> None:
    import json

    from core.context import Context

    context = Context(user_id="u1")
    for changed, updated, reported in (
        (1700000000.0, 1700000000.0, 1700000000.0),
        (1700000000.5, 1700000001.25, 1700000002.0),
    ):
        fresh, twin = (
            State(
                "sensor.a",
                "1",
                {"x": 1, "when": "now"},
                last_changed=changed,
                last_updated=updated,
                last_reported=reported,
                context=context,
            )
            for _ in range(2)
        )
        assert json.loads(fresh.as_json()) == json.loads(json.dumps(twin.as_dict()))
        assert fresh.as_json() is fresh.as_json()


def _slots(cls: type) -> set[str]:
    return {slot for klass in cls.__mro__ for slot in getattr(klass, "__slots__", ())}


def test_trusted_state_fills_every_slot_as_init_does() -> None:
    """A slot added to State and missed by the fast constructor fails here, not when read."""
    context = Context()
    slow = State("sensor.a", "1", {"x": 1}, last_changed=1.0, last_updated=2.0, context=context)
    fast = State.trusted("sensor.a", "1", slow.attributes, 1.0, 2.0, context, "sensor", "a")
    for slot in _slots(State):
        assert getattr(fast, slot) == getattr(slow, slot), slot
    assert fast == slow
    assert fast.as_dict() == slow.as_dict()


async def test_states_set_by_the_machine_are_made_by_the_trusted_constructor(
    states: StateMachine,
) -> None:
    written = states.set("sensor.a", "1", {"unit": "W"}, timestamp=5.0)
    again = State.trusted(
        "sensor.a",
        "1",
        written.attributes,
        5.0,
        5.0,
        written.context,
        "sensor",
        "a",
    )
    assert {slot: getattr(written, slot) for slot in _slots(State)} == {
        slot: getattr(again, slot) for slot in _slots(State)
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("21.5", 21.5),
        (" 3 ", 3.0),
        ("-0", 0.0),
        (7, 7.0),
        (2.5, 2.5),
        ("1e3", 1000.0),
        ("unknown", None),
        ("unavailable", None),
        ("", None),
        (None, None),
        (True, None),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("-Infinity", None),
        ("1e400", None),
        (float("nan"), None),
        (10**400, None),
        ([1], None),
        (b"1", None),
    ],
)
def test_finite_number(value: object, expected: float | None) -> None:
    assert finite_number(value) == expected
