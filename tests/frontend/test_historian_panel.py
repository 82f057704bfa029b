"""The Historian page in a real browser: an owner sees what the central database is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from playwright.async_api import Browser, expect

from core.const import CoreState
from core.runtime import Runtime
from integrations.timescale.historian import HISTORIAN
from tests._helpers import free_port, wait_for
from tests.conftest import ConfigDirFactory
from tests.frontend.test_panel_browser import TIMEOUT, log_in, open_page


@pytest_asyncio.fixture
async def site(config_dir: ConfigDirFactory) -> AsyncIterator[Runtime]:
    """Edgewise whose central database is away, with rows waiting in the buffer."""
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/central"
    runtime = Runtime(
        config_dir(
            "http: {server_host: 127.0.0.1, server_port: 0}\n"
            f"timescale: {{db_url: '{nowhere}', site_id: plant-7, flush_interval: 0.05}}\n"
        )
    )
    await runtime.start()
    assert runtime.http is not None
    await runtime.http.auth.create_user("ada", "correct horse", name="Ada Owner")
    historian = runtime.data[HISTORIAN]
    for value in ("1", "2", "3"):
        runtime.states.set("sensor.flow", value)
    await wait_for(lambda: historian.buffer.count == 3, "three rows buffered")
    yield runtime
    if runtime.state is not CoreState.NOT_RUNNING:
        await runtime.stop()


async def test_the_owner_sees_rows_the_central_database_is_missing(
    site: Runtime, browser: Browser
) -> None:
    assert site.http is not None
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    page.set_default_timeout(TIMEOUT)
    errors: list[Any] = []
    page.on("pageerror", lambda err: errors.append(str(err)))

    await page.goto(f"http://127.0.0.1:{site.http.port}/#/panel/historian")
    await log_in(page, "ada", "correct horse")
    await open_page(page, "Historian")

    summary = page.locator(".historian-summary")
    await expect(summary).to_contain_text("Site plant-7: 3 rows accepted, 0 delivered")
    await expect(summary).to_contain_text("3 pending, 3 missing")
    row = page.locator("tr[data-series='sensor.flow']")
    await expect(row).to_have_class("incomplete")
    await expect(row.locator("td").nth(7)).to_have_text("3")

    site.states.set("sensor.flow", "4")
    await wait_for(lambda: site.data[HISTORIAN].buffer.count == 4, "a fourth row buffered")
    await page.get_by_role("button", name="Refresh").click()
    await expect(summary).to_contain_text("4 rows accepted")
    assert errors == []
