"""A user limited to areas (core's ``User.areas``) sees and acts only there, tool by tool."""

from __future__ import annotations

import json

from core.auth import Role
from integrations.assistant.tools import run_tool

from .conftest import Env


async def _run(env: Env, role: Role, name: str, args: dict) -> tuple[dict, bool]:
    assistant = env.assistant
    tool = next(t for t in assistant.tools() if t.name == name)
    text, is_error = await run_tool(assistant.tool_context(env.user(role)), tool, args)
    return json.loads(text), is_error


async def test_an_area_limited_operator_finds_only_entities_in_their_areas(env: Env) -> None:
    """find_entities leaves the other zone out; the admin (every area) sees both."""
    found, _ = await _run(env, Role.OPERATOR, "find_entities", {"domain": "switch"})
    assert [e["entity_id"] for e in found["entities"]] == ["switch.north_heating"]
    assert found["total"] == 1
    everything, _ = await _run(env, Role.ADMIN, "find_entities", {"domain": "switch"})
    assert everything["total"] == 2


async def test_state_and_history_outside_the_areas_are_refused(env: Env) -> None:
    """get_state and summarize_history refuse the south zone to the operator of the north."""
    state, is_error = await _run(
        env, Role.OPERATOR, "get_state", {"entity_id": "sensor.zone_south_temperature"}
    )
    assert is_error
    assert state["error"] == "refused"
    assert "sensor.zone_south_temperature" in state["reason"]
    own, is_error = await _run(
        env, Role.OPERATOR, "get_state", {"entity_id": "sensor.zone_north_temperature"}
    )
    assert not is_error
    assert own["state"] == "19.5"
    history, is_error = await _run(
        env,
        Role.OPERATOR,
        "summarize_history",
        {"entity_ids": ["sensor.zone_north_temperature", "sensor.zone_south_temperature"]},
    )
    assert is_error
    assert history["error"] == "refused"


async def test_tools_that_cannot_keep_to_areas_are_refused(env: Env) -> None:
    """Automations span areas: an area-limited user is refused them, not shown them all."""
    answer, is_error = await _run(env, Role.OPERATOR, "list_automations", {})
    assert is_error
    assert "limited to areas" in answer["reason"]
    listed, is_error = await _run(env, Role.VIEWER, "list_automations", {})
    assert not is_error
    assert listed["total"] == 1
