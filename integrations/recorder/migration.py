"""Create the recorder's schema, or bring an older database forward one version at a time.

The version is the newest row of ``schema_changes``. A database without that table is new and
gets the current schema. A database newer than this code is left untouched and refused.

Schema history:

* v1: ``states`` and ``events`` kept context ids as 26-character text in ``context_id`` and
  ``context_parent_id``.
* v2: context ids are bytes (``context_id_bin``, ``context_parent_id_bin``; see
  ``util.context_id_to_bytes``); the text columns are gone.

Every function here runs on a synchronous SQLAlchemy connection: through
``AsyncConnection.run_sync`` on a database server, and in a child process for SQLite
(``migrate_in_child``, which runs ``python -m integrations.recorder.migration URL``), so that a
SQLite site never holds SQLAlchemy in its own memory. The child runs only when the file's
version is not the current one: a new database or an upgrade.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection

from core.isolated import run_module

from .const import SCHEMA_VERSION
from .errors import SchemaTooNewError
from .util import context_id_to_bytes

__all__ = ["SchemaTooNewError", "current_version", "migrate", "migrate_in_child"]

_LOGGER = logging.getLogger(__name__)

#: Rows converted per statement batch in data migrations.
_MIGRATION_CHUNK = 10_000


def current_version(conn: Connection) -> int | None:
    """The schema version of the database, or None when it has no recorder schema."""
    from sqlalchemy import inspect, select  # noqa: PLC0415 - see the module's docstring

    from .models import SchemaChange  # noqa: PLC0415

    if not inspect(conn).has_table(SchemaChange.__tablename__):
        return None
    return conn.execute(
        select(SchemaChange.schema_version).order_by(SchemaChange.change_id.desc()).limit(1)
    ).scalar_one_or_none()


def migrate(conn: Connection) -> int:
    """Create or upgrade the schema; return the version found (0 for a new database).

    Each step runs and records its version in its own transaction, so an interrupted upgrade
    resumes at the step that failed.

    Raises:
        SchemaTooNewError: the database is newer than ``SCHEMA_VERSION``; nothing was changed.
    """
    from .models import Base  # noqa: PLC0415 - see the module's docstring

    found = current_version(conn)
    conn.commit()
    if found is not None and found > SCHEMA_VERSION:
        raise SchemaTooNewError(found, SCHEMA_VERSION)
    if conn.dialect.name == "sqlite":
        # Readers never block the writer; the setting is stored in the database file.
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        conn.commit()
    if found is None:
        Base.metadata.create_all(conn)
        _record_version(conn, SCHEMA_VERSION)
        conn.commit()
        _LOGGER.info("Created the recorder schema, version %d", SCHEMA_VERSION)
        return 0
    for version in range(found + 1, SCHEMA_VERSION + 1):
        _LOGGER.warning("Upgrading the recorder database to schema version %d", version)
        _STEPS[version](conn)
        _record_version(conn, version)
        conn.commit()
    # Tables added without a version bump (none yet) would be created here.
    Base.metadata.create_all(conn)
    conn.commit()
    return found


def _record_version(conn: Connection, version: int) -> None:
    from sqlalchemy import insert  # noqa: PLC0415 - see the module's docstring

    from .models import SchemaChange  # noqa: PLC0415

    conn.execute(insert(SchemaChange).values(schema_version=version, changed_ts=time.time()))


def _binary_type(conn: Connection) -> str:
    return "BYTEA" if conn.dialect.name == "postgresql" else "BLOB"


def _to_v2(conn: Connection) -> None:
    """Context ids from text to bytes, in ``states`` and ``events``."""
    from sqlalchemy import inspect, text  # noqa: PLC0415 - see the module's docstring

    binary = _binary_type(conn)
    for table, key in (("states", "state_id"), ("events", "event_id")):
        columns = {c["name"] for c in inspect(conn).get_columns(table)}
        for column in ("context_id_bin", "context_parent_id_bin"):
            if column not in columns:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {binary}"))
        if "context_id" not in columns:
            continue
        # Convert in key order, a chunk at a time, so memory stays small on big databases.
        last = -1
        while True:
            rows = conn.execute(
                text(
                    f"SELECT {key}, context_id, context_parent_id FROM {table} "  # noqa: S608 - names from the constant tuple above
                    f"WHERE {key} > :last ORDER BY {key} LIMIT :n"
                ),
                {"last": last, "n": _MIGRATION_CHUNK},
            ).all()
            if not rows:
                break
            conn.execute(
                text(
                    f"UPDATE {table} SET context_id_bin = :cid, "  # noqa: S608 - as above
                    f"context_parent_id_bin = :pid WHERE {key} = :key"
                ),
                [
                    {
                        "key": row[0],
                        "cid": context_id_to_bytes(row[1]),
                        "pid": context_id_to_bytes(row[2]),
                    }
                    for row in rows
                ],
            )
            last = rows[-1][0]
        for column in ("context_id", "context_parent_id"):
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))


def _to_v3(conn: Connection) -> None:
    """The states index on ``(metadata_id, last_updated_ts)`` gains ``state_id`` and ``state``."""
    from sqlalchemy import text  # noqa: PLC0415 - see the module's docstring

    from .models import Base, States  # noqa: PLC0415

    (index,) = (
        i for i in Base.metadata.tables[States.__tablename__].indexes if i.name == _V3_INDEX
    )
    index.create(conn, checkfirst=True)
    conn.execute(text(f"DROP INDEX IF EXISTS {_V2_INDEX}"))


_V2_INDEX = "ix_states_metadata_id_last_updated_ts"
_V3_INDEX = "ix_states_metadata_id_last_updated_ts_state"

#: The step that brings a database from version ``n - 1`` to ``n``.
_STEPS: dict[int, Callable[[Connection], None]] = {2: _to_v2, 3: _to_v3}


#: The child's exit status when the database is newer than this code (its stdout says which).
_EXIT_TOO_NEW = 3
#: Seconds a migration in the child may take before the recorder gives up on it (a v1 file of
#: millions of rows converts its context ids in minutes on an SD card).
CHILD_TIMEOUT = 3600.0


async def migrate_in_child(db_url: str) -> None:
    """Create or upgrade a SQLite database's schema in a child process (see the docstring).

    Raises:
        SchemaTooNewError: the database is newer than this code; nothing was changed.
        sqlite3.DatabaseError: the migration failed; the message is the child's error.
    """
    async with asyncio.timeout(CHILD_TIMEOUT):
        returncode, out, err = await run_module(__name__, db_url)
    if returncode == 0:
        return
    if returncode == _EXIT_TOO_NEW:
        found = json.loads(out)
        raise SchemaTooNewError(found["found"], found["supported"])
    lines = err.decode(errors="replace").strip().splitlines()
    message = f"The recorder's schema migration failed: {lines[-1] if lines else returncode}"
    # A locked, unreadable or full database is an outage the recorder retries, as in-process.
    if lines and "OperationalError" in lines[-1]:
        raise sqlite3.OperationalError(message)
    raise sqlite3.DatabaseError(message)


def _main(argv: list[str]) -> int:
    """``python -m integrations.recorder.migration URL``: migrate a SQLite database."""
    from sqlalchemy import create_engine, event  # noqa: PLC0415 - the child's own import

    from .sql import SQLITE_PRAGMAS, sqlite_path  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    (url,) = argv
    path = sqlite_path(url)
    if path is None:
        print(f"not a SQLite URL: {url}", file=sys.stderr)
        return 2
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    try:
        with engine.connect() as conn:
            migrate(conn)
    except SchemaTooNewError as err:
        print(json.dumps({"found": err.found, "supported": err.supported}))
        return _EXIT_TOO_NEW
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
