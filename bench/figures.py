"""How every benchmark prints a figure: one JSON object per line (see ../shared/BENCH.md).

Also what the benchmarks of a whole site share (bench/kernel.py, bench/edge.py,
bench/idle_memory.py): a free port, a copy of the shipped ``config/`` listening on it, the
command that starts Edgewise, waiting for its ``/ready`` and stopping it.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

# Every benchmark imports this module first, from bench/ (the script's directory, so on
# sys.path). Take bench/ off again: bench/automations.py would otherwise shadow the
# ``automations`` package for every benchmark that loads the built-in integrations.
_HERE = Path(__file__).resolve().parent
REPO = _HERE.parent
BUNDLED_CONFIG = REPO / "config"
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def emit(metric: str, values: list[float] | list[int], unit: str, note: str) -> None:
    """Print one figure: the median of ``values``, with how many runs it came from."""
    print(
        json.dumps(
            {
                "metric": metric,
                "value": round(statistics.median(values), 3),
                "unit": unit,
                "runs": len(values),
                "note": note,
            }
        ),
        flush=True,
    )


def rss_mib(pid: int) -> float:
    """Resident memory (``VmRSS``) of process ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs, now (read from every ``/proc/<n>/stat``)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces and parentheses: the fields follow the last ")".
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = list(children.get(pid, ()))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, ()))
    return found


def rss_tree_mib(pid: int) -> float:
    """``VmRSS`` of ``pid`` and of every process below it, added up, in MiB.

    Pages the processes share (the interpreter's libraries) count once per process, so this is
    an upper bound of what the tree holds; a process that ended while this ran counts 0.
    """
    total = rss_mib(pid)
    for child in descendants(pid):
        try:
            total += rss_mib(child)
        except (OSError, RuntimeError):
            continue  # ended, or a zombie without memory
    return total


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_copy(target: Path, port: int) -> Path:
    """Copy the shipped configuration to ``target`` (no state or databases), serving on ``port``."""
    shutil.copytree(
        BUNDLED_CONFIG, target, ignore=shutil.ignore_patterns(".storage", "*.db*", "*.log")
    )
    conf = target / "configuration.yaml"
    text = re.sub(r"server_port:\s*\d+", f"server_port: {port}", conf.read_text())
    if f"server_port: {port}" not in text:
        text += f"\nhttp:\n  server_port: {port}\n"
    conf.write_text(text)
    return target


def edgewise_command() -> list[str]:
    """The ``edgewise`` console script of this interpreter's environment (or ``-m core.cli``)."""
    script = Path(sys.executable).with_name("edgewise")
    return [str(script)] if script.exists() else [sys.executable, "-m", "core.cli"]


def wait_ready(port: int, proc: subprocess.Popen[Any], deadline: float) -> float:
    """Poll the site's ``/ready`` on ``port`` until it answers 200: the ``perf_counter`` then.

    Raises:
        RuntimeError: the process ended first.
        TimeoutError: ``deadline`` (a ``perf_counter`` time) passed.
    """
    # No proxy from the environment: the site is on this machine.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"edgewise exited with {proc.returncode} before /ready")
        try:
            with opener.open(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.005)
    raise TimeoutError("edgewise did not become ready in time")


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop a site as systemd would (SIGTERM), killing it if it takes over 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
