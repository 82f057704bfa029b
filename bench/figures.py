"""How every benchmark prints a figure: one JSON object per line (see ../shared/BENCH.md).

Also what the benchmarks of a whole site share (bench/kernel.py, bench/edge.py): a free port,
a copy of the shipped ``config/`` listening on it, and the command that starts Edgewise.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import statistics
import sys
from pathlib import Path

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
