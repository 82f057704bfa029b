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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .const import PURGE_CHUNK_SIZE
from .sql import in_list

if TYPE_CHECKING:
    from .core import Recorder
    from .sql import Connection

_LOGGER = logging.getLogger(__name__)

#: Awaited after each committed chunk (tests use it to write in the middle of a purge).
ChunkHook = Callable[[], Awaitable[None]]

#: The events of one chunk: the oldest ``:limit`` fired before ``:cutoff``.
_DELETE_EVENTS_SQL: Final = (
    "DELETE FROM events WHERE event_id IN "
    "(SELECT event_id FROM events WHERE time_fired_ts < :cutoff LIMIT :limit) "
    "RETURNING event_id"
)


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
    deleted = await _delete_states(
        recorder, "last_updated_ts < :cutoff", {"cutoff": cutoff}, chunk_size, on_chunk
    )
    while True:
        async with recorder.write_transaction() as conn:
            count = len(
                await conn.execute(_DELETE_EVENTS_SQL, {"cutoff": cutoff, "limit": chunk_size})
            )
        deleted += count
        if count < chunk_size:
            break
        await _between_chunks(on_chunk)
    async with recorder.write_transaction() as conn:
        await conn.execute(
            "DELETE FROM statistics_short_term WHERE start_ts < :cutoff", {"cutoff": cutoff}
        )
        await conn.execute("DELETE FROM recorder_runs WHERE end_ts < :cutoff", {"cutoff": cutoff})
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
    async with recorder.connect() as conn:
        rows = await conn.execute("SELECT metadata_id, entity_id FROM states_meta")
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
    ids_sql, params = in_list("metadata_id", metadata_ids)
    deleted = await _delete_states(
        recorder,
        f"metadata_id IN ({ids_sql}) AND last_updated_ts < :cutoff",
        params | {"cutoff": cutoff},
        chunk_size,
        None,
    )
    await _purge_orphans(recorder)
    _LOGGER.info("Recorder purge: %d state(s) of %d entities deleted", deleted, len(metadata_ids))
    return deleted


async def repack_database(recorder: Recorder) -> None:
    """Give the space of deleted rows back to the file system (SQLite) or the server."""
    database = await recorder.ready()
    statement = "VACUUM" if database.db.dialect == "sqlite" else "VACUUM ANALYZE"
    # VACUUM cannot run inside a transaction: a connection of its own, in autocommit.
    async with recorder.writes_paused(), database.db.autocommit() as conn:
        await conn.execute(statement)
    _LOGGER.info("Recorder database repacked")


async def _delete_states(
    recorder: Recorder,
    condition: str,
    params: Mapping[str, Any],
    chunk_size: int,
    on_chunk: ChunkHook | None,
) -> int:
    """Delete the states matching ``condition`` (SQL on ``states``, with ``params``) in chunks."""
    # ``condition`` is this module's text, its values parameters: nothing from input.
    statement = (
        "DELETE FROM states WHERE state_id IN "  # noqa: S608 - see above
        f"(SELECT state_id FROM states WHERE {condition} LIMIT :limit) RETURNING state_id"
    )
    deleted = 0
    while True:
        async with recorder.write_transaction() as conn:
            rows = await conn.execute(statement, {**params, "limit": chunk_size})
            state_ids = [row[0] for row in rows]
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
                conn, "state_attributes", "attributes_id", "states", "attributes_id"
            ),
            metadata_ids=await _delete_unreferenced(
                conn, "states_meta", "metadata_id", "states", "metadata_id"
            ),
            data_ids=await _delete_unreferenced(conn, "event_data", "data_id", "events", "data_id"),
            event_type_ids=await _delete_unreferenced(
                conn, "event_types", "event_type_id", "events", "event_type_id"
            ),
        )


async def _delete_unreferenced(
    conn: Connection, table: str, key: str, referrer: str, reference: str
) -> list[int]:
    """Delete the rows of ``table`` whose ``key`` no ``referrer.reference`` names; their keys."""
    # The names are this module's constants, never input.
    rows = await conn.execute(
        f"DELETE FROM {table} WHERE {key} NOT IN "  # noqa: S608 - see above
        f"(SELECT DISTINCT {reference} FROM {referrer} WHERE {reference} IS NOT NULL) "
        f"RETURNING {key}"
    )
    return [row[0] for row in rows]
