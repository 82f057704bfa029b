"""Running a backtest: validate the automation as saving would, check the period, replay it (and
the current version of an edited automation) and build the report."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from automations.const import DOMAIN_AUTOMATION
from automations.manager import AutomationManager
from core.errors import EdgewiseError
from core.runtime import RuntimeKey

from .const import MAX_PERIOD_DAYS
from .engine import ProgressCallback, Replay, ReplayOptions, ReplayResult
from .report import build_report

if TYPE_CHECKING:
    from core.runtime import Runtime
    from integrations.recorder.core import Recorder

__all__ = ["BacktestError", "ReplayOptions", "backtest"]


class BacktestError(EdgewiseError):
    """A backtest cannot be run as asked; the message says why."""


#: Set while a backtest runs: one at a time per runtime, so replays cannot starve the site.
_RUNNING: RuntimeKey[asyncio.Lock] = RuntimeKey("automations.backtest.running")


def _recorder(runtime: Runtime) -> tuple[Recorder, int | None]:
    """The running recorder and how many days it keeps."""
    from integrations.recorder.core import RECORDER  # noqa: PLC0415 - only when used

    recorder = runtime.data.get(RECORDER)
    if recorder is None or not recorder.database_ready:
        raise BacktestError("The recorder is not running: there is no history to replay")
    keep = getattr(recorder.config, "purge_keep_days", None)
    return recorder, keep


async def backtest(
    runtime: Runtime,
    config: Mapping[str, Any],
    *,
    start: datetime,
    end: datetime,
    item_id: str | None = None,
    options: ReplayOptions | None = None,
    compare: bool = True,
    cancel: asyncio.Event | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Replay ``config`` over ``[start, end)`` and report what it would have done.

    Args:
        config: the automation (as the editor saves it).
        item_id: the automation it edits; with ``compare``, its current version is replayed
            too and the report has the difference.

    Raises:
        InvalidConfig: the automation does not validate (the error saving would give).
        BacktestError: no recorder, a bad period, or no history in it.
    """
    lock = runtime.data.setdefault(_RUNNING, asyncio.Lock)
    if lock.locked():
        raise BacktestError("Another backtest is running; try again when it has finished")
    async with lock:
        return await _backtest(
            runtime,
            config,
            start=start,
            end=end,
            item_id=item_id,
            options=options or ReplayOptions(),
            compare=compare,
            cancel=cancel,
            progress=progress,
        )


async def _backtest(
    runtime: Runtime,
    config: Mapping[str, Any],
    *,
    start: datetime,
    end: datetime,
    item_id: str | None,
    options: ReplayOptions,
    compare: bool,
    cancel: asyncio.Event | None,
    progress: ProgressCallback | None,
) -> dict[str, Any]:
    if start.tzinfo is None or end.tzinfo is None:
        raise BacktestError("start and end must have a time zone")
    if end <= start:
        raise BacktestError("The period is empty: end must be after start")
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise BacktestError(f"The period is longer than {MAX_PERIOD_DAYS} days")
    manager = runtime.data.get(AutomationManager.KEY)
    if manager is None:
        raise BacktestError("The automation integration is not running")
    recorder, keep_days = _recorder(runtime)
    now = runtime.clock.now()
    if keep_days is not None and start < now - timedelta(days=keep_days):
        raise BacktestError(
            f"The period starts {(now - start).days} days ago but the recorder keeps only "
            f"{keep_days} days of history (recorder: purge_keep_days)"
        )
    new_id = item_id or str(config.get("id") or "backtest")
    candidate = {**config, "id": new_id}
    await manager.check_item(candidate, new_id)  # the same errors as saving
    validated, inputs = await manager.validate_item(candidate, new_id)
    replay = Replay(
        runtime,
        recorder,
        item_id=new_id,
        raw_config=candidate,
        validated=validated,
        blueprint_inputs=inputs,
        start=start,
        end=end,
        options=options,
    )
    from .history import RecordedHistory  # noqa: PLC0415 - imports the recorder

    extent = await RecordedHistory(recorder, 0, 0, 1).extent()
    if extent.newest is None or extent.newest < start.timestamp():
        raise BacktestError(
            f"The recorder has no history from {start.isoformat()} on: nothing to replay"
        )
    result = await replay.run(cancel=cancel, progress=progress)
    if result.items == 0:
        raise BacktestError(
            f"The recorder has no history between {start.isoformat()} and {end.isoformat()}"
        )
    current: ReplayResult | None = None
    existing = manager.automations.get(item_id) if item_id is not None and compare else None
    if existing is not None and dict(existing.raw_config) != dict(candidate):
        current = await Replay(
            runtime,
            recorder,
            item_id=item_id or new_id,
            raw_config=dict(existing.raw_config),
            validated=existing.config,
            blueprint_inputs=existing.blueprint_inputs,
            start=start,
            end=end,
            options=options,
        ).run(cancel=cancel)
    report = build_report(result, candidate, current)
    from .energy import energy_effect  # noqa: PLC0415 - reads the recorder and the tariff

    energy = await energy_effect(runtime, result)
    if energy is not None:
        report["energy"] = energy
    report["automation"] = {"id": new_id, "domain": DOMAIN_AUTOMATION}
    if extent.oldest is not None and extent.oldest > start.timestamp():
        report["not_reproduced"]["notes"].insert(
            0,
            "The recorder's history begins after the start of the period: the replay begins "
            "with the states it holds.",
        )
    return report
