"""A real Runtime on a FakeClock with the automation and script integrations, for the conformance
suite. A small test integration records service calls (``test.record``) and contributes a plugin
trigger and condition, registered the way any plugin is."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from automations import integration as automation_integration
from automations import script_integration
from automations.manager import AutomationManager
from core.bus import Event, callback
from core.clock import FakeClock
from core.condition import Checker, ConditionInfo
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from core.services import ServiceCall, SupportsResponse
from core.trigger import TriggerFire, TriggerInfo
from tests._helpers import settle, wait_for

#: A summer Saturday noon in Amsterdam.
START = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)

HEADER = """\
edgewise:
  latitude: 52.3731
  longitude: 4.8922
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
test_plugin:
"""


class PulseTrigger:
    """A plugin trigger (``trigger: pulse``): fires on the ``pulse`` event with its ``name``."""

    schema = vol.Schema({vol.Required("name"): str}, extra=vol.ALLOW_EXTRA)

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Any:
        @callback
        def on_pulse(event: Event[Any]) -> None:
            if event.data.get("name") == config["name"]:
                fire(
                    {"name": config["name"], "description": "pulse", "attached_by": info.name},
                    event.context,
                )

        return runtime.bus.listen("pulse", on_pulse)


class EvenCondition:
    """A plugin condition (``condition: even``): true when an entity's state is an even number."""

    schema = vol.Schema({vol.Required("entity_id"): str}, extra=vol.ALLOW_EXTRA)

    def checker(self, runtime: Runtime, config: dict[str, Any], info: ConditionInfo) -> Checker:
        entity_id = config["entity_id"]

        def check(variables: Any) -> bool:
            state = runtime.states.get(entity_id)
            return state is not None and int(state.state) % 2 == 0

        return check


class TestPlugin:
    """The test integration: records calls, and contributes a trigger and a condition."""

    def __init__(self) -> None:
        self.calls: list[ServiceCall] = []

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="test_plugin", name="Test plugin")

    @hookimpl
    def edgewise_setup(self, runtime: Runtime, config: object) -> None:
        @callback
        def record(call: ServiceCall) -> dict[str, Any]:
            self.calls.append(call)
            return {"echo": dict(call.data)}

        async def slow(call: ServiceCall) -> None:
            self.calls.append(call)
            await asyncio.sleep(0)

        async def fail(call: ServiceCall) -> None:
            raise RuntimeError("the device said no")

        runtime.services.register(
            "test", "record", record, supports_response=SupportsResponse.OPTIONAL
        )
        runtime.services.register("test", "slow", slow)
        runtime.services.register("test", "fail", fail)
        # Stand-ins for common HA services, so pasted automations validate.
        for domain, service in (
            ("light", "turn_on"),
            ("light", "turn_off"),
            ("switch", "turn_on"),
            ("switch", "turn_off"),
            ("notify", "notify"),
            ("scene", "turn_on"),
        ):
            runtime.services.register(domain, service, record)

    @hookimpl
    def edgewise_trigger_platforms(self, runtime: Runtime) -> dict[str, Any]:
        return {"pulse": PulseTrigger()}

    @hookimpl
    def edgewise_condition_platforms(self, runtime: Runtime) -> dict[str, Any]:
        return {"even": EvenCondition()}


class Site:
    """A running site under test."""

    def __init__(self, runtime: Runtime, plugin: TestPlugin) -> None:
        self.runtime = runtime
        self.plugin = plugin

    @property
    def clock(self) -> FakeClock:
        assert isinstance(self.runtime.clock, FakeClock)
        return self.runtime.clock

    @property
    def calls(self) -> list[ServiceCall]:
        return self.plugin.calls

    @property
    def manager(self) -> AutomationManager:
        return self.runtime.data[AutomationManager.KEY]

    def set(self, entity_id: str, state: str, attributes: dict[str, Any] | None = None) -> None:
        # The state machine stamps with the wall clock; the site's clock is fake, so pass it.
        self.runtime.states.set(
            entity_id, state, attributes, timestamp=self.clock.now().timestamp()
        )

    async def settle(self, ticks: int = 20) -> None:
        """Let queued bus deliveries, callbacks and started runs proceed."""
        await settle(self.runtime, ticks=ticks)

    async def wait_for(self, predicate: Callable[[], bool], limit: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (a generous limit, for loaded machines)."""
        await wait_for(predicate, "the site's condition", within=limit)

    async def advance(self, **delta: float) -> None:
        """Let pending callbacks run, move the fake clock, and let what became due run."""
        await self.settle()
        await self.clock.advance_and_settle(timedelta(**delta), ticks=20)

    def events(self, event_type: str) -> list[Event[Any]]:
        """Collect the events of one type fired from now on."""
        seen: list[Event[Any]] = []
        self.runtime.bus.listen(event_type, callback(seen.append))
        return seen

    def traces(self, item_id: str) -> list[dict[str, Any]]:
        store = self.manager.traces.store
        return [
            store.get("automation", item_id, t["run_id"]) or {}
            for t in store.list("automation", item_id)
        ]


def make_loader(plugin: TestPlugin) -> IntegrationLoader:
    loader = IntegrationLoader()
    loader.register(automation_integration, source="automations.integration")
    loader.register(script_integration, source="automations.script_integration")
    loader.register(plugin, source="tests.automations.conftest")
    return loader


def write_files(config_dir: Path, configuration: str, files: dict[str, str]) -> None:
    """Write ``configuration.yaml`` and other files into the configuration directory."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(configuration)
    for name, text in files.items():
        path = config_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@asynccontextmanager
async def site(
    config_dir: Path,
    yaml: str,
    *,
    start: datetime = START,
    files: dict[str, str] | None = None,
    core_extra: str = "",
) -> AsyncIterator[Site]:
    """Start a site with ``yaml`` after the common header; stop it at the end.

    ``core_extra`` is added to the ``edgewise:`` section (packages, say).
    """
    header = HEADER.replace(
        "  time_zone: Europe/Amsterdam\n", "  time_zone: Europe/Amsterdam\n" + core_extra
    )
    write_files(config_dir, header + textwrap.dedent(yaml), files or {})
    plugin = TestPlugin()
    runtime = Runtime(config_dir, loader=make_loader(plugin), clock=FakeClock(start))
    try:
        await runtime.start()
        if AutomationManager.KEY in runtime.data:
            async with asyncio.timeout(10):
                await runtime.data[AutomationManager.KEY].loaded.wait()
        yield Site(runtime, plugin)
    finally:
        await runtime.stop()


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """The configuration directory of the test (kept across a restart within the test)."""
    return tmp_path / "config"
