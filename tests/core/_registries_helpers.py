"""A stand-in runtime with real registries, bus and state machine, for the registry tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from core.bus import Event, EventBus, callback
from core.device_registry import AreaRegistry, DeviceRegistry
from core.entity_registry import EntityRegistry
from core.runtime import Runtime
from core.state import StateMachine

_T = TypeVar("_T")


class RegistryRuntime:
    """The part of ``Runtime`` the registries use; building a real Runtime needs a whole site."""

    def __init__(self, config_dir: Path) -> None:
        self.loop = asyncio.get_running_loop()
        self.config_dir = config_dir
        self.bus = EventBus(self.loop, None)
        self.states = StateMachine(self.bus)
        #: No scheduler: the registries' delayed saves wait on loop timers.
        self.scheduler = None
        self.has_scheduler = False
        self.area_registry = AreaRegistry(self)  # type: ignore[arg-type]  # a stand-in for Runtime
        self.device_registry = DeviceRegistry(self)  # type: ignore[arg-type]  # a stand-in for Runtime
        self.entity_registry = EntityRegistry(self)  # type: ignore[arg-type]  # a stand-in for Runtime

    async def run_in_executor(self, func: Callable[..., _T], *args: Any) -> _T:
        """Run ``func(*args)`` in the loop's default executor."""
        return await self.loop.run_in_executor(None, func, *args)

    async def load(self) -> None:
        """Load the registries in the runtime's order."""
        await self.area_registry.load()
        await self.device_registry.load()
        await self.entity_registry.load()

    async def flush(self) -> None:
        """The final write of the registries."""
        await self.entity_registry.flush()
        await self.device_registry.flush()
        await self.area_registry.flush()

    async def restart(self) -> RegistryRuntime:
        """Flush, then a fresh runtime loaded from the same configuration directory."""
        await self.flush()
        fresh = RegistryRuntime(self.config_dir)
        await fresh.load()
        return fresh


def capture(runtime: RegistryRuntime | Runtime, event_type: str) -> list[dict[str, Any]]:
    """Collect the data of every ``event_type`` event fired from now on."""
    seen: list[dict[str, Any]] = []

    @callback
    def listener(event: Event[Any]) -> None:
        seen.append(dict(event.data))

    runtime.bus.listen(event_type, listener)
    return seen


async def delivered() -> None:
    """Let the bus deliver the events fired so far (listeners run after ``fire`` returns)."""
    for _ in range(3):
        await asyncio.sleep(0)
