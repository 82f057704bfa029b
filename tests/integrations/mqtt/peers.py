"""Real Mosquitto brokers for the MQTT tests: the machine's, and private ones a test owns.

The machine's broker (127.0.0.1:1883) is shared with other test runs, so every test uses its
own topic prefix. A private broker runs in the foreground as a subprocess on a free port; a test
kills it to make an outage and starts it again on the same port. When Mosquitto cannot be had,
``unavailable`` fails the test under CI and skips it elsewhere, always with the reason.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests._helpers import free_port

SHARED_HOST = "127.0.0.1"
SHARED_PORT = 1883
#: Seconds a condition may take to come true on a loaded machine.
WAIT = 30.0


def unavailable(reason: str) -> None:
    """Fail loudly under CI (a peer CI must have is missing), else skip with the reason."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def ensure_shared_broker() -> None:
    """Make sure the machine's Mosquitto answers on 127.0.0.1:1883, starting it if needed."""
    if _port_open(SHARED_HOST, SHARED_PORT):
        return
    if shutil.which("mosquitto") is None:
        unavailable("mosquitto is not installed and nothing listens on 127.0.0.1:1883")
    subprocess.run(
        ["mosquitto", "-d", "-c", "/etc/mosquitto/mosquitto.conf"], check=False, timeout=10
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _port_open(SHARED_HOST, SHARED_PORT):
            return
        time.sleep(0.1)
    unavailable("the shared Mosquitto on 127.0.0.1:1883 could not be started")


def new_prefix() -> str:
    """A topic prefix no other test uses."""
    return f"ewtest/{uuid.uuid4().hex[:12]}"


class PrivateBroker:
    """A Mosquitto of the test's own, in the foreground; ``kill`` and ``start`` again at will."""

    def __init__(self, directory: Path, *, extra: str = "", port: int | None = None) -> None:
        if shutil.which("mosquitto") is None:
            unavailable("mosquitto is not installed")
        self.directory = directory
        self.port = port if port is not None else free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"

    def write_config(self) -> None:
        """Write the broker's configuration file."""
        # As root, Mosquitto drops to the 'mosquitto' user, who cannot read the test's files.
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            f"user {getpass.getuser()}",
        ]
        if "allow_anonymous" not in self.extra:
            lines.append("allow_anonymous true")
        self.config.write_text("\n".join(lines) + "\n" + self.extra + "\n")

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        self.write_config()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                ["mosquitto", "-c", str(self.config)], stdout=log, stderr=log
            )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"mosquitto exited: {self.log.read_text(errors='replace')}")
            if _port_open("127.0.0.1", self.port):
                return
            time.sleep(0.05)
        pytest.fail(f"mosquitto did not listen on {self.port}: {self.log.read_text()}")

    def kill(self) -> None:
        """Kill the broker (SIGKILL: an outage, not a clean shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)
        self.proc = None


@contextmanager
def private_broker(directory: Path, *, extra: str = "") -> Iterator[PrivateBroker]:
    """A started private broker, killed at the end."""
    directory.mkdir(parents=True, exist_ok=True)
    broker = PrivateBroker(directory, extra=extra)
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()


def make_password_file(path: Path, username: str, password: str) -> Path:
    """A Mosquitto password file with one user, made by ``mosquitto_passwd``."""
    if shutil.which("mosquitto_passwd") is None:
        unavailable("mosquitto_passwd is not installed")
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(path), username, password],
        check=True,
        capture_output=True,
        timeout=WAIT,
    )
    return path


def device_client(port: int = SHARED_PORT, **kwargs: Any) -> aiomqtt.Client:
    """An independent MQTT client playing the device or the central system."""
    return aiomqtt.Client("127.0.0.1", port, **kwargs)


def state_of(runtime: Any, entity_id: str) -> str | None:
    """The state string of ``entity_id``, or None when it has none."""
    state = runtime.states.get(entity_id)
    return None if state is None else str(state.state)
