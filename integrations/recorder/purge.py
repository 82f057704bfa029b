"""Deleting old history in chunks that take turns with the writer.

Each chunk (``PURGE_CHUNK_SIZE`` rows) is one ``Recorder.write_transaction``, so a batch of the
writer waits for at most one chunk. Rows that nothing refers to any more (attribute sets, event
payloads, entity ids, event types) are deleted afterwards, and their ids are dropped from the
writer's caches in the same transaction. ``statistics`` (hourly) is never touched; the 5-minute
``statistics_short_term`` rows are kept as long as states.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import InstrumentedAttribute

from .const import PURGE_CHUNK_SIZE
from .models import (
    Base,
    EventData,
    Events,
    EventTypes,
    RecorderRun,
    StateAttributes,
    States,
    StatesMeta,
    StatisticsShortTerm,
)

if TYPE_CHECKING:
    from .core import Recorder

_LOGGER = logging.getLogger(__name__)

#: Awaited after each committed chunk (tests use it to write in the middle of a purge).
ChunkHook = Callable[[], Awaitable[None]]


async def purge_old_data(
    recorder: Recorder,
    keep_days: float,
    *,
    chunk_size: int = PURGE_CHUNK_SIZE,
    on_chunk: ChunkHook | None = None,
) -> int:
    """Delete states, events and short-term statistics older than ``keep_days``.

    Returns:
        The number of states and events deleted.
    """
    cutoff = time.time() - keep_days * 86400
    started = time.perf_counter()
    deleted = await _delete_states(recorder, States.last_updated_ts < cutoff, chunk_size, on_chunk)
    while True:
        async with recorder.write_transaction() as conn:
            chunk = select(Events.event_id).where(Events.time_fired_ts < cutoff).limit(chunk_size)
            count = len(
                (
                    await conn.execute(
                        delete(Events).where(Events.event_id.in_(chunk)).returning(Events.event_id)
                    )
                ).all()
            )
        deleted += count
        if count < chunk_size:
            break
        await _between_chunks(on_chunk)
    async with recorder.write_transaction() as conn:
        await conn.execute(delete(StatisticsShortTerm).where(StatisticsShortTerm.start_ts < cutoff))
        await conn.execute(delete(RecorderRun).where(RecorderRun.end_ts < cutoff))
    await _purge_orphans(recorder)
    _LOGGER.info(
        "Recorder purge: %d row(s) older than %g day(s) deleted in %.1f s",
        deleted,
        keep_days,
        time.perf_counter() - started,
    )
    return deleted


async def purge_entities(
    recorder: Recorder,
    *,
    entity_ids: Iterable[str] = (),
    domains: Iterable[str] = (),
    entity_globs: Iterable[str] = (),
    keep_days: float = 0,
    chunk_size: int = PURGE_CHUNK_SIZE,
) -> int:
    """Delete the states of the given entities older than ``keep_days`` (0: all of them).

    Returns:
        The number of states deleted.
    """
    wanted, wanted_domains, globs = set(entity_ids), set(domains), tuple(entity_globs)
    async with recorder.session() as session:
        rows = (await session.execute(select(StatesMeta.metadata_id, StatesMeta.entity_id))).all()
    metadata_ids = [
        metadata_id
        for metadata_id, entity_id in rows
        if entity_id in wanted
        or entity_id.partition(".")[0] in wanted_domains
        or any(fnmatch.fnmatchcase(entity_id, glob) for glob in globs)
    ]
    if not metadata_ids:
        return 0
    cutoff = time.time() - keep_days * 86400
    deleted = await _delete_states(
        recorder,
        States.metadata_id.in_(metadata_ids) & (States.last_updated_ts < cutoff),
        chunk_size,
        None,
    )
    await _purge_orphans(recorder)
    _LOGGER.info("Recorder purge: %d state(s) of %d entities deleted", deleted, len(metadata_ids))
    return deleted


async def repack_database(recorder: Recorder) -> None:
    """Give the space of deleted rows back to the file system (SQLite) or the server."""
    statement = "VACUUM" if recorder.engine.dialect.name == "sqlite" else "VACUUM ANALYZE"
    # VACUUM cannot run inside a transaction: a connection of its own, in autocommit.
    async with recorder.writes_paused(), recorder.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.exec_driver_sql(statement)
    _LOGGER.info("Recorder database repacked")


async def _delete_states(
    recorder: Recorder,
    condition: ColumnElement[bool],
    chunk_size: int,
    on_chunk: ChunkHook | None,
) -> int:
    deleted = 0
    while True:
        async with recorder.write_transaction() as conn:
            chunk = select(States.state_id).where(condition).limit(chunk_size)
            state_ids = (
                (
                    await conn.execute(
                        delete(States).where(States.state_id.in_(chunk)).returning(States.state_id)
                    )
                )
                .scalars()
                .all()
            )
            recorder.forget_ids(state_ids=state_ids)
        deleted += len(state_ids)
        if len(state_ids) < chunk_size:
            return deleted
        await _between_chunks(on_chunk)


async def _between_chunks(on_chunk: ChunkHook | None) -> None:
    # Let the writer take the lock before the next chunk.
    await asyncio.sleep(0)
    if on_chunk is not None:
        await on_chunk()


async def _purge_orphans(recorder: Recorder) -> None:
    """Delete the deduplicated rows no state or event refers to any more."""
    async with recorder.write_transaction() as conn:
        recorder.forget_ids(
            attributes_ids=await _delete_unreferenced(
                conn, StateAttributes, StateAttributes.attributes_id, States.attributes_id
            ),
            metadata_ids=await _delete_unreferenced(
                conn, StatesMeta, StatesMeta.metadata_id, States.metadata_id
            ),
            data_ids=await _delete_unreferenced(conn, EventData, EventData.data_id, Events.data_id),
            event_type_ids=await _delete_unreferenced(
                conn, EventTypes, EventTypes.event_type_id, Events.event_type_id
            ),
        )


async def _delete_unreferenced(
    conn: AsyncConnection,
    model: type[Base],
    key: InstrumentedAttribute[int],
    reference: InstrumentedAttribute[Any],
) -> list[int]:
    referenced = select(reference).where(reference.is_not(None)).distinct()
    result = await conn.execute(delete(model).where(key.not_in(referenced)).returning(key))
    return list(result.scalars().all())
