"""``edgewise doctor``: a clear line per check, and each bad condition found with its fix."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.ops.doctor import Status, check_clock
from tests.conftest import free_port

EDGEWISE = str(Path(sys.executable).with_name("edgewise"))


def doctor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EDGEWISE, "doctor", "-c", str(config), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def line_of(output: str, check: str) -> str:
    """The finding of ``check`` with its fix line, if any."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if f"] {check}: " in line:
            following = lines[index + 1] if index + 1 < len(lines) else ""
            return line + ("\n" + following if following.strip().startswith("fix:") else "")
    raise AssertionError(f"no {check} line in:\n{output}")


def write_site(directory: Path, port: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "configuration.yaml").write_text(
        f"http:\n  server_host: 127.0.0.1\n  server_port: {port}\nrecorder:\n"
    )
    return directory


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted in ``tmp_path`` (needs root and mount permission)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_healthy_site_passes_every_check(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", free_port())
    done = doctor(site)
    assert done.returncode == 0, done.stdout + done.stderr
    for check in ("configuration", "port", "data directory", "disk", "clock", "database"):
        assert "FAIL" not in line_of(done.stdout, check)
    assert f"[  ok] configuration: {site} is valid" in done.stdout
    assert done.stdout.rstrip().endswith("Everything looks right")


def test_a_port_in_use_is_reported_with_a_fix(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        done = doctor(write_site(tmp_path / "site", port))
    assert done.returncode == 1
    found = line_of(done.stdout, "port")
    assert f"[FAIL] port: port {port} on 127.0.0.1 is in use" in found
    assert "fix: stop what listens there" in found


def test_a_read_only_data_directory_is_reported(tmpfs: Path) -> None:
    site = write_site(tmpfs / "site", free_port())
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    done = doctor(site)
    assert done.returncode == 1
    found = line_of(done.stdout, "data directory")
    assert f"[FAIL] data directory: {site} is not writable: Read-only file system" in found
    assert "fix: give it to the user that runs Edgewise" in found


def fill(path: Path) -> None:
    """Write zeros to ``path`` until its file system is full."""
    filler = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError, match="No space left on device"):
            _write_forever(filler)
    finally:
        os.close(filler)


def _write_forever(fd: int) -> None:
    while True:
        os.write(fd, b"\0" * 65536)


def test_a_full_disk_is_reported(tmpfs: Path) -> None:
    site = write_site(tmpfs / "site", free_port())
    fill(tmpfs / "filler")
    done = doctor(site)
    assert done.returncode == 1
    assert "No space left on device" in line_of(done.stdout, "data directory")
    disk = line_of(done.stdout, "disk")
    assert disk.startswith(f"[FAIL] disk: 0 KiB free on {site}, below 102 KiB: the recorder")
    assert "fix: free space" in disk


def test_the_free_space_threshold_is_the_recorders_pause_level(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", free_port())
    done = doctor(site, "--min-free-mib", "1e12")
    assert done.returncode == 1
    assert "below 1000000000000 MiB: the recorder pauses writing" in line_of(done.stdout, "disk")


def test_a_clock_years_in_the_past_fails() -> None:
    finding = check_clock(lambda: 1_000_000_000.0)
    assert finding.status is Status.FAIL
    assert finding.message == "the clock says 2001-09-09 01:46 UTC, years in the past"
    assert "timedatectl set-ntp true" in finding.fix


def test_a_damaged_database_fails_its_integrity_check(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", free_port())
    database = site / "edgewise.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
    conn.close()
    data = bytearray(database.read_bytes())
    data[4096 * 2 : 4096 * 2 + 200] = b"\xff" * 200
    database.write_bytes(bytes(data))
    done = doctor(site)
    assert done.returncode == 1
    found = line_of(done.stdout, "database")
    assert found.startswith(f"[FAIL] database: {database} is damaged: ")
    assert "fix: stop Edgewise and restore a backup" in found


def test_an_invalid_configuration_is_reported(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", free_port())
    (site / "configuration.yaml").write_text("http:\n  server_port: lots\n")
    done = doctor(site)
    assert done.returncode == 1
    found = line_of(done.stdout, "configuration")
    assert found.startswith("[FAIL] configuration: 1 error(s): ")
    assert "server_port" in found
    assert "fix: run `edgewise check-config" in found
