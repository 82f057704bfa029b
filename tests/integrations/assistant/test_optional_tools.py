"""Tools that exist only with their integration: the optimizer's planning services."""

from __future__ import annotations

import json
from pathlib import Path

from core.auth import Role, User
from integrations.assistant.actions import confirm
from integrations.assistant.api import ASSISTANT
from integrations.assistant.tools import run_tool

from .conftest import start_site
from .messages_server import API_KEY, MessagesServer

PLAN = {
    "slot_minutes": 60,
    "start": "2026-06-01T10:00:00+02:00",
    "import_price": [0.30, 0.12, 0.10, 0.25],
    "loads": [{"name": "dishwasher", "power": 2.0, "hours": 1}],
}


async def test_run_optimizer_is_offered_with_the_optimizer_and_plans_without_acting(
    tmp_path: Path,
) -> None:
    """With ``optimizer:`` configured the tool exists; it answers the plan; apply is not offered."""
    server = MessagesServer()
    yaml = f"optimizer:\n  isolate_solver: false\nassistant:\n  api_key: {API_KEY}\n"
    runtime, _site = await start_site(tmp_path, server, yaml)
    try:
        assistant = runtime.data[ASSISTANT]
        tools = {tool.name: tool for tool in assistant.tools()}
        assert "run_optimizer" in tools
        assert "preview_tariff" not in tools  # no tariff integration here
        operator = User("op", "Op", Role.OPERATOR, "")
        ctx = assistant.tool_context(operator)
        answer, is_error = await run_tool(
            ctx, tools["run_optimizer"], {"service": "plan_deferrable_loads", "data": PLAN}
        )
        assert not is_error, answer
        plan = json.loads(answer)["response"]
        assert plan["loads"][0]["slots"] == [2]  # the cheapest hour
        refused, is_error = await run_tool(
            ctx, tools["run_optimizer"], {"service": "apply_plan", "data": {}}
        )
        assert is_error
        assert "has no service 'apply_plan'" in refused
    finally:
        await runtime.stop()


APPLIANCES = """\
appliance:
  price: 0.30
  appliances:
    - {name: Dishwasher, area: Kitchen, tier: shiftable, power: 2000}
"""


async def test_control_log_shows_an_appliance_switched_through_the_assistant(
    tmp_path: Path,
) -> None:
    """An admin's confirmed appliance.turn_on is logged with source assistant, and readable."""
    server = MessagesServer()
    yaml = f"{APPLIANCES}assistant:\n  api_key: {API_KEY}\n"
    runtime, _site = await start_site(tmp_path, server, yaml)
    try:
        assistant = runtime.data[ASSISTANT]
        tools = {tool.name: tool for tool in assistant.tools()}
        admin = User("boss", "Boss", Role.ADMIN, "")
        ctx = assistant.tool_context(admin)
        held, _ = await run_tool(
            ctx,
            tools["call_service"],
            {"domain": "appliance", "service": "turn_on", "entity_ids": ["appliance.dishwasher"]},
        )
        assert json.loads(held)["status"] == "needs_confirmation"
        assert runtime.states.get("appliance.dishwasher").state == "off"
        await confirm(
            runtime, assistant.config, assistant.pending, admin, json.loads(held)["confirmation_id"]
        )
        assert runtime.states.get("appliance.dishwasher").state == "running"
        answer, is_error = await run_tool(ctx, tools["read_control_log"], {"limit": 5})
        assert not is_error, answer
        entry = json.loads(answer)["entries"][0]
        assert (entry["appliance"], entry["action"], entry["source"], entry["user_id"]) == (
            "appliance.dishwasher",
            "turn_on",
            "assistant",
            admin.id,
        )
    finally:
        await runtime.stop()
