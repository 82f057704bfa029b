"""``edgewise backup``: one archive of a site, consistent while Edgewise is writing.

Each SQLite database an integration names (``edgewise_backup_databases``: the recorder's, and
any plugin's) is copied with SQLite's online backup API (a consistent snapshot; the running
writer is not stopped), with its schema version in the manifest; the configuration directory
with ``.storage`` as it is (each store file is replaced atomically by its writer, so each file
is whole), and ``secrets.yaml`` only when asked, encrypted with a passphrase. The archive is
written to a temporary name and renamed when complete. See ``archive.py`` for its layout.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import socket
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from core.const import __version__

from .archive import BackupError, encrypt_secrets
from .const import (
    BACKUP_CONFIG_PREFIX,
    BACKUP_DATABASE_SUFFIX,
    BACKUP_FORMAT,
    BACKUP_MANIFEST,
    BACKUP_SECRETS,
    BACKUP_SKIPPED_SUFFIXES,
    SECRETS_FILE,
)
from .databases import BackupDatabase, site_databases

_LOGGER = logging.getLogger(__name__)

#: gzip level: 1 compresses a recorder database nearly as well as 6, several times faster.
_COMPRESS_LEVEL = 1
_CHUNK = 1024 * 1024
#: A SQLite file and its journals: copied through the backup API, never as they are.
_SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True, slots=True)
class BackupResult:
    """What ``create_backup`` wrote."""

    path: Path
    size: int
    seconds: float
    database: bool
    secrets: bool
    notes: tuple[str, ...]


def default_archive_name(now: datetime | None = None) -> str:
    """``edgewise-backup-<host>-<UTC time>.tar.gz``."""
    when = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"edgewise-backup-{socket.gethostname()}-{when}.tar.gz"


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` to ``target`` with the online backup API.

    The copy is one step, so it is a consistent snapshot even while another process writes
    (in WAL mode the writer is not blocked).
    """
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except sqlite3.Error as err:
        raise BackupError(f"Cannot copy the database {source}: {err}") from err
    finally:
        src.close()


def _add_database(
    writer: _Writer, tmp: Path, config_dir: Path, database: BackupDatabase
) -> dict[str, Any]:
    """Copy ``database`` into the archive; its entry in the manifest's ``databases``."""
    assert database.sqlite_path is not None  # noqa: S101 - the caller copies SQLite files only
    source = database.sqlite_path
    member = database.name + BACKUP_DATABASE_SUFFIX
    copy = tmp / member
    copy_sqlite(source, copy)
    try:
        schema = database.read_version(copy) if database.read_version is not None else None
    except Exception as err:  # the integration's reader: a failure names it
        raise BackupError(
            f"Cannot read the schema version of the {database.name} database {source}: {err}"
        ) from err
    writer.add_file(member, copy)
    copy.unlink()
    inside = source.is_relative_to(config_dir)
    return {
        "file": member,
        "path": str(source.relative_to(config_dir)) if inside else str(source),
        "schema": schema,
    }


def _config_files(config_dir: Path, skip: set[Path]) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(config_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            path = Path(root, name)
            relative = path.relative_to(config_dir)
            if (
                path in skip
                or name.endswith(BACKUP_SKIPPED_SUFFIXES)
                or relative == Path(SECRETS_FILE)
                or ".corrupt" in name
                or ".tmp-" in name  # a store being written (core.storage), renamed soon
            ):
                continue
            found.append(path)
    return found


class _HashingReader:
    """A file object that hashes what is read from it."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.digest.update(data)
        return data


class _Writer:
    """Adds members to the tar, hashing each one for the manifest."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self._tar = tar
        self.hashes: dict[str, str] = {}

    def add_file(self, name: str, path: Path) -> None:
        # One open file, hashed as the tar reads it: a file replaced meanwhile (stores are
        # replaced by rename) is either all old or all new, and its hash matches what is stored.
        with path.open("rb") as handle:
            info = self._tar.gettarinfo(arcname=name, fileobj=handle)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            reader = _HashingReader(handle)
            self._tar.addfile(info, reader)
        self.hashes[name] = reader.digest.hexdigest()

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = int(time.time())
        info.mode = 0o600
        self._tar.addfile(info, io.BytesIO(data))
        if name != BACKUP_MANIFEST:
            self.hashes[name] = hashlib.sha256(data).hexdigest()


def create_backup(config_dir: Path, output: Path, *, passphrase: str | None = None) -> BackupResult:
    """Write a backup of the site in ``config_dir`` to ``output`` (a file that must not exist).

    With ``passphrase``, ``secrets.yaml`` is included, encrypted.

    Raises:
        BackupError: the output exists or cannot be written, or the database cannot be copied.
    """
    started = time.monotonic()
    if output.exists():
        raise BackupError(f"{output} already exists")
    if not (config_dir / "configuration.yaml").is_file():
        raise BackupError(f"{config_dir} holds no configuration.yaml")
    site = site_databases(config_dir)
    notes: list[str] = [
        f"{problem} (its databases may be missing from this archive)" for problem in site.problems
    ]
    manifest: dict[str, Any] = {
        "format": BACKUP_FORMAT,
        "edgewise_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "databases": {},
        "secrets": None,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    # The database copies sit next to the archive: /tmp may be a small tmpfs on a Pi.
    with tempfile.TemporaryDirectory(prefix=".edgewise-backup-", dir=output.parent) as tmp:
        partial = Path(tmp) / "archive.partial"
        try:
            with tarfile.open(partial, "w:gz", compresslevel=_COMPRESS_LEVEL) as tar:
                writer = _Writer(tar)
                skip: set[Path] = set()
                for database in site.databases.values():
                    if database.sqlite_path is None:
                        notes.append(
                            f"The {database.name} uses a {database.backend} server: back it up "
                            "with its own tools (pg_dump for PostgreSQL); it is not in this "
                            "archive."
                        )
                    elif database.sqlite_path.is_file():
                        entry = _add_database(writer, Path(tmp), config_dir, database)
                        manifest["databases"][database.name] = entry
                        path = database.sqlite_path
                        skip.update(path.with_name(path.name + s) for s in _SQLITE_SIDE_FILES)
                    else:
                        notes.append(f"No {database.name} database at {database.sqlite_path} yet.")
                for path in _config_files(config_dir, skip):
                    name = BACKUP_CONFIG_PREFIX + path.relative_to(config_dir).as_posix()
                    try:
                        writer.add_file(name, path)
                    except FileNotFoundError:  # removed since listed: not part of the site now
                        _LOGGER.debug("%s went away during the backup", path)
                secrets = config_dir / SECRETS_FILE
                if passphrase is not None and secrets.is_file():
                    encrypted = encrypt_secrets(secrets.read_bytes(), passphrase)
                    writer.add_bytes(BACKUP_SECRETS, encrypted.token)
                    manifest["secrets"] = {"file": BACKUP_SECRETS, "kdf": encrypted.kdf}
                elif secrets.is_file():
                    notes.append(
                        "secrets.yaml is not in the archive (give a passphrase to include it, "
                        "encrypted)."
                    )
                manifest["files"] = writer.hashes
                writer.add_bytes(BACKUP_MANIFEST, json.dumps(manifest, indent=2).encode())
            os.replace(partial, output)
        except OSError as err:
            raise BackupError(f"Cannot write the backup {output}: {err}") from err
    return BackupResult(
        path=output,
        size=output.stat().st_size,
        seconds=time.monotonic() - started,
        database=bool(manifest["databases"]),
        secrets=manifest["secrets"] is not None,
        notes=tuple(notes),
    )
