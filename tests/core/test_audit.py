"""Tests of the device-control pipeline: audit records, pacing and coalescing, errors, context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.audit import (
    EVENT_EQUIPMENT_WRITE,
    AuditLog,
    AuditRecord,
    WriteOutcome,
    audit_log,
    audited_write,
)
from core.context import Context
from core.entity_platform import add_entities
from core.errors import DeviceConnectError
from core.runtime import Runtime
from tests.core._entity_helpers import START, VirtualSetpoint, VirtualSwitch, make_runtime
from tests.core._registries_helpers import capture, delivered


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path) as rt:
        yield rt


async def test_switch_turn_on_writes_through_audit_log(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])
    events = capture(runtime, EVENT_EQUIPMENT_WRITE)
    context = Context(user_id="user-1", parent_id="automation-run-1")

    await runtime.services.call(
        "switch", "turn_on", target={"entity_id": "switch.plug"}, context=context
    )
    await delivered()

    assert plug.writes == [True]
    assert runtime.states.is_state("switch.plug", "on")
    [record] = audit_log(runtime).query()
    assert record.entity_id == "switch.plug"
    assert record.action == "switch.turn_on"
    assert record.outcome is WriteOutcome.OK
    assert record.user_id == "user-1"
    assert record.context_id == context.id
    assert record.parent_context_id == "automation-run-1"
    assert record.time == START
    assert record.error is None
    assert record.duration_ms >= 0
    assert events == [record.as_dict()]
    assert events[0]["outcome"] == "ok"


async def test_context_of_service_call_is_on_resulting_state(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])
    context = Context(user_id="user-1")

    await runtime.services.call(
        "switch", "turn_on", target={"entity_id": "switch.plug"}, context=context
    )

    state = runtime.states.get("switch.plug")
    assert state is not None
    assert state.context.id == context.id
    # The next write is the device's own doing, not the call's.
    plug._attr_is_on = False
    plug.write_state()
    state = runtime.states.get("switch.plug")
    assert state is not None
    assert state.context.id != context.id


async def test_writes_faster_than_min_interval_are_coalesced_last_value_wins(
    runtime: Runtime,
) -> None:
    interval = 0.05
    setpoint = VirtualSetpoint(interval=interval)
    await add_entities(runtime, "virtual", [setpoint])

    async def set_value(value: float) -> None:
        await runtime.services.call(
            "number", "set_value", {"entity_id": "number.setpoint", "value": value}
        )

    await set_value(10)
    # An automation looping faster than the device allows: three writes within the interval.
    await asyncio.gather(set_value(11), set_value(12), set_value(13))

    assert setpoint.writes == [10.0, 13.0]
    assert setpoint.write_times[1] - setpoint.write_times[0] >= interval * 0.99
    assert runtime.states.is_state("number.setpoint", "13.0")
    records = list(reversed(audit_log(runtime).query(entity_id="number.setpoint")))
    assert [(r.params["value"], r.outcome) for r in records] == [
        (10.0, WriteOutcome.OK),
        (11.0, WriteOutcome.COALESCED),
        (12.0, WriteOutcome.COALESCED),
        (13.0, WriteOutcome.OK),
    ]


async def test_device_error_is_audited_and_raised(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])
    plug.fail_with = DeviceConnectError("no route to host", device="plug-1")

    with pytest.raises(DeviceConnectError, match="no route to host"):
        await runtime.services.call("switch", "turn_on", {"entity_id": "switch.plug"})

    [record] = audit_log(runtime).query()
    assert record.outcome is WriteOutcome.ERROR
    assert record.error == "no route to host"
    assert runtime.states.is_state("switch.plug", "off")


async def test_paced_write_error_reaches_its_caller(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    plug.write_min_interval = 0.01
    await add_entities(runtime, "virtual", [plug])
    plug.fail_with = DeviceConnectError("timeout", device="plug-1")

    with pytest.raises(DeviceConnectError):
        await runtime.services.call("switch", "turn_on", {"entity_id": "switch.plug"})
    assert audit_log(runtime).query()[0].outcome is WriteOutcome.ERROR


async def test_audited_write_can_be_called_directly_by_an_integration(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])

    record = await audited_write(
        runtime, plug, "virtual.pulse", {"seconds": 2}, Context(), plug.async_turn_on
    )

    assert record.action == "virtual.pulse"
    assert dict(record.params) == {"seconds": 2}
    assert plug.writes == [True]


def _record(entity_id: str, n: int) -> AuditRecord:
    return AuditRecord(
        time=START,
        entity_id=entity_id,
        action="switch.turn_on",
        params={"n": n},
        user_id=None,
        context_id=f"ctx-{n}",
        parent_context_id=None,
        outcome=WriteOutcome.OK,
        error=None,
        duration_ms=1.0,
    )


def test_audit_log_is_bounded_and_queries_newest_first_by_entity() -> None:
    log = AuditLog(maxlen=3)
    for n in range(5):
        log.append(_record("switch.a" if n % 2 else "switch.b", n))

    assert len(log) == 3
    assert [r.params["n"] for r in log.query()] == [4, 3, 2]
    assert [r.params["n"] for r in log.query(entity_id="switch.a")] == [3]
    assert [r.params["n"] for r in log.query(limit=1)] == [4]
