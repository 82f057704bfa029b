"""What the shipped configuration has imported once it runs: only what it uses (idle memory).

Every module imported stays resident for good, and on a Pi idle memory is the budget
(``bench/kernel.py``'s ``idle_rss_mib``). The site runs in a child process, so this test's own
imports do not count: started on a copy of the shipped ``config/``, its recorder's database
open and written once, its periodic jobs run once (the statistics compile, the nightly purge)
and a history read made as the panel makes it, it prints its ``sys.modules``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from core.cli import BUNDLED_CONFIG

#: Modules the default site has no use for while it idles, and what loads them when they are
#: used: a regular expression in a template (``regex``), the first password checked
#: (``argon2``), the Tuya cloud (``requests``, see integrations/tuya/deferred.py), a backup's
#: encryption (``cryptography``: tinytuya encrypts with PyCryptodomex), or an integration that is
#: configured. ``multiprocessing`` is in use: the shipped ``nilm:`` runs its model in a child
#: process (core/isolated.py; tests/core/test_plugins.py checks that a site without one does
#: not load it). ``sqlalchemy`` is for a database server: SQLite runs on aiosqlite, and its schema
#: is created in a child process (integrations/recorder/sql.py).
NOT_AT_IDLE = (
    "sqlalchemy",
    "greenlet",
    "regex",
    "argon2",
    "requests",
    "urllib3",
    "cryptography",
    "pycparser",
    "colorama",
    "scipy",
    "numpy",
    "onnxruntime",
    "pymodbus",
    "bacpypes3",
    "aiomqtt",
    "asyncpg",
    "anthropic",
)

_SITE = textwrap.dedent(
    """\
    import asyncio, json, sys, types
    from datetime import timedelta
    from pathlib import Path
    from core.runtime import Runtime
    from integrations.recorder.core import get_recorder
    from integrations.recorder.history import get_significant_states
    from integrations.recorder.statistics_compile import compile_missing_statistics

    async def main():
        runtime = Runtime(Path(sys.argv[1]))
        await runtime.start()
        try:
            recorder = get_recorder(runtime)
            await recorder.ready()
            await runtime.bus.drain()
            await recorder.flush()
            # What runs by itself every few minutes and every night, and a panel's history read.
            now = runtime.clock.now()
            await compile_missing_statistics(recorder, now)
            await recorder.purge()
            await get_significant_states(recorder, now - timedelta(hours=1), None, None)
            # A module that stands in for another until first used is not loaded.
            loaded = sorted(
                name for name, module in sys.modules.items()
                if isinstance(module, types.ModuleType)
                and type(module).__name__ != "DeferredModule"
            )
            print(json.dumps(loaded))
        finally:
            await runtime.stop()

    asyncio.run(main())
    """
)


def test_the_default_site_imports_nothing_it_does_not_use_while_idle(tmp_path: Path) -> None:
    site = tmp_path / "config"
    shutil.copytree(BUNDLED_CONFIG, site, ignore=shutil.ignore_patterns(".storage", "*.db*"))
    conf = site / "configuration.yaml"
    text = conf.read_text().replace("server_port: 8123", "server_port: 0")
    assert "server_port: 0" in text
    conf.write_text(text)

    result = subprocess.run(
        [sys.executable, "-c", _SITE, str(site)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert {"integrations.simulator", "integrations.tuya", "integrations.recorder.database"} <= (
        loaded
    ), "the probe did not run the shipped site"
    assert sorted(loaded & set(NOT_AT_IDLE)) == []
