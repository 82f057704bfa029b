"""Supabase figures: database change to Edgewise state, CPU for a busy table, JWT verification.

- ``supabase_change_to_state_p50_ms``/``_p99_ms``: a row of ``latest_data`` updated in the
  real PostgreSQL until the entity's state changed in Edgewise, through the double's Realtime
  (trigger, NOTIFY, Phoenix ``postgres_changes``) and the integration's feed.
- ``supabase_1000_rows_cpu_pct``: the double (in another process) updates all 1,000 rows once a
  second; Edgewise's CPU time over wall time, as a share of one core.
- ``jwt_verify_us``: ``SupabaseTokenVerifier.verify`` of an HS256 Supabase access token seen
  before (its signature was checked once; ``exp``/``nbf`` are checked again), per call.
  Target < 50 us. ``jwt_verify_first_us``: the first sight of a token (PyJWT: signature,
  ``iss``, ``aud``, ``exp``).

Needs PostgreSQL on 127.0.0.1:5432 (trust auth). Run: ``.venv/bin/python bench/supabase.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from asyncio.subprocess import Process
from pathlib import Path
from typing import Any

import asyncpg
import jwt
from figures import emit  # bench/ is the script directory, so on sys.path

import integrations.supabase
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from integrations.supabase.auth import SupabaseTokenVerifier
from integrations.supabase.double import SupabaseDouble
from integrations.supabase.schema import CONFIG_SCHEMA

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
ROWS = 1000


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def serve_double(dsn: str, churn: bool) -> None:
    """The double in this process (another one than Edgewise); optionally churn every row."""
    async with SupabaseDouble(dsn, ("latest_data",)) as double:
        print(json.dumps({"url": double.url, "anon_key": double.anon_key}), flush=True)
        async with double.pool.acquire() as conn:
            while True:
                await asyncio.sleep(1.0)
                if churn:
                    await conn.execute("UPDATE latest_data SET value = value + 1")


def _yaml(url: str, anon_key: str) -> str:
    return f"""
supabase:
  url: {url}
  anon_key: {anon_key}
  sources:
    - table: latest_data
      id_columns: [metric]
      value_column: value
      unit: kW
      name: Plant
"""


async def _edgewise(site: Path, url: str, anon_key: str) -> Runtime:
    (site / "configuration.yaml").write_text(_yaml(url, anon_key))
    loader = IntegrationLoader()
    loader.register(integrations.supabase, source="bench")
    runtime = Runtime(site, loader=loader)
    await runtime.start()
    return runtime


async def _start_double(dsn: str, churn: bool) -> tuple[Process, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve-double",
        dsn,
        *(["--churn"] if churn else []),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    return proc, json.loads(line)


async def _joined(runtime: Runtime) -> None:
    feed = runtime.data[integrations.supabase.SUPABASE].feeds[0]
    while not feed.joined:  # noqa: ASYNC110 - the feed has no event for it; a bench only
        await asyncio.sleep(0.01)


async def change_to_state(dsn: str, runs: int) -> list[float]:
    """Milliseconds from an UPDATE to the entity's new state, ``runs`` times."""
    proc, info = await _start_double(dsn, churn=False)
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as site:
        runtime = await _edgewise(Path(site), info["url"], info["anon_key"])
        conn = await asyncpg.connect(dsn)
        try:
            await _joined(runtime)
            for i in range(runs):
                changed = asyncio.Event()
                want = str(100000 + i)

                def seen(event: Any, want: str = want, changed: asyncio.Event = changed) -> None:
                    new = event.data.get("new_state")
                    if event.data["entity_id"] == "sensor.plant_m7" and new and new.state == want:
                        changed.set()

                remove = runtime.bus.listen("state_changed", seen)
                started = time.perf_counter()
                await conn.execute(
                    "UPDATE latest_data SET value = $1 WHERE metric = 'm7'", 100000 + i
                )
                await asyncio.wait_for(changed.wait(), 10)
                latencies.append((time.perf_counter() - started) * 1000)
                remove()
        finally:
            await conn.close()
            await runtime.stop()
            proc.terminate()
            await proc.wait()
    return latencies


async def cpu_share(dsn: str, window: float) -> tuple[float, int]:
    """Edgewise's CPU share of one core while all rows change once a second."""
    proc, info = await _start_double(dsn, churn=True)
    with tempfile.TemporaryDirectory() as site:
        runtime = await _edgewise(Path(site), info["url"], info["anon_key"])
        try:
            await _joined(runtime)
            await asyncio.sleep(2)
            changes = 0

            def count(_event: Any) -> None:
                nonlocal changes
                changes += 1

            remove = runtime.bus.listen("state_changed", count)
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.sleep(window)
            share = (time.process_time() - cpu) / (time.perf_counter() - wall) * 100.0
            remove()
        finally:
            await runtime.stop()
            proc.terminate()
            await proc.wait()
    return share, changes


async def jwt_verify(calls: int, *, cached: bool) -> list[float]:
    """Microseconds per HS256 verification, five rounds of ``calls``."""
    secret = "bench-project-jwt-secret-0123456789abcdef"  # noqa: S105 - a bench's own key
    config = CONFIG_SCHEMA(
        {
            "url": "https://bench.supabase.co",
            "anon_key": "x",
            "auth": {"jwt_secret": secret, "jwks_url": None},
        }
    )
    assert config.auth is not None
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "https://bench.supabase.co/auth/v1",
            "aud": "authenticated",
            "exp": now + 3600,
            "iat": now,
            "sub": str(uuid.uuid4()),
            "role": "authenticated",
            "app_metadata": {"role": "operator"},
        },
        secret,
    )
    verifier = SupabaseTokenVerifier(None, config.auth, None)  # type: ignore[arg-type] # verify() only
    check = verifier.verify if cached else verifier.verify_uncached
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            assert await check(token) is not None
        rounds.append((time.perf_counter() - started) / calls * 1e6)
    return rounds


async def main(args: argparse.Namespace) -> None:
    """Make a database with ``latest_data``, measure, drop it."""
    name = f"edgewise_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        conn = await asyncpg.connect(dsn)
        await conn.execute(
            "CREATE TABLE latest_data (id bigserial PRIMARY KEY, metric text UNIQUE, value float8)"
        )
        await conn.executemany(
            "INSERT INTO latest_data (metric, value) VALUES ($1, $2)",
            [(f"m{i}", float(i)) for i in range(ROWS)],
        )
        await conn.close()
        latencies = await change_to_state(dsn, args.runs)
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        note = f"{args.runs} UPDATEs, double in another process"
        emit("supabase_change_to_state_p50_ms", [statistics.median(latencies)], "ms", note)
        emit("supabase_change_to_state_p99_ms", [p99], "ms", note)
        share, changes = await cpu_share(dsn, args.window)
        emit(
            "supabase_1000_rows_cpu_pct",
            [share],
            "%",
            f"{ROWS} rows updated once a second for {args.window:g} s ({changes} state "
            "changes); share of one core",
        )
        emit(
            "jwt_verify_us",
            await jwt_verify(args.calls, cached=True),
            "us",
            "HS256, a token seen before (exp/nbf checked again), median of 5 rounds",
        )
        emit(
            "jwt_verify_first_us",
            await jwt_verify(args.calls // 4, cached=False),
            "us",
            "HS256, first sight of a token: PyJWT signature and claims, median of 5 rounds",
        )
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--serve-double")
    parser.add_argument("--churn", action="store_true")
    cli = parser.parse_args()
    if cli.serve_double:
        asyncio.run(serve_double(cli.serve_double, cli.churn))
    else:
        asyncio.run(main(cli))
