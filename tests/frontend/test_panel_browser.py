"""The panel in a real browser: onboarding, login, live states, controls, every page.

Screenshots of every page are saved under the test's tmp folder (``screenshots/``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.frontend.conftest import Site

TIMEOUT = 20_000  # ms: generous, the machine is shared
expect.set_options(timeout=TIMEOUT)


async def wait_until(predicate: Callable[[], bool], within: float = 20.0) -> None:
    """Wait until ``predicate()`` holds (checked every 20 ms)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polls a condition nothing signals
            await asyncio.sleep(0.02)


async def log_in(page: Page, username: str, password: str) -> None:
    await page.get_by_label("User name").fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Log in").click()
    # The page links are in the header (behind its Menu button on a phone).
    await expect(page.locator("header.top")).to_be_visible(timeout=TIMEOUT)


async def open_page(page: Page, name: str) -> None:
    """Follow the header's link to the page ``name`` as a person would.

    The links that do not fit the header's row are under its "More" menu (behind "Menu" on a
    phone): open that first when the link is not in sight.
    """
    nav = page.get_by_role("navigation", name="Pages")
    hidden_or_not = nav.get_by_role("link", name=name, exact=True, include_hidden=True)
    await expect(hidden_or_not).to_be_attached()
    link = nav.get_by_role("link", name=name, exact=True)
    if not await hidden_or_not.is_visible():
        more = nav.get_by_role("button", name="More")
        opener = more if await more.is_visible() else page.get_by_role("button", name="Menu")
        await opener.click()
    await link.click()


async def owner_page(site: Site, browser: Browser, path: str) -> tuple[Page, list[str]]:
    """A page at ``path`` logged in as a new owner, Ada, and the page errors it will collect."""
    assert site.runtime.http is not None
    await site.runtime.http.auth.create_user("ada", "correct horse", name="Ada Owner")
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await page.goto(site.url + path)
    await log_in(page, "ada", "correct horse")
    return page, errors


async def test_onboarding_login_live_states_controls_and_every_page(
    site: Site, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await page.goto(site.url)

    # Onboarding: no user yet, so the panel asks for the owner.
    await expect(page.get_by_role("heading", name="Welcome to Edgewise")).to_be_visible()
    await shots(page, "onboarding")
    await page.get_by_label("Name", exact=True).fill("Ada Owner")
    await page.get_by_label("User name").fill("ada")
    await page.get_by_label("Password", exact=True).fill("correct horse")
    await page.get_by_label("Confirm password").fill("correct horse")
    await page.get_by_role("button", name="Create owner account").click()
    await expect(page.locator("li[data-entity-id='switch.pump']")).to_be_visible()

    # Log out, then a wrong password, then the right one.
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", name="Log in to Edgewise")).to_be_visible()
    await page.get_by_label("User name").fill("ada")
    await page.get_by_label("Password", exact=True).fill("wrong")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    await shots(page, "login")
    await page.get_by_label("Password", exact=True).fill("correct horse")
    await page.get_by_role("button", name="Log in").click()

    # Overview: grouped by area, then domain; unavailable shown as such.
    pump = page.locator("li[data-entity-id='switch.pump']")
    await expect(pump).to_be_visible()
    plant = page.locator("section.area", has=page.get_by_role("heading", name="Plant room"))
    await expect(plant.locator("li[data-entity-id='number.setpoint']")).to_be_visible()
    await expect(plant.locator("h3", has_text="Switches")).to_be_visible()
    boiler = page.locator("li[data-entity-id='sensor.boiler']")
    await expect(boiler).to_have_class("entity unavailable")
    await expect(boiler.locator(".state")).to_have_text("unavailable")

    # A state changed through the API shows up live.
    site.runtime.states.set(
        "sensor.outside",
        "13.75",
        {
            "friendly_name": "Outside temperature",
            "unit_of_measurement": "°C",
            "state_class": "measurement",
        },
    )
    await expect(page.locator("li[data-entity-id='sensor.outside'] .state")).to_have_text(
        "13.75 °C"
    )

    # Toggling the switch calls switch.turn_on with the user's context; the new state comes back.
    toggle = pump.get_by_role("switch")
    await expect(toggle).not_to_be_checked()
    await toggle.click()
    await wait_until(lambda: any(c.service == "turn_on" for c in site.integration.calls))
    call = next(c for c in site.integration.calls if c.service == "turn_on")
    assert call.domain == "switch"
    assert call.target.entity_ids == ["switch.pump"] or list(call.target.entity_ids) == [
        "switch.pump"
    ]
    assert call.context.user_id is not None
    await expect(toggle).to_be_checked()
    state = site.runtime.states.get("switch.pump")
    assert state is not None
    assert state.state == "on"

    # The slider keeps within min/max and sets the value.
    slider = page.locator("li[data-entity-id='number.setpoint'] input[type=range]")
    await expect(slider).to_have_attribute("min", "15")
    await expect(slider).to_have_attribute("max", "28")
    await slider.fill("24.5")
    await wait_until(lambda: any(c.service == "set_value" for c in site.integration.calls))
    await expect(page.locator("li[data-entity-id='number.setpoint'] .state")).to_have_text("24.5")
    await page.locator("li[data-entity-id='select.mode'] select").select_option("comfort")
    await expect(page.locator("li[data-entity-id='select.mode'] .state")).to_have_text("comfort")
    await shots(page, "overview")

    # Entity detail: last changed by the user, attributes, history chart.
    await pump.get_by_role("link", name="Pump").click()
    await expect(page.get_by_role("heading", name="Pump", exact=True)).to_be_visible()
    await expect(page.locator("#changed-by")).to_have_text("Ada Owner (user)")
    await expect(page.locator(".chart table, .chart .uplot, .chart p")).to_be_visible()
    await shots(page, "entity-switch")
    await page.goto(site.url + "/#/entity/sensor.outside")
    await expect(page.locator(".chart .uplot")).to_be_visible()
    await expect(page.locator("#statistics")).to_be_visible()
    await shots(page, "entity-sensor")

    # Logbook, filtered to the pump: the change made from the panel, by its user.
    await open_page(page, "Logbook")
    await page.get_by_label("Entity").fill("switch.pump")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("ol.entries li").first).to_contain_text("by Ada Owner")
    await shots(page, "logbook")

    # Integrations: status, the hub's connection state, devices.
    await open_page(page, "Integrations")
    await expect(page.locator("tr[data-domain='paneltest']")).to_contain_text("Running")
    await expect(page.get_by_text("Connected", exact=True)).to_be_visible()
    await expect(page.get_by_text("Plant hub")).to_be_visible()
    await shots(page, "integrations")

    # Settings: a long-lived token, a viewer user, the configuration check.
    await open_page(page, "Settings")
    await page.get_by_label("Token name").fill("scripts")
    await page.get_by_role("button", name="Create token").click()
    await expect(page.get_by_label("New token")).not_to_be_empty()
    await page.locator("#users-h").scroll_into_view_if_needed()
    form = page.locator("form", has=page.get_by_role("heading", name="Add a user"))
    await form.get_by_label("User name").fill("vic")
    await form.get_by_label("Name", exact=True).fill("Vic Viewer")
    await form.get_by_label("Password", exact=True).fill("viewer pass")
    await form.get_by_label("Role").select_option("viewer")
    await form.get_by_role("button", name="Add user").click()
    await expect(page.locator("tr[data-user='vic']")).to_be_visible()
    await page.get_by_role("button", name="Check configuration").click()
    await expect(page.locator("#check-result")).to_have_text("Configuration valid")
    await shots(page, "settings")

    # Automations list and the page the test integration contributes.
    await open_page(page, "Automations")
    await expect(page.get_by_role("heading", name="Automations")).to_be_visible()
    await shots(page, "automations")
    await open_page(page, "Plant")
    await expect(page.locator("#plant-greeting")).to_have_text(
        "Hello from the plant panel, Ada Owner"
    )
    await shots(page, "custom-panel")

    # A phone, in dark mode.
    phone = await browser.new_page(viewport={"width": 390, "height": 800}, color_scheme="dark")
    await phone.goto(site.url)
    await log_in(phone, "ada", "correct horse")
    await expect(phone.locator("li[data-entity-id='switch.pump']")).to_be_visible()
    await shots(phone, "overview-phone-dark")

    # The viewer sees the states, and no controls.
    viewer = await browser.new_page()
    viewer.set_default_timeout(TIMEOUT)
    await viewer.goto(site.url)
    await log_in(viewer, "vic", "viewer pass")
    await expect(viewer.locator("li[data-entity-id='switch.pump'] .state")).to_have_text("on")
    assert await viewer.locator(".areas input, .areas select, .areas button").count() == 0
    await shots(viewer, "overview-viewer")
    assert not errors, errors


BROKEN = """\
alias: Pump on
triggers:
  - trigger: state
    entity_id: select.mode
    to: "comfort"
    bogus_key: 1
actions:
  - action: switch.turn_on
    target:
      entity_id: switch.pump
"""


async def test_automation_editor_shows_errors_at_their_line_then_saves_runs_and_traces(
    site: Site, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    page, errors = await owner_page(site, browser, "/#/automations")
    await page.get_by_role("link", name="New automation").click()
    await page.get_by_label("Id").fill("pump_on")
    editor = page.get_by_label("Configuration (YAML)")
    await editor.fill(BROKEN)
    await page.get_by_role("button", name="Save").click()

    # The unknown key is reported at line 6, in the list and in the gutter; nothing is written.
    error = page.locator("#yaml-errors li[data-line='6']")
    await expect(error).to_contain_text("bogus_key")
    await expect(page.locator(".gutter mark[data-line='6']")).to_be_visible()
    await shots(page, "automation-editor-error")
    assert "pump_on" not in (site.runtime.config_dir / "automations.yaml").read_text()

    await editor.fill(BROKEN.replace("    bogus_key: 1\n", ""))
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#save-status")).to_contain_text("Saved as automation.pump_on")
    await page.get_by_role("link", name="← Automations").click()
    row = page.locator("tr[data-automation='pump_on']")
    await expect(row).to_contain_text("Pump on")
    await expect(row).to_contain_text("never")
    await shots(page, "automations")

    # Run now: the action's service call lands and the trace shows the run, step by step.
    await row.get_by_role("button", name="Run Pump on now").click()
    await wait_until(lambda: any(c.service == "turn_on" for c in site.integration.calls))
    await expect(row).not_to_contain_text("never")
    await row.get_by_role("link", name="Traces of Pump on").click()
    await expect(page.locator("#trace-result")).to_have_text("finished")
    await expect(page.locator("ol.steps li[data-path='action/0']")).to_be_visible()
    await shots(page, "automation-trace")

    # Delete it again from the editor.
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(site.url + "/#/automations/edit/pump_on")
    await expect(page.get_by_label("Configuration (YAML)")).to_have_value(
        re.compile("switch.turn_on")
    )
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_text("No automations yet.")).to_be_visible()
    assert not errors, errors
