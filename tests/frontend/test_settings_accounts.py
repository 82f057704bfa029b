"""Passwords and tokens on the Settings page in a real browser (issue 28): changing one's own
password, an admin's reset of another's, and a viewer's token made by an admin, with its expiry
and a copy button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, Page, expect

from core.auth import Role
from tests.frontend.conftest import Site
from tests.frontend.test_panel_browser import owner_page


async def test_settings_change_and_reset_passwords_and_issue_a_viewers_token(
    site: Site, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    page, errors = await owner_page(site, browser, "/#/settings")
    assert site.runtime.http is not None
    auth = site.runtime.http.auth
    await auth.create_user("vic", "viewer pass", name="Vic", role=Role.VIEWER)
    await page.reload()
    await page.get_by_label("Current password").wait_for()

    # One's own password: the current one is needed.
    await page.get_by_label("Current password").fill("not it at all")
    await page.get_by_label("New password (at least 8 characters)").fill("a new horse")
    await page.get_by_label("New password again").fill("a new horse")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator("#toast")).to_contain_text("Invalid current password")
    await page.get_by_label("Current password").fill("correct horse")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator("#toast")).to_contain_text("Password changed")
    assert await auth.check_password("ada", "a new horse") is not None

    # An admin resets another user's password; a short one is refused with the reason.
    row = page.locator("tr[data-user='vic']")
    await row.get_by_text("Reset password").click()
    box = row.get_by_label("New password for vic")
    await box.evaluate("el => { el.minLength = 0; }")  # let the server's check speak
    await box.fill("short")
    await row.get_by_role("button", name="Set").click()
    await expect(page.locator("#toast")).to_contain_text("at least 8 characters")
    await box.fill("vic's new pass")
    await row.get_by_role("button", name="Set").click()
    await expect(page.locator("#toast")).to_contain_text("Password of vic reset")
    assert await auth.check_password("vic", "vic's new pass") is not None

    # A read-only token for the lobby screen: made for the viewer, with its expiry and a copy.
    await page.get_by_label("Token name").fill("Lobby screen")
    await page.get_by_label("For user").select_option(label="vic (viewer)")
    await page.get_by_label("Lasts (days)").fill("30")
    await page.get_by_role("button", name="Create token").click()
    token = await page.get_by_label("New token").input_value()
    found = auth.validate_access_token(token)
    assert found is not None
    assert found[0].username == "vic"
    await expect(page.get_by_text("Token for vic, expires")).to_be_visible()
    await expect(page.locator("li[data-token='Lobby screen']")).to_contain_text("for vic")
    await expect(page.locator("li[data-token='Lobby screen']")).to_contain_text("expires")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.get_by_role("button", name="Copy").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == token
    await shots(page, "settings-accounts")
    assert not errors, errors
