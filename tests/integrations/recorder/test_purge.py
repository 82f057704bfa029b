"""Purging old history: chunks that take turns with the writer, orphans, statistics kept."""

from __future__ import annotations

import time

from sqlalchemy import func, insert, select

from core.bus import Event
from core.runtime import Runtime
from integrations.recorder.core import Recorder
from integrations.recorder.models import (
    EventData,
    EventTypes,
    StateAttributes,
    States,
    StatesMeta,
    Statistics,
    StatisticsMeta,
)
from integrations.recorder.purge import purge_old_data
from tests._helpers import settle

from .conftest import MakeRuntime, recorder_of

DAY = 86400.0


async def count(recorder: Recorder, model: object, *where: object) -> int:
    async with recorder.session() as session:
        statement = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int((await session.execute(statement)).scalar_one())


async def settle_and_flush(runtime: Runtime, recorder: Recorder) -> None:
    """Let the bus deliver to the recorder, then have it write everything queued."""
    await settle(runtime)
    await recorder.flush()


async def test_purge_deletes_old_rows_and_orphans_and_keeps_statistics(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0)
    recorder = recorder_of(runtime)
    old = time.time() - 20 * DAY
    runtime.states.set("sensor.gone", "1", {"only": "old"}, timestamp=old)
    runtime.states.set("sensor.kept", "1", {"a": 1}, timestamp=old)
    runtime.states.set("sensor.kept", "2", {"a": 1})
    runtime.bus.fire_event(Event("old_event", {"x": 1}, time_fired_timestamp=old))
    runtime.bus.fire("new_event", {"y": 2})
    await settle_and_flush(runtime, recorder)
    async with recorder.write_transaction() as conn:
        meta_id = (
            await conn.execute(
                insert(StatisticsMeta)
                .values(statistic_id="sensor.kept")
                .returning(StatisticsMeta.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(Statistics).values(metadata_id=meta_id, start_ts=old, created_ts=old, mean=1.0)
        )

    await runtime.services.call("recorder", "purge", {"keep_days": 10})

    async with recorder.session() as session:
        entities = set((await session.execute(select(StatesMeta.entity_id))).scalars())
        states = (await session.execute(select(States.state))).scalars().all()
        types = set((await session.execute(select(EventTypes.event_type))).scalars())
        data = (await session.execute(select(EventData.shared_data))).scalars().all()
    assert "sensor.gone" not in entities
    assert "sensor.kept" in entities
    assert states.count("2") == 1
    assert "1" not in states
    assert await count(recorder, StateAttributes) == 1  # {"only": "old"} went with its state
    assert "old_event" not in types
    assert "new_event" in types
    assert '{"x":1}' not in data
    assert await count(recorder, Statistics) == 1
    # The writer's caches forgot the deleted ids: the entity comes back with a new row.
    runtime.states.set("sensor.gone", "back", {"only": "old"})
    await settle_and_flush(runtime, recorder)
    async with recorder.session() as session:
        row = (
            await session.execute(
                select(States.state, StateAttributes.shared_attrs)
                .join(StatesMeta, States.metadata_id == StatesMeta.metadata_id)
                .join(StateAttributes, States.attributes_id == StateAttributes.attributes_id)
                .where(StatesMeta.entity_id == "sensor.gone")
            )
        ).one()
    assert tuple(row) == ("back", '{"only":"old"}')


async def test_purge_entities_removes_only_their_history(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0)
    recorder = recorder_of(runtime)
    for entity_id in ("sensor.a", "sensor.b", "light.c", "switch.d_rssi"):
        runtime.states.set(entity_id, "1")
        runtime.states.set(entity_id, "2")
    await settle_and_flush(runtime, recorder)
    await runtime.services.call(
        "recorder",
        "purge_entities",
        {"domains": ["light"], "entity_globs": ["*_rssi"]},
        target={"entity_id": "sensor.a"},
    )
    async with recorder.session() as session:
        entities = set((await session.execute(select(StatesMeta.entity_id))).scalars())
    assert entities == {"sensor.b"}
    assert await count(recorder, States) == 2


async def test_writes_are_committed_while_a_large_purge_runs(
    make_runtime: MakeRuntime, db_url: str
) -> None:
    runtime = await make_runtime(db_url, commit_interval=0.05)
    recorder = recorder_of(runtime)
    old = time.time() - 30 * DAY
    runtime.states.set("sensor.seed", "0")
    await settle_and_flush(runtime, recorder)
    async with recorder.write_transaction() as conn:
        meta_id = (
            await conn.execute(
                select(StatesMeta.metadata_id).where(StatesMeta.entity_id == "sensor.seed")
            )
        ).scalar_one()
        await conn.execute(
            insert(States),
            [
                {"metadata_id": meta_id, "state": str(i), "last_updated_ts": old + i}
                for i in range(100_000)
            ],
        )
    seen_during_purge: list[int] = []
    chunks = 0

    async def between_chunks() -> None:
        nonlocal chunks
        chunks += 1
        runtime.states.set("sensor.live", str(chunks))
        await runtime.bus.drain()
        await recorder.flush()
        seen_during_purge.append(
            await count(
                recorder,
                States,
                States.metadata_id.in_(
                    select(StatesMeta.metadata_id).where(StatesMeta.entity_id == "sensor.live")
                ),
            )
        )

    deleted = await purge_old_data(recorder, 10, chunk_size=5_000, on_chunk=between_chunks)

    assert deleted >= 100_000
    assert chunks >= 19
    # Each write made between two chunks was committed before the purge went on.
    assert seen_during_purge == list(range(1, chunks + 1))
    assert await count(recorder, States, States.last_updated_ts < old + DAY) == 0
