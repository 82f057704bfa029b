"""The Appliances page in a real browser: a newcomer turns a Tuya plug on from the panel and
sees the control-log entry with who asked and how long the plug took to confirm.

The plug is a Tuya device double on loopback speaking protocol 3.3 (tinytuya's encoding); the
runtime runs the recorder, ``tuya`` and ``appliance`` integrations as the default configuration
does.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio
from playwright.async_api import Browser, Page, expect

import integrations.appliance
import integrations.recorder
import integrations.tuya
from core.const import CoreState
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from integrations.tuya.device_double import TuyaDeviceDouble
from tests.conftest import ConfigDirFactory
from tests.frontend.test_panel_browser import TIMEOUT, log_in

DEVICE_ID = "bf0123456789abcdefgh"
KEY = "0123456789abcdef"


def _config(port: int) -> str:
    return f"""\
http: {{server_host: 127.0.0.1, server_port: 0}}
recorder: {{commit_interval: 0}}
tuya:
  devices:
    - {{device_id: {DEVICE_ID}, local_key: {KEY}, host: 127.0.0.1, port: {port},
       version: 3.3, name: Kettle plug}}
appliance:
  price: 0.3
  appliances:
    - {{name: Kettle, area: Kitchen, tier: essential, power: 2000,
       switch: switch.kettle_plug, power_sensor: sensor.kettle_plug_power}}
    - {{name: Water heater, area: Utility room, tier: deferrable, power: 2000}}
"""


@pytest_asyncio.fixture
async def home(config_dir: ConfigDirFactory) -> AsyncIterator[tuple[Runtime, TuyaDeviceDouble]]:
    """Edgewise with a Tuya plug double and two appliances, and an owner called Ada."""
    double = TuyaDeviceDouble(DEVICE_ID, KEY, 3.3, {"1": False, "19": 0, "20": 2300})
    await double.start()
    loader = IntegrationLoader()
    for module in (integrations.recorder, integrations.tuya, integrations.appliance):
        loader.register(module, source="test")
    runtime = Runtime(config_dir(_config(double.port)), loader=loader)
    await runtime.start()
    assert runtime.http is not None
    await runtime.http.auth.create_user("ada", "correct horse", name="Ada Owner")
    yield runtime, double
    if runtime.state is not CoreState.NOT_RUNNING:
        await runtime.stop()
    await double.stop()


async def test_a_newcomer_turns_a_tuya_plug_on_and_sees_who_asked_and_how_long_it_took(
    home: tuple[Runtime, TuyaDeviceDouble],
    browser: Browser,
    shots: Callable[[Page, str], Any],
) -> None:
    runtime, double = home
    assert runtime.http is not None
    page = await browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))

    await page.goto(f"http://127.0.0.1:{runtime.http.port}/#/panel/appliances")
    await log_in(page, "ada", "correct horse")
    await page.get_by_role("link", name="Appliances").click()

    kitchen = page.locator(
        "section.appliance-area", has=page.get_by_role("heading", name="Kitchen")
    )
    kettle = kitchen.locator("article[data-entity='appliance.kettle']")
    await expect(kettle).to_contain_text("off · essential · plug")
    await kettle.get_by_role("button", name="Turn on").click()

    await expect(kettle).to_contain_text("on · essential · plug")
    assert double.dps["1"] is True
    entry = page.locator("table.control-log tbody tr").first
    await expect(entry).to_contain_text("appliance.kettle")
    await expect(entry).to_contain_text("turn_on")
    await expect(entry).to_contain_text("user · Ada Owner (you)")
    await expect(entry.locator("td").nth(6)).to_have_text(re.compile(r"^\d+\.\d ms$"))
    await expect(entry).to_have_class("result-ok")

    # The plug draws power: the tile shows it, live.
    double.set_dps({"19": 20000})
    await expect(kettle).to_contain_text("Power 2000 W")
    await expect(kettle).to_contain_text("running")
    await shots(page, "appliances")

    # Eco mode on the virtual appliance, from its tile; the log says so.
    heater = page.locator("article[data-entity='appliance.water_heater']")
    await heater.get_by_label("eco mode").check()
    await expect(page.locator("table.control-log tbody tr").first).to_contain_text("set_eco_mode")
    state = runtime.states.get("appliance.water_heater")
    assert state is not None
    assert state.attributes["eco_mode"] is True
    assert errors == []
