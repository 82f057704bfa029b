"""Tests of switches: turn_on, turn_off and toggle through the pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.audit import audit_log
from core.entity_platform import add_entities
from core.runtime import Runtime
from tests.core._entity_helpers import VirtualSwitch, make_runtime


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path) as rt:
        yield rt


async def test_switch_services_turn_on_off_and_toggle(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])

    for service in ("turn_on", "turn_off", "toggle", "toggle"):
        await runtime.services.call("switch", service, {"entity_id": "switch.plug"})

    assert plug.writes == [True, False, True, False]
    assert runtime.states.is_state("switch.plug", "off")
    assert [r.action for r in reversed(audit_log(runtime).query())] == [
        "switch.turn_on",
        "switch.turn_off",
        "switch.toggle",
        "switch.toggle",
    ]
