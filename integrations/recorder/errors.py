"""The recorder's errors, importable without SQLAlchemy (the integration's setup uses them)."""

from __future__ import annotations

from core.errors import IntegrationError

from .const import DOMAIN


class SchemaTooNewError(IntegrationError):
    """The database was written by a newer Edgewise: it is left as it is."""

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"The recorder database has schema version {found}, newer than the {supported} "
            "this version of Edgewise knows; refusing to touch it (upgrade Edgewise, or point "
            "db_url at another database)",
            integration=DOMAIN,
        )
        self.found = found
        self.supported = supported


class RecorderUnavailableError(IntegrationError):
    """The recorder's database is not open (still opening failed, away, or given up)."""

    def __init__(self, status: str) -> None:
        super().__init__(
            f"The recorder's database is not available (recorder status: {status})",
            integration=DOMAIN,
        )
        self.status = status
