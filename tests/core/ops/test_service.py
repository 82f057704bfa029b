"""``edgewise install-service``: the unit it writes, checked by ``systemd-analyze verify``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.ops.service import ServiceSpec, ensure_user, render_unit
from tests._tools import require_tool

EDGEWISE = Path(sys.executable).with_name("edgewise")


def _systemd_analyze() -> str:
    """The ``systemd-analyze`` program, installing Debian's ``systemd`` package if missing."""
    return require_tool("systemd-analyze", "systemd")


def _install(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    units = tmp_path / "units"
    result = subprocess.run(
        [str(EDGEWISE), "install-service", "--data-dir", str(tmp_path / "data"),
         "--unit-dir", str(units), "--no-create-user", *extra],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return result, units / "edgewise.service"


def _settings(unit: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in unit.splitlines() if "=" in line)


def test_install_service_writes_a_hardened_notify_unit_that_verifies(tmp_path: Path) -> None:
    result, unit = _install(tmp_path, "--port", "8200")
    assert result.returncode == 0, result.stderr
    assert f"Wrote {unit}" in result.stdout
    data = tmp_path / "data"
    assert (data / "config" / "configuration.yaml").is_file()
    settings = _settings(unit.read_text())
    assert settings["ExecStart"] == f"{EDGEWISE.resolve()} run -c {data}/config --port 8200"
    assert settings["User"] == "edgewise"
    assert settings["Type"] == "notify"
    assert settings["Restart"] == "on-failure"
    assert settings["WatchdogSec"] == "30"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict"
    assert settings["PrivateTmp"] == "yes"
    assert settings["ReadWritePaths"] == str(data)
    assert settings["StandardOutput"] == "journal"
    verify = subprocess.run(
        [_systemd_analyze(), "verify", str(unit)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    # systemd only warns about a setting it cannot parse: none may be there.
    assert str(unit) not in verify.stderr, verify.stderr


def test_systemd_analyze_rejects_a_broken_unit(tmp_path: Path) -> None:
    """The check above is real: a unit whose program is missing fails it."""
    spec = ServiceSpec(Path("/nonexistent/edgewise"), "edgewise", tmp_path / "data")
    unit = tmp_path / "edgewise.service"
    unit.write_text(render_unit(spec))
    verify = subprocess.run(
        [_systemd_analyze(), "verify", str(unit)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verify.returncode != 0
    assert "/nonexistent/edgewise" in verify.stderr


def test_a_program_under_a_home_directory_keeps_homes_read_only() -> None:
    home = ServiceSpec(Path("/home/pi/venv/bin/edgewise"), "edgewise", Path("/var/lib/edgewise"))
    opt = ServiceSpec(Path("/opt/edgewise/bin/edgewise"), "edgewise", Path("/var/lib/edgewise"))
    assert _settings(render_unit(home))["ProtectHome"] == "read-only"
    assert _settings(render_unit(opt))["ProtectHome"] == "yes"


def test_a_path_with_spaces_is_quoted_for_systemd() -> None:
    spec = ServiceSpec(Path("/opt/edge wise/edgewise"), "edgewise", Path("/srv/my data"))
    assert _settings(render_unit(spec))["ExecStart"] == (
        '"/opt/edge wise/edgewise" run -c "/srv/my data/config"'
    )


def test_install_service_refuses_a_missing_program(tmp_path: Path) -> None:
    result, unit = _install(tmp_path, "--executable", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert f"The edgewise program {tmp_path / 'nope'} does not exist" in result.stderr
    assert not unit.exists()


def test_an_existing_user_is_left_as_it_is(tmp_path: Path) -> None:
    passwd = Path("/etc/passwd").read_bytes()
    assert ensure_user("root", tmp_path) is False
    assert Path("/etc/passwd").read_bytes() == passwd
