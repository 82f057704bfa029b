"""The event bus: delivery, ordering, isolation of failing listeners, unsubscribe, once."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from core.bus import Event, EventBus, callback
from core.const import MATCH_ALL
from core.context import Context
from tests._helpers import settle


@pytest.fixture
async def bus() -> EventBus:
    loop = asyncio.get_running_loop()

    def executor_job(func):  # type: ignore[no-untyped-def]
        return loop.run_in_executor(None, func)

    return EventBus(loop, executor_job)


async def test_listener_receives_event_after_fire_returns(bus: EventBus) -> None:
    received: list[Event[object]] = []
    bus.listen("ping", callback(received.append))
    bus.fire("ping", {"n": 1})
    assert received == []  # never inside fire()
    await settle(bus)
    assert [e.data for e in received] == [{"n": 1}]
    assert received[0].event_type == "ping"


async def test_match_all_listener_sees_every_type(bus: EventBus) -> None:
    seen: list[str] = []
    bus.listen(MATCH_ALL, callback(lambda e: seen.append(e.event_type)))
    bus.fire("a")
    bus.fire("b")
    await settle(bus)
    assert seen == ["a", "b"]


async def test_listeners_run_in_subscription_order(bus: EventBus) -> None:
    order: list[int] = []
    for i in range(3):
        bus.listen("x", callback(lambda e, i=i: order.append(i)))
    bus.fire("x")
    await settle(bus)
    assert order == [0, 1, 2]


async def test_failing_listener_is_logged_and_others_still_run(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[Event[object]] = []

    @callback
    def broken(event: Event[object]) -> None:
        raise RuntimeError("boom")

    bus.listen("x", broken)
    bus.listen("x", callback(received.append))
    with caplog.at_level(logging.ERROR):
        bus.fire("x")
        await settle(bus)
    assert len(received) == 1
    assert "Error in listener for x" in caplog.text
    assert "boom" in caplog.text


async def test_failing_coroutine_listener_is_logged(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(event: Event[object]) -> None:
        raise ValueError("async boom")

    bus.listen("x", broken)
    with caplog.at_level(logging.ERROR):
        bus.fire("x")
        await settle(bus)
        await bus.drain()
    assert "async boom" in caplog.text


async def test_unsubscribe_stops_delivery_and_is_idempotent(bus: EventBus) -> None:
    received: list[Event[object]] = []
    unsub = bus.listen("x", callback(received.append))
    unsub()
    unsub()
    bus.fire("x")
    await settle(bus)
    assert received == []
    assert "x" not in bus.listener_counts()


async def test_listen_once_fires_only_for_the_first_event(bus: EventBus) -> None:
    received: list[Event[object]] = []
    bus.listen_once("x", callback(received.append))
    bus.fire("x", {"n": 1})
    bus.fire("x", {"n": 2})
    await settle(bus)
    assert [e.data["n"] for e in received] == [1]
    assert bus.listener_counts() == {}


async def test_event_filter_runs_inside_fire_and_gates_the_listener(bus: EventBus) -> None:
    received: list[Event[object]] = []
    bus.listen("x", callback(received.append), event_filter=lambda e: e.data.get("keep") is True)
    bus.fire("x", {"keep": False})
    bus.fire("x", {"keep": True})
    await settle(bus)
    assert [e.data for e in received] == [{"keep": True}]


async def test_coroutine_listener_runs_as_task(bus: EventBus) -> None:
    done = asyncio.Event()

    async def listener(event: Event[object]) -> None:
        await asyncio.sleep(0)
        done.set()

    bus.listen("x", listener)
    bus.fire("x")
    await asyncio.wait_for(done.wait(), 1)


async def test_plain_function_listener_runs_in_executor(bus: EventBus) -> None:
    threads: list[str] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def blocking(event: Event[object]) -> None:
        threads.append(threading.current_thread().name)
        loop.call_soon_threadsafe(done.set)

    bus.listen("x", blocking)
    bus.fire("x")
    await asyncio.wait_for(done.wait(), 2)
    assert threads
    assert threads[0] != threading.current_thread().name


async def test_context_travels_with_event_and_ids_are_lazy_ulids(bus: EventBus) -> None:
    received: list[Event[object]] = []
    bus.listen("x", callback(received.append))
    parent = Context(user_id="u1")
    child = parent.child()
    bus.fire("x", context=child)
    await settle(bus)
    assert received[0].context is child
    assert child.parent_id == parent.id
    assert child.user_id == "u1"
    assert len(child.id) == 26
    assert child.as_dict() == {"id": child.id, "parent_id": parent.id, "user_id": "u1"}


async def test_listener_firing_an_event_does_not_recurse(bus: EventBus) -> None:
    depth = 0
    seen: list[int] = []

    @callback
    def chain(event: Event[object]) -> None:
        nonlocal depth
        depth += 1
        seen.append(depth)
        if event.data["n"] < 3:
            bus.fire("x", {"n": event.data["n"] + 1})
        depth -= 1

    bus.listen("x", chain)
    bus.fire("x", {"n": 1})
    await settle(bus)
    assert seen == [1, 1, 1]


async def test_event_as_dict_has_home_assistant_shape(bus: EventBus) -> None:
    event = Event("x", {"a": 1}, context=Context(id="01HX"))
    as_dict = event.as_dict()
    assert as_dict["event_type"] == "x"
    assert as_dict["data"] == {"a": 1}
    assert as_dict["origin"] == "LOCAL"
    assert as_dict["context"]["id"] == "01HX"
    assert as_dict["time_fired"].endswith("+00:00")
