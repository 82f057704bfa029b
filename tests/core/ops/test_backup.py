"""``edgewise backup`` and ``edgewise restore``: a round trip while Edgewise writes, and every
way an archive can be refused."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cli import BUNDLED_CONFIG
from core.const import __version__
from core.ops.backup import create_backup
from core.ops.const import BACKUP_MANIFEST
from integrations.recorder.const import SCHEMA_VERSION
from tests.conftest import free_port
from tests.integrations.recorder.test_migration import V2_DDL

EDGEWISE = str(Path(sys.executable).with_name("edgewise"))
PASSPHRASE = "correct horse battery staple"
SECRETS = "api_password: hunter2\n"


def edgewise(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run an ``edgewise`` command to completion."""
    return subprocess.run(
        [EDGEWISE, *args], capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def site(path: Path, port: int) -> Path:
    """A copy of the shipped configuration on ``port``, committing states every 0.2 s."""
    shutil.copytree(BUNDLED_CONFIG, path, ignore=shutil.ignore_patterns(".storage", "*.db*"))
    conf = path / "configuration.yaml"
    text = re.sub(r"server_port:\s*\d+", f"server_port: {port}", conf.read_text())
    text = text.replace("\nrecorder:\n", "\nrecorder:\n  commit_interval: 0.2\n")
    conf.write_text(text)
    (path / "secrets.yaml").write_text(SECRETS)
    return path


def states_in(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM states").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


@pytest.fixture
def running_site(tmp_path: Path) -> Iterator[Path]:
    """``edgewise run`` on a simulated site whose recorder is writing; yields its config dir."""
    port = free_port()
    config = site(tmp_path / "site", port)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([EDGEWISE, "run", "-c", str(config)], stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no recorded states within 90 s"
            try:
                with opener.open(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
                    ready = response.status == 200
            except OSError:
                ready = False
            if ready and (config / "edgewise.db").exists() and states_in(config / "edgewise.db"):
                break
            time.sleep(0.2)
        yield config
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_backup_while_writing_then_restore_round_trips(running_site: Path, tmp_path: Path) -> None:
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    archives = []
    for index in range(3):
        archive = tmp_path / f"backup{index}.tar.gz"
        done = edgewise("backup", "-c", str(running_site), "-o", str(archive), "--secrets",
                        "--passphrase-file", str(passphrase_file))  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "database included, secrets included, encrypted" in done.stdout
        archives.append(archive)
    written_after = states_in(running_site / "edgewise.db")

    # Each copy is a consistent database taken while the writer ran.
    for archive in archives:
        with tarfile.open(archive) as tar:
            names = tar.getnames()
            assert "config/secrets.yaml" not in names
            assert SECRETS.encode() not in b"".join(
                tar.extractfile(m).read()
                for m in tar.getmembers()
                if m.isfile()  # type: ignore[union-attr]
            )
            copy = tmp_path / "copy.db"
            copy.write_bytes(tar.extractfile("recorder.db").read())  # type: ignore[union-attr]
        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            recorded = conn.execute("SELECT count(*) FROM states").fetchone()[0]
        assert 0 < recorded <= written_after
        assert "config/configuration.yaml" in names
        assert any(name.startswith("config/.storage/") for name in names)

    restored = tmp_path / "restored"
    done = edgewise("restore", str(archives[-1]), "-c", str(restored),
                    "--passphrase-file", str(passphrase_file))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"Restored {archives[-1]} into {restored}" in done.stdout
    assert (restored / "secrets.yaml").read_text() == SECRETS
    assert (restored / "configuration.yaml").read_text() == (
        running_site / "configuration.yaml"
    ).read_text()
    assert {p.name for p in (restored / ".storage").iterdir()} >= {
        p.name for p in (running_site / ".storage").iterdir() if not p.name.startswith(".")
    }
    assert states_in(restored / "edgewise.db") > 0
    check = edgewise("check-config", "-c", str(restored))
    assert check.returncode == 0, check.stderr


@pytest.fixture
def quiet_site(tmp_path: Path) -> Path:
    """A site that is not running, with a recorder database of the current schema."""
    config = site(tmp_path / "quiet", free_port())
    with sqlite3.connect(config / "edgewise.db") as conn:
        conn.execute("CREATE TABLE schema_changes (change_id INTEGER PRIMARY KEY, "
                     "schema_version INTEGER, changed_ts FLOAT)")  # fmt: skip
        conn.execute("INSERT INTO schema_changes (schema_version, changed_ts) VALUES (?, 0)",
                     (SCHEMA_VERSION,))  # fmt: skip
    return config


def _rewrite_manifest(
    archive: Path, target: Path, drop: tuple[str, ...] = (), **changes: object
) -> Path:
    """A copy of ``archive`` whose manifest has ``changes`` and not the keys ``drop``."""
    with tarfile.open(archive) as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == BACKUP_MANIFEST:
                manifest = json.loads(data)
                manifest.update(changes)
                for key in drop:
                    del manifest[key]
                data = json.dumps(manifest).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return target


def test_a_newer_versions_backup_is_refused_naming_both_versions(
    quiet_site: Path, tmp_path: Path
) -> None:
    archive = create_backup(quiet_site, tmp_path / "b.tar.gz").path
    newer = _rewrite_manifest(archive, tmp_path / "newer.tar.gz", edgewise_version="99.1.0")
    done = edgewise("restore", str(newer), "-c", str(tmp_path / "target"))
    assert done.returncode == 1
    assert f"made by Edgewise 99.1.0, newer than this Edgewise {__version__}" in done.stderr
    assert not (tmp_path / "target").exists()

    databases = {"recorder": {"file": "recorder.db", "path": "edgewise.db", "schema": 99}}
    schema = _rewrite_manifest(archive, tmp_path / "schema.tar.gz", databases=databases)
    done = edgewise("restore", str(schema), "-c", str(tmp_path / "target"))
    assert done.returncode == 1
    assert (
        f"This backup's recorder database has schema version 99, newer than the {SCHEMA_VERSION}"
        in done.stderr
    )
    assert not (tmp_path / "target").exists()


def _as_format_1(archive: Path, target: Path, schema: int | None) -> Path:
    """``archive`` as the first archive format wrote it: one database, ``recorder_schema``."""
    return _rewrite_manifest(
        archive, target, drop=("databases",), format=1, database="edgewise.db",
        recorder_schema=schema,
    )  # fmt: skip


def test_an_archive_of_the_first_format_still_restores_and_migrates(tmp_path: Path) -> None:
    config = site(tmp_path / "old", free_port())
    with sqlite3.connect(config / "edgewise.db") as conn:
        for statement in V2_DDL:
            conn.execute(statement.replace("{pk}", "INTEGER PRIMARY KEY").replace("{blob}", "BLOB"))
    archive = create_backup(config, tmp_path / "b.tar.gz").path
    old = _as_format_1(archive, tmp_path / "old.tar.gz", schema=2)

    done = edgewise("restore", str(old), "-c", str(tmp_path / "target"))

    assert done.returncode == 0, done.stderr
    assert f"Migrated the recorder database from schema 2 to {SCHEMA_VERSION}" in done.stdout
    with sqlite3.connect(tmp_path / "target" / "edgewise.db") as conn:
        versions = [row[0] for row in conn.execute("SELECT schema_version FROM schema_changes")]
    assert versions == [1, 2, 3]


def test_an_archive_of_the_first_format_with_a_newer_schema_is_refused(
    quiet_site: Path, tmp_path: Path
) -> None:
    archive = create_backup(quiet_site, tmp_path / "b.tar.gz").path
    old = _as_format_1(archive, tmp_path / "old.tar.gz", schema=99)

    done = edgewise("restore", str(old), "-c", str(tmp_path / "target"))

    assert done.returncode == 1
    assert f"schema version 99, newer than the {SCHEMA_VERSION}" in done.stderr
    assert not (tmp_path / "target").exists()


def test_a_corrupt_archive_is_refused_clearly(quiet_site: Path, tmp_path: Path) -> None:
    archive = create_backup(quiet_site, tmp_path / "b.tar.gz").path
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive at all" * 100)
    for bad in (truncated, garbage):
        done = edgewise("restore", str(bad), "-c", str(tmp_path / "target"))
        assert done.returncode == 1, bad
        assert f"Restore failed: {bad} is not a valid Edgewise backup: " in done.stderr
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "target").exists()


def test_a_member_that_does_not_match_its_checksum_is_refused(
    quiet_site: Path, tmp_path: Path
) -> None:
    archive = create_backup(quiet_site, tmp_path / "b.tar.gz").path
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "config/configuration.yaml":
                data = data.replace(b"recorder:", b"recordex:")
            dst.addfile(member, io.BytesIO(data))
    done = edgewise("restore", str(tampered), "-c", str(tmp_path / "target"))
    assert done.returncode == 1
    assert "config/configuration.yaml does not match its checksum" in done.stderr
    assert not (tmp_path / "target").exists()


def test_a_wrong_passphrase_restores_nothing(quiet_site: Path, tmp_path: Path) -> None:
    archive = create_backup(quiet_site, tmp_path / "b.tar.gz", passphrase=PASSPHRASE).path
    done = edgewise("restore", str(archive), "-c", str(tmp_path / "target"),
                    env={"EDGEWISE_BACKUP_PASSPHRASE": "wrong"})  # fmt: skip
    assert done.returncode == 1
    assert "The passphrase does not decrypt the backup's secrets" in done.stderr
    assert not (tmp_path / "target").exists()
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name]


def test_an_existing_configuration_is_replaced_only_with_force_and_kept(
    quiet_site: Path, tmp_path: Path
) -> None:
    archive = create_backup(quiet_site, tmp_path / "b.tar.gz").path
    target = tmp_path / "target"
    target.mkdir()
    (target / "configuration.yaml").write_text("edgewise:\n  name: Old\n")
    done = edgewise("restore", str(archive), "-c", str(target))
    assert done.returncode == 1
    assert "already holds a configuration" in done.stderr
    assert (target / "configuration.yaml").read_text() == "edgewise:\n  name: Old\n"
    done = edgewise("restore", str(archive), "-c", str(target), "--force")
    assert done.returncode == 0, done.stderr
    (kept,) = tmp_path.glob("target.before-restore-*")
    assert (kept / "configuration.yaml").read_text() == "edgewise:\n  name: Old\n"
    assert (target / "configuration.yaml").read_text() == (
        quiet_site / "configuration.yaml"
    ).read_text()


def test_restore_migrates_an_older_recorder_database(tmp_path: Path) -> None:
    config = site(tmp_path / "old", free_port())
    with sqlite3.connect(config / "edgewise.db") as conn:
        for statement in V2_DDL:
            conn.execute(statement.replace("{pk}", "INTEGER PRIMARY KEY").replace("{blob}", "BLOB"))
    archive = create_backup(config, tmp_path / "b.tar.gz").path
    done = edgewise("restore", str(archive), "-c", str(tmp_path / "target"))
    assert done.returncode == 0, done.stderr
    assert f"Migrated the recorder database from schema 2 to {SCHEMA_VERSION}" in done.stdout
    with sqlite3.connect(tmp_path / "target" / "edgewise.db") as conn:
        versions = [row[0] for row in conn.execute("SELECT schema_version FROM schema_changes")]
    assert versions == [1, 2, 3]
