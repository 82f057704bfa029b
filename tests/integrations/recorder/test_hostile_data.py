"""The recorder's writer against data built to break it: one item never stops the writer, and
a writer that stops anyway says so (integration failed, notification, /ready, flush)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from sqlalchemy import select

from core.integration import IntegrationStatus
from integrations.recorder.const import RecorderStatus
from integrations.recorder.core import Recorder
from integrations.recorder.errors import RecorderUnavailableError
from integrations.recorder.models import EventData, Events, EventTypes
from integrations.recorder.util import json_loads

from .conftest import MakeRuntime, orm_session
from .test_writer import settled_recorder, states_of


def nested(depth: int) -> dict[str, object]:
    """``{"a": {"a": ... "leaf"}}`` ``depth`` levels deep."""
    value: object = "leaf"
    for _ in range(depth):
        value = {"a": value}
    assert isinstance(value, dict)
    return value


def depth_of(value: object) -> int:
    depth = 0
    while isinstance(value, dict):
        value, depth = value["a"], depth + 1
    return depth


async def event_data_of(recorder: Recorder, event_type: str) -> list[object]:
    async with orm_session(recorder) as session:
        rows = await session.execute(
            select(EventData.shared_data)
            .select_from(Events)
            .join(EventTypes, Events.event_type_id == EventTypes.event_type_id)
            .join(EventData, Events.data_id == EventData.data_id)
            .where(EventTypes.event_type == event_type)
        )
        return [json_loads(text) for text in rows.scalars()]


async def test_an_event_nested_past_the_recursion_limit_is_recorded_clipped(
    make_runtime: MakeRuntime, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # What `script/turn_on` with 5,000-deep `variables` fired before the doors were bounded;
    # an integration can still fire it. pytest's log handler raises on a log call that cannot
    # be formatted, which is how the writer died: it logged the item with %r.
    recorder = await settled_recorder(make_runtime, db_url, commit_interval=0)
    runtime = recorder.runtime
    runtime.bus.fire("call_service", {"domain": "script", "service_data": nested(5000)})
    runtime.bus.fire("after_event", {"ok": 1})
    async with asyncio.timeout(30):
        await recorder.flush()

    assert recorder.status is RecorderStatus.OK
    assert await event_data_of(recorder, "after_event") == [{"ok": 1}]
    [clipped] = await event_data_of(recorder, "call_service")
    assert isinstance(clipped, dict)
    assert clipped["domain"] == "script"
    assert 100 < depth_of(clipped["service_data"]) < 300
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_state_with_attributes_nested_past_the_recursion_limit_is_recorded(
    make_runtime: MakeRuntime, sqlite_url: str
) -> None:
    recorder = await settled_recorder(make_runtime, sqlite_url, commit_interval=0)
    runtime = recorder.runtime
    runtime.states.set("sensor.deep", "1", {"tree": nested(3000)})
    runtime.states.set("sensor.after", "2")
    async with asyncio.timeout(30):
        await recorder.flush()

    assert [row.state for row in await states_of(recorder, "sensor.deep")] == ["1"]
    assert [row.state for row in await states_of(recorder, "sensor.after")] == ["2"]
    assert recorder.status is RecorderStatus.OK


async def test_a_writer_that_stops_on_an_error_reports_failed_and_releases_flush(
    make_runtime: MakeRuntime, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = await settled_recorder(make_runtime, sqlite_url, commit_interval=0)
    runtime = recorder.runtime
    # The statistics catch-up is left to finish: cancelling it in the middle of an aiosqlite
    # query (as the failure's clean-up does) leaves SQLAlchemy's graceful close pending forever.
    catch_up = [t for t in asyncio.all_tasks() if t.get_name() == "recorder.statistics.catch_up"]
    if catch_up:
        await asyncio.wait(catch_up, timeout=30)

    async def broken_commit(_database: object) -> bool:
        raise RuntimeError("a bug in the writer")

    # A fault injected into the writer itself: whatever the cause, it must not die silently.
    monkeypatch.setattr(recorder, "_commit_batch", broken_commit)
    runtime.bus.fire("some_event", {"n": 1})
    with pytest.raises(RecorderUnavailableError, match="a bug in the writer"):
        async with asyncio.timeout(10):
            await recorder.flush()

    loaded = runtime.loader.get("recorder")
    assert loaded is not None
    assert loaded.status is IntegrationStatus.FAILED
    assert loaded.error == "a bug in the writer"
    notification = runtime.notifications.get("integration_failed_recorder")
    assert notification is not None
    assert "a bug in the writer" in notification["message"]
    with pytest.raises(RecorderUnavailableError):
        await recorder.flush()
    assert runtime.http is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{runtime.http.port}/ready") as response,
    ):
        assert response.status == 503
        assert await response.json() == {
            "status": "failed",
            "failed": {"recorder": "a bug in the writer"},
        }
