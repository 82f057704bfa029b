"""Automation runs start eagerly: the actions begin within the trigger's own loop callback.

The modes, traces and errors behave as for any run; these tests pin the edges of the eager step.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from .conftest import site

_ON_CHANGE = """\
automation:
  - id: a
    mode: {mode}
    triggers: [{{trigger: state, entity_id: sensor.x}}]
    actions:
{actions}
"""


def _automation(mode: str, actions: str) -> str:
    return _ON_CHANGE.format(mode=mode, actions=actions)


async def test_the_first_action_runs_in_the_loop_iteration_that_delivers_the_change(
    cfg: Path,
) -> None:
    actions = "      - action: test.record\n        data: {n: 1}\n"
    async with site(cfg, _automation("single", actions)) as s:
        s.set("sensor.x", "1")
        assert s.calls == []  # never inside the state write
        await asyncio.sleep(0)  # the bus delivers the change: the trigger runs the action
        assert [c.data["n"] for c in s.calls] == [1]
        await s.settle()
        assert [t["script_execution"] for t in s.traces("a")] == ["finished"]
        assert s.runtime.states.get("automation.a").attributes["current"] == 0


async def test_restart_cancels_a_run_that_started_eagerly_in_the_same_iteration(
    cfg: Path,
) -> None:
    actions = """\
      - action: test.record
        data: {n: "{{ trigger.to_state.state }}"}
      - delay: 10
      - action: test.record
        data: {n: end}
"""
    async with site(cfg, _automation("restart", actions)) as s:
        s.set("sensor.x", "1")
        s.set("sensor.x", "2")  # both changes reach the trigger in one loop iteration
        await s.advance(seconds=11)
        await s.wait_for(lambda: len(s.calls) == 3)
        assert [c.data["n"] for c in s.calls] == [1, 2, "end"]
        assert [t["script_execution"] for t in s.traces("a")] == ["cancelled", "finished"]


async def test_an_error_in_the_eager_step_is_traced_and_logged(
    cfg: Path, caplog: pytest.LogCaptureFixture
) -> None:
    actions = "      - action: test.fail\n      - action: test.record\n"
    async with site(cfg, _automation("single", actions)) as s:
        with caplog.at_level(logging.ERROR, logger="automations"):
            s.set("sensor.x", "1")
            await s.settle()
        assert s.calls == []
        (trace,) = s.traces("a")
        assert trace["script_execution"] == "error"
        assert trace["error"] == "the device said no"
        assert any("the device said no" in r.message for r in caplog.records)
        assert s.runtime.states.get("automation.a").attributes["current"] == 0


async def test_the_run_counts_as_running_during_its_eager_step(cfg: Path) -> None:
    # The run triggers its own automation before its first wait: single mode refuses that.
    actions = """\
      - action: automation.trigger
        target: {entity_id: automation.a}
      - action: test.record
        data: {n: 1}
"""
    async with site(cfg, _automation("single", actions)) as s:
        s.set("sensor.x", "1")
        await s.settle()
        assert [c.data["n"] for c in s.calls] == [1]
        executions = sorted(t["script_execution"] for t in s.traces("a"))
        assert executions == ["failed_single", "finished"]


async def test_parallel_max_counts_runs_started_eagerly(
    cfg: Path, caplog: pytest.LogCaptureFixture
) -> None:
    actions = """\
      - action: test.record
        data: {n: "{{ trigger.to_state.state }}"}
      - delay: 10
"""
    yaml = _automation("parallel\n    max: 2\n    max_exceeded: error", actions)
    async with site(cfg, yaml) as s:
        with caplog.at_level(logging.ERROR, logger="automations"):
            for n in (1, 2, 3):
                s.set("sensor.x", str(n))
            await s.settle()
        assert [c.data["n"] for c in s.calls] == [1, 2]
        assert s.runtime.states.get("automation.a").attributes["current"] == 2
        assert any("maximum of 2 runs" in r.message for r in caplog.records)
        await s.advance(seconds=11)
        executions = [t["script_execution"] for t in s.traces("a")]
        assert executions == ["finished", "finished", "failed_max_runs"]


async def test_a_run_stopped_while_it_waits_after_its_eager_step_is_traced_cancelled(
    cfg: Path,
) -> None:
    actions = "      - action: test.record\n        data: {n: 1}\n      - delay: 60\n"
    async with site(cfg, _automation("single", actions)) as s:
        s.set("sensor.x", "1")
        await s.settle()
        await s.runtime.services.call(
            "automation", "turn_off", target={"entity_id": "automation.a"}
        )
        await s.settle()
        assert [t["script_execution"] for t in s.traces("a")] == ["cancelled"]
        assert s.runtime.states.get("automation.a").attributes["current"] == 0


async def test_restart_in_the_same_iteration_cancels_the_branches_of_a_parallel_step(
    cfg: Path,
) -> None:
    actions = """\
      - parallel:
          - sequence:
              - delay: 10
              - action: test.record
                data: {n: "{{ trigger.to_state.state }}"}
"""
    async with site(cfg, _automation("restart", actions)) as s:
        s.set("sensor.x", "1")
        s.set("sensor.x", "2")
        await s.advance(seconds=11)
        await s.wait_for(lambda: len(s.calls) >= 1)
        await s.settle()
        assert [c.data["n"] for c in s.calls] == [2]
        assert [t["script_execution"] for t in s.traces("a")] == ["cancelled", "finished"]
