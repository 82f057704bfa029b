"""Fixtures shared by the whole test suite: free ports, configuration directories, and
``edgewise`` commands run in real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests._helpers import free_port

ConfigDirFactory = Callable[..., Path]


@pytest.fixture
def unused_port() -> int:
    """A free TCP port on 127.0.0.1, for a subprocess that must be told its port up front."""
    return free_port()


@pytest.fixture
def config_dir(tmp_path: Path) -> ConfigDirFactory:
    """Write a configuration directory and return its path.

    Call it with the text of ``configuration.yaml`` (dedented) and any other files by relative
    name, e.g. ``config_dir("http:\\n  server_port: 0\\n", **{"secrets.yaml": "a: 1\\n"})``.
    Each call makes a fresh directory under ``tmp_path``.
    """
    counter = 0

    def make(configuration: str, /, **files: str) -> Path:
        nonlocal counter
        counter += 1
        directory = tmp_path / f"config{counter}"
        directory.mkdir()
        (directory / "configuration.yaml").write_text(textwrap.dedent(configuration))
        for name, text in files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return directory

    return make


class EdgewiseProcess:
    """An ``edgewise`` command running in a subprocess, its output captured in files."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int | None, log_dir: Path) -> None:
        self.proc = proc
        self.port = port
        self._log_dir = log_dir

    def output(self) -> str:
        """Everything the process printed so far, stdout then stderr."""
        stdout = (self._log_dir / "stdout.txt").read_text(errors="replace")
        stderr = (self._log_dir / "stderr.txt").read_text(errors="replace")
        return f"--- stdout ---\n{stdout}--- stderr ---\n{stderr}"

    def get(self, path: str) -> int:
        """GET ``path`` on the process's HTTP server; return the status code."""
        # No proxy: a developer's http_proxy must not intercept requests to loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"http://127.0.0.1:{self.port}{path}", timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Poll ``/ready`` until it answers 200; fail with the process's output otherwise."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"edgewise exited with {self.proc.returncode} before it was ready\n"
                    + self.output()
                )
            try:
                last = self.get("/ready")
                if last == 200:
                    return
            except OSError as err:
                last = err
            time.sleep(0.05)
        pytest.fail(
            f"edgewise not ready after {timeout} s (last answer: {last!r})\n{self.output()}"
        )

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig`` and return the exit code; fail when it does not exit within ``timeout``."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"edgewise did not exit within {timeout} s of {sig.name}\n{self.output()}")

    def wait(self, timeout: float = 15.0) -> int:
        """Wait for the process to exit by itself; return its exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"edgewise still running after {timeout} s\n{self.output()}")


EdgewiseFactory = Callable[..., EdgewiseProcess]


def edgewise_env(pythonpath: Path | None = None) -> dict[str, str]:
    """The environment for an ``edgewise`` subprocess, optionally with extra ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p
        )
    return env


@pytest.fixture
def edgewise(tmp_path: Path) -> Iterator[EdgewiseFactory]:
    """Start ``python -m core.cli <args>`` in a subprocess; any still running is killed at teardown.

    Call it with the command's arguments and optionally ``port`` (kept on the process for
    ``get``/``wait_ready``) and ``pythonpath`` (prepended to ``PYTHONPATH``).
    """
    started: list[subprocess.Popen[bytes]] = []

    def start(
        *args: str | Path, port: int | None = None, pythonpath: Path | None = None
    ) -> EdgewiseProcess:
        log_dir = tmp_path / f"edgewise-{len(started)}"
        log_dir.mkdir()
        with (
            (log_dir / "stdout.txt").open("wb") as stdout,
            (log_dir / "stderr.txt").open("wb") as stderr,
        ):
            proc = subprocess.Popen(
                [sys.executable, "-m", "core.cli", *map(str, args)],
                stdout=stdout,
                stderr=stderr,
                env=edgewise_env(pythonpath),
                cwd=tmp_path,
            )
        started.append(proc)
        return EdgewiseProcess(proc, port, log_dir)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _run_edgewise(
    *args: str | Path, pythonpath: Path | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=edgewise_env(pythonpath),
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def edgewise_cmd() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m core.cli <args>`` to completion; the result has its exit code and output.

    Call it with the command's arguments and optionally ``pythonpath`` and ``timeout``.
    """
    return _run_edgewise
