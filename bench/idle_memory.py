"""What the default site's idle memory is made of: the modules it has imported, by group.

Run: ``python bench/idle_memory.py`` (from the repository, with Edgewise installed; about a
minute). Starts ``edgewise run`` on a copy of the shipped configuration, waits ``--idle``
seconds, reads its RSS and the names in its ``sys.modules``, then prices each group of those
modules: a fresh interpreter imports every module of the list but the group's, then the group's,
and the RSS it gains on the second step is the group's figure (``idle_rss_<group>_mib``), what
the site would save without it. Modules the rest of the list imports anyway are not counted in
a group, so the groups do not add up to the total. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import (  # bench/ is the script directory, so on sys.path
    config_copy,
    emit,
    free_port,
    rss_mib,
    stop,
    wait_ready,
)

#: ``edgewise run`` that writes its module names to ``$EDGEWISE_BENCH_MODULES`` on SIGUSR1
#: (modules standing in for others until first used, such as tinytuya's deferred ``requests``,
#: are left out: they are not loaded).
_RUN = """
import json, os, signal, sys, types
def dump(*_args):
    names = sorted(
        name for name, module in list(sys.modules.items())
        if isinstance(module, types.ModuleType) and type(module).__name__ != "DeferredModule"
    )
    with open(os.environ["EDGEWISE_BENCH_MODULES"], "w") as out:
        json.dump(names, out)
signal.signal(signal.SIGUSR1, dump)
from core.cli import main
sys.exit(main(sys.argv[1:]))
"""

#: Imports every module of the list but the group's, then the group's; prints the RSS gained.
_PRICE = """
import gc, importlib, json, sys
names, group = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
# As at idle (integrations/tuya/deferred.py): tinytuya's cloud client's requests deferred, its
# AES from PyCryptodomex bound through ctypes, colorama left out.
for hidden in ("requests", "cryptography", "cffi", "colorama"):
    if hidden not in names:
        sys.modules[hidden] = None
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
def load(selected):
    for name in selected:
        try:
            importlib.import_module(name)
        except Exception:
            pass  # a module that only imports inside its package's context
load([n for n in names if n not in group]); gc.collect(); before = rss()
load([n for n in names if n in group]); gc.collect()
print(json.dumps({"mib": rss() - before, "all_mib": rss()}))
"""


def _top(name: str) -> str:
    return name.split(".", 1)[0]


#: Edgewise's own top-level packages.
OWN_PACKAGES = frozenset({"core", "integrations", "automations"})

#: group -> whether a module belongs to it.
GROUPS = {
    # Loaded only for a database server: SQLite runs on aiosqlite (integrations/recorder/sql.py).
    "sqlalchemy": lambda n: _top(n) in ("sqlalchemy", "greenlet"),
    "sqlite": lambda n: (
        _top(n) in ("aiosqlite", "sqlite3", "_sqlite3")
        or n.startswith("integrations.recorder.")
        or n == "integrations.appliance.store"
    ),
    "tinytuya": lambda n: (
        _top(n) in ("tinytuya", "Cryptodome")
        or n.startswith(("integrations.tuya.", "integrations.simulator.tuya"))
    ),
    "jinja2": lambda n: _top(n) in ("jinja2", "markupsafe") or n.startswith("core.template"),
    "simulator": lambda n: n.startswith("integrations.simulator"),
    "croniter": lambda n: _top(n) in ("croniter", "dateutil"),
    "automations": lambda n: _top(n) == "automations",
}


def idle_site(idle_s: float) -> tuple[float, list[str]]:
    """Start the default site; after ``idle_s`` seconds, its RSS (MiB) and module names."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="edgewise-idle-memory-") as tmp:
        config = config_copy(Path(tmp) / "config", port)
        modules = Path(tmp) / "modules.json"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["EDGEWISE_BENCH_MODULES"] = str(modules)
        proc = subprocess.Popen(
            [sys.executable, "-c", _RUN, "run", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            wait_ready(port, proc, time.perf_counter() + 60)
            time.sleep(idle_s)
            rss = rss_mib(proc.pid)
            os.kill(proc.pid, signal.SIGUSR1)
            while not modules.exists() or not modules.read_text().endswith("]"):
                time.sleep(0.05)
            names = [n for n in json.loads(modules.read_text()) if not n.startswith("__")]
            return rss, names
        finally:
            stop(proc)


def price(names: list[str], group: list[str]) -> tuple[float, float]:
    """The RSS (MiB) that ``group``'s modules add to a process holding the rest of ``names``,
    and that process's RSS once it holds them all."""
    done = subprocess.run(
        [sys.executable, "-c", _PRICE, json.dumps(names), json.dumps(group)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return float(figures["mib"]), float(figures["all_mib"])


def main() -> None:
    """Print the idle RSS and each group's share of it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds idle before RSS")
    args = parser.parse_args()
    rss, names = idle_site(args.idle)
    emit("idle_rss_mib", [rss], "MiB", f"VmRSS after {args.idle:g} s idle on the default config")
    emit(
        "idle_rss_modules_only_mib",
        [price(names, [])[1]],
        "MiB",
        f"a fresh interpreter importing the site's {len(names)} modules at idle, running nothing",
    )
    libraries = [n for n in names if _top(n) not in OWN_PACKAGES]
    emit(
        "idle_rss_libraries_only_mib",
        [price(libraries, [])[1]],
        "MiB",
        f"a fresh interpreter importing the {len(libraries)} of those modules that are not "
        "Edgewise's own (the standard library's and the dependencies'), running nothing",
    )
    for group, member in GROUPS.items():
        selected = [n for n in names if member(n)]
        emit(
            f"idle_rss_{group}_mib",
            [price(names, selected)[0]],
            "MiB",
            f"{len(selected)} of the site's {len(names)} modules at idle, imported last",
        )


if __name__ == "__main__":
    main()
