"""The Appliances page in a real browser: a newcomer turns a Tuya plug on from the panel and
sees the control-log entry with who asked and how long the plug took to confirm.

The plug is a Tuya device double on loopback speaking protocol 3.3 (tinytuya's encoding); the
runtime runs the recorder, ``tuya`` and ``appliance`` integrations as the default configuration
does.
"""

from __future__ import annotations

import asyncio
import re
import socket
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
from integrations.tuya.discovery import announcement
from tests.conftest import ConfigDirFactory
from tests.frontend.test_panel_browser import TIMEOUT, log_in, open_page

DEVICE_ID = "bf0123456789abcdefgh"
KEY = "0123456789abcdef"


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DISCOVERY_PORT = _udp_port()


def _config(port: int) -> str:
    return f"""\
http: {{server_host: 127.0.0.1, server_port: 0}}
recorder: {{commit_interval: 0}}
tuya:
  discovery: {{bind: 127.0.0.1, broadcast: 127.0.0.1, plain_port: {_udp_port()},
              encrypted_port: {DISCOVERY_PORT}, app_port: {_udp_port()}}}
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
    await open_page(page, "Appliances")

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

    # An admin discovers a new plug on the LAN and adds it with its local key.
    tuya = page.locator("section.tuya-devices")
    await expect(tuya.locator(f"tr[data-device='{DEVICE_ID}']")).to_contain_text("connected")
    announcing = asyncio.create_task(_announce("bf9999999999999999aa", "127.0.0.1"))
    await tuya.get_by_role("button", name="Discover devices on the LAN").click()
    form = tuya.locator("form[data-device='bf9999999999999999aa']")
    await expect(form).to_contain_text("at 127.0.0.1 (protocol 3.3)", timeout=15_000)
    await announcing
    await form.get_by_label("Name of bf9999999999999999aa").fill("Fan plug")
    await form.get_by_label("Local key of bf9999999999999999aa").fill("short")
    await form.get_by_role("button", name="Add").click()
    await expect(form.locator(".error")).to_contain_text("local_key")
    await form.get_by_label("Local key of bf9999999999999999aa").fill("abcdefabcdefabcd")
    await form.get_by_role("button", name="Add").click()
    added = tuya.locator("tr[data-device='bf9999999999999999aa']")
    await expect(added).to_contain_text("Fan plug")
    await expect(added).to_contain_text("api")
    await shots(page, "tuya-devices")
    assert errors == []


async def _announce(device_id: str, ip: str) -> None:
    """Broadcast like a 3.3 plug, every 0.3 s for 4 s, to the discovery port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(13):
            sock.sendto(announcement(device_id, ip, 3.3), ("127.0.0.1", DISCOVERY_PORT))
            await asyncio.sleep(0.3)
