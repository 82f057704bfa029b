"""The ``edgewise`` command: run a site, check its configuration, manage users and tokens."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import logging
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import platformdirs

from .auth.cli import add_auth_commands, run_auth_command
from .bus import Event, callback
from .config_check import check_site_config
from .const import EVENT_EDGEWISE_STARTED, __version__
from .ops.cli import OPS_COMMANDS, add_ops_commands, run_ops_command
from .ops.running import attach as attach_operations
from .ops.running import limit_malloc_arenas
from .plugins import IntegrationLoader
from .runtime import Runtime, tune_gc

_LOGGER = logging.getLogger(__name__)

#: Entry points adding subcommands: ``name = "module:function"``, the function called with the
#: subparsers action; the subcommand it adds sets ``run_command`` (``args -> exit code``) as a
#: default. Commands run without a configuration directory (offline tools of integrations).
COMMANDS_GROUP = "edgewise.commands"

#: The configuration shipped in the repository, copied for a user's first run.
BUNDLED_CONFIG = Path(__file__).resolve().parent.parent / "config"


def default_config_dir() -> Path:
    """The user's own configuration directory (``~/.local/share/edgewise/config`` on Linux)."""
    return Path(platformdirs.user_data_dir("edgewise", appauthor=False)) / "config"


def prepare_config_dir(config_dir: Path | None) -> Path:
    """Return the configuration directory to use, creating the user's default on first run.

    With no directory given, the user's data directory is used; on the first run it is seeded
    with a copy of the configuration shipped with Edgewise, so the shipped copy stays clean.
    """
    if config_dir is not None:
        return config_dir
    target = default_config_dir()
    if not (target / "configuration.yaml").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        if BUNDLED_CONFIG.is_dir():
            shutil.copytree(
                BUNDLED_CONFIG,
                target,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(".storage", "*.db*", "secrets.yaml", "*.log"),
            )
        else:
            target.mkdir(parents=True, exist_ok=True)
            (target / "configuration.yaml").write_text("edgewise:\n  name: Home\n")
        print(f"Created a configuration in {target}")
    return target


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


async def _run(config_dir: Path, port: int | None = None) -> int:
    runtime = Runtime(config_dir, http_port=port)
    attach_operations(runtime)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runtime.request_stop)

    @callback
    def announce(event: Event[Mapping[str, object]]) -> None:
        host = runtime.http_config.server_host
        shown = "localhost" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        print(f"Edgewise is running: http://{shown}:{runtime.http.port}/", flush=True)
        if not runtime.http.auth.has_users:
            print(
                "No user yet: open that address to create the owner account, or run "
                f"`edgewise user add NAME --role admin -c {config_dir}`",
                flush=True,
            )

    runtime.bus.listen_once(EVENT_EDGEWISE_STARTED, announce)
    runtime.bus.listen_once(EVENT_EDGEWISE_STARTED, callback(lambda event: tune_gc()))
    return await runtime.run_until_stopped()


def _check_config(config_dir: Path) -> int:
    loader = IntegrationLoader()
    loader.load_entry_points()
    # The integrations check their own sections further (automations, scripts, blueprints,
    # templates, the services they call) with the validation their setup uses; nothing is set up.
    problems = asyncio.run(check_site_config(config_dir, loader))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} error(s) in {config_dir}", file=sys.stderr)
        return 1
    print(f"Configuration in {config_dir} is valid")
    return 0


def _add_common(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="configuration directory (default: the user's data directory)",
    )
    cmd.add_argument("-v", "--verbose", action="store_true", help="log at debug level")


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(prog="edgewise", description=__doc__)
    parser.add_argument("--version", action="version", version=f"edgewise {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("run", "run Edgewise on a configuration directory"),
        ("check-config", "check a configuration directory and print every error"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        _add_common(cmd)
        if name == "run":
            cmd.add_argument(
                "--port", type=int, default=None, help="HTTP port (overrides http: server_port)"
            )
    add_auth_commands(sub, _add_common)
    add_ops_commands(sub, _add_common)
    for entry_point in importlib.metadata.entry_points(group=COMMANDS_GROUP):
        try:
            entry_point.load()(sub)
        except Exception:  # a broken plugin must not take the other commands down
            _LOGGER.exception("Command plugin %s could not be loaded", entry_point.value)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edgewise`` console script."""
    args = build_parser().parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    if args.command in OPS_COMMANDS:
        return run_ops_command(args)
    run_command = getattr(args, "run_command", None)
    if run_command is not None:
        return int(run_command(args))
    config_dir = prepare_config_dir(args.config).resolve()
    if not config_dir.is_dir():
        print(f"Configuration directory {config_dir} does not exist", file=sys.stderr)
        return 2
    if args.command == "check-config":
        return _check_config(config_dir)
    if args.command in ("user", "token"):
        return run_auth_command(args, config_dir)
    limit_malloc_arenas()
    return asyncio.run(_run(config_dir, args.port))


if __name__ == "__main__":
    sys.exit(main())
