"""Every page of the panel, as the shell lists them, at desktop and phone size, light and dark.

One table-driven test: it logs in, reads the pages from the shell's own navigation (every PAGES
entry and the integrations' pages from ``get_panels``, so pages added later are covered without
editing this file), adds the pages reached from inside others (an entity, an alarm list, the
automation editor and a trace, login), and for each page in each of the four views:

- injects axe-core (from npm, pinned; ``tests/frontend/_axe.py``) and asserts no serious or
  critical violation;
- asserts the header is one row and the page does not scroll sideways;
- saves a screenshot ``<page>-<desktop|phone>-<light|dark>.png`` in the folder the test prints
  (and records as the ``screenshots`` property): ``$TMPDIR/edgewise-screenshots/panel-pages``, or
  ``$EDGEWISE_SCREENSHOTS/panel-pages``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio
from playwright.async_api import Browser, Page, expect

import automations.integration
import integrations.appliance
import integrations.assistant
import integrations.optimizer
import integrations.persistent_notification
import integrations.recorder
import integrations.tariff
from core.const import CoreState
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from tests._helpers import wait_for
from tests.conftest import ConfigDirFactory
from tests.frontend._axe import require_axe
from tests.frontend.conftest import PanelTestIntegration
from tests.frontend.test_panel_browser import TIMEOUT, log_in

CONFIG = """\
http: {server_host: 127.0.0.1, server_port: 0}
recorder: {commit_interval: 0}
automation: !include automations.yaml
appliance:
  price: 0.3
  appliances:
    - {name: Water heater, area: Utility room, tier: deferrable, power: 2000}
optimizer:
assistant:
tariff:
  currency: EUR
  plan:
    name: Day and night
    day_sets:
      every_day:
        days: [mon, tue, wed, thu, fri, sat, sun, holiday]
        slots:
          - {start: "00:00", end: "07:00", price: 0.22, type: off_peak}
          - {start: "07:00", end: "17:00", price: 0.30, type: standard}
          - {start: "17:00", end: "21:00", price: 0.42, type: peak}
          - {start: "21:00", end: "24:00", price: 0.24, type: off_peak}
"""
AUTOMATIONS = """\
- id: pump_alarm
  alias: Pump running alarm
  triggers:
    - trigger: state
      entity_id: switch.pump
      to: "on"
  actions:
    - action: persistent_notification.create
      data:
        notification_id: pump_running
        severity: warning
        title: Pump running
        message: The plant room pump was switched on.
"""
VIEWS = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
#: Pages reached from inside others (links the shell's navigation does not list).
INNER_PAGES = [
    "#/entity/climate.zone_1",
    "#/alarms",
    "#/alarms/acknowledged",
    "#/alarms/history",
    "#/automations/new",
    "#/automations/trace/pump_alarm",
]
SERIOUS = ("serious", "critical")
#: Kept after the test (pytest's own tmp folders rotate away, and the machine is shared); set
#: EDGEWISE_SCREENSHOTS to put them elsewhere.
SCREENSHOTS = (
    Path(
        os.environ.get("EDGEWISE_SCREENSHOTS", Path(tempfile.gettempdir()) / "edgewise-screenshots")
    )
    / "panel-pages"
)


@pytest_asyncio.fixture
async def full_site(config_dir: ConfigDirFactory) -> AsyncIterator[Runtime]:
    """The test entities, a thermostat, alarms, an automation with a run, and three integrations
    that add pages (appliances, energy, optimizer, the assistant's page and drawer, with no model
    configured); an owner called Ada."""
    loader = IntegrationLoader()
    loader.register(PanelTestIntegration(), source="test paneltest")
    for module in (
        integrations.recorder,
        automations.integration,
        integrations.persistent_notification,
        integrations.appliance,
        integrations.tariff,
        integrations.optimizer,
        integrations.assistant,
    ):
        loader.register(module, source="test")
    runtime = Runtime(config_dir(CONFIG, **{"automations.yaml": AUTOMATIONS}), loader=loader)
    await runtime.start()
    assert runtime.http is not None
    await runtime.http.auth.create_user("ada", "correct horse", name="Ada Owner")
    thermostat = {
        "friendly_name": "Zone 1",
        "temperature": 17.0,
        "current_temperature": 19.5,
        "hvac_action": "idle",
        "min_temp": 7,
        "max_temp": 30,
    }
    runtime.states.set("climate.zone_1", "heat", thermostat)
    runtime.states.set("climate.zone_1", "heat", {**thermostat, "temperature": 21.0})
    notes = runtime.notifications
    for _ in range(3):
        notes.create("9.6 kW for 2 minutes", title="House power high", severity="critical")
    notes.create("Filter due in 5 days", title="AHU filter", notification_id="ahu", severity="info")
    notes.create(
        "Boiler flow sensor unavailable",
        title="Boiler",
        notification_id="boiler",
        severity="warning",
    )
    notes.acknowledge("boiler")
    notes.create(
        "Chiller 2 restarted", title="Chiller 2", notification_id="ch2", severity="warning"
    )
    notes.dismiss("ch2")
    await runtime.services.call("switch", "turn_on", {"entity_id": "switch.pump"})
    await wait_for(lambda: notes.get("pump_running") is not None)
    yield runtime
    if runtime.state is not CoreState.NOT_RUNNING:
        await runtime.stop()


async def settled(page: Page) -> None:
    """Wait until the page shows something and nothing says it is still loading."""
    await page.wait_for_function(
        """() => {
          const main = document.querySelector("main") || document.body;
          return main.textContent.trim() !== "" && !/Loading…/.test(main.textContent);
        }""",
        timeout=TIMEOUT,
    )
    await page.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
    )


async def axe_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    violations = await page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] if node["target"] else "?" for node in v["nodes"][:4])
        for v in violations
        if v["impact"] in SERIOUS
    ]


async def layout_problems(page: Page, view: str) -> list[str]:
    """A header of more than one row, or a page that scrolls sideways."""
    found = await page.evaluate(
        """() => {
          const header = document.querySelector("header.top");
          return {
            header: header ? header.getBoundingClientRect().height : 0,
            scroll: document.documentElement.scrollWidth,
            width: innerWidth,
          };
        }"""
    )
    problems = []
    if found["header"] > 64:
        problems.append(f"the header is {found['header']:.0f} px high (more than one row)")
    if found["scroll"] > found["width"] + 1:
        problems.append(f"the page is {found['scroll']} px wide in a {found['width']} px {view}")
    return problems


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_") or "overview"


async def test_every_page_is_accessible_fits_and_is_photographed(
    full_site: Runtime,
    browser: Browser,
    record_property: Callable[[str, Any], None],
) -> None:
    axe = require_axe()
    assert full_site.http is not None
    url = f"http://127.0.0.1:{full_site.http.port}/"
    folder = SCREENSHOTS
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    record_property("screenshots", str(folder))
    print(f"\nScreenshots of every page: {folder}")
    context = await browser.new_context(viewport=VIEWS["desktop"], color_scheme="light")
    # Injected by the browser into every document (the panel's CSP refuses inline scripts).
    await context.add_init_script(script=axe)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    problems: dict[str, list[str]] = {}

    # Login first, in each view (then the session is kept for the rest).
    await page.goto(url)
    for view, size in VIEWS.items():
        for scheme in ("light", "dark"):
            await page.set_viewport_size(size)
            await page.emulate_media(color_scheme=scheme)
            await expect(page.get_by_role("button", name="Log in")).to_be_visible()
            key = f"login-{view}-{scheme}"
            problems[key] = await axe_problems(page) + await layout_problems(page, view)
            await page.screenshot(path=str(folder / f"{key}.png"), full_page=True)
    await page.set_viewport_size(VIEWS["desktop"])
    await page.emulate_media(color_scheme="light")
    await log_in(page, "ada", "correct horse")

    # The pages the shell offers: every link of its navigation (the "More" menu included).
    hrefs = await page.eval_on_selector_all(
        "header nav a[href^='#/'], header a.alarms-link",
        "links => links.map((a) => a.getAttribute('href'))",
    )
    assert "#/panel/appliances" in hrefs, hrefs
    assert "#/panel/energy" in hrefs, hrefs
    assert "#/panel/assistant" in hrefs, hrefs
    pages = list(dict.fromkeys([*hrefs, *INNER_PAGES]))
    for view, size in VIEWS.items():
        await page.set_viewport_size(size)
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            for path in pages:
                await page.goto(url + path)
                await settled(page)
                key = f"{slug(path)}-{view}-{scheme}"
                problems[key] = await axe_problems(page) + await layout_problems(page, view)
                await page.screenshot(path=str(folder / f"{key}.png"), full_page=True)

    found = {key: lines for key, lines in problems.items() if lines}
    assert not found, "\n".join(f"{key}: {line}" for key, lines in found.items() for line in lines)
    assert not errors, errors
    assert len(list(folder.glob("*.png"))) == len(problems)


async def test_the_header_menus_and_skip_link_work_with_the_keyboard(
    full_site: Runtime, browser: Browser
) -> None:
    assert full_site.http is not None
    page = await browser.new_page(viewport={"width": 1200, "height": 800})
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await page.goto(f"http://127.0.0.1:{full_site.http.port}/#/logbook")
    await log_in(page, "ada", "correct horse")
    header = page.locator("header.top")

    # Desktop, 1,200 px: one row; the links that do not fit are under "More".
    await expect(page.get_by_role("heading", name="Logbook")).to_be_visible()
    assert (await header.bounding_box() or {"height": 999})["height"] <= 64
    more = page.get_by_role("button", name="More")
    await expect(more).to_be_visible()
    await more.focus()
    await page.keyboard.press("Enter")
    await expect(more).to_have_attribute("aria-expanded", "true")
    listed = page.locator("#nav-more a")
    assert await listed.count() >= 1
    await expect(listed.first).to_be_focused()
    await page.screenshot(path=str(SCREENSHOTS.parent / "desktop-1200-more-open.png"))
    await page.keyboard.press("Escape")
    await expect(more).to_have_attribute("aria-expanded", "false")
    await expect(more).to_be_focused()
    await expect(page.locator("#nav-more")).to_be_hidden()

    # "Skip to content" moves the focus to the page, and the page stays.
    await page.reload()
    await expect(page.get_by_role("heading", name="Logbook")).to_be_visible()
    await page.keyboard.press("Tab")  # the first stop of the page
    skip = page.get_by_role("link", name="Skip to content")
    await expect(skip).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main#main")).to_be_focused()
    await expect(page.get_by_role("heading", name="Logbook")).to_be_visible()
    assert page.url.endswith("#/logbook")

    # Phone: one row, the links behind "Menu"; it opens on the first link and closes on Escape.
    await page.set_viewport_size(VIEWS["phone"])
    assert (await header.bounding_box() or {"height": 999})["height"] <= 64
    menu = page.get_by_role("button", name="Menu")
    await expect(page.get_by_role("navigation", name="Pages")).to_be_hidden()
    await menu.focus()
    await page.keyboard.press("Enter")
    await expect(menu).to_have_attribute("aria-expanded", "true")
    nav = page.get_by_role("navigation", name="Pages")
    await expect(nav.get_by_role("link", name="Overview")).to_be_focused()
    await expect(nav.get_by_role("link", name="Appliances")).to_be_visible()  # all of them
    await page.screenshot(path=str(SCREENSHOTS.parent / "phone-menu-open.png"))
    await page.keyboard.press("Escape")
    await expect(menu).to_be_focused()
    await expect(nav).to_be_hidden()
    await menu.click()
    await nav.get_by_role("link", name="Automations").click()
    await expect(page.get_by_role("heading", name="Automations")).to_be_visible()
    await expect(menu).to_have_attribute("aria-expanded", "false")
    # The alarm counts are read out by severity.
    await expect(
        page.get_by_role("link", name="Alarms: 1 critical, 1 warning, 1 info")
    ).to_be_visible()
    assert not errors, errors


async def test_the_action_form_writes_into_the_yaml_and_reads_it_back_and_traces_read_as_steps(
    full_site: Runtime, browser: Browser
) -> None:
    assert full_site.http is not None
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await page.goto(f"http://127.0.0.1:{full_site.http.port}/#/automations/edit/pump_alarm")
    await log_in(page, "ada", "correct horse")
    await expect(page.get_by_role("heading", name="Edit Pump running alarm")).to_be_visible()
    yaml_box = page.get_by_label("Configuration (YAML)")
    form = page.locator("section.action-form")

    # The YAML's action comes back into the form: the service, its text and its choice.
    await form.get_by_role("button", name="Read from the YAML").click()
    existing = form.get_by_label("Action", exact=True)
    await expect(existing.locator("option")).to_have_count(2)
    await existing.select_option(index=1)
    await expect(form.get_by_label("Service")).to_have_value("persistent_notification.create")
    await expect(form.get_by_label("Message (required)")).to_have_value(
        "The plant room pump was switched on."
    )
    severity = form.get_by_label("Severity")
    await expect(severity).to_have_value("warning")
    await severity.select_option("critical")
    await form.get_by_role("button", name="Replace action 1").click()
    await expect(yaml_box).to_have_value(re.compile(r"severity: critical"))

    # A new action from a service's description: a number field, written into the YAML.
    await existing.select_option("")
    await form.get_by_label("Service").select_option("number.set_value")
    value = form.get_by_label(re.compile("^Value"))
    await expect(value).to_have_attribute("type", "number")
    await value.fill("21.5")
    await form.get_by_role("button", name="Add to the YAML").click()
    await expect(yaml_box).to_have_value(
        re.compile(r"action: number\.set_value\n\s+data:\n\s+value: 21\.5")
    )
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#save-status")).to_contain_text("Saved")

    # The trace of the run is a timeline in words, with friendly names; raw JSON one click away.
    await page.goto(f"http://127.0.0.1:{full_site.http.port}/#/automations/trace/pump_alarm")
    await expect(page.get_by_role("heading", name="Traces of Pump running alarm")).to_be_visible()
    steps = page.locator("ol.timeline li.step")
    await expect(steps.first).to_contain_text("State trigger: Pump to on")
    action = page.locator("ol.timeline li.step[data-path='action/0']")
    await expect(action).to_contain_text("Call persistent_notification.create")
    await expect(action.locator(".step-result")).to_have_text(
        "called persistent_notification.create"
    )
    await expect(action.locator("details.raw pre")).to_be_hidden()
    await action.locator("details.raw summary").click()
    await expect(action.locator("details.raw pre")).to_contain_text('"service_data"')
    assert not errors, errors


async def test_the_logbook_shows_set_points_by_name_and_hides_chatty_entities_per_user(
    full_site: Runtime, browser: Browser
) -> None:
    assert full_site.http is not None
    page = await browser.new_page(viewport=VIEWS["phone"])
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await page.goto(f"http://127.0.0.1:{full_site.http.port}/#/logbook")
    await log_in(page, "ada", "correct horse")
    entries = page.locator("ol.entries li")
    setpoint = entries.filter(has_text="changed its target temperature to 21.0 °C (was 17.0)")
    await expect(setpoint.get_by_role("link", name="Zone 1")).to_be_visible()
    # Described events name entities by their friendly names too.
    await expect(entries.filter(has_text="triggered by state of Pump").first).to_be_visible()

    # Hide the thermostat: its lines go, and stay gone after a reload (kept on the server).
    await setpoint.get_by_role("button", name="Hide Zone 1 from the logbook").click()
    await expect(entries.filter(has_text="Zone 1")).to_have_count(0)
    await page.reload()
    await expect(entries.first).to_be_visible()
    await expect(entries.filter(has_text="Zone 1")).to_have_count(0)
    await page.get_by_text("Hidden entities (1)").click()
    await page.get_by_role("button", name="Show Zone 1 again").click()
    await expect(setpoint).to_be_visible()
    assert not errors, errors
