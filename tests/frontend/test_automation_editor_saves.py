"""The automation editor's saves in a real browser (issue 28): an id in use is refused, errors
keep the page open, a save is confirmed with its warnings, unsaved changes are not lost by
leaving, and viewers are told the editor is for administrators."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, Dialog, Page, expect

from core.auth import Role
from tests.frontend.conftest import Site
from tests.frontend.test_panel_browser import TIMEOUT, log_in, owner_page

GOOD = """\
alias: Pump on
triggers:
  - trigger: state
    entity_id: select.mode
    to: "comfort"
actions:
  - action: switch.turn_on
    target:
      entity_id: switch.nowhere
"""


async def test_editor_refuses_a_used_id_keeps_errors_on_the_page_and_confirms_saves(
    site: Site, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    page, errors = await owner_page(site, browser, "/#/automations/new")
    editor = page.get_by_label("Configuration (YAML)")
    await page.get_by_label("Id").fill("pump_on")
    await editor.fill(GOOD.replace("    target:", "    data:\n      v: '{{ 1 + }}'\n    target:"))
    await page.get_by_role("button", name="Save").click()
    # The template error is shown at its line; the page stays the editor, nothing is written.
    await expect(page.locator("#yaml-errors li[data-line='9']")).to_contain_text("template")
    assert page.url.endswith("#/automations/new")
    assert "pump_on" not in (site.runtime.config_dir / "automations.yaml").read_text()

    await editor.fill(GOOD)
    await page.get_by_role("button", name="Save").click()
    status = page.locator("#save-status")
    await expect(status).to_contain_text("Saved as automation.pump_on")
    await expect(status).to_contain_text("Unknown entity id(s): switch.nowhere")
    await expect(page.get_by_label("Id")).to_be_disabled()
    await shots(page, "automation-editor-saved")

    # A second new automation with the same id is refused; the first one is untouched.
    await page.goto(site.url + "/#/automations/new")
    await page.get_by_label("Id").fill("pump_on")
    await page.get_by_label("Configuration (YAML)").fill(GOOD.replace("Pump on", "Usurper"))
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#yaml-errors")).to_contain_text("'pump_on' is already used")
    text = (site.runtime.config_dir / "automations.yaml").read_text()
    assert "Pump on" in text
    assert "Usurper" not in text

    # Leaving with unsaved changes asks first: dismissed, the page and the text stay. (The
    # question is awaited: the text is the same before the click as after a dismissal.)
    asked: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def dismiss(dialog: Dialog) -> None:
        if not asked.done():
            asked.set_result(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    await page.get_by_role("link", name="← Automations").click()
    async with asyncio.timeout(TIMEOUT / 1000):
        assert await asked == "Leave the editor? Your changes are not saved."
    await expect(page.get_by_label("Configuration (YAML)")).to_have_value(
        GOOD.replace("Pump on", "Usurper")
    )
    assert page.url.endswith("#/automations/new")

    # Closing the tab (or reloading) with unsaved changes is held up by the beforeunload
    # handler (the browser then asks its own question); once saved, nothing holds it up.
    unload = """() => {
        const event = new Event("beforeunload", { cancelable: true });
        window.dispatchEvent(event);
        return event.defaultPrevented;
    }"""
    assert await page.evaluate(unload) is True
    await page.get_by_label("Id").fill("pump_two")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#save-status")).to_contain_text("Saved as")
    assert await page.evaluate(unload) is False
    assert not errors, errors


async def test_a_viewer_is_told_the_editor_is_for_administrators(
    site: Site, browser: Browser
) -> None:
    assert site.runtime.http is not None
    await site.runtime.http.auth.create_user("ada", "correct horse", name="Ada Owner")
    await site.runtime.http.auth.create_user("val", "viewer horse", name="Val", role=Role.VIEWER)
    page = await browser.new_page()
    page.set_default_timeout(TIMEOUT)
    await page.goto(site.url + "/#/automations/new")
    await log_in(page, "val", "viewer horse")
    await expect(page.locator("#editor-admins-only")).to_contain_text("Only an administrator")
    await expect(page.get_by_label("Configuration (YAML)")).to_have_count(0)
