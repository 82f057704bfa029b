"""The overview in Chromium: each NILM estimate sits in its appliance's area, by its plug.

The site is the shipped configuration's simulated home and ``nilm:`` section (no Tuya ports,
no building): the estimates are unavailable until two hours of readings fill the window, but
they are placed as soon as they exist, in the area card of the room their appliance is in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio
import yaml
from playwright.async_api import Browser, Page, expect

from core.const import CoreState
from core.runtime import Runtime
from tests._helpers import free_port
from tests.frontend.test_panel_browser import TIMEOUT, log_in, open_page
from tests.integrations.nilm.test_default_site import SHIPPED, _Loader

PASSWORD = "correct horse battery"


@pytest_asyncio.fixture
async def home_site(tmp_path: Path) -> AsyncIterator[Runtime]:
    """The shipped simulated home with the shipped ``nilm:`` section, and an owner."""
    doc = yaml.load(SHIPPED.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader
    site = {
        "edgewise": doc["edgewise"],
        "http": {"server_host": "127.0.0.1", "server_port": free_port()},
        "simulator": {"seed": doc["simulator"]["seed"], "building": False},
        "nilm": doc["nilm"],
    }
    (tmp_path / "configuration.yaml").write_text(yaml.safe_dump(site), encoding="utf-8")
    runtime = Runtime(tmp_path)
    await runtime.start()
    assert runtime.http is not None
    await runtime.http.auth.create_user("ada", PASSWORD, name="Ada Owner")
    yield runtime
    if runtime.state is not CoreState.NOT_RUNNING:
        await runtime.stop()


async def test_each_nilm_estimate_is_in_the_area_card_of_its_plug(
    home_site: Runtime, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    assert home_site.http is not None
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await page.goto(f"http://127.0.0.1:{home_site.http.port}/")
    await log_in(page, "ada", PASSWORD)
    await open_page(page, "Overview")

    def card(area: str) -> Any:
        return page.locator("section.area").filter(
            has=page.get_by_role("heading", name=area, exact=True)
        )

    def row(entity_id: str) -> Any:
        return page.locator(f"li.entity[data-entity-id='{entity_id}']")

    placed = {
        "Kitchen": ("dishwasher", "fridge"),
        "Utility room": ("washing_machine", "heat_pump"),
        "Garage": ("ev_charger",),
    }
    for area, appliances in placed.items():
        for appliance in appliances:
            # The plug's reading and the estimate from the house meter, in one card.
            await expect(card(area).locator(row(f"sensor.{appliance}_power"))).to_have_count(1)
            await expect(card(area).locator(row(f"sensor.house_{appliance}_power"))).to_have_count(
                1
            )
            running = row(f"binary_sensor.house_{appliance}_running")
            await expect(card(area).locator(running)).to_have_count(1)
    # The kettle and the microwave have no plug: they are in the kitchen all the same.
    await expect(card("Kitchen").locator(row("sensor.house_kettle_power"))).to_have_count(1)
    await expect(card("Kitchen").locator(row("sensor.house_microwave_power"))).to_have_count(1)
    # Nothing of NILM is left in "No area".
    assert await card("No area").locator("li.entity[data-entity-id*='.house_']").count() == 0
    await page.add_style_tag(content="li.entity { content-visibility: visible !important; }")
    await shots(page, "nilm-overview")
    assert errors == []
