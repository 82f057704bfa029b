"""The Energy page in a real browser: price bands, cheapest windows, a previewed schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser, expect

from core.runtime import Runtime
from tests.frontend.conftest import browser, chromium  # noqa: F401 - fixtures
from tests.frontend.test_panel_browser import TIMEOUT, log_in
from tests.integrations._runtime import write_config

from .conftest import tariff_yaml

HTTP = "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
APPLIANCES = "  appliances:\n    - {name: Dishwasher, tier: shiftable, power: 1800}\n"


@pytest_asyncio.fixture
async def energy_site(tmp_path: Path) -> AsyncIterator[Runtime]:
    """Edgewise on the real clock with a tariff, an appliance and an owner, Ada."""
    write_config(tmp_path, HTTP + tariff_yaml("Asia/Kolkata", appliances=APPLIANCES))
    runtime = Runtime(tmp_path)
    await runtime.start()
    assert runtime.http is not None
    await runtime.http.auth.create_user("ada", "correct horse", name="Ada Owner")
    yield runtime
    await runtime.stop()


async def test_the_energy_page_shows_bands_and_saves_a_previewed_schedule(
    energy_site: Runtime,
    browser: Browser,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    assert energy_site.http is not None
    page = await browser.new_page(viewport={"width": 1200, "height": 1000})
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await page.goto(f"http://127.0.0.1:{energy_site.http.port}/#/panel/energy")
    await log_in(page, "ada", "correct horse")

    await expect(page.locator(".tariff-slot[data-type='peak']").first).to_be_visible()
    await expect(page.locator(".tariff-slot[data-type='off_peak']").first).to_be_visible()
    await expect(page.locator(".tariff-window").first).to_be_attached()
    await expect(page.locator("tr[data-entity='appliance.dishwasher']")).to_be_visible()

    await page.get_by_role("button", name="Preview costs").click()
    cheapest = page.locator("tr[data-option='cheapest']")
    await expect(cheapest).to_be_visible()
    await cheapest.get_by_role("button", name="Use").click()
    await page.get_by_role("button", name="Save schedule").click()
    await expect(page.locator("tr[data-schedule]")).to_have_count(1)
    await page.screenshot(path=str(tmp_path / "energy.png"), full_page=True)
    state = energy_site.states.get("appliance.dishwasher")
    assert state is not None
    assert state.state in ("scheduled", "running")
    assert not errors, errors
