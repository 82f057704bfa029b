"""``edgewise doctor``: is this machine ready to run the site? One line per check, with a fix.

Checks, in order: the configuration is valid; the HTTP port is free; the data directory (the
configuration directory, where ``.storage`` and the SQLite database live) is writable; the disk
has room; the clock is plausible and synchronised; each SQLite database the integrations name
(``edgewise_backup_databases``: the recorder's, a plugin's) passes ``PRAGMA integrity_check``.
A failed check does not stop the others.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from core.core_sections import CORE_SECTIONS, HttpConfig
from core.storage import STORAGE_DIR

from .const import CLOCK_PLAUSIBLE_AFTER
from .databases import BackupDatabase, site_databases
from .disk import disk_space, pause_level

#: Below this much free space the disk check warns (it fails below the recorder's pause level).
_WARN_FREE_BYTES = 1024**3
_WARN_FREE_SHARE = 0.15
_TOOL_TIMEOUT_S = 5.0


class Status(StrEnum):
    """The outcome of one check."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome: what was found, and what to do about it when not OK."""

    check: str
    status: Status
    message: str
    fix: str = ""

    def line(self) -> str:
        """The line printed for this finding."""
        text = f"[{self.status.value:>4}] {self.check}: {self.message}"
        return f"{text}\n       fix: {self.fix}" if self.fix else text


def check_config(config_dir: Path) -> tuple[Finding, HttpConfig]:
    """The configuration's validity (as ``check-config``), and the HTTP settings it gives."""
    from core.config import SectionValidator, load_site_config  # noqa: PLC0415 - loads every integration
    from core.plugins import IntegrationLoader  # noqa: PLC0415
    from core.runtime import Runtime  # noqa: PLC0415

    loader = IntegrationLoader()
    loader.load_entry_points()
    known: dict[str, SectionValidator | None] = dict(CORE_SECTIONS)
    known.update({d: i.manifest.config_schema for d, i in loader.integrations.items()})
    loaded = load_site_config(config_dir, known)
    problems = [*loader.load_errors, *(str(issue) for issue in loaded.issues)]

    async def deep() -> list[str]:
        return await Runtime(config_dir, loader=loader).check_config(loaded)

    if not any(issue.fatal for issue in loaded.issues):
        problems.extend(asyncio.run(deep()))
    http = loaded.integrations.get("http")
    http_config = http if isinstance(http, HttpConfig) else HttpConfig()
    if problems:
        shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" * (len(problems) > 3))
        return Finding(
            "configuration", Status.FAIL, f"{len(problems)} error(s): {shown}",
            f"run `edgewise check-config -c {config_dir}` and correct each error",
        ), http_config  # fmt: skip
    return Finding("configuration", Status.OK, f"{config_dir} is valid"), http_config


def check_port(http: HttpConfig) -> Finding:
    """Whether the HTTP server could listen on its address and port."""
    host = http.server_host or "0.0.0.0"  # noqa: S104 - the server's own default
    port = http.server_port
    if port == 0:
        return Finding("port", Status.OK, "server_port is 0: a free port is picked at start")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the server binds: an address in TIME_WAIT does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return Finding(
                    "port", Status.FAIL, f"port {port} on {host} is in use",
                    f"stop what listens there (`ss -ltnp 'sport = :{port}'`; maybe Edgewise "
                    "is already running), or set http: server_port to another port",
                )  # fmt: skip
            return Finding(
                "port", Status.FAIL, f"cannot listen on {host}:{port}: {err.strerror}",
                "use a port above 1023, or an address of this machine (http: server_host)",
            )  # fmt: skip
    return Finding("port", Status.OK, f"port {port} on {host} is free")


def check_writable(config_dir: Path) -> Finding:
    """Whether Edgewise can create, write and remove files in its data directory."""
    for directory in (config_dir, config_dir / STORAGE_DIR):
        if not directory.exists():
            continue
        probe = directory / f".doctor-{uuid.uuid4().hex}"
        try:
            with probe.open("wb") as handle:
                handle.write(b"edgewise doctor")
                handle.flush()
                os.fsync(handle.fileno())
            probe.unlink()
        except OSError as err:
            return Finding(
                "data directory", Status.FAIL, f"{directory} is not writable: {err.strerror}",
                f"give it to the user that runs Edgewise (`chown -R USER {config_dir}`), or "
                "remount its file system read-write (`mount -o remount,rw`)",
            )  # fmt: skip
    return Finding("data directory", Status.OK, f"{config_dir} is writable")


def _size(count: float) -> str:
    return f"{count / 2**20:.0f} MiB" if count >= 2**20 else f"{count / 1024:.0f} KiB"


def check_disk(config_dir: Path, min_free: int | None = None) -> Finding:
    """Whether the data directory's disk has room.

    It fails below ``min_free`` bytes, by default the level at which the recorder pauses
    (``core.ops.disk.pause_level``), and warns below 1 GiB (or 15 % of a smaller disk).
    """
    usage = disk_space(config_dir)
    level = pause_level(usage.total) if min_free is None else min_free
    fix = (
        "free space (old logs, `edgewise backup` archives), lower recorder: purge_keep_days, "
        "or move the data directory to a larger disk"
    )
    if usage.free < level:
        return Finding(
            "disk", Status.FAIL,
            f"{_size(usage.free)} free on {config_dir}, below {_size(level)}: the recorder "
            "pauses writing", fix,
        )  # fmt: skip
    if usage.free < max(min(_WARN_FREE_BYTES, usage.total * _WARN_FREE_SHARE), level * 2):
        return Finding("disk", Status.WARN, f"only {_size(usage.free)} free on {config_dir}", fix)
    return Finding("disk", Status.OK, f"{_size(usage.free)} free of {_size(usage.total)}")


def _run_tool(*command: str) -> str | None:
    path = shutil.which(command[0])
    if path is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - a fixed system tool
            [path, *command[1:]], capture_output=True, text=True,
            timeout=_TOOL_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def check_clock(now: Callable[[], float] = time.time) -> Finding:
    """Whether the clock is plausible (not years in the past) and, where known, synchronised."""
    current = now()
    shown = datetime.fromtimestamp(current, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if current < CLOCK_PLAUSIBLE_AFTER:
        return Finding(
            "clock", Status.FAIL, f"the clock says {shown}, years in the past",
            "enable time synchronisation (`timedatectl set-ntp true`, or chrony) and check "
            "the network reaches an NTP server; a Pi has no battery-backed clock",
        )  # fmt: skip
    synced = _run_tool("timedatectl", "show", "-p", "NTPSynchronized", "--value")
    if synced is not None and synced.strip() == "no":
        return Finding(
            "clock", Status.WARN, f"the clock says {shown} but is not synchronised (timedatectl)",
            "`timedatectl set-ntp true`, and check the network reaches an NTP server",
        )  # fmt: skip
    tracking = _run_tool("chronyc", "tracking")
    if tracking is not None and "Not synchronised" in tracking:
        return Finding(
            "clock", Status.WARN, f"the clock says {shown} but chrony is not synchronised",
            "check `chronyc sources` and that the network reaches an NTP server",
        )  # fmt: skip
    source = " (synchronised)" if synced or tracking else ""
    return Finding("clock", Status.OK, f"the clock says {shown}{source}")


def check_database(config_dir: Path) -> Finding:
    """Each SQLite database the integrations name passes ``PRAGMA integrity_check``."""
    site = site_databases(config_dir)
    findings = [_check_one_database(database) for database in site.databases.values()]
    failed = [f for f in findings if f.status is Status.FAIL]
    if failed:
        return Finding(
            "database", Status.FAIL, "; ".join(f.message for f in failed),
            " / ".join(f.fix for f in failed if f.fix),
        )  # fmt: skip
    if site.problems:
        return Finding("database", Status.WARN, "; ".join(site.problems))
    if not findings:
        return Finding("database", Status.OK, "no integration keeps a database")
    return Finding("database", Status.OK, "; ".join(f.message for f in findings))


def _check_one_database(database: BackupDatabase) -> Finding:
    path = database.sqlite_path
    if path is None:
        return Finding(
            "database", Status.OK, f"the {database.name} uses a {database.backend} server "
            "(not checked)",
        )  # fmt: skip
    if not path.exists():
        return Finding("database", Status.OK, f"no {database.name} database yet ({path})")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        conn.close()
    except sqlite3.DatabaseError as err:
        rows = [str(err)]
    if rows == ["ok"]:
        return Finding("database", Status.OK, f"{path} passes its integrity check")
    return Finding(
        "database", Status.FAIL, f"{path} is damaged: {'; '.join(rows[:3])}",
        f"stop Edgewise and restore a backup (`edgewise restore`), or move {path.name} aside "
        "to start a new history",
    )  # fmt: skip


def diagnose(
    config_dir: Path, *, min_free: int | None = None, port: int | None = None
) -> list[Finding]:
    """Every check, in order; a check that raises is reported as failed, not raised."""
    findings: list[Finding] = []
    http = HttpConfig()
    try:
        config, http = check_config(config_dir)
        findings.append(config)
    except Exception as err:
        findings.append(Finding("configuration", Status.FAIL, f"cannot be checked: {err}"))
    if port is not None:
        http = HttpConfig(server_host=http.server_host, server_port=port)
    checks: list[Callable[[], Finding]] = [
        lambda: check_port(http),
        lambda: check_writable(config_dir),
        lambda: check_disk(config_dir, min_free),
        check_clock,
        lambda: check_database(config_dir),
    ]
    names = ["port", "data directory", "disk", "clock", "database"]
    for name, check in zip(names, checks, strict=True):
        try:
            findings.append(check())
        except Exception as err:
            findings.append(Finding(name, Status.FAIL, f"cannot be checked: {err}"))
    return findings
