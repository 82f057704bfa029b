"""Run modes: single, restart, queued, parallel, with max and max_exceeded."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from .conftest import Site, site


def _mode(mode: str, extra: str = "") -> str:
    return f"""\
automation:
  - id: m
    mode: {mode}
{extra}    triggers: [{{trigger: event, event_type: go}}]
    actions:
      - action: test.record
        data: {{n: "{{{{ trigger.event.data.n }}}}", phase: start}}
      - delay: 10
      - action: test.record
        data: {{n: "{{{{ trigger.event.data.n }}}}", phase: end}}
"""


async def _go(s: Site, n: int) -> None:
    s.runtime.bus.fire("go", {"n": n})
    await s.settle()


def _seen(s: Site) -> list[tuple[int, str]]:
    return [(c.data["n"], c.data["phase"]) for c in s.calls]


async def test_single_refuses_a_second_run_and_logs_at_max_exceeded_level(
    cfg: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with site(cfg, _mode("single", "    max_exceeded: info\n")) as s:
        with caplog.at_level(logging.INFO, logger="automations"):
            await _go(s, 1)
            await _go(s, 2)
        assert any(
            "already running" in r.message and r.levelno == logging.INFO for r in caplog.records
        )
        await s.advance(seconds=11)
        await s.wait_for(lambda: len(s.calls) == 2)
        assert _seen(s) == [(1, "start"), (1, "end")]
        executions = [t["script_execution"] for t in s.traces("m")]
        assert executions == ["finished", "failed_single"]


async def test_single_max_exceeded_silent(cfg: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with site(cfg, _mode("single", "    max_exceeded: silent\n")) as s:
        with caplog.at_level(logging.DEBUG, logger="automations"):
            await _go(s, 1)
            await _go(s, 2)
        assert not any("already running" in r.message for r in caplog.records)


async def test_restart_cancels_the_running_run(cfg: Path) -> None:
    async with site(cfg, _mode("restart")) as s:
        await _go(s, 1)
        await s.advance(seconds=5)
        await _go(s, 2)
        await s.advance(seconds=11)
        await s.wait_for(lambda: len(s.calls) == 3)
        assert _seen(s) == [(1, "start"), (2, "start"), (2, "end")]
        assert [t["script_execution"] for t in s.traces("m")] == ["cancelled", "finished"]


async def test_queued_runs_one_after_another_up_to_max(cfg: Path) -> None:
    async with site(cfg, _mode("queued", "    max: 2\n")) as s:
        for n in (1, 2, 3):
            await _go(s, n)
        assert s.runtime.states.get("automation.m").attributes["current"] == 2
        await s.advance(seconds=11)
        await s.advance(seconds=11)
        await s.wait_for(lambda: len(s.calls) == 4)
        assert _seen(s) == [(1, "start"), (1, "end"), (2, "start"), (2, "end")]
        assert "failed_max_runs" in [t["script_execution"] for t in s.traces("m")]


async def test_parallel_runs_together_up_to_max(cfg: Path) -> None:
    async with site(cfg, _mode("parallel", "    max: 2\n")) as s:
        for n in (1, 2, 3):
            await _go(s, n)
        await s.wait_for(lambda: len(s.calls) == 2)
        assert _seen(s) == [(1, "start"), (2, "start")]
        await s.advance(seconds=11)
        await s.wait_for(lambda: len(s.calls) == 4)
        assert sorted(_seen(s)[2:]) == [(1, "end"), (2, "end")]
        assert s.runtime.states.get("automation.m").attributes["current"] == 0
