"""Real peers for the recorder's reliability tests: a tiny tmpfs and a private PostgreSQL.

Both need root (mounting; running PostgreSQL as the ``postgres`` OS user). When they cannot be
had, ``unavailable`` fails the test under CI and skips it elsewhere, always with the reason.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests._helpers import free_port

#: Seconds any pg_ctl or initdb command may take.
PG_COMMAND_TIMEOUT = 30.0


def unavailable(reason: str) -> None:
    """Fail loudly under CI (a peer CI must have is missing), else skip with the reason."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


# --- tmpfs ---------------------------------------------------------------------------------------


@contextmanager
def tmpfs(size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. ``"2m"``) on a fresh directory; unmount it afterwards."""
    mount_point = Path(tempfile.mkdtemp(prefix="edgewise-tmpfs-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        mount_point.rmdir()
        unavailable(f"cannot mount a tmpfs (needs root): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        # Lazy, so a file an aborted test left open cannot keep the mount (and the test) alive.
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()


def fill_up(path: Path, chunk: int = 4096) -> int:
    """Write zeros to ``path`` until the filesystem is full; return the bytes written."""
    written = 0
    block = b"\0" * chunk
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            try:
                written += os.write(fd, block)
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                if chunk == 1:
                    break
                # Take the last pieces of the last page too.
                chunk = max(1, chunk // 8)
                block = b"\0" * chunk
    finally:
        os.close(fd)
    return written


# --- PostgreSQL ----------------------------------------------------------------------------------


def _pg_bin_dir() -> Path | None:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bin_dir in reversed(candidates):
        if (bin_dir / "initdb").exists() and (bin_dir / "pg_ctl").exists():
            return bin_dir
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, on 127.0.0.1 and a free port, trust auth.

    Never the machine's shared server: this one is made with ``initdb`` in a temporary
    directory, run as the ``postgres`` OS user, and may be stopped and started at will.
    """

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.port = port

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database, through asyncpg."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        """The libpq URL of its ``postgres`` database, for asyncpg itself."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _command(self, tool: str, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", str(self.bin_dir / tool), *args]

    def _start_command(self) -> list[str]:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        return self._command(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w",
            "start",
        )  # fmt: skip

    def _stop_command(self, mode: str) -> list[str]:
        return self._command("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def log(self) -> str:
        """The server's log so far."""
        path = self.root / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PG_COMMAND_TIMEOUT, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}"
                f"{result.stderr}\n{self.log()}"
            )

    def initdb(self) -> None:
        """Create the cluster (no fsync while creating: it is thrown away after the test)."""
        self._run(
            self._command(
                "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                "--no-sync",
            )
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(self._start_command())

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` rolls back open transactions; ``immediate`` is a crash)."""
        self._run(self._stop_command(mode))

    async def async_start(self) -> None:
        """``start`` without blocking the event loop."""
        await self._async_run(self._start_command())

    async def async_stop(self, mode: str = "fast") -> None:
        """``stop`` without blocking the event loop."""
        await self._async_run(self._stop_command(mode))

    async def _async_run(self, command: list[str]) -> None:
        proc = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        async with asyncio.timeout(PG_COMMAND_TIMEOUT):
            output, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({proc.returncode}):\n"
                f"{output.decode(errors='replace')}\n{self.log()}"
            )

    def is_running(self) -> bool:
        """Whether the server is running (``pg_ctl status``)."""
        result = subprocess.run(
            self._command("pg_ctl", "-D", str(self.data), "status"),
            capture_output=True,
            timeout=PG_COMMAND_TIMEOUT,
            check=False,
        )
        return result.returncode == 0


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private cluster; stopped (immediately) and deleted afterwards."""
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        unavailable("PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)")
        raise AssertionError("unreachable")  # for type checkers: unavailable() raises
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        unavailable("a private PostgreSQL is run as the postgres OS user: needs root and runuser")
    # Not under pytest's tmp_path: that is private to root and the postgres user must enter it.
    root = Path(tempfile.mkdtemp(prefix="edgewise-pg-"))
    shutil.chown(root, user="postgres", group="postgres")
    cluster = PrivatePostgres(bin_dir, root, free_port())
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        if cluster.data.exists() and cluster.is_running():
            subprocess.run(
                cluster._stop_command("immediate"),
                capture_output=True,
                timeout=PG_COMMAND_TIMEOUT,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)
