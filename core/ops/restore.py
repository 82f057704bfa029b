"""``edgewise restore``: put a backup archive back, after checking it, and migrate it.

Nothing is touched until the whole archive has been read and checked: a damaged or truncated
archive, a member whose SHA-256 differs from the manifest, or a backup made by a newer
Edgewise (or with a newer recorder schema) is refused with a message saying so. The archive is
unpacked into a staging directory next to the target, the recorder database is migrated to this
version's schema, and only then does the staging directory take the target's place; a target
that already holds a configuration is kept beside it (``<dir>.before-restore-<time>``), and
only with ``force``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from core.const import __version__

from .archive import BackupError, EncryptedSecrets, decrypt_secrets, version_tuple
from .const import (
    BACKUP_CONFIG_PREFIX,
    BACKUP_DATABASE,
    BACKUP_FORMAT,
    BACKUP_MANIFEST,
    BACKUP_SECRETS,
    SECRETS_FILE,
)

_LOGGER = logging.getLogger(__name__)

#: A manifest larger than this is not one of ours.
_MAX_MANIFEST_BYTES = 10 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What ``restore_backup`` did."""

    config_dir: Path
    kept_aside: Path | None
    schema_from: int | None
    schema_to: int | None
    notes: tuple[str, ...]


def _corrupt(archive: Path, why: str) -> BackupError:
    return BackupError(f"{archive} is not a valid Edgewise backup: {why}")


def read_manifest(archive: Path) -> dict[str, Any]:
    """The manifest of ``archive``, checked for shape and versions (nothing is extracted).

    Raises:
        BackupError: the archive is damaged, not a backup, or made by a newer version.
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.getmember(BACKUP_MANIFEST)
            if not member.isfile() or member.size > _MAX_MANIFEST_BYTES:
                raise _corrupt(archive, "its manifest is not a small file")
            handle = tar.extractfile(member)
            assert handle is not None  # noqa: S101 - a regular file member
            manifest = json.loads(handle.read())
    except KeyError as err:
        raise _corrupt(archive, f"it has no {BACKUP_MANIFEST}") from err
    except FileNotFoundError as err:
        raise BackupError(f"{archive} does not exist") from err
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise _corrupt(archive, f"the archive is damaged or truncated ({err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _corrupt(archive, f"its manifest is not JSON ({err})") from err
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise _corrupt(archive, "its manifest lists no files")
    _check_versions(manifest)
    return manifest


def _check_versions(manifest: dict[str, Any]) -> None:
    from integrations.recorder.models import SCHEMA_VERSION  # noqa: PLC0415 - SQLAlchemy ORM

    made_by = str(manifest.get("edgewise_version", "?"))
    schema = manifest.get("recorder_schema")
    if int(manifest.get("format", 0)) > BACKUP_FORMAT or version_tuple(made_by) > version_tuple(
        __version__
    ):
        raise BackupError(
            f"This backup was made by Edgewise {made_by}, newer than this Edgewise "
            f"{__version__}: upgrade Edgewise to {made_by} or later, then restore it"
        )
    if isinstance(schema, int) and schema > SCHEMA_VERSION:
        raise BackupError(
            f"This backup's recorder database has schema version {schema}, newer than the "
            f"{SCHEMA_VERSION} of this Edgewise {__version__} (backup made by Edgewise "
            f"{made_by}): upgrade Edgewise, then restore it"
        )


def _member_target(staging: Path, name: str, manifest: dict[str, Any]) -> Path | None:
    """Where member ``name`` goes under ``staging``; None for the manifest and the secrets."""
    if name in (BACKUP_MANIFEST, BACKUP_SECRETS):
        return None
    if name == BACKUP_DATABASE:
        database = manifest.get("database")
        if not isinstance(database, str):
            raise BackupError(f"The manifest names no place for {BACKUP_DATABASE}")
        relative = PurePosixPath(database)
        # A database kept outside the configuration directory is restored into it.
        return staging / (relative.name if relative.is_absolute() else relative)
    if not name.startswith(BACKUP_CONFIG_PREFIX):
        raise BackupError(f"Unexpected member {name!r} in the archive")
    relative = PurePosixPath(name.removeprefix(BACKUP_CONFIG_PREFIX))
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError(f"Unsafe member name {name!r} in the archive")
    return staging / relative


def _unpack(archive: Path, staging: Path, manifest: dict[str, Any]) -> bytes | None:
    """Extract every member into ``staging``, checking each hash; the encrypted secrets."""
    expected: dict[str, str] = manifest["files"]
    seen: set[str] = set()
    secrets: bytes | None = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name
                if not member.isfile():
                    raise _corrupt(archive, f"member {name!r} is not a regular file")
                if name == BACKUP_MANIFEST:
                    continue
                if name not in expected:
                    raise _corrupt(archive, f"member {name!r} is not in the manifest")
                handle = tar.extractfile(member)
                assert handle is not None  # noqa: S101 - a regular file member
                digest = hashlib.sha256()
                target = _member_target(staging, name, manifest)
                if target is None:
                    data = handle.read()
                    digest.update(data)
                    secrets = data
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with target.open("wb") as out:
                        while chunk := handle.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                if digest.hexdigest() != expected[name]:
                    raise _corrupt(archive, f"{name} does not match its checksum")
                seen.add(name)
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise _corrupt(archive, f"the archive is damaged or truncated ({err})") from err
    missing = sorted(set(expected) - seen)
    if missing:
        raise _corrupt(archive, f"missing member(s): {', '.join(missing)}")
    return secrets


def migrate_database(path: Path) -> tuple[int | None, int]:
    """Check the SQLite recorder database at ``path`` and migrate it; (from, to) versions."""
    from sqlalchemy import create_engine  # noqa: PLC0415 - only restore needs it

    from integrations.recorder.migration import current_version, migrate  # noqa: PLC0415

    with sqlite3.connect(path) as conn:
        (result,) = conn.execute("PRAGMA quick_check").fetchone()
    if result != "ok":
        raise BackupError(f"The backup's recorder database is damaged: {result}")
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            found = current_version(conn)
            conn.commit()
            migrate(conn)
            to = current_version(conn)
    finally:
        engine.dispose()
    assert to is not None  # noqa: S101 - migrate records a version
    return found, to


def restore_backup(
    archive: Path, config_dir: Path, *, passphrase: str | None = None, force: bool = False
) -> RestoreResult:
    """Restore ``archive`` into ``config_dir``; see the module's docstring.

    Raises:
        BackupError: with the reason; ``config_dir`` is then unchanged.
    """
    manifest = read_manifest(archive)
    if (config_dir / "configuration.yaml").exists() and not force:
        raise BackupError(
            f"{config_dir} already holds a configuration: stop Edgewise and restore with "
            "--force to replace it (the current one is kept beside it)"
        )
    notes: list[str] = []
    config_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{config_dir.name}.restore-", dir=config_dir.parent))
    try:
        token = _unpack(archive, staging, manifest)
        secrets_info = manifest.get("secrets")
        if token is not None and isinstance(secrets_info, dict):
            if passphrase is None:
                notes.append("secrets.yaml was not restored: no passphrase was given.")
            else:
                kdf = dict(secrets_info.get("kdf", {}))
                plain = decrypt_secrets(EncryptedSecrets(token, kdf), passphrase)
                secrets_path = staging / SECRETS_FILE
                secrets_path.write_bytes(plain)
                secrets_path.chmod(0o600)
        schema_from = schema_to = None
        database = manifest.get("database")
        if isinstance(database, str):
            path = staging / PurePosixPath(database).name
            if not PurePosixPath(database).is_absolute():
                path = staging / PurePosixPath(database)
            else:
                notes.append(
                    f"The database was at {database}; it is restored into {config_dir} "
                    "(point recorder: db_url at it if that is not the default)."
                )
            schema_from, schema_to = migrate_database(path)
        kept = _swap(staging, config_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreResult(config_dir, kept, schema_from, schema_to, tuple(notes))


def _swap(staging: Path, config_dir: Path) -> Path | None:
    kept = None
    if config_dir.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        kept = config_dir.with_name(f"{config_dir.name}.before-restore-{stamp}")
        os.rename(config_dir, kept)
    os.rename(staging, config_dir)
    return kept
