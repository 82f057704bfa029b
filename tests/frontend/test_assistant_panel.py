"""The assistant's done-means in a real browser: a viewer asks the panel which zone was warmest
yesterday and why night setback did not run, and gets an answer built from tool calls over the
site's recorded data; the same viewer cannot make it change anything.

The model is the local Messages API server (``tests/integrations/assistant/messages_server.py``)
scripted to call the tools and to build its words only from what they answered; the site has
yesterday's hourly statistics in its recorder and a night-setback run whose condition failed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.frontend.test_panel_browser import TIMEOUT, log_in
from tests.integrations.assistant.conftest import (
    Env,
    env,  # noqa: F401 - the fixture, used by name
    record_yesterday,
)
from tests.integrations.assistant.messages_server import text, tool_results, tool_use

QUESTION = "Which zone was warmest yesterday and why did night setback not run?"


def _hour(runtime: Any, value: Any) -> str:
    """A statistics row's start as local HH:MM."""
    moment = (
        datetime.fromtimestamp(value, runtime.core.tzinfo)
        if isinstance(value, int | float)
        else datetime.fromisoformat(str(value)).astimezone(runtime.core.tzinfo)
    )
    return moment.strftime("%H:%M")


def _script_the_model(site: Env) -> None:
    """find_entities → summarize_history (yesterday) → explain_automation → an answer made of
    their results; then, for the write, call_service → the refusal told as it came."""
    runtime = site.runtime
    seen: dict[str, Any] = {}

    def after_find(request: dict[str, Any]) -> list[dict[str, Any]]:
        found = tool_results(request)[0]["content"]["entities"]
        seen["names"] = {e["entity_id"]: e["name"] for e in found}
        return [
            tool_use("summarize_history", {"entity_ids": list(seen["names"]), "day": "yesterday"})
        ]

    def after_history(request: dict[str, Any]) -> list[dict[str, Any]]:
        seen["stats"] = tool_results(request)[0]["content"]["statistics"]
        return [tool_use("explain_automation", {"entity_id": "automation.night_setback"})]

    def answer(request: dict[str, Any]) -> list[dict[str, Any]]:
        explained = tool_results(request)[0]["content"]
        stats, names = seen["stats"], seen["names"]
        warmest = max(stats, key=lambda e: stats[e]["max"])
        others = [f"{names[e]} peaked at {stats[e]['max']} °C" for e in stats if e != warmest]
        condition = explained["conditions"][0]
        run = explained["recent_runs"][0]
        return [
            text(
                f"{names[warmest]} was warmest yesterday: {stats[warmest]['max']} °C at "
                f"{_hour(runtime, stats[warmest]['max_at'])} (mean {stats[warmest]['mean']} °C); "
                f"{'; '.join(others)}.\n"
                f"Night setback was triggered at {_hour(runtime, run['start'])} but did not "
                f"act: its condition {condition['entity_id']} = {condition['state']} was false "
                f"(outcome {run['outcome']})."
            )
        ]

    def refused(request: dict[str, Any]) -> list[dict[str, Any]]:
        result = tool_results(request)[0]["content"]
        return [text(f"I cannot do that: {result['error']} ({result['reason']}).")]

    site.server.script(
        [
            text("Let me look at the data."),
            tool_use("find_entities", {"device_class": "temperature"}),
        ],
        after_find,
        after_history,
        answer,
        [
            tool_use(
                "call_service",
                {"domain": "switch", "service": "turn_on", "entity_ids": ["switch.north_heating"]},
            )
        ],
        refused,
    )


async def test_a_viewer_asks_the_done_means_question_and_cannot_change_anything(
    env: Env,  # noqa: F811 - the fixture imported above
    browser: Browser,
    shots: Callable[[Page, str], Any],
) -> None:
    runtime = env.runtime
    await record_yesterday(runtime)
    _script_the_model(env)

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await page.goto(env.url + "/#/overview")
    await log_in(page, "viewer-user", "pw-viewer")
    await page.get_by_role("button", name="Ask").click()
    drawer = page.get_by_role("complementary", name="Assistant")
    await drawer.get_by_label("Question").fill(QUESTION)
    await drawer.get_by_role("button", name="Send").click()
    log = drawer.get_by_role("log")
    await expect(log).to_contain_text(
        "Zone south temperature was warmest yesterday: 24.5 °C at 14:00"
    )
    await expect(log).to_contain_text("Zone north temperature peaked at 20.5 °C")
    await expect(log).to_contain_text(
        "its condition input_boolean.night_mode = on was false (outcome failed_conditions)"
    )
    for tool in ("find_entities", "summarize_history", "explain_automation"):
        await expect(log).to_contain_text(f"Looking up: {tool}…")
    usage = drawer.get_by_role("status", name="Token use")
    await expect(usage).to_contain_text("This turn:")
    await expect(usage).to_contain_text("of 200,000 tokens")
    # The tools ran as the viewer, on the recorder's statistics (no raw rows), and were audited.
    requests = env.server.requests
    assert [tool_results(r)[0]["content"].get("error") for r in requests[1:4]] == [None] * 3
    await shots(page, "assistant-done-means")

    # The viewer asks for a change: the tool refuses it, no Confirm is offered, nothing moves.
    await drawer.get_by_label("Question").fill("Turn the north heating on")
    await drawer.get_by_role("button", name="Send").click()
    await expect(log).to_contain_text("I cannot do that: refused")
    await expect(drawer.get_by_role("group", name="Needs confirmation")).to_have_count(0)
    await shots(page, "assistant-viewer-refused")
    assert runtime.states.get("switch.north_heating").state == "off"
    assert env.site.calls == []
    assert env.assistant.pending == {}
    assert errors == []
    await page.close()
