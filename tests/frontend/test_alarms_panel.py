"""Alarms in the browser: live counts by severity in the header, the Alarms page, stacking of
repeats, acknowledge (who and when), clear into the history, a severity filter, and a viewer who
reads but cannot act."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, Page, expect

from core.auth import Role
from tests.frontend.conftest import Site
from tests.frontend.test_panel_browser import TIMEOUT, log_in, owner_page


async def test_an_operator_sees_acknowledges_and_clears_alarms_and_a_viewer_only_reads(
    site: Site, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    page, errors = await owner_page(site, browser, "/#/alarms")
    alarms_link = page.locator("header a.alarms-link")
    await expect(alarms_link).to_have_attribute("aria-label", "Alarms: none active")
    await expect(page.get_by_text("Nothing to report.")).to_be_visible()

    # An automation says "House power high" three times: one entry, raised 3 times.
    raise_power = {
        "title": "House power high",
        "message": "9.6 kW for 2 minutes",
        "severity": "critical",
    }
    for _ in range(3):
        await site.runtime.services.call("persistent_notification", "create", raise_power)
    # Markup in a message stays text.
    site.runtime.notifications.create(
        "Zone 1 is at 27.5 °C.\n<b>not bold</b>",
        title="Too warm",
        notification_id="zone_1",
        severity="warning",
    )
    await expect(alarms_link).to_have_attribute("aria-label", "Alarms: 1 critical, 1 warning")
    power = page.locator("li.alarm", has_text="House power high")
    await expect(power).to_have_count(1)
    await expect(power).to_contain_text("\u00d73")  # times 3
    await expect(power.locator(".badge.sev-critical")).to_have_text("critical")
    zone = page.locator("li.alarm[data-id='zone_1']")
    await expect(zone.locator(".message")).to_have_text("Zone 1 is at 27.5 °C.\n<b>not bold</b>")
    # The most severe first.
    await expect(page.locator("li.alarm").first).to_contain_text("House power high")
    await shots(page, "alarms-active")

    # Filter by severity.
    await page.get_by_label("Severity").select_option("warning")
    await expect(page.locator("li.alarm")).to_have_count(1)
    await page.get_by_label("Severity").select_option("")

    # Acknowledge: it leaves the active list, the header count drops, who and when are kept.
    await power.get_by_role("button", name="Acknowledge House power high").click()
    await expect(alarms_link).to_have_attribute("aria-label", "Alarms: 1 warning")
    await expect(page.locator("li.alarm")).to_have_count(1)
    await page.get_by_role("link", name="Acknowledged (1)").click()
    acked = page.locator("li.alarm", has_text="House power high")
    await expect(acked).to_contain_text("Acknowledged by Ada Owner")

    # Clear: into the history, with who cleared it.
    await acked.get_by_role("button", name="Clear House power high").click()
    await expect(page.get_by_text("Nothing to report.")).to_be_visible()
    await (
        page.get_by_role("navigation", name="Alarm lists")
        .get_by_role("link", name="History")
        .click()
    )
    cleared = page.locator("li.alarm", has_text="House power high")
    await expect(cleared).to_contain_text("Cleared by Ada Owner")
    await expect(cleared.get_by_role("button")).to_have_count(0)
    await shots(page, "alarms-history")
    assert not errors, errors

    # A viewer reads the alarms, with no buttons to act on them.
    assert site.runtime.http is not None
    await site.runtime.http.auth.create_user(
        "val", "viewer pass", name="Val Viewer", role=Role.VIEWER
    )
    viewer = await browser.new_page(viewport={"width": 1100, "height": 900})
    viewer.set_default_timeout(TIMEOUT)
    await viewer.goto(site.url + "/#/alarms")
    await log_in(viewer, "val", "viewer pass")
    await expect(viewer.locator("li.alarm[data-id='zone_1']")).to_be_visible()
    await expect(viewer.locator("li.alarm").get_by_role("button")).to_have_count(0)
