"""A graceful stop (SIGTERM, as systemd and ``docker stop`` send it) writes every state the
recorder accepted, however long ``commit_interval`` is (issue 25, "acknowledged state")."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import ConfigDirFactory, EdgewiseFactory

from .test_reliability import sqlite_integrity, sqlite_rows

#: States the plugin sets in one burst: fewer than a batch, so only the interval (or the stop)
#: makes the writer commit them.
BURST = 5_000

_BURST_PLUGIN = '''\
"""Sets sensor.burst_0 .. sensor.burst_{last} once the recorder is open, then says so."""

from core import Manifest, hookimpl


@hookimpl
def edgewise_manifest():
    return Manifest(domain="burst", name="Burst")


@hookimpl
def edgewise_started(runtime):
    runtime.create_task(_burst(runtime), name="burst.write")


async def _burst(runtime):
    from integrations.recorder.core import get_recorder

    await get_recorder(runtime).wait_started()
    for index in range({count}):
        runtime.states.set(f"sensor.burst_{{index}}", str(index))
    await runtime.bus.drain()
    (runtime.config_dir / "burst.done").write_text("{count}")
'''


def write_plugin(root: Path) -> Path:
    """Install the ``burst`` plugin into ``root`` (for PYTHONPATH) and return ``root``."""
    package = root / "burst"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(_BURST_PLUGIN.format(count=BURST, last=BURST - 1))
    dist_info = root / "edgewise_burst-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: edgewise-burst\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text("[edgewise.integrations]\nburst = burst\n")
    return root


def test_sigterm_right_after_a_burst_writes_every_accepted_state(
    tmp_path: Path,
    config_dir: ConfigDirFactory,
    edgewise: EdgewiseFactory,
    unused_port: int,
) -> None:
    plugin_site = write_plugin(tmp_path / "plugin_site")
    http = f"http:\n  server_host: 127.0.0.1\n  server_port: {unused_port}\n"
    # A commit interval far longer than the test: without the stop's flush nothing is written.
    site = config_dir(http + "recorder:\n  commit_interval: 600\nburst:\n")
    db = site / "edgewise.db"

    process = edgewise("run", "-c", site, port=unused_port, pythonpath=plugin_site)
    process.wait_ready()
    done = site / "burst.done"
    deadline = time.monotonic() + 30
    while not done.exists():  # written by the plugin in the other process: nothing to await
        if process.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the burst did not finish\n{process.output()}")
        time.sleep(0.02)
    committed_before_stop = len(sqlite_rows(db, "sensor.burst_%"))
    assert process.stop(signal.SIGTERM, timeout=30) == 0, process.output()

    assert committed_before_stop < BURST, "the interval committed them: the test proves nothing"
    assert sqlite_integrity(db) == "ok"
    rows = sqlite_rows(db, "sensor.burst_%")
    assert rows == [(f"sensor.burst_{index}", str(index)) for index in range(BURST)]
    assert "Traceback" not in process.output()
