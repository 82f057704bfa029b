"""Data nested too deeply never enters the bus through the REST or WebSocket API, and one state
that orjson cannot write never breaks reading the states for everyone (issue 25, items 1 and 5)."""

from __future__ import annotations

import orjson

from core.auth import Role
from core.const import EVENT_CALL_SERVICE
from core.limits import MAX_DEPTH

from .conftest import Api
from .test_websocket import connect


def deep_json(depth: int) -> str:
    """``{"a":{"a":...1}}`` ``depth`` levels deep, as text (orjson stops writing at 254)."""
    return '{"a":' * depth + "1" + "}" * depth


def deep(depth: int) -> dict[str, object]:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    assert isinstance(value, dict)
    return value


async def test_a_service_call_with_deeply_nested_data_is_refused_before_the_bus(api: Api) -> None:
    fired: list[object] = []
    api.runtime.bus.listen(EVENT_CALL_SERVICE, fired.append)
    body = '{"variables":' + deep_json(1000) + "}"

    status, answer = await api.request(
        "POST", "/api/services/apitest/maybe", Role.OPERATOR, data=body
    )

    assert status == 400, answer
    await api.runtime.bus.drain()
    assert fired == []
    assert api.integration.calls == []


async def test_data_just_inside_the_depth_limit_is_accepted(api: Api) -> None:
    body = {"variables": deep(MAX_DEPTH - 3)}
    status, _ = await api.request(
        "POST", "/api/services/apitest/maybe", Role.OPERATOR, data=orjson.dumps(body)
    )
    assert status == 200
    assert len(api.integration.calls) == 1


async def test_a_state_with_deeply_nested_attributes_is_refused(api: Api) -> None:
    body = '{"state": "on", "attributes": {"tree": ' + deep_json(300) + "}}"
    status, _ = await api.request("POST", "/api/states/sensor.deep", data=body)
    assert status == 400
    assert api.runtime.states.get("sensor.deep") is None


async def test_an_event_with_deeply_nested_data_is_refused(api: Api) -> None:
    fired: list[object] = []
    api.runtime.bus.listen("deep_event", fired.append)
    status, _ = await api.request("POST", "/api/events/deep_event", data=deep_json(2000))
    assert status == 400
    await api.runtime.bus.drain()
    assert fired == []


async def test_one_state_orjson_cannot_write_does_not_break_the_states_for_everyone(
    api: Api,
) -> None:
    # An integration (not the API, which refuses it) sets a state nested past orjson's 254.
    api.runtime.states.set("sensor.deep", "1", {"tree": deep(400)})

    status, states = await api.request("GET", "/api/states", Role.VIEWER)
    assert status == 200
    by_id = {state["entity_id"]: state for state in states}
    assert by_id["sensor.temperature"]["state"] == "21.5"
    assert by_id["sensor.deep"]["state"] == "1"
    status, state = await api.request("GET", "/api/states/sensor.deep", Role.VIEWER)
    assert status == 200
    assert state["state"] == "1"

    async with connect(api, Role.VIEWER) as client:
        answer = await client.command("get_states")
        assert answer["success"] is True
        assert "sensor.temperature" in {s["entity_id"] for s in answer["result"]}


async def test_a_websocket_message_nested_too_deeply_is_refused_and_nothing_is_called(
    api: Api,
) -> None:
    async with connect(api, Role.OPERATOR) as client:
        await client.ws.send_str(
            '{"id": 1, "type": "call_service", "domain": "apitest", "service": "maybe", '
            '"service_data": ' + deep_json(1000) + "}"
        )
        closing = await client.ws.receive()
        assert closing.type.name in ("CLOSE", "CLOSED", "CLOSING")
    assert api.integration.calls == []
    # The server is fine and the next client is served.
    async with connect(api, Role.OPERATOR) as client:
        answer = await client.command("call_service", domain="apitest", service="maybe")
        assert answer["success"] is True
    assert len(api.integration.calls) == 1
