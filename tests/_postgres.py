"""PostgreSQL for the tests: the machine's shared server and private clusters of a test's own.

The shared server runs at 127.0.0.1:5432 (trust auth, user ``postgres``; ../shared/PEERS.md).
Each test that uses it gets a database of its own (``Databases``), dropped afterwards. When the
server cannot be reached, ``ensure_postgres`` first tries to start the local cluster; then the
test fails under ``CI=true`` and is skipped, with the reason, elsewhere.

A private cluster (``private_postgres``) is made with ``initdb`` in a temporary directory and
run as the ``postgres`` OS user (needs root), so a test may stop, crash and restart it at will.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from tests._helpers import free_port

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN_DSN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"

#: Seconds any pg_ctl or initdb command may take.
PG_COMMAND_TIMEOUT = 30.0


def unavailable(reason: str) -> None:
    """Fail loudly under CI (a peer CI must have is missing), else skip with the reason."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


# --- the shared server ---------------------------------------------------------------------------


def pg_dsn(database: str) -> str:
    """A plain (asyncpg) DSN for ``database`` on the shared server."""
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def pg_sqlalchemy_url(database: str) -> str:
    """The SQLAlchemy URL of ``database`` on the shared server."""
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def pg_admin(sql: str) -> None:
    """Run one statement on the shared server's ``postgres`` database (outside a transaction)."""
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _pg_reachable() -> bool:
    try:
        await pg_admin("SELECT 1")
    except (OSError, asyncpg.PostgresError):
        return False
    return True


async def ensure_postgres() -> None:
    """Make sure the shared server answers: start the local cluster if it does not."""
    if await _pg_reachable():
        return
    if Path("/etc/postgresql").is_dir():  # noqa: ASYNC240 - once, before any test runs
        for version in os.listdir("/etc/postgresql"):
            subprocess.run(  # noqa: ASYNC221 - a one-off start of the local cluster
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
                capture_output=True,
                timeout=60,
            )
    if await _pg_reachable():
        return
    unavailable(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}")


class Databases:
    """Databases of one test on the shared server, all dropped (with their connections) at the end.

    A test may rename one to ``<name>_away`` to simulate an outage: either name is dropped.
    """

    def __init__(self) -> None:
        self.names: list[str] = []

    async def create(self, prefix: str = "edgewise_test") -> str:
        """Create an empty database and answer its name."""
        await ensure_postgres()
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        await pg_admin(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return name

    async def drop_all(self) -> None:
        """Drop every database created (and its ``_away`` twin)."""
        for name in self.names:
            for candidate in (name, f"{name}_away"):
                await pg_admin(f'DROP DATABASE IF EXISTS "{candidate}" WITH (FORCE)')
        self.names.clear()


# --- private clusters ----------------------------------------------------------------------------


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
