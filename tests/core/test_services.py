"""The service registry: registration, schemas, targets, responses and errors."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
import voluptuous as vol

from core.bus import Event, EventBus, callback
from core.const import EVENT_CALL_SERVICE, EVENT_SERVICE_REGISTERED
from core.context import Context
from core.errors import ServiceNotFoundError, ServiceValidationError
from core.services import (
    ServiceCall,
    ServiceRegistry,
    ServiceTarget,
    SupportsResponse,
    extract_target,
)


@pytest.fixture
async def registry() -> ServiceRegistry:
    loop = asyncio.get_running_loop()

    def executor_job(func: Callable[[], object]) -> asyncio.Future[object]:
        return loop.run_in_executor(None, func)

    return ServiceRegistry(EventBus(loop, executor_job), executor_job)


async def test_call_runs_handler_with_validated_data_and_context(
    registry: ServiceRegistry,
) -> None:
    calls: list[ServiceCall] = []

    async def handler(call: ServiceCall) -> None:
        calls.append(call)

    registry.register(
        "light", "turn_on", handler, vol.Schema({vol.Optional("brightness"): vol.Coerce(int)})
    )
    ctx = Context(user_id="alice")
    await registry.call("light", "turn_on", {"brightness": "128"}, context=ctx)
    assert calls[0].data == {"brightness": 128}
    assert calls[0].context is ctx


async def test_unknown_service_raises_not_found(registry: ServiceRegistry) -> None:
    with pytest.raises(ServiceNotFoundError, match=r"light\.nope"):
        await registry.call("light", "nope")


async def test_bad_data_is_refused_naming_the_key(registry: ServiceRegistry) -> None:
    ran = False

    @callback
    def handler(call: ServiceCall) -> None:
        nonlocal ran
        ran = True

    registry.register(
        "number", "set_value", handler, vol.Schema({vol.Required("value"): vol.Coerce(float)})
    )
    with pytest.raises(ServiceValidationError) as info:
        await registry.call("number", "set_value", {"value": "warm"})
    assert info.value.key == "value"
    assert "number.set_value" in str(info.value)
    assert not ran
    with pytest.raises(ServiceValidationError, match="extra keys not allowed"):
        await registry.call("number", "set_value", {"value": 1, "colour": "red"})


async def test_targets_from_data_and_target_are_merged(registry: ServiceRegistry) -> None:
    calls: list[ServiceCall] = []
    registry.register("switch", "turn_on", callback(calls.append))
    await registry.call(
        "switch",
        "turn_on",
        {"entity_id": "switch.A, switch.b"},
        target={"device_id": ["dev1"], "area_id": "kitchen", "entity_id": ["switch.c"]},
    )
    target = calls[0].target
    assert target.entity_ids == {"switch.a", "switch.b", "switch.c"}
    assert target.device_ids == {"dev1"}
    assert target.area_ids == {"kitchen"}
    assert calls[0].data == {}


async def test_a_target_parsed_beforehand_is_used_as_given_and_merged_with_data(
    registry: ServiceRegistry,
) -> None:
    calls: list[ServiceCall] = []
    registry.register("switch", "turn_on", callback(calls.append))
    _, parsed = extract_target({}, {"entity_id": "switch.A", "area_id": "hall"}, "switch", "on")
    await registry.call("switch", "turn_on", {"level": 1}, target=parsed)
    assert calls[0].target is parsed
    assert calls[0].data == {"level": 1}
    await registry.call("switch", "turn_on", {"entity_id": "switch.b", "level": 2}, target=parsed)
    assert calls[1].target == ServiceTarget(
        entity_ids=frozenset({"switch.a", "switch.b"}), area_ids=frozenset({"hall"})
    )
    assert calls[1].data == {"level": 2}


async def test_one_id_in_a_string_is_trimmed_and_entity_ids_lowered(
    registry: ServiceRegistry,
) -> None:
    calls: list[ServiceCall] = []
    registry.register("switch", "turn_on", callback(calls.append))
    await registry.call("switch", "turn_on", target={"entity_id": " Switch.A ", "area_id": "Hall"})
    assert calls[0].target == ServiceTarget(
        entity_ids=frozenset({"switch.a"}), area_ids=frozenset({"Hall"})
    )
    await registry.call("switch", "turn_on", target={"entity_id": " ", "device_id": "none"})
    assert calls[1].target == ServiceTarget(device_ids=frozenset({"none"}))
    await registry.call("switch", "turn_on", {"entity_id": "none"})
    assert calls[2].target.empty


async def test_without_a_listener_call_service_is_counted_and_with_one_it_carries_the_data() -> (
    None
):
    bus = EventBus(asyncio.get_running_loop())
    registry = ServiceRegistry(
        bus, lambda func: asyncio.get_running_loop().run_in_executor(None, func)
    )
    registry.register("switch", "turn_on", callback(lambda call: None))
    fired = bus.events_fired
    await registry.call("switch", "turn_on", {"level": 1}, target={"entity_id": "switch.a"})
    assert bus.events_fired == fired + 1
    seen: list[Event[Any]] = []
    bus.listen(EVENT_CALL_SERVICE, callback(seen.append))
    await registry.call("switch", "turn_on", {"level": 1}, target={"entity_id": "switch.a"})
    await asyncio.sleep(0)
    assert seen[0].data == {
        "domain": "switch",
        "service": "turn_on",
        "service_data": {"level": 1, "entity_id": "switch.a"},
    }


async def test_call_service_event_carries_the_data_as_called_not_as_validated() -> None:
    bus = EventBus(asyncio.get_running_loop())
    registry = ServiceRegistry(
        bus, lambda func: asyncio.get_running_loop().run_in_executor(None, func)
    )
    schema = vol.Schema({vol.Optional("level", default=5): vol.Coerce(int)})
    registry.register("switch", "turn_on", callback(lambda call: None), schema)
    seen: list[Event[Any]] = []
    bus.listen(EVENT_CALL_SERVICE, callback(seen.append))
    await registry.call("switch", "turn_on", {"entity_id": "Switch.A, switch.b"})
    await registry.call("switch", "turn_on", {"level": "3"}, target={"area_id": ["hall"]})
    await asyncio.sleep(0)
    assert [e.data["service_data"] for e in seen] == [
        {"entity_id": "Switch.A, switch.b"},
        {"level": "3", "area_id": ["hall"]},
    ]


async def test_entity_id_all_sets_match_all(registry: ServiceRegistry) -> None:
    calls: list[ServiceCall] = []
    registry.register("switch", "turn_off", callback(calls.append))
    await registry.call("switch", "turn_off", target={"entity_id": "all"})
    assert calls[0].target == ServiceTarget(match_all=True)


async def test_malformed_target_is_refused(registry: ServiceRegistry) -> None:
    registry.register("switch", "turn_off", callback(lambda call: None))
    with pytest.raises(ServiceValidationError, match="entity_id must be"):
        await registry.call("switch", "turn_off", {"entity_id": 5})
    with pytest.raises(ServiceValidationError, match="Unknown target key"):
        await registry.call("switch", "turn_off", target={"floor": "1"})


async def test_response_data_is_returned_when_asked(registry: ServiceRegistry) -> None:
    async def optimise(call: ServiceCall) -> dict[str, Any]:
        return {"plan": [1, 2, 3]}

    registry.register("optimizer", "plan", optimise, supports_response=SupportsResponse.ONLY)
    assert await registry.call("optimizer", "plan", return_response=True) == {"plan": [1, 2, 3]}
    with pytest.raises(ServiceValidationError, match="only returns a response"):
        await registry.call("optimizer", "plan")


async def test_response_asked_of_a_service_without_one_is_an_error(
    registry: ServiceRegistry,
) -> None:
    registry.register("switch", "turn_on", callback(lambda call: None))
    with pytest.raises(ServiceValidationError, match="does not return a response"):
        await registry.call("switch", "turn_on", return_response=True)
    with pytest.raises(ServiceValidationError, match="non-blocking"):
        await registry.call("switch", "turn_on", blocking=False, return_response=True)


async def test_non_blocking_call_returns_before_handler_finishes(
    registry: ServiceRegistry,
) -> None:
    release = asyncio.Event()
    finished = asyncio.Event()

    async def slow(call: ServiceCall) -> None:
        await release.wait()
        finished.set()

    registry.register("script", "run", slow)
    assert await registry.call("script", "run", blocking=False) is None
    assert not finished.is_set()
    release.set()
    await asyncio.wait_for(finished.wait(), 1)


async def test_plain_function_handler_runs_in_executor(registry: ServiceRegistry) -> None:
    threads: list[str] = []

    def blocking(call: ServiceCall) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return {"ok": True}

    registry.register("legacy", "do", blocking, supports_response=SupportsResponse.OPTIONAL)
    assert await registry.call("legacy", "do", return_response=True) == {"ok": True}
    assert threads[0] != threading.current_thread().name


async def test_handler_errors_reach_the_caller(registry: ServiceRegistry) -> None:
    async def broken(call: ServiceCall) -> None:
        raise RuntimeError("device on fire")

    registry.register("switch", "turn_on", broken)
    with pytest.raises(RuntimeError, match="device on fire"):
        await registry.call("switch", "turn_on")


async def test_register_and_call_fire_events(registry: ServiceRegistry) -> None:
    events: list[Event[Any]] = []
    registry._bus.listen(EVENT_SERVICE_REGISTERED, callback(events.append))
    registry._bus.listen(EVENT_CALL_SERVICE, callback(events.append))
    registry.register("switch", "turn_on", callback(lambda call: None))
    await registry.call("switch", "turn_on", {"entity_id": "switch.a"})
    await asyncio.sleep(0)
    assert [e.event_type for e in events] == [EVENT_SERVICE_REGISTERED, EVENT_CALL_SERVICE]
    assert events[1].data["service_data"] == {"entity_id": "switch.a"}


async def test_remove_unregisters_and_unknown_remove_raises(registry: ServiceRegistry) -> None:
    registry.register("switch", "turn_on", callback(lambda call: None))
    assert registry.has("SWITCH", "turn_on")
    registry.remove("switch", "turn_on")
    assert not registry.has("switch", "turn_on")
    assert "switch" not in registry.services()
    with pytest.raises(ServiceNotFoundError):
        registry.remove("switch", "turn_on")
