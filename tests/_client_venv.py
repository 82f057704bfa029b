"""A virtual environment with the Home Assistant clients that cannot share Edgewise's.

``homeassistant-cli`` 0.9.6 pins ``ruamel.yaml<0.18`` and AppDaemon 4.5.13 pins
``aiohttp<3.12``; Edgewise needs ``ruamel.yaml>=0.18`` and ``aiohttp>=3.14``. So they live in a
venv of their own (made once with pip, then reused) and talk to Edgewise over the network, as
they would in a real installation. Where it cannot be made, ``CI=true`` fails and elsewhere the
test is skipped with the reason: never a silent skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

CLIENTS = ("homeassistant-cli==0.9.6", "appdaemon==4.5.13")
_DEFAULT = Path.home() / ".cache" / "edgewise-tests" / "ha-clients"


def client_venv() -> Path:
    """The venv's ``python`` (``EDGEWISE_CLIENTS_VENV`` or a cached one), made if missing."""
    root = Path(os.environ.get("EDGEWISE_CLIENTS_VENV", _DEFAULT))
    python = root / "bin" / "python"
    check = [str(python), "-c", "import homeassistant_cli, appdaemon"]
    if python.exists() and subprocess.run(check, check=False, capture_output=True).returncode == 0:
        return python
    log = ""
    try:
        if not python.exists():
            venv.EnvBuilder(with_pip=True).create(root)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *CLIENTS],
            check=False,
            capture_output=True,
            text=True,
            timeout=900,
        )
        log = done.stdout[-2000:] + done.stderr[-2000:]
    except (OSError, subprocess.SubprocessError) as err:
        log = str(err)
    if subprocess.run(check, check=False, capture_output=True).returncode == 0:
        return python
    message = f"cannot make a venv with {', '.join(CLIENTS)} for {sys.version}: {log}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
