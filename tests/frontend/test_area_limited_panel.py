"""An operator limited to the Plant room uses the panel in a real browser: the overview holds
only the Plant room's entities, their entity page and controls work, the console stays clean,
and a link to an entity of another area says it is not available to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, Page, expect

from core.auth import Role
from tests.frontend.conftest import Site
from tests.frontend.test_panel_browser import TIMEOUT, log_in, open_page, wait_until


async def test_an_area_limited_operator_uses_the_panel_within_their_area(
    site: Site, browser: Browser, shots: Callable[[Page, str], Any]
) -> None:
    runtime = site.runtime
    assert runtime.http is not None
    auth = runtime.http.auth
    await auth.create_user("ada", "correct horse", name="Ada Owner")  # the site has an owner
    operator = await auth.create_user(
        "olga", "plant password", name="Olga Operator", role=Role.OPERATOR
    )
    operator.areas = frozenset({"plant_room"})  # as `edgewise user areas olga plant_room`
    await auth.save()
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await page.goto(site.url)
    await log_in(page, "olga", "plant password")

    # The overview: the Plant room's entities, nothing of the Kitchen or of no area.
    pump = page.locator("li[data-entity-id='switch.pump']")
    await expect(pump).to_be_visible()
    await expect(page.locator("li[data-entity-id='number.setpoint']")).to_be_visible()
    await expect(page.locator("li[data-entity-id='sensor.boiler']")).to_be_visible()
    shown = await page.locator("li[data-entity-id]").evaluate_all(
        "items => items.map(i => i.dataset.entityId).sort()"
    )
    assert shown == ["number.setpoint", "sensor.boiler", "switch.pump"]
    await expect(page.get_by_role("heading", name="Kitchen")).to_have_count(0)

    # Toggling their switch works, with their user on the call.
    toggle = pump.get_by_role("switch")
    await expect(toggle).not_to_be_checked()
    await toggle.click()
    await wait_until(lambda: any(c.service == "turn_on" for c in site.integration.calls))
    call = next(c for c in site.integration.calls if c.service == "turn_on")
    assert list(call.target.entity_ids) == ["switch.pump"]
    assert call.context.user_id == operator.id
    await expect(toggle).to_be_checked()
    await shots(page, "area-limited-overview")

    # Their entity page: state, who changed it, history; the control works there too.
    await pump.get_by_role("link", name="Pump").click()
    await expect(page.get_by_role("heading", name="Pump", exact=True)).to_be_visible()
    await expect(page.locator("#changed-by")).to_have_text("Olga Operator (user)")
    await expect(page.locator(".chart table, .chart .uplot")).to_be_visible()
    await page.locator(".control").get_by_role("switch").click()
    await wait_until(lambda: runtime.states.is_state("switch.pump", "off"))
    await expect(page.locator(".big-state")).to_have_text("off")
    await shots(page, "area-limited-entity")

    # An entity of the Kitchen, by URL: not available to them.
    await page.goto(site.url + "/#/entity/select.mode")
    await expect(page.get_by_role("alert")).to_have_text(
        "This entity is not available to you: it is outside your areas, or does not exist."
    )
    await expect(page.locator("#entity-settings")).to_have_count(0)
    await expect(page.get_by_role("heading", name="History")).to_be_hidden()
    # The same on a fresh load of that URL (the states arrive after the page is drawn).
    await page.reload()
    await expect(page.get_by_role("alert")).to_have_text(
        "This entity is not available to you: it is outside your areas, or does not exist."
    )
    await shots(page, "area-limited-outside")
    assert runtime.states.is_state("select.mode", "eco")
    # A change in the Kitchen meanwhile: in the site's logbook, not in theirs.
    kitchen_mode = runtime.states.get("select.mode")
    assert kitchen_mode is not None
    runtime.states.set("select.mode", "comfort", dict(kitchen_mode.attributes))

    # Every other page opens for them without an error (what it lists is theirs or refused).
    for name in ("Automations", "Logbook", "Integrations", "Settings", "Plant"):
        await open_page(page, name)
        await expect(page.locator("main h1").first).to_be_visible()
    await open_page(page, "Logbook")
    await expect(page.locator("main")).to_contain_text("Pump")
    await expect(page.locator("main")).not_to_contain_text("Mode")
    await shots(page, "area-limited-logbook")
    assert errors == []
