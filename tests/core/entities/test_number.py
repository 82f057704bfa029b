"""Tests of numbers: set_value within bounds, refused outside them, attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.audit import audit_log
from core.entity_platform import add_entities
from core.errors import ServiceValidationError
from core.runtime import Runtime
from tests.core._entity_helpers import VirtualSetpoint, make_runtime


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path) as rt:
        yield rt


async def test_number_set_value_writes_and_reports_bounds(runtime: Runtime) -> None:
    setpoint = VirtualSetpoint()
    await add_entities(runtime, "virtual", [setpoint])

    await runtime.services.call(
        "number", "set_value", {"entity_id": "number.setpoint", "value": "21.5"}
    )

    assert setpoint.writes == [21.5]
    state = runtime.states.get("number.setpoint")
    assert state is not None
    assert state.state == "21.5"
    assert dict(state.attributes) | {"friendly_name": None} == {
        "min": 5.0,
        "max": 30.0,
        "step": 0.5,
        "mode": "auto",
        "friendly_name": None,
    }


async def test_number_set_value_out_of_bounds_is_refused_and_device_untouched(
    runtime: Runtime,
) -> None:
    setpoint = VirtualSetpoint()
    await add_entities(runtime, "virtual", [setpoint])

    with pytest.raises(ServiceValidationError) as err:
        await runtime.services.call(
            "number", "set_value", {"entity_id": "number.setpoint", "value": 95}
        )

    assert "number.setpoint" in str(err.value)
    assert "95" in str(err.value)
    assert "5 to 30" in str(err.value)
    assert err.value.key == "value"
    assert setpoint.writes == []
    assert runtime.states.is_state("number.setpoint", "20.0")
    assert audit_log(runtime).query() == []


async def test_number_set_value_rejects_non_numbers(runtime: Runtime) -> None:
    await add_entities(runtime, "virtual", [VirtualSetpoint()])

    with pytest.raises(ServiceValidationError, match="value"):
        await runtime.services.call(
            "number", "set_value", {"entity_id": "number.setpoint", "value": "warm"}
        )
