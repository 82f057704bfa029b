"""Tests for core/cli.py: ``edgewise check-config`` and ``edgewise run`` in real subprocesses."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core import cli
from tests.conftest import ConfigDirFactory, EdgewiseFactory

RunCommand = Callable[..., subprocess.CompletedProcess[str]]

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


# --- check-config --------------------------------------------------------------------------------


def test_check_config_on_a_valid_configuration_exits_0_and_says_valid(
    config_dir: ConfigDirFactory, edgewise_cmd: RunCommand
) -> None:
    site = config_dir(
        """\
        edgewise:
          name: Test site
          time_zone: Europe/Amsterdam
        http:
          server_port: 8124
        logger:
          default: warning
        """
    )

    result = edgewise_cmd("check-config", "-c", site)

    assert result.returncode == 0, result.stderr
    assert f"Configuration in {site} is valid" in result.stdout
    assert "error" not in result.stderr.lower()


def test_check_config_on_tab_indented_yaml_exits_1_naming_the_file_and_line(
    config_dir: ConfigDirFactory, edgewise_cmd: RunCommand
) -> None:
    site = config_dir("edgewise:\n  name: Home\nhttp:\n\tserver_port: 8124\n")

    result = edgewise_cmd("check-config", "-c", site)

    assert result.returncode == 1
    assert "configuration.yaml, line 4: " in result.stderr
    assert "1 error(s)" in result.stderr


def test_check_config_on_an_unknown_top_level_key_exits_1_naming_the_key_and_line(
    config_dir: ConfigDirFactory, edgewise_cmd: RunCommand
) -> None:
    site = config_dir(
        """\
        edgewise:
          name: Home

        modbsu:
          host: 192.0.2.10
        """
    )

    result = edgewise_cmd("check-config", "-c", site)

    assert result.returncode == 1
    assert "configuration.yaml, line 4: modbsu: unknown integration 'modbsu'" in result.stderr


def test_check_config_on_a_missing_secret_exits_1_naming_the_secret(
    config_dir: ConfigDirFactory, edgewise_cmd: RunCommand
) -> None:
    site = config_dir(
        "http:\n  server_port: !secret http_port\n",
        **{"secrets.yaml": "other_secret: 1\n"},
    )

    result = edgewise_cmd("check-config", "-c", site)

    assert result.returncode == 1
    assert "configuration.yaml, line 2: secret 'http_port' is not defined" in result.stderr


def test_check_config_on_an_include_cycle_exits_1_naming_the_files_in_the_cycle(
    config_dir: ConfigDirFactory, edgewise_cmd: RunCommand
) -> None:
    site = config_dir(
        "logger: !include logger.yaml\n",
        **{
            "logger.yaml": "default: !include level.yaml\n",
            "level.yaml": "x: !include logger.yaml\n",
        },
    )

    result = edgewise_cmd("check-config", "-c", site)

    assert result.returncode == 1
    assert "include cycle: logger.yaml -> level.yaml -> logger.yaml" in result.stderr


def test_check_config_on_a_missing_directory_exits_2(
    tmp_path: Path, edgewise_cmd: RunCommand
) -> None:
    result = edgewise_cmd("check-config", "-c", tmp_path / "nowhere")

    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_bundled_configuration_passes_check_config(edgewise_cmd: RunCommand) -> None:
    result = edgewise_cmd("check-config", "-c", REPO_ROOT / "config")

    assert result.returncode == 0, result.stderr


def test_edgewise_console_script_is_installed_next_to_the_interpreter() -> None:
    script = shutil.which("edgewise", path=str(Path(sys.executable).parent))
    assert script is not None

    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)

    assert result.returncode == 0
    assert result.stdout.startswith("edgewise ")


# --- run -----------------------------------------------------------------------------------------


def _run_config(config_dir: ConfigDirFactory, port: int) -> Path:
    return config_dir(f"http:\n  server_host: 127.0.0.1\n  server_port: {port}\n")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_run_serves_live_and_ready_and_exits_0_on_signal(
    config_dir: ConfigDirFactory, edgewise: EdgewiseFactory, unused_port: int, sig: signal.Signals
) -> None:
    site = _run_config(config_dir, unused_port)
    process = edgewise("run", "-c", site, port=unused_port)
    process.wait_ready()

    assert process.get("/live") == 200
    assert process.get("/ready") == 200
    started = time.monotonic()
    assert process.stop(sig, timeout=10) == 0, process.output()
    assert time.monotonic() - started < 10
    output = process.output()
    assert f"Edgewise is running: http://127.0.0.1:{unused_port}/" in output
    assert "Edgewise stopped" in output


def test_run_on_a_busy_port_exits_non_zero_naming_the_address(
    config_dir: ConfigDirFactory, edgewise: EdgewiseFactory
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        site = _run_config(config_dir, port)
        process = edgewise("run", "-c", site, port=port)

        exit_code = process.wait(timeout=15)

    output = process.output()
    assert exit_code != 0, output
    assert "address already in use" in output
    assert f"'127.0.0.1', {port}" in output


# --- the user's configuration directory ---------------------------------------------------------


@pytest.fixture
def bundled_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shipped configuration with runtime files that must never be copied to a user."""
    bundled = tmp_path / "bundled"
    (bundled / ".storage").mkdir(parents=True)
    (bundled / ".storage" / "core.entity_registry").write_text("{}")
    (bundled / "packages").mkdir()
    (bundled / "configuration.yaml").write_text("edgewise:\n  name: Shipped\n")
    (bundled / "packages" / "energy.yaml").write_text("logger:\n  default: info\n")
    (bundled / "secrets.yaml").write_text("token: do-not-copy\n")
    (bundled / "history.db").write_text("")
    (bundled / "edgewise.log").write_text("")
    monkeypatch.setattr(cli, "BUNDLED_CONFIG", bundled)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return bundled


def test_prepare_config_dir_seeds_the_user_dir_from_the_bundled_config_without_storage(
    bundled_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = cli.prepare_config_dir(None)

    assert target == tmp_path / "data" / "edgewise" / "config"
    assert (target / "configuration.yaml").read_text() == "edgewise:\n  name: Shipped\n"
    assert (target / "packages" / "energy.yaml").is_file()
    for left_out in (".storage", "secrets.yaml", "history.db", "edgewise.log"):
        assert not (target / left_out).exists(), left_out
    assert f"Created a configuration in {target}" in capsys.readouterr().out


def test_prepare_config_dir_keeps_the_users_edits_on_later_runs(bundled_config: Path) -> None:
    target = cli.prepare_config_dir(None)
    (target / "configuration.yaml").write_text("edgewise:\n  name: Mine\n")

    assert cli.prepare_config_dir(None) == target
    assert (target / "configuration.yaml").read_text() == "edgewise:\n  name: Mine\n"


def test_prepare_config_dir_uses_a_given_directory_as_it_is(tmp_path: Path) -> None:
    assert cli.prepare_config_dir(tmp_path / "site") == tmp_path / "site"
    assert not (tmp_path / "site").exists()
