"""A real Runtime (registries loaded, nothing started) and virtual appliances, for entity tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.clock import FakeClock
from core.entities.number import NumberEntity
from core.entities.switch import SwitchEntity
from core.errors import DeviceError
from core.runtime import Runtime
from core.state import State

START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@asynccontextmanager
async def make_runtime(config_dir: Path) -> AsyncIterator[Runtime]:
    """A Runtime with loaded registries and a fake clock; stopped on exit.

    Building the registries is all the entity layer needs; ``Runtime.start`` would also load a
    site configuration and start HTTP.
    """
    rt = Runtime(config_dir, clock=FakeClock(START))
    (config_dir / ".storage").mkdir()
    await rt.area_registry.load()
    await rt.device_registry.load()
    await rt.entity_registry.load()
    try:
        yield rt
    finally:
        await rt.stop()


class VirtualSwitch(SwitchEntity):
    """A switch with no hardware: it remembers what it was told, or fails as told."""

    def __init__(self, unique_id: str | None = "plug-1", name: str = "Plug") -> None:
        super().__init__()
        self._attr_unique_id = unique_id
        self._attr_name = name
        self._attr_is_on = False
        self.writes: list[bool] = []
        self.fail_with: DeviceError | None = None

    async def _write(self, on: bool) -> None:
        await asyncio.sleep(0)  # a real device answers later, never inside the call
        if self.fail_with is not None:
            raise self.fail_with
        self.writes.append(on)
        self._attr_is_on = on
        self.write_state()

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self._write(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._write(False)


class VirtualSetpoint(NumberEntity):
    """A number with no hardware, bounded 5..30, that records every value it is given."""

    _attr_native_min_value = 5.0
    _attr_native_max_value = 30.0
    _attr_native_step = 0.5

    def __init__(self, unique_id: str = "setpoint-1", interval: float | None = None) -> None:
        super().__init__()
        self._attr_unique_id = unique_id
        self._attr_name = "Setpoint"
        self._attr_native_value = 20.0
        self.write_min_interval = interval
        self.writes: list[float] = []
        self.write_times: list[float] = []

    async def async_set_native_value(self, value: float) -> None:
        self.write_times.append(asyncio.get_running_loop().time())
        self.writes.append(value)
        self._attr_native_value = value
        self.write_state()


async def wait_for_state(runtime: Runtime, entity_id: str, state: str) -> State:
    """Wait (at most 2 s) until ``entity_id`` is in ``state``; return that State."""
    async with asyncio.timeout(2.0):
        while True:
            current = runtime.states.get(entity_id)
            if current is not None and current.state == state:
                return current
            await asyncio.sleep(0.005)
