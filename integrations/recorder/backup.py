"""The recorder's database for ``edgewise backup``, ``restore`` and ``doctor``.

Where the data is comes from ``recorder: db_url`` (SQLite in the configuration directory by
default); a PostgreSQL database is named but not copied. A restored SQLite copy is checked and
migrated with ``migration.py``. SQLAlchemy is imported only when a URL is parsed or a copy
migrated, not when the integration is loaded.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.ops.archive import BackupError
from core.ops.databases import BackupDatabase

from .const import DEFAULT_DB_FILE, DOMAIN, SCHEMA_VERSION
from .schema import RecorderConfig


def recorder_database(config_dir: Path, config: RecorderConfig | None) -> BackupDatabase:
    """The recorder's database for the site in ``config_dir`` with the section ``config``."""
    db_url = config.db_url if config is not None else None
    if db_url is None:
        return _database(config_dir / DEFAULT_DB_FILE, "sqlite")
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - only the operations commands use it

    url = make_url(db_url)
    backend = url.get_backend_name()
    if backend != "sqlite" or not url.database or url.database == ":memory:":
        return _database(None, backend)
    path = Path(url.database)
    return _database(path if path.is_absolute() else config_dir / path, backend)


def _database(path: Path | None, backend: str) -> BackupDatabase:
    return BackupDatabase(
        name=DOMAIN,
        sqlite_path=path,
        backend=backend,
        schema_version=SCHEMA_VERSION,
        read_version=read_version,
        migrate=migrate_database,
    )


def read_version(path: Path) -> int | None:
    """The recorder schema version of the SQLite file at ``path``; None without a schema."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT schema_version FROM schema_changes ORDER BY change_id DESC LIMIT 1"
        ).fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    return int(row[0]) if row else None


def migrate_database(path: Path) -> tuple[int | None, int]:
    """Check the restored SQLite recorder database at ``path`` and migrate it; (from, to)."""
    from sqlalchemy import create_engine  # noqa: PLC0415 - only restore needs it

    from .migration import current_version, migrate  # noqa: PLC0415 - SQLAlchemy

    with sqlite3.connect(path) as conn:
        (result,) = conn.execute("PRAGMA quick_check").fetchone()
    conn.close()
    if result != "ok":
        raise BackupError(f"The backup's recorder database is damaged: {result}")
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            found = current_version(connection)
            connection.commit()
            migrate(connection)
            to = current_version(connection)
    finally:
        engine.dispose()
    assert to is not None  # noqa: S101 - migrate records a version
    return found, to
