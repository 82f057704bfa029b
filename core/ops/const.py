"""Constants of the operations commands."""

from __future__ import annotations

from typing import Final

#: The systemd unit's name and the dedicated system user.
SERVICE_NAME: Final = "edgewise"
DEFAULT_SERVICE_USER: Final = "edgewise"
DEFAULT_SERVICE_DATA_DIR: Final = "/var/lib/edgewise"
DEFAULT_UNIT_DIR: Final = "/etc/systemd/system"
#: systemd restarts the service when it has not pinged for this long.
DEFAULT_WATCHDOG_S: Final = 30

#: Loop health: a probe is posted to the loop this often, and a loop that has not run it after
#: ``LOOP_BLOCK_THRESHOLD_S`` is blocked: the loop thread's stack is sampled to name the culprit.
LOOP_PROBE_INTERVAL_S: Final = 0.2
LOOP_BLOCK_THRESHOLD_S: Final = 0.1
#: The window of the ``edgewise_loop_lag_max_seconds`` gauge and of the event and write rates.
LOOP_LAG_WINDOW_S: Final = 60.0
RATE_WINDOW_S: Final = 10.0

#: Backups: the archive's format version and its members. Format 2 lists every database in
#: ``databases``; format 1 held one, under ``LEGACY_DATABASE_MEMBER``, its schema version under
#: ``recorder_schema`` (still restored). A database ``<name>`` is the member ``<name>.db``.
BACKUP_FORMAT: Final = 2
BACKUP_MANIFEST: Final = "edgewise-backup.json"
BACKUP_CONFIG_PREFIX: Final = "config/"
BACKUP_DATABASE_SUFFIX: Final = ".db"
LEGACY_DATABASE_MEMBER: Final = "recorder.db"
LEGACY_SCHEMA_KEY: Final = "recorder_schema"
BACKUP_SECRETS: Final = "secrets.yaml.enc"
#: Files of the configuration directory a backup never copies as they are (the database goes
#: through SQLite's backup API; secrets only encrypted, on request).
BACKUP_SKIPPED_SUFFIXES: Final = (".db", ".db-wal", ".db-shm", ".db-journal", ".log")
SECRETS_FILE: Final = "secrets.yaml"
#: Key derivation for encrypted secrets (scrypt, RFC 7914): cost parameters.
SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1

#: Doctor and low disk: below this much free space the recorder pauses writing.
DEFAULT_MIN_FREE_BYTES: Final = 200 * 1024 * 1024
#: The recorder resumes once this much is free again (hysteresis: no pause/resume flapping).
DEFAULT_RESUME_FREE_BYTES: Final = 300 * 1024 * 1024
#: A clock before this instant (2026-01-01) is certainly wrong: Edgewise did not exist yet.
CLOCK_PLAUSIBLE_AFTER: Final = 1_767_225_600.0
#: How often the recorder looks at the free space while writing, and while paused.
DISK_CHECK_INTERVAL_S: Final = 10.0
DISK_PAUSED_CHECK_INTERVAL_S: Final = 5.0
#: On a small file system the marks are these shares of its size, when smaller than the above.
MIN_FREE_SHARE: Final = 0.05
RESUME_FREE_SHARE: Final = 0.075
