"""Tests of selects: option validation, next/previous with and without cycling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.entities.select import SelectEntity
from core.entity_platform import add_entities
from core.errors import ServiceValidationError
from core.runtime import Runtime
from tests.core._entity_helpers import make_runtime


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path) as rt:
        yield rt


class FanPreset(SelectEntity):
    _attr_unique_id = "fan-preset"
    _attr_name = "Fan preset"
    _attr_options = ("low", "medium", "high")
    _attr_current_option = "low"

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    async def async_select_option(self, option: str) -> None:
        self.writes.append(option)
        self._attr_current_option = option
        self.write_state()


async def test_select_option_must_be_one_of_the_options(runtime: Runtime) -> None:
    fan = FanPreset()
    await add_entities(runtime, "virtual", [fan])

    with pytest.raises(
        ServiceValidationError, match=r"'turbo' is not an option of select\.fan_preset"
    ):
        await runtime.services.call(
            "select", "select_option", {"entity_id": "select.fan_preset", "option": "turbo"}
        )
    assert fan.writes == []

    await runtime.services.call(
        "select", "select_option", {"entity_id": "select.fan_preset", "option": "high"}
    )
    state = runtime.states.get("select.fan_preset")
    assert state is not None
    assert state.state == "high"
    assert state.attributes["options"] == ["low", "medium", "high"]


async def test_select_next_and_previous_cycle_unless_told_not_to(runtime: Runtime) -> None:
    fan = FanPreset()
    await add_entities(runtime, "virtual", [fan])
    target = {"entity_id": "select.fan_preset"}

    await runtime.services.call("select", "select_previous", target)
    assert fan.current_option == "high"
    await runtime.services.call("select", "select_next", target)
    assert fan.current_option == "low"
    await runtime.services.call("select", "select_previous", {**target, "cycle": False})
    assert fan.current_option == "low"
    await runtime.services.call("select", "select_last", target)
    assert fan.writes == ["high", "low", "low", "high"]
