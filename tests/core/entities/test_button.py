"""Tests of buttons: a press is audited and its time becomes the state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.audit import audit_log
from core.clock import FakeClock
from core.entities.button import ButtonDeviceClass, ButtonEntity
from core.entity_platform import add_entities
from core.errors import DeviceProtocolError
from core.runtime import Runtime
from tests.core._entity_helpers import START, make_runtime


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path) as rt:
        yield rt


class Identify(ButtonEntity):
    _attr_unique_id = "ahu-1-identify"
    _attr_name = "Identify"
    _attr_device_class = ButtonDeviceClass.IDENTIFY

    def __init__(self) -> None:
        super().__init__()
        self.presses = 0
        self.fail = False

    async def async_press(self) -> None:
        if self.fail:
            raise DeviceProtocolError("rejected", device="ahu-1", code=2)
        self.presses += 1


async def test_button_press_state_is_timestamp_of_last_press(runtime: Runtime) -> None:
    button = Identify()
    await add_entities(runtime, "bacnet", [button])
    assert runtime.states.is_state("button.identify", "unknown")
    assert isinstance(runtime.clock, FakeClock)
    runtime.clock.advance(timedelta(minutes=5))

    await runtime.services.call("button", "press", {"entity_id": "button.identify"})

    pressed = (START + timedelta(minutes=5)).isoformat()
    assert runtime.states.is_state("button.identify", pressed)
    assert button.presses == 1
    assert audit_log(runtime).query()[0].action == "button.press"

    button.fail = True
    runtime.clock.advance(timedelta(minutes=5))
    with pytest.raises(DeviceProtocolError):
        await runtime.services.call("button", "press", {"entity_id": "button.identify"})
    assert runtime.states.is_state("button.identify", pressed)
