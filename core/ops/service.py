"""``edgewise install-service``: a hardened systemd unit running Edgewise as its own user.

The unit runs ``edgewise run -c <data dir>/config`` as a dedicated system user
(``Type=notify``: systemd waits for ``READY=1``; ``WatchdogSec``: a loop that stops turning
is restarted), restarts on failure, logs to the journal, and may write only its data
directory: ``ProtectSystem=strict`` makes the rest of the file system read-only,
``ProtectHome`` hides home directories, ``PrivateTmp`` gives it its own ``/tmp``.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .const import DEFAULT_WATCHDOG_S, SERVICE_NAME

_LOGGER = logging.getLogger(__name__)

#: Where home directories live: with the program there, ``ProtectHome`` can only be read-only.
_HOME_ROOTS = (Path("/home"), Path("/root"), Path("/run/user"))


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """What the unit runs, as whom, and where it may write."""

    executable: Path
    user: str
    data_dir: Path
    port: int | None = None
    watchdog_s: int = DEFAULT_WATCHDOG_S

    @property
    def config_dir(self) -> Path:
        """The configuration directory inside the data directory."""
        return self.data_dir / "config"


def _quote(value: str) -> str:
    """A word of a unit's ``ExecStart`` (systemd's quoting, not the shell's)."""
    if value and not any(c in value for c in " \t\"'\\;$%"):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def _under_home(path: Path) -> bool:
    return any(path.is_relative_to(root) for root in _HOME_ROOTS)


def render_unit(spec: ServiceSpec) -> str:
    """The text of the systemd unit for ``spec``."""
    command = [str(spec.executable), "run", "-c", str(spec.config_dir)]
    if spec.port is not None:
        command += ["--port", str(spec.port)]
    # A program installed under a home directory must stay readable: hide homes' contents
    # from writes only.
    protect_home = "read-only" if _under_home(spec.executable) else "yes"
    lines = [
        "[Unit]",
        "Description=Edgewise automation runtime",
        "Documentation=https://github.com/edgewise/edgewise",
        "Wants=network-online.target time-sync.target",
        "After=network-online.target time-sync.target",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"User={spec.user}",
        f"Group={spec.user}",
        f"ExecStart={' '.join(_quote(word) for word in command)}",
        f"WorkingDirectory={spec.data_dir}",
        "Environment=PYTHONUNBUFFERED=1",
        "Restart=on-failure",
        "RestartSec=5",
        "TimeoutStartSec=120",
        "TimeoutStopSec=60",
        f"WatchdogSec={spec.watchdog_s}",
        "StandardOutput=journal",
        "StandardError=journal",
        f"SyslogIdentifier={SERVICE_NAME}",
        "",
        "# Hardening: write only the data directory.",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ProtectHome={protect_home}",
        "PrivateTmp=yes",
        f"ReadWritePaths={_quote(str(spec.data_dir))}",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectControlGroups=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "RestrictRealtime=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def default_executable() -> Path:
    """The ``edgewise`` script of the running installation."""
    script = Path(sys.executable).with_name("edgewise")
    if script.exists():
        return script
    found = shutil.which("edgewise")
    return Path(found) if found else script


def ensure_user(user: str, data_dir: Path) -> bool:
    """Create the system user ``user`` (no login, home in ``data_dir``) if missing.

    Returns whether it was created. Raises ``OSError`` when ``useradd`` fails.
    """
    try:
        pwd.getpwnam(user)
    except KeyError:
        pass
    else:
        return False
    useradd = shutil.which("useradd")
    if useradd is None:
        raise OSError(f"Cannot create the user {user}: no useradd on this system")
    result = subprocess.run(  # noqa: S603 - fixed program, arguments from the command line
        [useradd, "--system", "--home-dir", str(data_dir), "--no-create-home",
         "--shell", "/usr/sbin/nologin", "--user-group", user],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise OSError(f"useradd {user} failed: {result.stderr.strip()}")
    return True


def chown_tree(path: Path, user: str) -> None:
    """Give ``path`` and everything under it to ``user`` (and its group)."""
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in (root, *(os.path.join(root, n) for n in (*dirs, *files))):
            os.chown(name, entry.pw_uid, entry.pw_gid)
