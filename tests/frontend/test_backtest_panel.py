"""The automation editor's "Test against history": the sample night-setback automation, edited,
replayed over the recorded days in a real browser, with the report and its traces inline."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio
import yaml
from playwright.async_api import Browser, Page, expect

import automations.integration
import integrations.persistent_notification
import integrations.recorder
from core.const import CoreState
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from core.services import ServiceCall
from integrations.recorder.core import get_recorder
from tests.conftest import ConfigDirFactory
from tests.frontend.conftest import SITE_CONFIG, Site
from tests.frontend.test_panel_browser import owner_page

SAMPLE = Path(__file__).parents[2] / "config" / "automations.yaml"
ZONES = ["climate.zone_1", "climate.zone_2", "climate.zone_3"]


def night_setback() -> str:
    """The sample night-setback automation, as ``automations.yaml`` text."""
    items = yaml.safe_load(SAMPLE.read_text())
    (sample,) = [item for item in items if item["id"] == "night_setback"]
    return yaml.safe_dump([sample], sort_keys=False)


class Building:
    """The entities the sample automation reads, and a climate service that records calls."""

    def __init__(self) -> None:
        self.calls: list[ServiceCall] = []

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="building", name="Building", config_schema=None, default=True)

    @hookimpl
    def edgewise_setup(self, runtime: Runtime, config: object) -> None:
        async def set_temperature(call: ServiceCall) -> None:
            self.calls.append(call)

        runtime.services.register("climate", "set_temperature", set_temperature)


async def record_history(runtime: Runtime) -> None:
    """Three recorded days: office hours 08:00-18:00 (UTC), vacation mode on the last day."""
    now = time.time()
    day0 = now - now % 86400 - 3 * 86400
    states = runtime.states
    states.set("input_number.comfort_setpoint", "21", timestamp=day0)
    states.set("input_number.setback_setpoint", "16", timestamp=day0)
    states.set("input_boolean.vacation_mode", "off", timestamp=day0)
    states.set("schedule.office_hours", "off", timestamp=day0)
    for zone in ZONES:
        states.set(zone, "heat", {"temperature": 16}, timestamp=day0)
    for day in range(3):
        start = day0 + day * 86400
        if day == 2:
            states.set("input_boolean.vacation_mode", "on", timestamp=start + 3600)
        states.set("schedule.office_hours", "on", timestamp=start + 8 * 3600)
        states.set("schedule.office_hours", "off", timestamp=start + 18 * 3600)
    await get_recorder(runtime).flush()


@pytest_asyncio.fixture
async def building(config_dir: ConfigDirFactory) -> AsyncIterator[Site]:
    """Edgewise with the recorder, the sample night-setback automation and three days."""
    loader = IntegrationLoader()
    integration = Building()
    loader.register(integration, source="test building")
    loader.register(integrations.recorder, source="test recorder")
    loader.register(automations.integration, source="test automation")
    loader.register(integrations.persistent_notification, source="test notifications")
    runtime = Runtime(
        config_dir(SITE_CONFIG, **{"automations.yaml": night_setback()}), loader=loader
    )
    await runtime.start()
    assert runtime.http is not None
    await get_recorder(runtime).wait_started()
    await record_history(runtime)
    yield Site(runtime, f"http://127.0.0.1:{runtime.http.port}", integration)  # type: ignore[arg-type]
    if runtime.state is not CoreState.NOT_RUNNING:
        await runtime.stop()


async def test_editing_night_setback_and_testing_it_shows_what_it_would_have_done(
    building: Site, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    live_calls = len(building.integration.calls)
    page, errors = await owner_page(building, browser, "/#/automations/edit/night_setback")
    editor = page.get_by_label("Configuration (YAML)")
    await expect(editor).to_have_value(re.compile("setback_setpoint"))
    # The edit: the condition reads another (unrecorded) switch, so a vacation no longer counts.
    text = await editor.input_value()
    assert "is_state('input_boolean.vacation_mode'," in text
    await editor.fill(
        text.replace("is_state('input_boolean.vacation_mode',", "is_state('input_boolean.away',")
    )
    await page.get_by_label("Period").select_option("7")
    await page.get_by_role("button", name="Test against history").click()

    # Office hours began and ended on each of the three days (plus the vacation switch): each
    # change is a run that sets the three zones.
    await expect(page.locator("#backtest-status")).to_have_text("Done.")
    runs = int(await page.locator("#backtest-runs").inner_text())
    assert runs >= 7
    await expect(page.locator("#backtest-action-table tbody tr").first).to_contain_text(
        "climate.set_temperature"
    )
    await expect(page.locator("#backtest-action-table")).to_contain_text("climate.zone_1")
    # The edited version differs from the current one on the vacation day.
    await expect(page.locator("#backtest-difference")).to_contain_text("Only the edited version")
    # What could not be replayed is said: the start trigger.
    await expect(page.locator("#backtest-honesty")).to_contain_text("starts of the runtime")
    await expect(page.locator("#backtest-honesty")).to_contain_text("input_boolean.away")
    # The first run's trace is shown in the trace viewer; another can be picked.
    await expect(page.locator("#backtest-trace #trace-result")).to_have_text("finished")
    await expect(page.locator("#backtest-trace ol.steps li[data-path='action/1']")).to_be_visible()
    await page.locator("#backtest-run-list li button").nth(1).click()
    await expect(page.locator("#backtest-trace #trace-trigger")).to_contain_text("state of")
    await shots(page, "automation-backtest")
    # Nothing was switched for real: the live climate service saw no new call.
    assert len(building.integration.calls) == live_calls
    assert not errors, errors


# --- the tariff's estimate of the energy and cost moved -------------------------------------

SHEDDING = """\
- id: shed_heater
  alias: Shed the heater when the grid is busy
  triggers:
    - trigger: state
      entity_id: binary_sensor.grid_busy
      to: "on"
  actions:
    - action: switch.turn_off
      target:
        entity_id: switch.heater
"""
ENERGY_CONFIG = """\
appliance:
  appliances:
    - name: Heater
      tier: shiftable
      power: 2000
      switch: switch.heater
tariff:
  currency: EUR
  plan:
    name: Flat
    day_sets:
      all_days:
        days: [mon, tue, wed, thu, fri, sat, sun, holiday]
        slots:
          - {start: "00:00", end: "24:00", price: 0.30, type: standard}
"""


class Plugs:
    """A switch service that records calls (the live automation's, not the backtest's)."""

    def __init__(self) -> None:
        self.calls: list[ServiceCall] = []

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="plugs", name="Plugs", config_schema=None, default=True)

    @hookimpl
    def edgewise_setup(self, runtime: Runtime, config: object) -> None:
        async def turn_off(call: ServiceCall) -> None:
            self.calls.append(call)

        runtime.services.register("switch", "turn_off", turn_off)


@pytest_asyncio.fixture
async def home(config_dir: ConfigDirFactory) -> AsyncIterator[Site]:
    """Edgewise with the recorder, an appliance, a flat tariff and a load-shedding rule; the
    heater ran from 5 h ago until 1 h ago, and the grid was busy 3 h ago."""
    import integrations.appliance
    import integrations.tariff

    loader = IntegrationLoader()
    plugs = Plugs()
    loader.register(plugs, source="test plugs")
    loader.register(integrations.recorder, source="test recorder")
    loader.register(automations.integration, source="test automation")
    loader.register(integrations.persistent_notification, source="test notifications")
    loader.register(integrations.appliance, source="test appliance")
    loader.register(integrations.tariff, source="test tariff")
    runtime = Runtime(
        config_dir(SITE_CONFIG + ENERGY_CONFIG, **{"automations.yaml": SHEDDING}), loader=loader
    )
    await runtime.start()
    assert runtime.http is not None
    await get_recorder(runtime).wait_started()
    now = time.time()
    states = runtime.states
    states.set("binary_sensor.grid_busy", "off", timestamp=now - 6 * 3600)
    states.set("switch.heater", "on", timestamp=now - 5 * 3600)
    states.set("binary_sensor.grid_busy", "on", timestamp=now - 3 * 3600)
    states.set("switch.heater", "off", timestamp=now - 3600)
    await get_recorder(runtime).flush()
    yield Site(runtime, f"http://127.0.0.1:{runtime.http.port}", plugs)  # type: ignore[arg-type]
    if runtime.state is not CoreState.NOT_RUNNING:
        await runtime.stop()


async def test_the_report_shows_the_energy_and_cost_a_shedding_rule_would_have_moved(
    home: Site, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    page, errors = await owner_page(home, browser, "/#/automations/edit/shed_heater")
    await expect(page.get_by_label("Configuration (YAML)")).to_have_value(
        re.compile("switch.heater")
    )
    await page.get_by_label("Period").select_option("1")
    await page.get_by_role("button", name="Test against history").click()

    await expect(page.locator("#backtest-status")).to_have_text("Done.")
    energy = page.locator("#backtest-energy")
    await expect(energy).to_contain_text("the TOU plan 'Flat'")
    # Off 3 h ago until its recorded switch-off 1 h ago: 2 h x 2 kW less, at 0.30 EUR/kWh.
    await expect(energy.locator("#backtest-energy-appliances tbody tr")).to_contain_text("Heater")
    await expect(page.locator("#backtest-energy-kwh")).to_have_text("\u22124.000")
    await expect(page.locator("#backtest-energy-cost")).to_have_text("\u22121.20 EUR")
    await energy.locator("summary").click()
    await expect(energy.locator("#backtest-energy-actions")).to_contain_text(
        "nominal 2000 W while switch.heater was recorded on"
    )
    await shots(page, "automation-backtest-energy")
    assert not errors, errors
