"""Debian command-line peers that some tests drive (mbpoll, socat, chromium).

A fresh machine of the CI kind has none of them installed. ``require_tool`` finds the command,
installs its Debian package when it is missing and the tests run as root with apt-get at hand,
and otherwise fails under ``CI=true`` (skips with the reason elsewhere): never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

_APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def _ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _apt_install(package: str) -> str:
    """Install ``package`` with apt-get (refreshing the lists once if needed); return the log."""
    log = ""
    for refresh in (False, True):
        if refresh:
            done = subprocess.run(
                ["apt-get", "update"],
                check=False,
                env=_APT_ENV,
                capture_output=True,
                text=True,
                timeout=600,
            )
            log += done.stdout[-2000:] + done.stderr[-2000:]
        done = subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", package],
            check=False,
            env=_APT_ENV,
            capture_output=True,
            text=True,
            timeout=900,
        )
        log += done.stdout[-2000:] + done.stderr[-2000:]
        if done.returncode == 0:
            break
    return log


def require_tool(command: str, package: str) -> str:
    """Return the path of ``command``, installing Debian's ``package`` when it is missing."""
    path = shutil.which(command)
    if path is not None:
        return path
    log = ""
    if os.geteuid() == 0 and shutil.which("apt-get") is not None:
        log = _apt_install(package)
        path = shutil.which(command)
        if path is not None:
            return path
    reason = f"{command} is not installed and `apt-get install {package}` did not provide it"
    if _ci():
        pytest.fail(f"{reason}; CI must have it\n{log}")
    pytest.skip(reason)
