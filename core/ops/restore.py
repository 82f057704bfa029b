"""``edgewise restore``: put a backup archive back, after checking it, and migrate it.

Nothing is touched until the whole archive has been read and checked: a damaged or truncated
archive, a member whose SHA-256 differs from the manifest, or a backup made by a newer
Edgewise (or with a database schema newer than its integration writes) is refused with a
message saying so. The archive is unpacked into a staging directory next to the target, each
database is migrated by the integration that names it (``edgewise_backup_databases``) to this
version's schema, and only then does the staging directory take the target's place; a target
that already holds a configuration is kept beside it (``<dir>.before-restore-<time>``), and
only with ``force``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
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
    BACKUP_DATABASE_SUFFIX,
    BACKUP_FORMAT,
    BACKUP_MANIFEST,
    BACKUP_SECRETS,
    LEGACY_DATABASE_MEMBER,
    LEGACY_SCHEMA_KEY,
    SECRETS_FILE,
)
from .databases import site_databases

_LOGGER = logging.getLogger(__name__)

#: A manifest larger than this is not one of ours.
_MAX_MANIFEST_BYTES = 10 * 1024 * 1024
_CHUNK = 1024 * 1024
_DATABASE_NAME = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What ``restore_backup`` did."""

    config_dir: Path
    kept_aside: Path | None
    #: ``(name, schema found, schema now)`` for each database its integration migrated.
    migrated: tuple[tuple[str, int | None, int], ...]
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ArchivedDatabase:
    """One database in an archive: its member, where it was, and its schema version."""

    name: str
    member: str
    path: str
    schema: int | None


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
    made_by = str(manifest.get("edgewise_version", "?"))
    if int(manifest.get("format", 0)) > BACKUP_FORMAT or version_tuple(made_by) > version_tuple(
        __version__
    ):
        raise BackupError(
            f"This backup was made by Edgewise {made_by}, newer than this Edgewise "
            f"{__version__}: upgrade Edgewise to {made_by} or later, then restore it"
        )


def archived_databases(manifest: dict[str, Any]) -> dict[str, ArchivedDatabase]:
    """The databases a manifest lists, by member name (format 1's single one included).

    Raises:
        BackupError: an entry is malformed or names an unsafe place.
    """
    entries = manifest.get("databases")
    if entries is None and isinstance(manifest.get("database"), str):
        # Format 1: one database, its member named (as now) after its integration.
        entries = {
            LEGACY_DATABASE_MEMBER.removesuffix(BACKUP_DATABASE_SUFFIX): {
                "file": LEGACY_DATABASE_MEMBER,
                "path": manifest["database"],
                "schema": manifest.get(LEGACY_SCHEMA_KEY),
            }
        }
    if not isinstance(entries, dict):
        entries = {}
    found: dict[str, ArchivedDatabase] = {}
    for name, entry in entries.items():
        if not (isinstance(name, str) and _DATABASE_NAME.fullmatch(name)):
            raise BackupError(f"The manifest lists a database with an unsafe name {name!r}")
        path = entry.get("path") if isinstance(entry, dict) else None
        schema = entry.get("schema") if isinstance(entry, dict) else None
        member = name + BACKUP_DATABASE_SUFFIX
        if not isinstance(entry, dict) or entry.get("file") != member or not isinstance(path, str):
            raise BackupError(f"The manifest's entry for the {name} database is malformed")
        if schema is not None and (not isinstance(schema, int) or isinstance(schema, bool)):
            raise BackupError(f"The manifest's schema of the {name} database is not a number")
        relative = PurePosixPath(path)
        if not relative.is_absolute() and (".." in relative.parts or not relative.parts):
            raise BackupError(f"Unsafe place {path!r} for the {name} database in the manifest")
        found[member] = ArchivedDatabase(name, member, path, schema)
    return found


def _database_target(staging: Path, database: ArchivedDatabase) -> Path:
    relative = PurePosixPath(database.path)
    # A database kept outside the configuration directory is restored into it.
    return staging / (relative.name if relative.is_absolute() else relative)


def _member_target(staging: Path, name: str, databases: dict[str, ArchivedDatabase]) -> Path | None:
    """Where member ``name`` goes under ``staging``; None for the manifest and the secrets."""
    if name in (BACKUP_MANIFEST, BACKUP_SECRETS):
        return None
    if name in databases:
        return _database_target(staging, databases[name])
    if not name.startswith(BACKUP_CONFIG_PREFIX):
        raise BackupError(f"Unexpected member {name!r} in the archive")
    relative = PurePosixPath(name.removeprefix(BACKUP_CONFIG_PREFIX))
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError(f"Unsafe member name {name!r} in the archive")
    return staging / relative


def _unpack(
    archive: Path, staging: Path, manifest: dict[str, Any], databases: dict[str, ArchivedDatabase]
) -> bytes | None:
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
                target = _member_target(staging, name, databases)
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


def _migrate(
    staging: Path, manifest: dict[str, Any], databases: dict[str, ArchivedDatabase]
) -> tuple[list[tuple[str, int | None, int]], list[str]]:
    """Check each restored database's schema against its integration's, then migrate it."""
    notes: list[str] = []
    site = site_databases(staging)
    notes.extend(site.problems)
    made_by = str(manifest.get("edgewise_version", "?"))
    for archived in databases.values():
        owner = site.databases.get(archived.name)
        newest = owner.schema_version if owner is not None else None
        if archived.schema is not None and newest is not None and archived.schema > newest:
            raise BackupError(
                f"This backup's {archived.name} database has schema version {archived.schema}, "
                f"newer than the {newest} of this Edgewise {__version__} (backup made by "
                f"Edgewise {made_by}): upgrade Edgewise, then restore it"
            )
    migrated: list[tuple[str, int | None, int]] = []
    for archived in databases.values():
        owner = site.databases.get(archived.name)
        if owner is None or owner.migrate is None:
            notes.append(
                f"The {archived.name} database is restored as it was: no installed integration "
                "migrates it."
            )
            continue
        path = _database_target(staging, archived)
        if PurePosixPath(archived.path).is_absolute():
            notes.append(
                f"The {archived.name} database was at {archived.path}; it is restored into the "
                "configuration directory (point the configuration at it if that is not the "
                "default)."
            )
        try:
            found, now = owner.migrate(path)
        except BackupError:
            raise
        except Exception as err:  # the integration's migration: a failure names it
            raise BackupError(f"Cannot migrate the {archived.name} database: {err}") from err
        migrated.append((archived.name, found, now))
    return migrated, notes


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
        databases = archived_databases(manifest)
        token = _unpack(archive, staging, manifest, databases)
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
        migrated, migration_notes = _migrate(staging, manifest, databases)
        notes.extend(migration_notes)
        kept = _swap(staging, config_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreResult(config_dir, kept, tuple(migrated), tuple(notes))


def _swap(staging: Path, config_dir: Path) -> Path | None:
    kept = None
    if config_dir.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        kept = config_dir.with_name(f"{config_dir.name}.before-restore-{stamp}")
        os.rename(config_dir, kept)
    os.rename(staging, config_dir)
    return kept
