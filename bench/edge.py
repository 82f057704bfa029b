"""Edge benchmarks: what a Raspberry Pi sees of the default configuration, and backups.

Run: ``python bench/edge.py`` (from the repository, with Edgewise installed; about five
minutes, most of it building the 1 GB database and waiting out the idle windows). Prints one
JSON object per figure on standard output; see bench/README.md for what each figure means.

* ``startup_to_ready_s`` / ``idle_rss_mib``: ``edgewise run`` on a copy of the shipped
  configuration (as in bench/kernel.py), and the same pinned to one core with ``taskset -c 0``
  (``*_one_core``), since one core of a Pi is slower than one here.
* ``idle_disk_bytes_per_hour``: what the process sends to the storage layer (``write_bytes`` of
  ``/proc/<pid>/io``) over a window after start-up, scaled to an hour.
* ``backup_1gb_s`` / ``backup_1gb_mib``: ``edgewise backup``'s time and archive size for a site
  whose recorder database is 1 GB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import (  # bench/ is the script directory, so on sys.path
    config_copy,
    edgewise_command,
    emit,
    free_port,
    rss_mib,
    rss_tree_mib,
    stop,
    wait_ready,
)

REPO = Path(__file__).resolve().parent.parent
ONE_CORE = ["taskset", "-c", "0"]


def _proc_field(pid: int, name: str, key: str) -> int:
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/{name}")


def run_site(
    prefix: list[str], idle_s: float, disk_window_s: float = 0.0
) -> tuple[float, tuple[float, float] | None, float | None]:
    """Start the default site: seconds to /ready; after ``idle_s``, the RSS of the process and
    of it with its child processes (MiB); bytes written per hour."""
    port = free_port()
    # On the real disk, not a tmpfs /tmp: the write figure must reach a block device.
    with tempfile.TemporaryDirectory(prefix="edgewise-edge-", dir=REPO) as tmp:
        config = config_copy(Path(tmp) / "config", port)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*prefix, *edgewise_command(), "run", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            ready = wait_ready(port, proc, started + 60) - started
            rss = per_hour = None
            if idle_s > 0:
                time.sleep(idle_s)
                rss = rss_mib(proc.pid), rss_tree_mib(proc.pid)
            if disk_window_s > 0:
                before = _proc_field(proc.pid, "io", "write_bytes:")
                time.sleep(disk_window_s)
                written = _proc_field(proc.pid, "io", "write_bytes:") - before
                per_hour = written * 3600 / disk_window_s
            return ready, rss, per_hour
        finally:
            stop(proc)


def build_database(path: Path, size_mib: int) -> int:
    """A recorder database of about ``size_mib`` MiB: 100 sensors, numeric states. Its rows."""
    from sqlalchemy import create_engine

    from integrations.recorder.migration import migrate

    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        migrate(conn)
    engine.dispose()
    rows = 0
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.executemany(
            "INSERT INTO states_meta (entity_id) VALUES (?)",
            [(f"sensor.bench_{n}",) for n in range(100)],
        )
        chunk = 500_000
        while path.stat().st_size < size_mib * 2**20:
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO states (metadata_id, state, last_updated_ts, last_changed_ts) "
                "SELECT 1 + (i % 100), printf('%.2f', 20 + (abs(random()) % 1000) / 100.0), "
                "1.7e9 + (? + i) * 0.01, 1.7e9 + (? + i) * 0.01 FROM n",
                (chunk, rows, rows),
            )
            conn.commit()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            rows += chunk
    return rows


def backup_figures(size_mib: int, runs: int) -> None:
    """Time ``edgewise backup`` of a site whose database is ``size_mib`` MiB."""
    with tempfile.TemporaryDirectory(prefix="edgewise-backup-bench-", dir=REPO) as tmp:
        config = config_copy(Path(tmp) / "config", free_port())
        rows = build_database(config / "edgewise.db", size_mib)
        db_mib = (config / "edgewise.db").stat().st_size / 2**20
        times, sizes = [], []
        for run in range(runs):
            archive = Path(tmp) / f"backup{run}.tar.gz"
            started = time.perf_counter()
            done = subprocess.run(
                [*edgewise_command(), "backup", "-c", str(config), "-o", str(archive)],
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise RuntimeError(done.stderr)
            sizes.append(archive.stat().st_size / 2**20)
            archive.unlink()
    note = (
        f"edgewise backup (command start to exit) of a {db_mib:.0f} MiB recorder database "
        f"({rows:,} numeric states of 100 sensors); median of {runs}"
    )
    emit("backup_1gb_s", times, "s", note)
    emit("backup_1gb_mib", sizes, "MiB", note + "; gzip level 1")


def main() -> None:
    """Run every edge benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds idle before RSS")
    parser.add_argument(
        "--disk-window", type=float, default=120.0, help="seconds of writes measured (0: none)"
    )
    parser.add_argument("--db-mib", type=int, default=1024, help="database size for backups")
    parser.add_argument("--skip-backup", action="store_true")
    args = parser.parse_args()
    have_taskset = shutil.which("taskset") is not None

    for label, prefix in (("", []), ("_one_core", ONE_CORE)):
        if prefix and not have_taskset:
            print("taskset is missing: no one-core figures", file=sys.stderr)
            continue
        where = " pinned to one core (taskset -c 0)" if prefix else ""
        run_site(prefix, 0)  # warm-up: writes the bytecode cache, as a site's first start
        starts = [run_site(prefix, 0)[0] for _ in range(args.runs)]
        emit(
            f"startup_to_ready_s{label}",
            starts,
            "s",
            f"edgewise run on the default config until /ready{where}; median of {args.runs}",
        )
        rss = [run_site(prefix, args.idle)[1] or (0.0, 0.0) for _ in range(args.runs)]
        emit(
            f"idle_rss_mib{label}",
            [own for own, _tree in rss],
            "MiB",
            f"VmRSS after {args.idle:g} s idle on the default config{where}; median of {args.runs}",
        )
        emit(
            f"idle_rss_tree_mib{label}",
            [tree for _own, tree in rss],
            "MiB",
            f"VmRSS of the process and its child processes added up, in the same runs{where}; "
            f"median of {args.runs}",
        )

    if args.disk_window > 0:
        per_hour = run_site([], args.idle, args.disk_window)[2] or 0.0
        emit(
            "idle_disk_bytes_per_hour",
            [per_hour],
            "B/h",
            f"write_bytes of /proc/<pid>/io over {args.disk_window:g} s after {args.idle:g} s "
            "idle on the default config (simulator and recorder running), scaled to one hour; "
            "one run",
        )
    if not args.skip_backup:
        backup_figures(args.db_mib, max(1, min(args.runs, 2)))


if __name__ == "__main__":
    main()
