"""axe-core, the accessibility engine, from npm into a cache folder, for Playwright to inject.

``require_axe`` answers the text of ``axe.min.js`` at :data:`AXE_VERSION`, installing it with
``npm install`` into ``~/.cache/edgewise-tests/axe-<version>`` when missing (CI machines are fresh
and reach npm); without npm or the registry it fails under ``CI=true`` and skips with the reason
elsewhere, as ``tests._tools.require_tool`` does for Debian's tools.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

#: Pinned: a new axe release may add rules, which should be a change of its own.
AXE_VERSION = "4.10.3"
CACHE = Path(os.environ.get("EDGEWISE_TEST_CACHE", Path.home() / ".cache" / "edgewise-tests")) / (
    f"axe-{AXE_VERSION}"
)


def require_axe() -> str:
    """The source of axe-core's ``axe.min.js`` (installed from npm the first time)."""
    script = CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if script.exists():
        return script.read_text(encoding="utf-8")
    npm = shutil.which("npm")
    log = "npm is not installed"
    if npm is not None:
        CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(CACHE),
                f"axe-core@{AXE_VERSION}",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
        log = done.stdout[-2000:] + done.stderr[-2000:]
        if script.exists():
            return script.read_text(encoding="utf-8")
    reason = f"axe-core {AXE_VERSION} could not be installed from npm into {CACHE}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must have it\n{log}")
    pytest.skip(f"{reason}: {log.strip()[-300:]}")
