"""The optimizer's page in a real browser: the published plan as a chart, reasons on hover."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser, expect

import integrations.optimizer
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from tests.conftest import ConfigDirFactory
from tests.frontend.conftest import (  # noqa: F401 - fixtures used by name
    Site,
    browser,
    chromium,
)
from tests.frontend.test_panel_browser import owner_page

CONFIG = """\
http:
  server_host: 127.0.0.1
  server_port: 0
optimizer:
  isolate_solver: false
"""
PLAN = {
    "slot_minutes": 60,
    "start": "2026-06-01T10:00:00+02:00",
    "import_price": [0.30, 0.12, 0.10, 0.25],
    "pv_forecast": [2.5, 3.0, 1.0, 0.0],
    "loads": [
        {"name": "dishwasher", "power": 2.0, "hours": 1},
        {"name": "ev", "power": 7.4, "min_power": 4.1, "energy": 6.0, "contiguous": False},
    ],
    "publish": True,
}


@pytest_asyncio.fixture
async def optimizer_site(config_dir: ConfigDirFactory) -> AsyncIterator[Site]:
    loader = IntegrationLoader()
    loader.register(integrations.optimizer, source="test optimizer")
    runtime = Runtime(config_dir(CONFIG), loader=loader)
    await runtime.start()
    assert runtime.http is not None
    yield Site(runtime, f"http://127.0.0.1:{runtime.http.port}", None)  # type: ignore[arg-type]
    await runtime.stop()


async def test_plan_chart_shows_loads_and_the_reason_of_a_slot(
    optimizer_site: Site,
    browser: Browser,  # noqa: F811 - the fixture imported above
) -> None:
    plan = await optimizer_site.runtime.services.call(
        "optimizer", "plan_deferrable_loads", PLAN, return_response=True
    )
    assert plan is not None
    ev_slot = plan["loads"][1]["slots"][0]
    reason = plan["slots"][ev_slot]["reasons"]["ev"]
    page, errors = await owner_page(optimizer_site, browser, "/#/panel/optimizer")

    await expect(page.locator("#optimizer-status")).to_contain_text("Status: Optimal")
    bars = page.locator("#optimizer-plan rect[data-load]")
    await expect(bars).to_have_count(2)
    await page.locator(f"#optimizer-plan rect[data-hover='{ev_slot}']").hover()
    await expect(page.locator("#optimizer-reason")).to_contain_text(f"ev 6 kW: {reason}")
    assert errors == []
