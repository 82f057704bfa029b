"""Timed overrides: written now, relinquished when they end, also across a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.runtime import Runtime
from tests._helpers import wait_for
from tests.integrations._runtime import clock_of

from .conftest import START, call, running, site_yaml, wait_state
from .device import TestDevice


async def _start_override(runtime: Runtime, minutes: int) -> dict[str, object]:
    response = await call(
        runtime,
        "override",
        {"entity_id": "number.ahu_supply_setpoint", "value": 25, "duration": {"minutes": minutes}},
        return_response=True,
    )
    result: dict[str, object] = response["overrides"]["number.ahu_supply_setpoint"]
    return result


async def _override_then_stop(tmp_path: Path, device: TestDevice, client_port: int) -> str:
    """Run the site, override the setpoint for ten minutes, stop; returns the site's YAML."""
    yaml = site_yaml(device, client_port)
    async with running(tmp_path, yaml) as runtime:
        await wait_state(runtime, "number.ahu_supply_setpoint", "21.0")
        await _start_override(runtime, 10)
    assert device.slots("analog-value,1") == {8: 25.0}
    return yaml


async def test_an_override_is_relinquished_when_it_ends(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    async with running(tmp_path, site_yaml(device, client_port)) as runtime:
        await wait_state(runtime, "number.ahu_supply_setpoint", "21.0")
        override = await _start_override(runtime, 10)
        assert override["until"] == (START + timedelta(minutes=10)).isoformat()
        assert device.slots("analog-value,1") == {8: 25.0}
        state = runtime.states.get("number.ahu_supply_setpoint")
        assert state is not None
        assert state.attributes["override_until"] == override["until"]

        await clock_of(runtime).advance_and_settle(timedelta(minutes=9))
        assert device.slots("analog-value,1") == {8: 25.0}
        await clock_of(runtime).advance_and_settle(timedelta(minutes=1))
        await wait_for(lambda: device.slots("analog-value,1") == {}, what="relinquish")
        assert device.value("analog-value,1") == 20.0
        await wait_state(runtime, "number.ahu_supply_setpoint", "20.0")
        commands = await call(runtime, "write_commands", {}, return_response=True)
        assert [(c["action"], c["requested_by"], c["status"]) for c in commands["commands"]] == [
            ("bacnet.override_end", "override", "completed"),
            ("bacnet.override", "system", "completed"),
        ]


async def test_an_override_survives_a_restart_and_ends_on_time(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    yaml = await _override_then_stop(tmp_path, device, client_port)

    # Back five minutes later: still held, and released when its time comes.
    async with running(tmp_path, yaml, START + timedelta(minutes=5)) as runtime:
        await wait_state(runtime, "number.ahu_supply_setpoint", "25.0")
        assert device.slots("analog-value,1") == {8: 25.0}
        await clock_of(runtime).advance_and_settle(timedelta(minutes=5))
        await wait_for(lambda: device.slots("analog-value,1") == {}, what="relinquish")


async def test_an_override_that_ended_while_stopped_is_relinquished_on_start(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    yaml = await _override_then_stop(tmp_path, device, client_port)

    async with running(tmp_path, yaml, START + timedelta(hours=3)) as runtime:
        await wait_for(lambda: device.slots("analog-value,1") == {}, what="relinquish on start")
        await wait_state(runtime, "number.ahu_supply_setpoint", "20.0")
        commands = await call(runtime, "write_commands", {}, return_response=True)
        assert commands["commands"][0]["action"] == "bacnet.override_end"
        assert commands["commands"][0]["status"] == "completed"
        # The trail of the first run survived the restart.
        assert commands["commands"][1]["action"] == "bacnet.override"


async def test_cancel_override_relinquishes_at_once(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    async with running(tmp_path, site_yaml(device, client_port)) as runtime:
        await wait_state(runtime, "number.ahu_supply_setpoint", "21.0")
        await _start_override(runtime, 60)
        await call(runtime, "cancel_override", {"entity_id": "number.ahu_supply_setpoint"})
        assert device.slots("analog-value,1") == {}
        state = runtime.states.get("number.ahu_supply_setpoint")
        assert state is not None
        assert "override_until" not in state.attributes
