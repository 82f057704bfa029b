"""``edgewise_backup_databases``: a third-party plugin's own SQLite database is backed up,
checked against its schema and migrated on restore, exactly like the recorder's."""

from __future__ import annotations

import json
import sqlite3
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import BackupDatabase
from core.ops.archive import BackupError
from core.ops.backup import create_backup
from core.ops.const import BACKUP_MANIFEST
from core.ops.databases import site_databases
from core.ops.doctor import Status, check_database
from core.ops.restore import restore_backup

#: A plugin distributed on its own: a notes database whose version is SQLite's user_version.
NOTES_PLUGIN = """\
import sqlite3

from core import BackupDatabase, Manifest, hookimpl

SCHEMA = 2


@hookimpl
def edgewise_manifest():
    return Manifest(domain="ep_notes", name="Notes")


def read_version(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0] or None
    finally:
        conn.close()


def migrate(path):
    found = read_version(path)
    conn = sqlite3.connect(path)
    try:
        if found < 2:
            conn.execute("ALTER TABLE notes ADD COLUMN author TEXT")
            conn.execute("PRAGMA user_version = 2")
            conn.commit()
    finally:
        conn.close()
    return found, SCHEMA


@hookimpl
def edgewise_backup_databases(config_dir, config):
    return [
        BackupDatabase(
            name="ep_notes",
            sqlite_path=config_dir / "notes.sqlite",
            schema_version=SCHEMA,
            read_version=read_version,
            migrate=migrate,
        )
    ]
"""

BROKEN_PLUGIN = """\
from core import Manifest, hookimpl


@hookimpl
def edgewise_manifest():
    return Manifest(domain="ep_broken", name="Broken")


@hookimpl
def edgewise_backup_databases(config_dir, config):
    raise RuntimeError("cannot find my data")
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Two third-party plugins installed through the entry-point group, as pip would."""
    root = tmp_path / "dist_site"
    dist_info = root / "edgewise_test_dbs-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: edgewise-test-dbs\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[edgewise.integrations]\n"
        "ep_notes = edgewise_test_ep_notes\n"
        "ep_broken = edgewise_test_ep_broken\n"
    )
    (root / "edgewise_test_ep_notes.py").write_text(NOTES_PLUGIN)
    (root / "edgewise_test_ep_broken.py").write_text(BROKEN_PLUGIN)
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in ("edgewise_test_ep_notes", "edgewise_test_ep_broken"):
        sys.modules.pop(name, None)


def notes_site(path: Path, version: int) -> Path:
    """A site whose notes plugin keeps ``notes.sqlite`` at schema ``version``."""
    path.mkdir()
    (path / "configuration.yaml").write_text(
        textwrap.dedent(
            """\
            edgewise:
              name: Notes site
            """
        )
    )
    with sqlite3.connect(path / "notes.sqlite") as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('check the boiler')")
        conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
    return path


def manifest_of(archive: Path) -> dict[str, object]:
    with tarfile.open(archive) as tar:
        handle = tar.extractfile(BACKUP_MANIFEST)
        assert handle is not None
        return dict(json.loads(handle.read()))


def test_edgewise_backup_databases_copies_a_plugins_database_and_restore_migrates_it(
    plugins: Path, tmp_path: Path
) -> None:
    site = notes_site(tmp_path / "site", version=1)

    result = create_backup(site, tmp_path / "b.tar.gz")

    assert result.database
    with tarfile.open(result.path) as tar:
        names = tar.getnames()
    assert "ep_notes.db" in names
    assert "config/notes.sqlite" not in names  # copied through the backup API only
    databases = manifest_of(result.path)["databases"]
    assert databases == {"ep_notes": {"file": "ep_notes.db", "path": "notes.sqlite", "schema": 1}}
    # The broken plugin is named; the recorder's database does not exist yet.
    broken = "ep_broken: cannot name its databases: cannot find my data"
    assert any(note.startswith(broken) for note in result.notes)
    assert any(n.startswith("No recorder database at ") for n in result.notes)

    restored = restore_backup(result.path, tmp_path / "target")

    assert restored.migrated == (("ep_notes", 1, 2),)
    with sqlite3.connect(tmp_path / "target" / "notes.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("SELECT text, author FROM notes").fetchall() == [
            ("check the boiler", None)
        ]
    conn.close()


def test_edgewise_backup_databases_a_newer_plugin_schema_is_refused_naming_both(
    plugins: Path, tmp_path: Path
) -> None:
    site = notes_site(tmp_path / "site", version=7)
    archive = create_backup(site, tmp_path / "b.tar.gz").path

    with pytest.raises(BackupError) as raised:
        restore_backup(archive, tmp_path / "target")

    assert "This backup's ep_notes database has schema version 7, newer than the 2" in str(
        raised.value
    )
    assert not (tmp_path / "target").exists()
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name]


def test_edgewise_backup_databases_answers_are_collected_and_failures_named(
    plugins: Path, tmp_path: Path
) -> None:
    site = notes_site(tmp_path / "site", version=2)

    found = site_databases(site)

    assert found.databases["ep_notes"].sqlite_path == site / "notes.sqlite"
    assert found.databases["recorder"].sqlite_path == site / "edgewise.db"
    assert [p for p in found.problems if p.startswith("ep_broken")] == [
        "ep_broken: cannot name its databases: cannot find my data"
    ]


def test_edgewise_backup_databases_the_doctor_checks_a_plugins_database(
    plugins: Path, tmp_path: Path
) -> None:
    site = notes_site(tmp_path / "site", version=2)
    data = bytearray((site / "notes.sqlite").read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the first page's schema, overwritten
    (site / "notes.sqlite").write_bytes(bytes(data))

    finding = check_database(site)

    assert finding.status is Status.FAIL
    assert f"{site / 'notes.sqlite'} is damaged" in finding.message


def test_a_backup_database_name_that_is_not_a_slug_is_refused() -> None:
    with pytest.raises(ValueError, match="must be lower-case letters, digits and '_'"):
        BackupDatabase(name="../escape", sqlite_path=None)
