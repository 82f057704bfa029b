"""The overview in Chromium: each NILM estimate sits in its appliance's area, by its plug.

The site is the shipped configuration's simulated home and ``nilm:`` section (no Tuya ports,
no building): the estimates are unavailable until two hours of readings fill the window, but
they are placed as soon as they exist, in the area card of the room their appliance is in.
Once the window is whole, the panel says which moment an estimate is for (it lags by 30 min).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest_asyncio
import yaml
from playwright.async_api import Browser, Page, expect

from core import Event
from core.const import ATTR_PREDICTED_FOR, CoreState
from core.runtime import Runtime
from integrations.nilm.integration import RUNNING
from tests._helpers import free_port
from tests.frontend.test_panel_browser import TIMEOUT, log_in, open_page, wait_until
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


async def _overview(browser: Browser, site: Runtime, **options: Any) -> tuple[Page, list[str]]:
    """A page logged in to ``site`` as ada, on the overview; the page errors it collects."""
    assert site.http is not None
    page = await browser.new_page(viewport={"width": 1280, "height": 1000}, **options)
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await page.goto(f"http://127.0.0.1:{site.http.port}/")
    await log_in(page, "ada", PASSWORD)
    await open_page(page, "Overview")
    return page, errors


async def test_each_nilm_estimate_is_in_the_area_card_of_its_plug(
    home_site: Runtime, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    page, errors = await _overview(browser, home_site)

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


async def _first_estimate(runtime: Runtime, entity_id: str) -> None:
    """Fill the house meter's window as two hours of readings would, and wait for an estimate.

    Once the meter's samples are live readings (its first, partly covered, is missing), the
    window is filled; the next window (the meter's next tick) is disaggregated by the inference
    process. The meter is then stopped, so that the estimate shown stays the one the test reads.
    """
    meter = runtime.data[RUNNING].meters[0]
    await wait_until(lambda: meter._whole_run > 0, within=60)
    estimated = asyncio.Event()

    def changed(event: Event[Any]) -> None:
        new = event.data.get("new_state")
        if new is not None and new.state != "unavailable":
            estimated.set()

    remove = runtime.states.track(entity_id, changed)
    try:
        meter.fill([400.0] * meter.length, int(time.time()))
        async with asyncio.timeout(60):
            await estimated.wait()
    finally:
        remove()
    meter.stop()
    await meter.drained()


async def test_a_nilm_estimate_says_which_moment_it_is_for(
    home_site: Runtime, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    assert home_site.http is not None
    fridge = "sensor.house_fridge_power"
    await _first_estimate(home_site, fridge)
    state = home_site.states.get(fridge)
    assert state is not None
    assert state.state != "unavailable"
    at = datetime.fromisoformat(state.attributes[ATTR_PREDICTED_FOR])
    behind = round((state.last_updated_timestamp - at.timestamp()) / 60)
    assert behind == 30  # the model's lag: (1200 - 900) samples of 6 s
    zone = ZoneInfo("Europe/Amsterdam")
    local = at.astimezone(zone)
    day = "" if local.date() == datetime.now(zone).date() else f"{local:%d/%m/%Y} "
    said = f"for {day}{local:%H:%M} · estimated 30 min behind"

    page, errors = await _overview(
        browser, home_site, locale="en-GB", timezone_id="Europe/Amsterdam"
    )
    row = page.locator(f"li.entity[data-entity-id='{fridge}']")
    await expect(row.locator(".changed")).to_contain_text(said)
    # The estimate's running sensor says it too; the plug's own reading is of now.
    running = page.locator("li.entity[data-entity-id='binary_sensor.house_fridge_running']")
    await expect(running.locator(".changed")).to_contain_text(said)
    plug = page.locator("li.entity[data-entity-id='sensor.fridge_power']")
    await expect(plug.locator(".changed")).to_have_text(re.compile(r"^\d+ (s|min) ago$"))
    # The kitchen has more sensors than its card shows at first: the power is under "more".
    kitchen = page.locator("section.area").filter(
        has=page.get_by_role("heading", name="Kitchen", exact=True)
    )
    await kitchen.locator("details.more summary", has_text="more sensors").click()
    await expect(row.locator(".changed")).to_be_visible()
    await page.add_style_tag(content="li.entity { content-visibility: visible !important; }")
    await shots(page, "nilm-estimate-overview")

    await row.get_by_role("link").click()
    await expect(page.get_by_role("heading", name="House fridge power", level=1)).to_be_visible()
    await expect(page.locator("#estimate-for")).to_have_text(said)
    await shots(page, "nilm-estimate-entity")
    assert errors == []
