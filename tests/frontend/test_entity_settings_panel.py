"""The entity page's settings in a real browser: an admin renames an entity, gives it an icon,
puts it in a new area, hides it and changes its entity id; the registry holds what was saved.
"""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.frontend.conftest import Site
from tests.frontend.test_panel_browser import TIMEOUT, owner_page, wait_until


async def test_admin_renames_an_entity_assigns_a_new_area_and_hides_it(
    site: Site, browser: Browser
) -> None:
    registry = site.runtime.entity_registry
    entry = registry.get_or_create("switch", "panel_test", "pump-1", suggested_object_id="pump")
    site.runtime.states.set(entry.entity_id, "off", {"friendly_name": "Pump"})
    page, errors = await owner_page(site, browser, f"/#/entity/{entry.entity_id}")

    settings = page.locator("#entity-settings")
    await expect(settings).to_be_visible(timeout=TIMEOUT)
    await settings.get_by_label("Name").fill("Cooling pump")
    await settings.get_by_label("Icon").fill("mdi:pump")
    await settings.get_by_label("Area").select_option(label="New area…")
    await settings.get_by_placeholder("Name of the new area").fill("Basement")
    await settings.get_by_label("Hidden from the overview").check()
    await settings.get_by_role("button", name="Save").click()
    await wait_until(lambda: (registry.get(entry.entity_id) or entry).name == "Cooling pump")
    saved = registry.get(entry.entity_id)
    assert saved is not None
    assert (saved.icon, saved.area_id, saved.hidden_by) == ("mdi:pump", "basement", "user")
    await expect(settings.get_by_label("Area")).to_have_value("basement")

    await settings.get_by_label("Entity id").fill("switch.cooling_pump")
    await settings.get_by_role("button", name="Save").click()
    await wait_until(lambda: registry.get("switch.cooling_pump") is not None)
    await expect(page).to_have_url(f"{site.url}/#/entity/switch.cooling_pump")

    # An id that is taken is refused with the reason, and nothing changes.
    registry.get_or_create("switch", "panel_test", "pump-2", suggested_object_id="spare")
    settings = page.locator("#entity-settings")
    await settings.get_by_label("Entity id").fill("switch.spare")
    await settings.get_by_role("button", name="Save").click()
    await expect(settings.get_by_role("alert")).to_contain_text("already taken")
    assert registry.get("switch.cooling_pump") is not None
    assert errors == []
