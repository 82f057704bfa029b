"""Backtest benchmark: replaying a week of a 1,000-entity site against one automation.

Run: ``python bench/backtest.py`` (``--days 1`` for a quick run). A real Runtime with the
recorder (SQLite, in a temporary directory) and the automation engine is started once so the
recorder creates its schema; then the week's state changes (about 6 million: each of 1,000
sensors changes about every 100 s) are written straight into the database with ``sqlite3`` —
writing them through the recorder would take longer than the benchmark — and the runtime is
started again and asked for a backtest of a night-setback-like automation over the week. The
statistics of the period are marked compiled, as a live recorder would have compiled them as it
went (otherwise the start would compile a week of them at the same time as the backtest).

Figures: ``backtest_week_1000_entities_s`` (the whole backtest, report included; target < 60 s)
and ``backtest_states_per_s`` (recorded state changes replayed per second).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from figures import emit  # bench/ is the script directory, so on sys.path

from automations.backtest.engine import ReplayOptions
from automations.backtest.run import backtest
from automations.manager import AutomationManager
from core.runtime import Runtime
from integrations.recorder.core import get_recorder

CONFIG = """\
edgewise:
  latitude: 52.3731
  longitude: 4.8922
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
recorder:
  db_url: sqlite+aiosqlite:///{db}
  auto_purge: false
  purge_keep_days: 30
input_number:
  setpoint:
    name: Setpoint
    min: 5
    max: 30
automation:
  - id: bench_setback
    alias: Bench setback
    mode: restart
    triggers:
      - trigger: numeric_state
        entity_id: sensor.s0000
        below: 18
        for: {{minutes: 5}}
      - trigger: time_pattern
        minutes: "/15"
      - trigger: state
        entity_id: sensor.s0001
    conditions:
      - condition: template
        value_template: "{{{{ states('sensor.s0002') | float(0) > 21 }}}}"
    actions:
      - action: input_number.set_value
        target: {{entity_id: input_number.setpoint}}
        data:
          value: "{{{{ 17 if now().hour < 7 else 21 }}}}"
"""


def fill(db: Path, entities: int, start: datetime, days: float, rate: float) -> int:
    """Write ``rate`` state changes per second over ``days`` for ``entities`` sensors."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    cur = conn.cursor()
    first_meta = cur.execute("SELECT COALESCE(MAX(metadata_id), 0) FROM states_meta").fetchone()[0]
    cur.executemany(
        "INSERT INTO states_meta (metadata_id, entity_id) VALUES (?, ?)",
        [(first_meta + 1 + i, f"sensor.s{i:04d}") for i in range(entities)],
    )
    attrs_id = cur.execute(
        "INSERT INTO state_attributes (hash, shared_attrs) VALUES (?, ?) RETURNING attributes_id",
        (1, '{"unit_of_measurement":"°C","friendly_name":"Temperature"}'),
    ).fetchone()[0]
    first_state = cur.execute("SELECT COALESCE(MAX(state_id), 0) FROM states").fetchone()[0]
    total = int(days * 86400 * rate)
    start_ts = start.timestamp()
    step = 1.0 / rate

    def rows(lo: int, hi: int) -> Iterator[tuple[int, int, str, int, float]]:
        for i in range(lo, hi):
            ts = start_ts + i * step
            entity = i % entities
            value = 20.0 + 6.0 * math.sin(ts / 7200.0 + entity) + (i % 7) * 0.1
            yield (first_state + 1 + i, first_meta + 1 + entity, f"{value:.1f}", attrs_id, ts)

    # Indexes are built once afterwards: far faster than maintaining them row by row.
    indexes = cur.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'states'"
        " AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    batch = 200_000
    for lo in range(0, total, batch):
        cur.executemany(
            "INSERT INTO states (state_id, metadata_id, state, attributes_id, last_updated_ts)"
            " VALUES (?, ?, ?, ?, ?)",
            rows(lo, min(lo + batch, total)),
        )
        conn.commit()
    for _, sql in indexes:
        cur.execute(sql)
    # A live recorder compiles each 5-minute period's statistics as it goes; rows written
    # behind its back would otherwise be compiled at the next start, a week of 1,000 sensors
    # (2,016 periods) competing with the backtest for the CPU. Mark them compiled.
    last_period = (start_ts + days * 86400) // 300 * 300
    cur.execute("INSERT INTO statistics_runs (start_ts) VALUES (?)", (last_period,))
    conn.commit()
    conn.close()
    return total


async def main(days: float, entities: int, rate: float) -> None:
    """Build the history once and time one backtest of it."""
    with tempfile.TemporaryDirectory(prefix="edgewise-bench-backtest-") as tmp:
        config_dir = Path(tmp) / "config"
        config_dir.mkdir()
        db = Path(tmp) / "recorder.db"
        (config_dir / "configuration.yaml").write_text(CONFIG.format(db=db))
        runtime = Runtime(config_dir)
        await runtime.start()
        await get_recorder(runtime).wait_started()
        await runtime.stop()
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        start = end - timedelta(days=days)
        began = time.perf_counter()
        total = await asyncio.to_thread(fill, db, entities, start, days, rate)
        print(
            f"# wrote {total:,} state changes in {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
        )
        runtime = Runtime(config_dir)
        await runtime.start()
        try:
            await get_recorder(runtime).wait_started()
            manager = runtime.data[AutomationManager.KEY]
            await manager.loaded.wait()
            config = dict(manager.automations["bench_setback"].raw_config)
            began = time.perf_counter()
            report = await backtest(
                runtime,
                config,
                start=start,
                end=end,
                options=ReplayOptions(max_seconds=600.0),
            )
            elapsed = time.perf_counter() - began
        finally:
            await runtime.stop()
        replayed = report["replayed"]
        print(
            f"# status {report['status']}, {replayed['state_changes']:,} state changes, "
            f"{replayed['dispatched']:,} dispatched, {report['summary']['runs']:,} runs, "
            f"{report['summary']['actions']:,} actions",
            file=sys.stderr,
        )
        label = f"{days:g} day(s), {entities} entities, {replayed['state_changes']:,} changes"
        week = days == 7 and entities == 1000
        metric = "backtest_week_1000_entities_s" if week else "backtest_period_s"
        emit(metric, [elapsed], "s", f"one run; {label}; SQLite")
        emit(
            "backtest_states_per_s",
            [replayed["state_changes"] / replayed["seconds"]],
            "1/s",
            f"one run; {label}; replay only (report building excluded)",
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="state changes per second")
    args = parser.parse_args()
    asyncio.run(main(args.days, args.entities, args.rate))
