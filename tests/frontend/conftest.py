"""A real Edgewise runtime serving the panel, and Debian's chromium driven by Playwright.

Chromium comes from Debian (``apt-get install chromium``; never ``playwright install``): when it
is missing the session installs it, and fails loudly under ``CI=true`` when it cannot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import voluptuous as vol
from playwright.async_api import Browser, Page, async_playwright

import automations.integration
import integrations.persistent_notification
import integrations.recorder
from core.const import CoreState
from core.hookspecs import hookimpl
from core.http.panels import Panel
from core.integration import Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from core.services import ServiceCall
from tests._tools import require_tool
from tests.conftest import ConfigDirFactory

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SITE_CONFIG = """\
http:
  server_host: 127.0.0.1
  server_port: 0
recorder:
  commit_interval: 0
automation: !include automations.yaml
"""
PANEL_DIR = Path(__file__).parent / "fixtures" / "panel"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's chromium, installed with apt-get when missing."""
    return require_tool("chromium", "chromium")


class PanelTestIntegration:
    """Entities of each kind of control, with services that really change their states."""

    def __init__(self) -> None:
        self.calls: list[ServiceCall] = []

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="paneltest", name="Panel test", config_schema=None, default=True)

    @hookimpl
    def edgewise_setup(self, runtime: Runtime, config: object) -> None:
        def setter(state_of: Callable[[ServiceCall], str]) -> Callable[[ServiceCall], Any]:
            async def handle(call: ServiceCall) -> None:
                self.calls.append(call)
                for entity_id in call.target.entity_ids:
                    old = runtime.states.get(entity_id)
                    attributes = dict(old.attributes) if old is not None else {}
                    runtime.states.set(entity_id, state_of(call), attributes, context=call.context)

            return handle

        runtime.services.register("switch", "turn_on", setter(lambda c: "on"))
        runtime.services.register("switch", "turn_off", setter(lambda c: "off"))
        runtime.services.register(
            "number",
            "set_value",
            setter(lambda c: str(c.data["value"])),
            vol.Schema({vol.Required("value"): vol.Coerce(float)}),
        )
        runtime.services.register(
            "select", "select_option", setter(lambda c: str(c.data["option"]))
        )
        runtime.services.register("button", "press", setter(lambda c: "pressed"))
        kitchen = runtime.area_registry.create("Kitchen")
        plant = runtime.area_registry.create("Plant room")
        entries = {
            "switch.pump": (plant.id, "off", {"friendly_name": "Pump"}),
            "number.setpoint": (
                plant.id,
                "21",
                {"friendly_name": "Setpoint", "min": 15, "max": 28, "step": 0.5},
            ),
            "select.mode": (
                kitchen.id,
                "eco",
                {"friendly_name": "Mode", "options": ["eco", "comfort", "off"]},
            ),
            "button.reset": (kitchen.id, "unknown", {"friendly_name": "Reset"}),
            "sensor.boiler": (
                plant.id,
                "unavailable",
                {"friendly_name": "Boiler temperature", "unit_of_measurement": "°C"},
            ),
            "sensor.outside": (
                None,
                "12.5",
                {
                    "friendly_name": "Outside temperature",
                    "unit_of_measurement": "°C",
                    "state_class": "measurement",
                },
            ),
        }
        hub = runtime.device_registry.get_or_create(
            "paneltest", identifiers={("paneltest", "hub")}, name="Plant hub", model="PT-1"
        )
        entries["binary_sensor.hub_connected"] = (
            None,
            "on",
            {"friendly_name": "Hub connection", "device_class": "connectivity"},
        )
        for entity_id, (area_id, state, attributes) in entries.items():
            domain, object_id = entity_id.split(".")
            entry = runtime.entity_registry.get_or_create(
                domain,
                "paneltest",
                object_id,
                suggested_object_id=object_id,
                device_id=hub.id if domain != "select" else None,
            )
            assert entry.entity_id == entity_id
            if area_id is not None:
                runtime.entity_registry.update(entity_id, area_id=area_id)
            runtime.states.set(entity_id, state, attributes)

    @hookimpl
    def edgewise_panels(self, runtime: Runtime) -> list[Panel]:
        return [
            Panel(
                url_path="plant",
                title="Plant",
                icon="mdi:factory",
                module="plant.js",
                static_dir=PANEL_DIR,
                config={"greeting": "Hello from the plant panel"},
            )
        ]


@dataclass
class Site:
    """A running runtime with the panel, and what the test integration saw."""

    runtime: Runtime
    url: str
    integration: PanelTestIntegration
    pages: list[Page] = field(default_factory=list)


@pytest_asyncio.fixture
async def site(config_dir: ConfigDirFactory) -> AsyncIterator[Site]:
    """Edgewise with the recorder and the test entities, no user yet (onboarding pending)."""
    loader = IntegrationLoader()
    integration = PanelTestIntegration()
    loader.register(integration, source="test paneltest")
    loader.register(integrations.recorder, source="test recorder")
    loader.register(automations.integration, source="test automation")
    loader.register(integrations.persistent_notification, source="test notifications")
    runtime = Runtime(config_dir(SITE_CONFIG, **{"automations.yaml": "[]\n"}), loader=loader)
    await runtime.start()
    assert runtime.http is not None
    yield Site(runtime, f"http://127.0.0.1:{runtime.http.port}", integration)
    if runtime.state is not CoreState.NOT_RUNNING:
        await runtime.stop()


@pytest_asyncio.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """Headless chromium."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Callable[[Page, str], Any]:
    """Save a full-page screenshot under the test's tmp folder (``screenshots/<name>.png``)."""
    folder = tmp_path / "screenshots"
    folder.mkdir()

    async def shoot(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    return shoot
