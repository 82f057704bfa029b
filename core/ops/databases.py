"""The databases integrations keep, as ``edgewise backup``, ``restore`` and ``doctor`` see them.

The kernel knows no integration's database: each integration that keeps one (the recorder, a
third-party plugin with its own SQLite file) describes it with a ``BackupDatabase`` from its
``edgewise_backup_databases`` hook. ``site_databases`` asks every installed integration, the way
``edgewise check-config`` does, without a running site.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

#: A database's name becomes the archive member ``<name>.db``: a slug, like a domain.
_NAME = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True, slots=True)
class BackupDatabase:
    """One database an integration keeps: where it is, its schema, and how to migrate a copy.

    Attributes:
        name: the integration's domain (or ``<domain>_<what>`` for a second database); the
            archive holds the copy as ``<name>.db``.
        sqlite_path: the SQLite file (absolute), or None for a database server, which a backup
            does not copy (it notes that the server needs its own tools).
        backend: the database's kind, for messages (``sqlite``, ``postgresql``).
        schema_version: the schema version this code writes, or None when it keeps no version;
            a backup whose copy has a newer one is refused on restore, naming both versions.
        read_version: reads the schema version of a SQLite file (the consistent copy a backup
            just made); None when the database has no version yet or keeps none.
        migrate: brings a restored SQLite file to ``schema_version``; returns the versions
            (found, now). Blocking; raise ``BackupError`` (or any error) to refuse the restore.
    """

    name: str
    sqlite_path: Path | None
    backend: str = "sqlite"
    schema_version: int | None = None
    read_version: Callable[[Path], int | None] | None = field(default=None, compare=False)
    migrate: Callable[[Path], tuple[int | None, int]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Refuse a name that cannot be an archive member of its own."""
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"BackupDatabase name {self.name!r} must be lower-case letters, digits and '_'"
            )


@dataclass(frozen=True, slots=True)
class SiteDatabases:
    """What the integrations of a site said about their databases.

    Attributes:
        databases: each database, by name, in the order the integrations answered.
        problems: one line for each integration that could not answer (or answered wrongly).
    """

    databases: dict[str, BackupDatabase]
    problems: tuple[str, ...]


def site_databases(config_dir: Path) -> SiteDatabases:
    """Ask every installed integration which databases the site in ``config_dir`` keeps.

    Each integration is asked with its validated section of ``configuration.yaml`` (None when
    the site has none, or it does not load: a restored site without its secrets, say), whether
    configured or not, so that a database left by an integration is never forgotten.
    """
    from core.config import SectionValidator, load_site_config  # noqa: PLC0415 - on demand
    from core.core_sections import CORE_SECTIONS  # noqa: PLC0415 - on demand
    from core.plugins import IntegrationLoader  # noqa: PLC0415 - on demand

    loader = IntegrationLoader()
    loader.load_entry_points()
    known: dict[str, SectionValidator | None] = dict(CORE_SECTIONS)
    known.update({d: i.manifest.config_schema for d, i in loader.integrations.items()})
    loaded = load_site_config(config_dir, known)
    databases: dict[str, BackupDatabase] = {}
    problems: list[str] = list(loader.load_errors)
    for domain, integration in sorted(loader.integrations.items()):
        try:
            section = integration.manifest.checked_config(loaded.integrations.get(domain))
        except Exception as err:  # an isolation boundary: one integration's section only
            problems.append(f"{domain}: its configuration cannot be read: {err}")
            section = None
        found = loader.call_each_sync(
            "edgewise_backup_databases", domains=[domain], config_dir=config_dir, config=section
        )
        for failure in found.failed.values():
            problems.append(f"{domain}: cannot name its databases: {failure}")
        for _, answer in found.results:
            problems.extend(_collect(domain, answer, databases))
    return SiteDatabases(databases, tuple(problems))


def _collect(domain: str, answer: object, into: dict[str, BackupDatabase]) -> list[str]:
    if not isinstance(answer, Iterable):
        return [f"{domain}: edgewise_backup_databases returned {answer!r}, not BackupDatabases"]
    problems = []
    for database in answer:
        if not isinstance(database, BackupDatabase):
            problems.append(f"{domain}: {database!r} is not a BackupDatabase")
        elif database.name in into:
            problems.append(f"{domain}: the database name {database.name!r} is already taken")
        else:
            into[database.name] = database
    return problems
