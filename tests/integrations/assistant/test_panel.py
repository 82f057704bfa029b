"""The chat drawer in a real browser: on every page, streamed answers, Confirm for a write."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.frontend.conftest import (  # noqa: F401 - fixtures used by name
    browser,
    chromium,
)
from tests.frontend.test_panel_browser import owner_page

from .conftest import Env
from .messages_server import text, tool_results, tool_use


async def test_drawer_streams_the_answer_and_confirms_a_write(
    env: Env,
    browser: Browser,  # noqa: F811 - the fixture imported above
) -> None:
    """From the overview: ask, see the tool's data in the answer, Confirm: the switch is on,
    and the model answers after it."""
    env.server.script(
        [tool_use("get_state", {"entity_id": "sensor.zone_south_temperature"})],
        lambda req: [
            text(f"Zone south is at {tool_results(req)[0]['content']['state']} °C."),
            tool_use(
                "call_service",
                {"domain": "switch", "service": "turn_on", "entity_ids": ["switch.north_heating"]},
            ),
        ],
        lambda req: [
            text(f"Confirmed: the heating is {tool_results(req)[0]['content']['status']}.")
        ],
    )
    page, errors = await owner_page(env, browser, "/#/overview")  # type: ignore[arg-type]
    await page.get_by_role("button", name="Ask").click()
    drawer = page.get_by_role("complementary", name="Assistant")
    await drawer.get_by_label("Question").fill("How warm is the south zone? Heat the north.")
    await drawer.get_by_role("button", name="Send").click()
    await expect(drawer.get_by_role("log")).to_contain_text("Zone south is at 22.0 °C.")
    action = drawer.get_by_role("group", name="Needs confirmation")
    await expect(action).to_contain_text("switch.turn_on on switch.north_heating")
    assert env.runtime.states.get("switch.north_heating").state == "off"
    await action.get_by_role("button", name="Confirm").click()
    await expect(action).to_contain_text("Done: switch.turn_on on switch.north_heating")
    assert env.runtime.states.get("switch.north_heating").state == "on"
    # The outcome went back to the model, whose next answer streams in; token use is shown.
    await expect(drawer.get_by_role("log")).to_contain_text("Confirmed: the heating is done.")
    await expect(drawer.get_by_role("status", name="Token use")).to_contain_text("This turn:")
    await expect(drawer.get_by_role("status", name="Token use")).to_contain_text(
        "of 200,000 tokens"
    )
    # The drawer stays open on another page, the conversation listed; it closes and opens again.
    await page.goto(env.url + "/#/logbook")
    await expect(page.get_by_role("heading", name="Logbook")).to_be_visible()
    await expect(drawer.get_by_label("Conversations")).to_contain_text(
        "How warm is the south zone?"
    )
    await drawer.get_by_role("button", name="Close the assistant").click()
    await expect(drawer).to_be_hidden()
    await page.get_by_role("button", name="Ask").click()
    await expect(drawer.get_by_role("log")).to_contain_text("Zone south is at 22.0 °C.")
    assert errors == []
