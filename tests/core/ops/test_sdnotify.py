"""sd_notify over a real unix datagram socket, and ``edgewise run`` talking to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ops.sdnotify import SystemdNotifier
from tests.conftest import free_port


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket bound where systemd would put one; yields it and its path."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    try:
        yield sock, path
    finally:
        sock.close()


def test_notify_sends_the_assignments_as_one_datagram(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.notify("READY=1", "STATUS=Running")
    assert sock.recv(4096) == b"READY=1\nSTATUS=Running"
    notifier.close()


def test_notify_reaches_an_abstract_socket() -> None:
    name = f"edgewise-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.notify("WATCHDOG=1")
        assert sock.recv(4096) == b"WATCHDOG=1"
        notifier.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert not notifier.notify("READY=1")


def test_a_missing_socket_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not notifier.notify("READY=1")
    assert "Cannot notify systemd (READY=1)" in caplog.text


def test_the_watchdog_interval_is_half_of_watchdog_usec_for_this_process_only() -> None:
    def interval(**env: str) -> float | None:
        return SystemdNotifier(env).watchdog_interval_s

    assert interval(WATCHDOG_USEC="30000000") == 15.0
    assert interval(WATCHDOG_USEC="2000000", WATCHDOG_PID=str(os.getpid())) == 1.0
    assert interval(WATCHDOG_USEC="2000000", WATCHDOG_PID="1") is None
    assert interval(WATCHDOG_USEC="soon") is None
    assert interval() is None


def test_edgewise_run_says_ready_pings_the_watchdog_and_says_stopping(
    notify_socket: tuple[socket.socket, str], tmp_path: Path
) -> None:
    sock, path = notify_socket
    config = tmp_path / "config"
    config.mkdir()
    port = free_port()
    (config / "configuration.yaml").write_text(f"http:\n  server_port: {port}\n")
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
    log = tmp_path / "log.txt"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("edgewise")), "run", "-c", str(config)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        assert sock.recv(4096) == b"READY=1\nSTATUS=Running", log.read_text()
        # WATCHDOG_USEC of 1 s: a ping every 0.5 s while the loop turns.
        started = time.monotonic()
        pings = [sock.recv(4096) for _ in range(3)]
        assert pings == [b"WATCHDOG=1"] * 3
        assert time.monotonic() - started < 5
        proc.send_signal(signal.SIGTERM)
        while (message := sock.recv(4096)) == b"WATCHDOG=1":
            pass
        assert message == b"STOPPING=1\nSTATUS=Stopping"
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
