"""The operations subcommands of ``edgewise``: install-service, backup, restore, doctor."""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from .archive import PASSPHRASE_ENV, BackupError
from .const import (
    DEFAULT_MIN_FREE_BYTES,
    DEFAULT_SERVICE_DATA_DIR,
    DEFAULT_SERVICE_USER,
    DEFAULT_UNIT_DIR,
    SERVICE_NAME,
)

#: The subcommands this module adds and runs.
OPS_COMMANDS = frozenset({"install-service", "backup", "restore", "doctor"})


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

    cmd = sub.add_parser("backup", help="write one archive of the site (safe while it runs)")
    add_common(cmd)
    cmd.add_argument(
        "-o", "--output", type=Path, default=None, help="archive file or directory (default: .)"
    )
    cmd.add_argument(
        "--secrets",
        action="store_true",
        help=f"include secrets.yaml, encrypted with a passphrase (--passphrase-file, "
        f"${PASSPHRASE_ENV}, or asked)",
    )
    cmd.add_argument("--passphrase-file", type=Path, default=None)

    cmd = sub.add_parser("restore", help="restore a backup archive and migrate it")
    add_common(cmd)
    cmd.add_argument("archive", type=Path)
    cmd.add_argument(
        "--force", action="store_true", help="replace an existing configuration (kept aside)"
    )
    cmd.add_argument("--passphrase-file", type=Path, default=None)

    cmd = sub.add_parser("doctor", help="check this machine is ready to run the site")
    add_common(cmd)
    cmd.add_argument("--port", type=int, default=None, help="HTTP port to check (default: config)")
    cmd.add_argument(
        "--min-free-mib",
        type=float,
        default=None,
        help="free disk space below which the check fails (default: where the recorder "
        f"pauses, {DEFAULT_MIN_FREE_BYTES // 2**20} MiB or 5%% of a smaller disk)",
    )


def run_ops_command(args: argparse.Namespace) -> int:
    """Run the operations subcommand ``args.command``; return the exit code."""
    if args.command == "install-service":
        return _install_service(args)
    if args.command == "backup":
        return _backup(args)
    if args.command == "restore":
        return _restore(args)
    if args.command == "doctor":
        return _doctor(args)
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


def _config_dir(args: argparse.Namespace) -> Path:
    from core.cli import default_config_dir  # noqa: PLC0415 - core.cli imports this module

    return Path(args.config or default_config_dir()).resolve()


def _passphrase(args: argparse.Namespace, *, confirm: bool) -> str | None:
    """The passphrase from --passphrase-file, the environment, or a prompt on a terminal."""
    if args.passphrase_file is not None:
        return str(args.passphrase_file.read_text().rstrip("\n"))
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("Passphrase for the secrets: ")
    if confirm and getpass.getpass("Again: ") != first:
        raise BackupError("The passphrases differ")
    return first or None


def _backup(args: argparse.Namespace) -> int:
    from .backup import create_backup, default_archive_name  # noqa: PLC0415 - on demand

    config_dir = _config_dir(args)
    output = Path(args.output or ".")
    if output.is_dir() or args.output is None:
        output = output / default_archive_name()
    try:
        passphrase = _passphrase(args, confirm=True) if args.secrets else None
        if args.secrets and passphrase is None:
            raise BackupError("--secrets needs a passphrase (--passphrase-file or a terminal)")
        result = create_backup(config_dir, output.resolve(), passphrase=passphrase)
    except (BackupError, OSError) as err:
        print(f"Backup failed: {err}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(note)
    print(
        f"Wrote {result.path} ({result.size / 1e6:.1f} MB in {result.seconds:.1f} s; "
        f"database {'included' if result.database else 'not included'}, "
        f"secrets {'included, encrypted' if result.secrets else 'not included'})"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from .restore import read_manifest, restore_backup  # noqa: PLC0415 - on demand

    config_dir = _config_dir(args)
    try:
        manifest = read_manifest(args.archive)
        passphrase = _passphrase(args, confirm=False) if manifest.get("secrets") else None
        result = restore_backup(args.archive, config_dir, passphrase=passphrase, force=args.force)
    except (BackupError, OSError) as err:
        print(f"Restore failed: {err}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(note)
    if result.kept_aside is not None:
        print(f"The previous configuration is kept in {result.kept_aside}")
    for name, found, now in result.migrated:
        if found is not None and found != now:
            print(f"Migrated the {name} database from schema {found} to {now}")
    print(f"Restored {args.archive} into {config_dir}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import Status, diagnose  # noqa: PLC0415 - on demand

    config_dir = _config_dir(args)
    if not (config_dir / "configuration.yaml").is_file():
        print(f"[FAIL] configuration: no configuration.yaml in {config_dir}")
        print("       fix: run `edgewise run` once to create it, or give -c DIR")
        return 1
    min_free = None if args.min_free_mib is None else int(args.min_free_mib * 2**20)
    findings = diagnose(config_dir, min_free=min_free, port=args.port)
    for finding in findings:
        print(finding.line())
    failed = sum(f.status is Status.FAIL for f in findings)
    print(f"{failed} problem(s) found" if failed else "Everything looks right")
    return 1 if failed else 0
