"""Recorder benchmarks: sustained writes, bytes per state, history queries, statistics, purge.

Run: ``python bench/recorder.py`` (from the repository, with Edgewise installed). Every figure
comes from a real Runtime with the ``recorder`` integration on SQLite in a temporary directory;
states are written through the state machine, so they take the recorder's own path to the
database. Prints one JSON object per figure on standard output; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from figures import emit  # bench/ is the script directory, so on sys.path
from ulid_transform import ulid_at_time

from core.runtime import Runtime, tune_gc
from integrations.recorder.const import MAX_BATCH_SIZE, PURGE_CHUNK_SIZE
from integrations.recorder.core import Recorder, get_recorder
from integrations.recorder.history import (
    get_downsampled,
    get_significant_states,
    get_significant_states_json,
)
from integrations.recorder.purge import purge_old_data, repack_database
from integrations.recorder.statistics_compile import compile_statistics
from integrations.recorder.util import attrs_hash, context_id_to_bytes, json_dumps

#: The attributes every benchmark sensor has (the same set: stored once).
ATTRIBUTES = {
    "unit_of_measurement": "°C",
    "device_class": "temperature",
    "state_class": "measurement",
    "friendly_name": "Temperature",
}
#: 2024-01-01 00:00 UTC: the start of the day the history figures query.
DAY_START = datetime(2024, 1, 1, tzinfo=UTC)


def _write_config(config_dir: Path, recorder_yaml: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\nrecorder:\n" + recorder_yaml
    )


def _file_bytes(db_file: Path) -> int:
    wal = db_file.with_name(db_file.name + "-wal")
    return db_file.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


@asynccontextmanager
async def running(config_dir: Path, recorder_yaml: str = "") -> AsyncIterator[Recorder]:
    """A started Runtime with the recorder (default settings plus ``recorder_yaml``)."""
    _write_config(config_dir, recorder_yaml)
    runtime = Runtime(config_dir)
    await runtime.start()
    try:
        recorder = get_recorder(runtime)
        await recorder.wait_started()
        # The start-up statistics catch-up must not run under the figures' own queries.
        catch_up = [
            t for t in asyncio.all_tasks() if t.get_name() == "recorder.statistics.catch_up"
        ]
        await asyncio.gather(*catch_up)
        yield recorder
    finally:
        await runtime.stop()


async def _db_bytes(recorder: Recorder, db_file: Path) -> int:
    """The database's size on disk after a checkpoint that empties the write-ahead log."""
    # The recorder's SQLite connections are in autocommit mode: the checkpoint runs at once.
    async with recorder.writes_paused(), recorder.connect() as conn:
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return _file_bytes(db_file)


# --- figures -------------------------------------------------------------------------------------


#: Seconds at the end of each load step in which the queue must fall below one batch.
SETTLED_S = 3.0


async def _paced_feed(
    recorder: Recorder, ids: list[str], rate: int, seconds: float
) -> tuple[int, int]:
    """Offer ``rate`` state changes per second for ``seconds``.

    States are set in 10 ms ticks, round-robin over ``ids``, as a busy site's integrations would.

    Returns:
        the smallest queue seen at a tick in the last ``SETTLED_S`` seconds, and the queue at
        the end.
    """
    states = recorder.runtime.states
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    value = 0
    lowest = recorder.config.max_queue
    started = time.perf_counter()
    next_tick = started
    while next_tick - started < seconds:
        for _ in range(per_tick):
            value += 1
            states.set(ids[value % len(ids)], str(value), ATTRIBUTES)
        next_tick += tick
        if next_tick - started > seconds - SETTLED_S:
            lowest = min(lowest, recorder.queue_size)
        await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
    return lowest, recorder.queue_size


def _disk_writes() -> int | None:
    """Bytes this process has caused to be written to disk so far (Linux), else None."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return None


@dataclass(frozen=True, slots=True)
class SustainedRun:
    """One run of the sustained-rate figure."""

    #: The highest rate sustained (0 if not even the first).
    best: int
    #: Each step's (rate, lowest queue in its last SETTLED_S seconds, queue at its end).
    steps: list[tuple[int, int, int]]
    #: States not recorded because the queue was full.
    dropped: int
    #: Bytes written to disk per state recorded, over every step (None off Linux).
    disk_bytes_per_state: float | None


async def recorder_states_per_s(root: Path, seconds: float, entities: int = 1_000) -> SustainedRun:
    """The highest offered rate the recorder keeps up with, in steps of 10,000/s.

    The writer commits a batch once ``MAX_BATCH_SIZE`` states are queued (or the commit
    interval is over). Right after a commit, the queue holds what arrived while that batch was
    written: less than a batch when the writer writes faster than states arrive, more (and more
    after each batch) when it falls behind. So a rate is sustained when, in the last
    ``SETTLED_S`` seconds of its step, the queue fell below one batch. The queue is drained
    between steps.
    """
    async with running(root) as recorder:
        ids = [f"sensor.bench_{i}" for i in range(entities)]
        steps: list[tuple[int, int, int]] = []
        best = 0
        written_before, recorded = _disk_writes(), 0
        for rate in range(10_000, 100_001, 10_000):
            lowest, left = await _paced_feed(recorder, ids, rate, seconds)
            steps.append((rate, lowest, left))
            recorded += round(rate * seconds)
            await recorder.flush()
            if lowest >= MAX_BATCH_SIZE:
                break
            best = rate
        written_after = _disk_writes()
        per_state = (
            None
            if written_before is None or written_after is None
            else (written_after - written_before) / recorded
        )
        return SustainedRun(best, steps, recorder.dropped, per_state)


async def recorder_bytes_per_state(
    root: Path, states_n: int = 200_000, entities: int = 100
) -> float:
    """Bytes the database grows by per numeric state (indexes included), after a VACUUM."""
    async with running(root, "  auto_purge: false\n") as recorder:
        states = recorder.runtime.states
        ids = [f"sensor.bench_{i}" for i in range(entities)]
        for entity_id in ids:
            states.set(entity_id, "0", ATTRIBUTES)
        await recorder.flush()
        await repack_database(recorder)
        db_file = root / "edgewise.db"
        size_before = await _db_bytes(recorder, db_file)
        t0 = DAY_START.timestamp()
        for n in range(states_n):
            # Realistic readings: two decimals, changing every time.
            states.set(ids[n % entities], f"{20 + (n // entities) % 1000 / 100:.2f}", ATTRIBUTES,
                       timestamp=t0 + n / entities, force_update=True)  # fmt: skip
            if n % 5_000 == 0:
                await asyncio.sleep(0)
        await recorder.flush()
        size_after = await _db_bytes(recorder, db_file)
        return (size_after - size_before) / states_n


#: Rows per INSERT in ``_bulk_states``: 6 columns each stays within SQLite's 32,766 parameters.
BULK_CHUNK_ROWS = 5_000
_STATE_COLUMNS = (
    "metadata_id", "state", "attributes_id", "last_updated_ts", "last_changed_ts",
    "context_id_bin",
)  # fmt: skip


async def _bulk_states(
    recorder: Recorder, series: dict[str, list[tuple[float, str]]], attributes: dict[str, Any]
) -> None:
    """Insert ``entity_id → [(timestamp, state)]`` rows directly, as the writer would lay them out.

    The history and statistics figures time the queries, not the writer: their hour or day of
    data goes in with multi-row INSERTs (``BULK_CHUNK_ROWS`` each) rather than through the queue.
    """
    shared = json_dumps(attributes)
    async with recorder.write_transaction() as conn:
        attributes_id = await conn.scalar(
            "INSERT INTO state_attributes (hash, shared_attrs) VALUES (:hash, :shared) "
            "RETURNING attributes_id",
            {"hash": attrs_hash(shared), "shared": shared},
        )
        for entity_id, points in series.items():
            metadata_id = await conn.scalar(
                "INSERT INTO states_meta (entity_id) VALUES (:entity_id) RETURNING metadata_id",
                {"entity_id": entity_id},
            )
            rows = [
                (
                    metadata_id, state, attributes_id, ts, None,
                    context_id_to_bytes(ulid_at_time(ts)),
                )
                for ts, state in points
            ]  # fmt: skip
            for first in range(0, len(rows), BULK_CHUNK_ROWS):
                await conn.insert_rows(
                    "states", _STATE_COLUMNS, rows[first : first + BULK_CHUNK_ROWS]
                )


async def _one_day_at_1_hz(recorder: Recorder, entity_id: str) -> None:
    t0 = DAY_START.timestamp()
    points = [(t0 + s, f"{20 + 5 * math.sin(s / 3_600):.3f}") for s in range(86_400)]
    await _bulk_states(recorder, {entity_id: points}, ATTRIBUTES)


async def _timed(runs: int, query: Callable[[], Awaitable[object]]) -> list[float]:
    await query()  # warm the caches, as a panel that is open would have them
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await query()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def history_24h(
    root: Path, runs: int, db_url: str | None = None
) -> tuple[list[float], list[float], list[float], int, int]:
    """Time a full and a downsampled day of one 1 Hz sensor, and the full day as the API's JSON.

    Args:
        db_url: the recorder's database (default: SQLite in ``root``).

    Returns:
        the full, downsampled and JSON timings, and the item counts of the first two.
    """
    settings = "  auto_purge: false\n" + (f"  db_url: {json.dumps(db_url)}\n" if db_url else "")
    async with running(root, settings) as recorder:
        await _one_day_at_1_hz(recorder, "sensor.day")
        end = DAY_START + timedelta(days=1)
        sizes: dict[str, int] = {}

        async def full() -> None:
            history = await get_significant_states(
                recorder,
                DAY_START,
                end,
                ["sensor.day"],
                minimal_response=False,
                significant_changes_only=False,
            )
            sizes["full"] = len(history["sensor.day"])

        async def full_json() -> None:
            await get_significant_states_json(
                recorder, DAY_START, end, ["sensor.day"], significant_changes_only=False
            )

        async def downsampled() -> None:
            result = await get_downsampled(recorder, ["sensor.day"], DAY_START, end, points=500)
            sizes["downsampled"] = len(result["sensor.day"])

        full_ms = await _timed(runs, full)
        downsampled_ms = await _timed(runs, downsampled)
        json_ms = await _timed(runs, full_json)
        return full_ms, downsampled_ms, json_ms, sizes["full"], sizes["downsampled"]


async def statistics_compile(root: Path, entities: int = 1_000) -> float:
    """Seconds to compile one hour (12 five-minute periods and the hour) of 1,000 sensors."""
    async with running(root, "  auto_purge: false\n") as recorder:
        t0 = DAY_START.timestamp()
        series = {
            f"sensor.m_{i}": [
                (t0 + minute * 60 + i / 100, f"{20 + math.sin((minute + i) / 10):.2f}")
                for minute in range(60)
            ]
            for i in range(entities)
        }
        await _bulk_states(recorder, series, ATTRIBUTES)
        started = time.perf_counter()
        for period in range(12):
            await compile_statistics(recorder, DAY_START + timedelta(minutes=5 * period))
        return time.perf_counter() - started


async def purge(root: Path, entities: int = 100, days: int = 2) -> tuple[float, int]:
    """Seconds for ``purge_old_data`` to delete the older half of ``days`` days of states.

    ``entities`` sensors with a state a minute, ending now (inserted directly), of which those
    older than ``days - 1`` days are deleted in the recorder's chunks; the attribute sets and
    entity ids still in use stay.

    Returns:
        the seconds, and how many states were deleted.
    """
    async with running(root, "  auto_purge: false\n") as recorder:
        now = time.time()
        minutes = days * 1_440
        series = {
            f"sensor.p_{i}": [(now - (minutes - m) * 60 + i / 100, str(m)) for m in range(minutes)]
            for i in range(entities)
        }
        await _bulk_states(recorder, series, ATTRIBUTES)
        started = time.perf_counter()
        deleted = await purge_old_data(recorder, days - 1)
        return time.perf_counter() - started, deleted


#: Fresh processes the history figures are taken in: on a small VM, how fast the same query
#: runs differs more from one process to the next than between runs inside one.
HISTORY_PROCESSES = 3


async def _history_in_a_process(runs: int, server_url: str | None) -> dict[str, Any]:
    """Run ``history_24h`` in a new Python process (``--history-worker``); its timings."""
    server = ["--db-url", server_url] if server_url else []
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--history-worker",
        "--runs",
        str(runs),
        *server,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the history worker exited with {proc.returncode}")
    return dict(json.loads(out))


@asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the PostgreSQL server of ``server_url`` (SQLAlchemy form,
    ``postgresql+asyncpg://user@host:port/db``), dropped afterwards; its URL."""
    import asyncpg  # the [postgres] extra, needed only here

    admin = server_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"edgewise_bench_{os.getpid()}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server_url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _history_worker(runs: int, server_url: str | None) -> None:
    """The worker's side: one site, ``runs`` timings of each query, as one JSON object."""
    with tempfile.TemporaryDirectory(prefix="edgewise-bench-recorder-") as scratch:
        if server_url:
            async with scratch_database(server_url) as db_url:
                timings = await history_24h(Path(scratch), runs, db_url)
        else:
            timings = await history_24h(Path(scratch), runs)
        full_ms, downsampled_ms, json_ms, full_n, down_n = timings
    found = {"full": full_ms, "downsampled": downsampled_ms, "json": json_ms}
    print(json.dumps(found | {"full_n": full_n, "downsampled_n": down_n}))


GROUPS = ("sustained", "bytes", "history", "statistics", "purge")


async def main(runs: int, sustained_s: float, only: set[str], server_url: str | None) -> None:
    """Run the figures of the groups in ``only``, ``runs`` times each, and print them.

    With ``server_url`` (a PostgreSQL server) the history figures run on a scratch database
    there, and are named ``..._postgresql_ms``.

    The sustained and bytes-per-state figures run ``runs - 2`` times (at least once): each
    waits for the writer to drain hundreds of thousands of states.
    """
    tune_gc()
    with tempfile.TemporaryDirectory(prefix="edgewise-bench-recorder-") as scratch:
        sites = (Path(scratch) / f"site{n}" for n in itertools.count())
        long_runs = max(1, runs - 2)
        if "sustained" in only:
            results = [
                await recorder_states_per_s(next(sites), sustained_s) for _ in range(long_runs)
            ]
            notes = [
                " ".join(f"{r // 1000}k:{lowest}/{left}" for r, lowest, left in run.steps)
                for run in results
            ]
            disk = [run.disk_bytes_per_state for run in results if run.disk_bytes_per_state]
            emit(
                "recorder_states_per_s",
                [run.best for run in results],
                "1/s",
                f"highest offered rate (steps of 10k/s, {sustained_s:g} s each, 1,000 sensors, "
                f"default settings) in whose last {SETTLED_S:g} s the queue fell below one batch "
                f"({MAX_BATCH_SIZE:,}), i.e. the writer wrote faster than states came; per step, "
                f"the lowest queue in those seconds / the queue at the end: {' | '.join(notes)}; "
                f"states dropped (queue full): {sum(run.dropped for run in results)}; written to "
                f"disk per recorded state (WAL, checkpoints, /proc/self/io): "
                f"{' '.join(f'{d:.0f}' for d in disk) or 'not measured here'} bytes",
            )
        if "bytes" in only:
            sizes = [await recorder_bytes_per_state(next(sites)) for _ in range(long_runs)]
            emit(
                "recorder_bytes_per_state",
                sizes,
                "bytes",
                "200,000 numeric states over 100 sensors through the writer, database + WAL "
                "after VACUUM and a TRUNCATE checkpoint",
            )
        if "history" in only:
            full_ms, downsampled_ms, json_ms = [], [], []
            per_process = []
            for _ in range(HISTORY_PROCESSES):
                found = await _history_in_a_process(max(5, runs), server_url)
                full_ms += found["full"]
                downsampled_ms += found["downsampled"]
                json_ms += found["json"]
                per_process.append(
                    f"{statistics.median(found['full']):.0f}/"
                    f"{statistics.median(found['downsampled']):.0f}"
                )
            on = "_postgresql" if server_url else ""
            emit(
                f"history_24h_full{on}_ms",
                full_ms,
                "ms",
                f"86,400 rows at 1 Hz; get_significant_states, every state in full "
                f"({found['full_n']} States); all runs of {HISTORY_PROCESSES} fresh processes "
                f"(medians per process, full/downsampled ms: {' '.join(per_process)}); the same "
                f"day as the history API's JSON text (get_significant_states_json): "
                f"{statistics.median(json_ms):.0f} ms",
            )
            emit(
                f"history_24h_downsampled{on}_ms",
                downsampled_ms,
                "ms",
                f"the same day in {found['downsampled_n']} buckets (mean/min/max/count computed "
                f"by the database); the same processes",
            )
        if "statistics" in only:
            compile_s = [await statistics_compile(next(sites)) for _ in range(runs)]
            emit(
                "statistics_compile_1000_entities_s",
                compile_s,
                "s",
                "1,000 measurement sensors, a state per minute for an hour: 12 periods + the hour",
            )
        if "purge" in only:
            purged = [await purge(next(sites)) for _ in range(runs)]
            emit(
                "recorder_purge_s",
                [seconds for seconds, _ in purged],
                "s",
                f"purge_old_data of the older day of 2 days of 100 sensors at a state a minute: "
                f"{purged[0][1]:,} states deleted in chunks of {PURGE_CHUNK_SIZE:,}, then the "
                f"rows nothing refers to",
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument(
        "--sustained", type=float, default=10.0, help="seconds of each load step (default 10)"
    )
    parser.add_argument(
        "--only", nargs="+", choices=GROUPS, default=list(GROUPS), help="figures to run (all)"
    )
    parser.add_argument(
        "--db-url",
        help="a PostgreSQL server (postgresql+asyncpg://user@host:port/db) to time the history "
        "queries on, in a scratch database it creates and drops (--only history)",
    )
    parser.add_argument("--history-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.db_url and not args.history_worker and set(args.only) != {"history"}:
        parser.error("--db-url times the history queries only: add --only history")
    if args.history_worker:
        tune_gc()
        asyncio.run(_history_worker(args.runs, args.db_url))
    else:
        asyncio.run(main(args.runs, args.sustained, set(args.only), args.db_url))
