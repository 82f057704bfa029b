"""The operations subcommands of ``edgewise``: install-service, backup, restore, doctor."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from .const import DEFAULT_SERVICE_DATA_DIR, DEFAULT_SERVICE_USER, DEFAULT_UNIT_DIR, SERVICE_NAME

#: The subcommands this module adds and runs.
OPS_COMMANDS = frozenset({"install-service"})


def add_ops_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    add_common: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add the operations subcommands to the ``edgewise`` parser."""
    cmd = sub.add_parser(
        "install-service", help="write a systemd unit that runs Edgewise as its own user"
    )
    cmd.add_argument("--user", default=DEFAULT_SERVICE_USER, help="the service's system user")
    cmd.add_argument(
        "--data-dir",
        type=Path,
        default=Path(DEFAULT_SERVICE_DATA_DIR),
        help="the only directory the service may write; its config/ is the configuration",
    )
    cmd.add_argument("--unit-dir", type=Path, default=Path(DEFAULT_UNIT_DIR))
    cmd.add_argument("--port", type=int, default=None, help="HTTP port (default: the config's)")
    cmd.add_argument("--executable", type=Path, default=None, help="the edgewise program")
    cmd.add_argument(
        "--no-create-user",
        action="store_true",
        help="neither create the user nor give it the data directory",
    )
    cmd.add_argument("-v", "--verbose", action="store_true", help="log at debug level")


def run_ops_command(args: argparse.Namespace) -> int:
    """Run the operations subcommand ``args.command``; return the exit code."""
    if args.command == "install-service":
        return _install_service(args)
    raise ValueError(f"Not an operations command: {args.command}")


def _seed_config(config_dir: Path) -> bool:
    from core.cli import BUNDLED_CONFIG  # noqa: PLC0415 - core.cli imports this module

    if (config_dir / "configuration.yaml").exists():
        return False
    shutil.copytree(
        BUNDLED_CONFIG,
        config_dir,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".storage", "*.db*", "secrets.yaml", "*.log"),
    )
    return True


def _install_service(args: argparse.Namespace) -> int:
    from .service import (  # noqa: PLC0415 - only this command needs it
        ServiceSpec,
        chown_tree,
        default_executable,
        ensure_user,
        render_unit,
    )

    data_dir = args.data_dir.resolve()
    executable = (args.executable or default_executable()).resolve()
    if not executable.is_file():
        print(f"The edgewise program {executable} does not exist (--executable)", file=sys.stderr)
        return 2
    spec = ServiceSpec(executable=executable, user=args.user, data_dir=data_dir, port=args.port)
    try:
        if not args.no_create_user and ensure_user(args.user, data_dir):
            print(f"Created the system user {args.user}")
        data_dir.mkdir(parents=True, exist_ok=True)
        if _seed_config(spec.config_dir):
            print(f"Created a configuration in {spec.config_dir}")
        if not args.no_create_user:
            chown_tree(data_dir, args.user)
        args.unit_dir.mkdir(parents=True, exist_ok=True)
        unit = args.unit_dir / f"{SERVICE_NAME}.service"
        unit.write_text(render_unit(spec))
    except OSError as err:
        print(f"Cannot install the service: {err}", file=sys.stderr)
        return 1
    print(f"Wrote {unit}")
    if "ProtectHome=read-only" in unit.read_text():
        print(
            f"Note: {executable} is under a home directory, so home directories stay readable "
            "to the service (ProtectHome=read-only); install Edgewise in /opt to hide them."
        )
    print(f"Start it with: systemctl daemon-reload && systemctl enable --now {SERVICE_NAME}")
    print(f"Its log: journalctl -u {SERVICE_NAME} -f")
    return 0
