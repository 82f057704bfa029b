"""Historian benchmarks: sustained rows into PostgreSQL, and a 10-minute outage replayed.

Run: ``python bench/historian.py`` (PostgreSQL at 127.0.0.1:5432, trust auth). Every figure
comes from a real Runtime with the ``timescale`` integration, states written through the state
machine into a database of the benchmark's own (dropped afterwards); the local recorder is told
to leave the benchmark's entities alone, so the figures are the historian's. The outage is a cut
link: the historian talks to PostgreSQL through a TCP relay on 127.0.0.1 that the benchmark
closes and reopens. Prints one JSON object per figure on standard output; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
from figures import emit  # bench/ is the script directory, so on sys.path

from core.runtime import Runtime, tune_gc
from integrations.recorder.core import RECORDER
from integrations.timescale.historian import HISTORIAN, Historian

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
ENTITIES = 1_000
OUTAGE_SECONDS = 600


class Relay:
    """A TCP relay to PostgreSQL that can be cut (every connection closed, new ones refused)."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5432)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _write_config(config_dir: Path, dsn: str, site: str) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "configuration.yaml").write_text(
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
        # The local recorder keeps other entities: the figures are the historian's own.
        "recorder:\n  exclude:\n    entity_globs: ['sensor.point_*']\n"
        f"timescale:\n  db_url: {dsn}\n  site_id: {site}\n  flush_interval: 0.2\n"
        "  retry_wait: 0.2\n  batch_size: 10000\n"
    )


async def _start(config_dir: Path, dsn: str, site: str) -> tuple[Runtime, Historian]:
    _write_config(config_dir, dsn, site)
    runtime = Runtime(config_dir)
    await runtime.start()
    historian = runtime.data[HISTORIAN]
    await historian.buffer_ready.wait()
    # The site's own start-up (the recorder opening its database, its statistics catch-up)
    # is over before anything is timed.
    if (recorder := runtime.data.get(RECORDER)) is not None:
        await recorder.wait_started()
        catch_up = [
            t for t in asyncio.all_tasks() if t.get_name() == "recorder.statistics.catch_up"
        ]
        await asyncio.gather(*catch_up)
    return runtime, historian


def _feed(runtime: Runtime, rounds: int, start: float) -> None:
    names = [f"sensor.point_{n}" for n in range(ENTITIES)]
    for second in range(rounds):
        when = start + second
        for n, entity_id in enumerate(names):
            runtime.states.set(entity_id, str(second * 0.5 + n), timestamp=when)


async def _wait(predicate: Callable[[], bool], limit: float = 600.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the historian did not get there in time")
        await asyncio.sleep(0.01)


async def sustained(root: Path, dsn: str, rounds: int) -> tuple[float, float]:
    """Rows per second from state writes to rows committed centrally, 1,000 entities.

    Also answers the share of that time spent writing the states into the state machine (the
    load itself, on the same loop), for the note.
    """
    runtime, historian = await _start(root / f"s{uuid.uuid4().hex[:6]}", dsn, "sustained")
    try:
        begin = time.perf_counter()
        _feed(runtime, rounds, time.time() - rounds)
        fed = time.perf_counter()
        total = rounds * ENTITIES
        await _wait(lambda: historian.rows_sent >= total and historian.buffer.count == 0)
        end = time.perf_counter()
        return total / (end - begin), (fed - begin) / (end - begin)
    finally:
        await runtime.stop()


async def outage(root: Path, database: str, site: str) -> dict[str, float]:
    """A 10-minute outage at 1,000 entities x 1 Hz: buffered, then replayed through the relay."""
    relay = Relay()
    await relay.open()
    dsn = f"postgresql://postgres@127.0.0.1:{relay.port}/{database}"
    runtime, historian = await _start(root / site, dsn, site)
    try:
        await _wait(historian.drained.is_set, 30)
        await relay.cut()
        total = OUTAGE_SECONDS * ENTITIES
        _feed(runtime, OUTAGE_SECONDS, time.time() - OUTAGE_SECONDS)
        await _wait(lambda: historian.buffer.count >= total)
        bytes_per_row = historian.buffer.file_bytes() / total
        await relay.open()
        begin = time.perf_counter()
        await _wait(lambda: historian.buffer.count == 0 and historian.rows_sent >= total)
        replay = total / (time.perf_counter() - begin)
    finally:
        await runtime.stop()
        await relay.cut()
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}")
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT (entity_id, time)) AS d "
            "FROM edgewise_points WHERE site_id = $1",
            site,
        )
    finally:
        await conn.close()
    return {
        "replay": replay,
        "lost": float(total - row["d"]),
        "duplicated": float(row["n"] - row["d"]),
        "bytes_per_row": bytes_per_row,
    }


async def main() -> None:
    """Run every figure and print it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=100, help="seconds of 1,000 entities")
    args = parser.parse_args()
    tune_gc()
    database = f"bench_historian_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{database}"')
    dsn = f"postgresql://postgres@127.0.0.1:5432/{database}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            runs = [await sustained(root, dsn, args.rounds) for _ in range(args.runs)]
            shares = sorted(share for _, share in runs)
            emit(
                "historian_rows_per_s",
                [rate for rate, _ in runs],
                "1/s",
                f"{args.rounds * ENTITIES} rows from state writes to central commit, median; "
                f"the state writes themselves took {shares[len(shares) // 2]:.0%} of the time",
            )
            results = [await outage(root, database, f"outage{n}") for n in range(args.runs)]
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    note = f"{OUTAGE_SECONDS} s outage x {ENTITIES} entities at 1 Hz, median of runs"
    emit("historian_replay_rows_per_s", [r["replay"] for r in results], "1/s", note)
    worst = f"{OUTAGE_SECONDS} s outage x {ENTITIES} entities at 1 Hz, the worst run"
    emit("historian_rows_lost", [max(r["lost"] for r in results)], "count", worst)
    emit("historian_rows_duplicated", [max(r["duplicated"] for r in results)], "count", worst)
    emit("historian_buffer_bytes_per_row", [r["bytes_per_row"] for r in results], "bytes", note)


if __name__ == "__main__":
    asyncio.run(main())
