"""A server restart with a tab open: the tab comes back live by itself, logged in, unbanned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, Page, expect

import automations.integration
import integrations.persistent_notification
import integrations.recorder
from core.hookspecs import hookimpl
from core.http.view import GUARD
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from tests.frontend.conftest import PanelTestIntegration, Site
from tests.frontend.test_panel_browser import TIMEOUT, owner_page

#: ms the tab has, from the moment the new server listens, to be live again (issue 28).
LIVE_AGAIN_WITHIN_MS = 5_000


class RestartedPanelIntegration(PanelTestIntegration):
    """The test entities again after a restart (their areas and registry entries are stored)."""

    @hookimpl
    def edgewise_setup(self, runtime: Runtime, config: object) -> None:
        runtime.states.set("switch.pump", "off", {"friendly_name": "Pump"})
        runtime.states.set(
            "sensor.outside",
            "12.5",
            {"friendly_name": "Outside temperature", "unit_of_measurement": "°C"},
        )


def restarted_runtime(site: Site) -> Runtime:
    """A new runtime on the same site and port, as after ``systemctl restart edgewise``."""
    loader = IntegrationLoader()
    loader.register(RestartedPanelIntegration(), source="test paneltest")
    loader.register(integrations.recorder, source="test recorder")
    loader.register(automations.integration, source="test automation")
    loader.register(integrations.persistent_notification, source="test notifications")
    assert site.runtime.http is not None
    return Runtime(site.runtime.config_dir, loader=loader, http_port=site.runtime.http.port)


async def test_open_tab_reconnects_after_a_restart_without_login_or_ban(
    site: Site, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    page, errors = await owner_page(site, browser, "/#/entity/switch.pump")
    status = page.locator("header .conn")
    await expect(status).to_have_text("Live")
    tokens_before = await page.evaluate("JSON.parse(localStorage.getItem('edgewise.auth'))")

    await site.runtime.stop()
    await expect(status).to_have_text("Reconnecting…")
    banner = page.locator(".conn-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("reconnecting")
    await shots(page, "restart-reconnecting")
    # The page keeps what it showed while the server is away.
    missing = page.get_by_text("does not exist", exact=False)
    assert await missing.count() == 0

    runtime = restarted_runtime(site)
    await runtime.start()
    try:
        await expect(status).to_have_text("Live", timeout=LIVE_AGAIN_WITHIN_MS)
        await expect(banner).to_have_text("Reconnected")
        await shots(page, "restart-reconnected")
        await expect(missing).to_have_count(0)
        await expect(page.locator("h1, h2").filter(has_text="Pump").first).to_be_visible()
        # Logged in still, with the same session; the page is live (a change shows).
        assert await page.get_by_label("Password", exact=True).count() == 0
        after = await page.evaluate("JSON.parse(localStorage.getItem('edgewise.auth'))")
        assert after["refresh_token"] == tokens_before["refresh_token"]
        runtime.states.set("sensor.outside", "3.5", {"friendly_name": "Outside temperature"})
        await page.goto(site.url + "/#/overview")
        await expect(page.get_by_text("3.5", exact=False).first).to_be_visible(timeout=TIMEOUT)
        # Nothing the tab did counted towards a ban.
        assert runtime.http is not None
        guard = runtime.http.app[GUARD]
        assert guard.banned_for("127.0.0.1") == 0
        assert guard.failures("127.0.0.1") == 0
        assert not errors, errors
    finally:
        await runtime.stop()


async def test_a_tab_whose_access_token_is_refused_refreshes_it_and_stays_logged_in(
    site: Site, browser: Browser
) -> None:
    page, errors = await owner_page(site, browser, "/#/overview")
    status = page.locator("header .conn")
    await expect(status).to_have_text("Live")
    before = await page.evaluate("JSON.parse(localStorage.getItem('edgewise.auth'))")
    await site.runtime.stop()
    await expect(status).to_have_text("Reconnecting…")
    # The signing key lost: the tab's access token means nothing to the new server.
    (site.runtime.config_dir / ".storage" / "auth_token_key").unlink()
    runtime = restarted_runtime(site)
    await runtime.start()
    try:
        await expect(status).to_have_text("Live", timeout=LIVE_AGAIN_WITHIN_MS)
        after = await page.evaluate("JSON.parse(localStorage.getItem('edgewise.auth'))")
        assert after["refresh_token"] == before["refresh_token"]
        assert after["access_token"] != before["access_token"]
        assert runtime.http is not None
        assert runtime.http.app[GUARD].banned_for("127.0.0.1") == 0
        assert not errors, errors
    finally:
        await runtime.stop()
