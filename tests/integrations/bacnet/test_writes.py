"""Writing real devices: priority, relinquish, the priority array, the write-command queue, the
audit trail, refused writes and the per-point rate limit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core import Context, DeviceProtocolError, WriteOutOfBounds
from core.audit import WriteOutcome, audit_log
from core.errors import ServiceValidationError
from tests._helpers import wait_for

from .conftest import call, running, site_yaml, state_of, wait_state
from .device import TestDevice


async def test_number_set_value_writes_at_priority_8_and_relinquish_frees_the_slot(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    async with running(tmp_path, site_yaml(device, client_port)) as runtime:
        await wait_state(runtime, "number.ahu_supply_setpoint", "21.0")
        user = Context(user_id="facility-manager")
        await runtime.services.call(
            "number",
            "set_value",
            {"entity_id": "number.ahu_supply_setpoint", "value": 19.5},
            context=user,
        )
        assert device.value("analog-value,1") == 19.5
        assert device.slots("analog-value,1") == {8: 19.5}
        await wait_state(runtime, "number.ahu_supply_setpoint", "19.5")
        state = runtime.states.get("number.ahu_supply_setpoint")
        assert state is not None
        assert state.attributes["priority_array"] == {"8": 19.5}
        assert state.attributes["active_priority"] == 8

        # Someone else holds priority 5 on the controller: the array shows who wins.
        assert device.app is not None
        device.obj("analog-value,1").priorityArray[4] = (
            device.obj("analog-value,1").priorityArray[7].__class__(real=23.0)
        )
        held = await call(
            runtime,
            "read_priority_array",
            {"entity_id": "number.ahu_supply_setpoint"},
            return_response=True,
        )
        entry = held["number.ahu_supply_setpoint"]
        assert entry["priority_array"] == {"5": 23.0, "8": 19.5}
        assert entry["active_priority"] == 5
        assert entry["relinquish_default"] == 20.0
        device.obj("analog-value,1").priorityArray[4] = (
            device.obj("analog-value,1").priorityArray[0].__class__(null=())
        )

        response = await call(
            runtime,
            "relinquish",
            {"entity_id": "number.ahu_supply_setpoint"},
            context=user,
            return_response=True,
        )
        assert response["commands"][0]["status"] == "completed"
        assert device.slots("analog-value,1") == {}
        assert device.value("analog-value,1") == 20.0
        await wait_state(runtime, "number.ahu_supply_setpoint", "20.0")

        commands = await call(runtime, "write_commands", {}, return_response=True)
        assert [
            (c["action"], c["value"], c["priority"], c["status"], c["requested_by"], c["user_id"])
            for c in commands["commands"]
        ] == [
            ("bacnet.relinquish", None, 8, "completed", "user", "facility-manager"),
            ("number.set_value", 19.5, 8, "completed", "user", "facility-manager"),
        ]
        assert all(c["started"] and c["finished"] for c in commands["commands"])
        records = audit_log(runtime).query("number.ahu_supply_setpoint")
        assert [(r.action, r.outcome, r.user_id) for r in records] == [
            ("bacnet.relinquish", WriteOutcome.OK, "facility-manager"),
            ("number.set_value", WriteOutcome.OK, "facility-manager"),
        ]


async def test_switch_select_and_bacnet_write_at_a_chosen_priority(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    extra = "min_priority: 6\n"
    async with running(tmp_path, site_yaml(device, client_port, extra=extra)) as runtime:
        await wait_state(runtime, "switch.ahu_fan_enable", "off")
        await wait_state(runtime, "select.ahu_mode", "Off")
        await runtime.services.call("switch", "turn_on", {"entity_id": "switch.ahu_fan_enable"})
        assert str(device.value("binary-value,1")) == "active"
        await wait_state(runtime, "switch.ahu_fan_enable", "on")
        await runtime.services.call(
            "select", "select_option", {"entity_id": "select.ahu_mode", "option": "Manual"}
        )
        assert device.value("multi-state-output,1") == 3
        await wait_state(runtime, "select.ahu_mode", "Manual")

        automation = Context(parent_id="01AUTOMATIONCONTEXT")
        response = await call(
            runtime,
            "write",
            {"entity_id": "number.ahu_supply_setpoint", "value": 22, "priority": 6},
            context=automation,
            return_response=True,
        )
        command = response["commands"][0]
        assert (command["priority"], command["requested_by"], command["status"]) == (
            6,
            "automation",
            "completed",
        )
        assert device.slots("analog-value,1") == {6: 22.0}
        bridged = await call(
            runtime,
            "write",
            {"entity_id": "number.ahu_supply_setpoint", "value": 23, "requested_by": "mqtt"},
            return_response=True,
        )
        assert bridged["commands"][0]["requested_by"] == "mqtt"
        assert device.slots("analog-value,1") == {6: 22.0, 8: 23.0}


async def test_refused_writes_never_reach_the_wire_or_are_recorded_as_failed(
    tmp_path: Path, client_port: int
) -> None:
    device = TestDevice(1003, refuse_writes={"analog-value,3"})
    await device.start()
    try:
        async with running(tmp_path, site_yaml(device, client_port)) as runtime:
            await wait_state(runtime, "number.ahu_supply_setpoint", "21.0")
            await wait_state(runtime, "number.ahu_locked_setpoint", "5.0")

            # Out of bounds through the entity service: refused by the kernel's bounds check.
            with pytest.raises(ServiceValidationError, match="outside its range 12 to 28"):
                await runtime.services.call(
                    "number", "set_value", {"entity_id": "number.ahu_supply_setpoint", "value": 40}
                )
            # Out of bounds through bacnet.write: refused before the wire, audited, queued failed.
            with pytest.raises(WriteOutOfBounds, match="outside its bounds"):
                await call(
                    runtime, "write", {"entity_id": "number.ahu_supply_setpoint", "value": 3}
                )
            # More urgent than the device allows.
            with pytest.raises(WriteOutOfBounds, match="priority 2 is not allowed"):
                await call(
                    runtime,
                    "write",
                    {"entity_id": "number.ahu_supply_setpoint", "value": 20, "priority": 2},
                )
            assert device.slots("analog-value,1") == {}
            assert device.value("analog-value,1") == 21.0

            # The device itself refuses.
            with pytest.raises(DeviceProtocolError, match="write-access-denied"):
                await runtime.services.call(
                    "number", "set_value", {"entity_id": "number.ahu_locked_setpoint", "value": 50}
                )
            assert device.value("analog-value,3") == 5.0

            failed = await call(
                runtime, "write_commands", {"status": "failed"}, return_response=True
            )
            errors = [(c["entity_id"], c["error"]) for c in failed["commands"]]
            assert len(errors) == 3
            assert errors[0][0] == "number.ahu_locked_setpoint"
            assert "write-access-denied" in errors[0][1]
            assert "priority 2 is not allowed" in errors[1][1]
            assert "outside its bounds" in errors[2][1]
            records = audit_log(runtime).query()
            assert [(r.entity_id, r.outcome) for r in records] == [
                ("number.ahu_locked_setpoint", WriteOutcome.ERROR),
                ("number.ahu_supply_setpoint", WriteOutcome.ERROR),
                ("number.ahu_supply_setpoint", WriteOutcome.ERROR),
            ]
            assert "write-access-denied" in (records[0].error or "")

            # Reading-only points and unknown entities are clear errors.
            with pytest.raises(ServiceValidationError, match="is not a BACnet point"):
                await call(runtime, "write", {"entity_id": "sensor.nothing", "value": 1})
            with pytest.raises(WriteOutOfBounds, match="not writable"):
                await call(
                    runtime, "write", {"entity_id": "sensor.ahu_supply_temperature", "value": 1}
                )
    finally:
        device.stop()


async def test_writes_to_an_unknown_object_fail_clearly(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    points = "      - object: analog-value,77\n        name: Ghost\n        min_write_interval: 0\n"
    async with running(tmp_path, site_yaml(device, client_port, points)) as runtime:
        await wait_state(runtime, "binary_sensor.ahu_connectivity", "on")
        assert state_of(runtime, "number.ahu_ghost") == "unavailable"
        with pytest.raises(DeviceProtocolError, match="unknown-object"):
            await call(runtime, "write", {"entity_id": "number.ahu_ghost", "value": 1})
        with pytest.raises(ServiceValidationError, match="unknown-object"):
            await call(
                runtime,
                "read_priority_array",
                {"entity_id": "number.ahu_ghost"},
                return_response=True,
            )


async def test_writes_faster_than_the_point_allows_are_coalesced(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    points = (
        "      - object: analog-value,1\n        name: Paced\n        min_write_interval: 0.5\n"
    )
    async with running(tmp_path, site_yaml(device, client_port, points)) as runtime:
        await wait_state(runtime, "number.ahu_paced", "21.0")

        async def write(value: float) -> None:
            await runtime.services.call(
                "number", "set_value", {"entity_id": "number.ahu_paced", "value": value}
            )

        first = asyncio.create_task(write(30.0))
        await wait_for(lambda: device.slots("analog-value,1") == {8: 30.0}, what="first write")
        await asyncio.gather(write(31.0), write(32.0), first)
        assert device.slots("analog-value,1") == {8: 32.0}
        outcomes = [r.outcome for r in audit_log(runtime).query("number.ahu_paced")]
        assert sorted(outcomes) == sorted(
            [WriteOutcome.OK, WriteOutcome.COALESCED, WriteOutcome.OK]
        )
        commands = await call(runtime, "write_commands", {}, return_response=True)
        assert [c["value"] for c in commands["commands"]] == [32.0, 30.0]
