"""Central write commands: a site runs the ``write_commands`` rows addressed to it, once each.

The central table has BacPipes' columns: id, site_id, point_id, command_type (``write_value`` or
``release_priority``), value, priority (1-16), status (``pending`` → ``executing`` →
``completed``/``failed``), created_at, executed_at, completed_at, error_message, created_by,
source_ip. ``point_id`` is the entity id of a BACnet point at the site.

Exactly once:

- A command is claimed in one statement, ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP
  LOCKED LIMIT 1) RETURNING``: two claimers (two processes of one site) never get the same row.
- It runs through the BACnet integration's audited write queue (``bacnet.write`` /
  ``bacnet.relinquish``) with the context id ``central:<site>:<id>``, which the queue records.
- The outcome is written back; until that succeeds it is retried, never re-run.
- After a restart, a command still ``executing`` for this site is reconciled from the BACnet
  write queue's own record of that context id: its outcome is reported as recorded. With no
  record, the command is reported failed ("interrupted ... not re-run"): it is never run twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg

from core.context import Context
from core.errors import EdgewiseError
from core.runtime import Runtime

from .central import CENTRAL_ERRORS
from .const import COMMAND_CONTEXT_PREFIX, COMMANDS_TABLE, CONNECT_TIMEOUT, DOMAIN
from .schema import TimescaleConfig

_LOGGER = logging.getLogger(__name__)

_CLAIM = f"""
UPDATE {COMMANDS_TABLE} SET status = 'executing', executed_at = now()
WHERE id = (
    SELECT id FROM {COMMANDS_TABLE}
    WHERE site_id = $1 AND status = 'pending'
    ORDER BY created_at, id
    FOR UPDATE SKIP LOCKED
    LIMIT 1
)
RETURNING id, point_id, command_type, value, priority
"""  # noqa: S608 - a fixed table name

_REPORT = f"""
UPDATE {COMMANDS_TABLE} SET status = $3, completed_at = now(), error_message = $4
WHERE id = $1 AND site_id = $2 AND status = 'executing'
"""  # noqa: S608 - a fixed table name

_CLAIMED = f"""
SELECT id, point_id, command_type, value, priority FROM {COMMANDS_TABLE}
WHERE site_id = $1 AND status = 'executing' ORDER BY id
"""  # noqa: S608 - a fixed table name

#: Most BACnet write-queue entries searched when reconciling.
RECONCILE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class CentralCommand:
    """One claimed row of ``write_commands``."""

    id: int
    point_id: str
    command_type: str
    value: Any
    priority: int | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a command: ``completed`` or ``failed`` with a message."""

    status: str
    error: str | None = None


async def claim(conn: asyncpg.Connection, site_id: str) -> CentralCommand | None:
    """Claim the oldest pending command of ``site_id`` (committed), or None."""
    row = await conn.fetchrow(_CLAIM, site_id)
    return None if row is None else CentralCommand(**dict(row))


class CommandRunner:
    """Polls the central table for this site's commands and runs them through BACnet."""

    def __init__(self, runtime: Runtime, config: TimescaleConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.site_id = config.site_id
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        #: Outcomes not yet written back (the central database was away).
        self._unreported: dict[int, Outcome] = {}
        self._reconciled = False
        #: Commands run (for the tests and diagnostics).
        self.executed = 0
        self.reconciled = 0
        self.idle = asyncio.Event()

    def start(self) -> None:
        """Start polling (after start-up, so the BACnet services exist)."""
        self._task = self.runtime.create_task(self._run(), f"{DOMAIN}.write_commands")

    async def stop(self) -> None:
        """Stop polling; close the connection."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5)
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    def context_id(self, command_id: int) -> str:
        """The context id the BACnet write queue records for a central command."""
        return f"{COMMAND_CONTEXT_PREFIX}:{self.site_id}:{command_id}"

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await self.poll()
                failing = False
            except CENTRAL_ERRORS as err:
                if not failing:
                    _LOGGER.warning("Cannot poll the central write commands: %s", err)
                failing = True
                if self._conn is not None:
                    self._conn.terminate()
                    self._conn = None
            await asyncio.sleep(self.config.command_poll_interval)

    async def poll(self) -> None:
        """Report what is owed, reconcile once, then claim and run commands until none is left."""
        self.idle.clear()
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self.config.db_url,
                timeout=CONNECT_TIMEOUT,
                server_settings={"application_name": f"edgewise-commands[{self.site_id}]"},
            )
        conn = self._conn
        await self._report_owed(conn)
        if not self._reconciled:
            await self._reconcile(conn)
            self._reconciled = True
        while (command := await claim(conn, self.site_id)) is not None:
            outcome = await self._execute(command)
            self.executed += 1
            self._unreported[command.id] = outcome
            await self._report_owed(conn)
        self.idle.set()

    async def _report_owed(self, conn: asyncpg.Connection) -> None:
        for command_id, outcome in list(self._unreported.items()):
            await conn.execute(_REPORT, command_id, self.site_id, outcome.status, outcome.error)
            del self._unreported[command_id]

    async def _execute(self, command: CentralCommand) -> Outcome:
        """Run one command through the BACnet write queue; never raises."""
        context = Context(id=self.context_id(command.id))
        data: dict[str, Any] = {"entity_id": command.point_id, "requested_by": "api"}
        if command.priority is not None:
            data["priority"] = command.priority
        if command.command_type == "write_value":
            service = "write"
            data["value"] = command.value
        elif command.command_type == "release_priority":
            service = "relinquish"
        else:
            return Outcome("failed", f"unknown command_type {command.command_type!r}")
        try:
            await self.runtime.services.call(
                "bacnet", service, data, context=context, blocking=True
            )
        except EdgewiseError as err:
            _LOGGER.warning("Central write command %s failed: %s", command.id, err)
            return Outcome("failed", str(err)[:1000])
        return Outcome("completed")

    async def _reconcile(self, conn: asyncpg.Connection) -> None:
        """Report commands claimed before a restart from the BACnet queue's record; never re-run."""
        claimed = [CentralCommand(**dict(row)) for row in await conn.fetch(_CLAIMED, self.site_id)]
        if not claimed:
            return
        recorded = await self._bacnet_records()
        for command in claimed:
            record = recorded.get(self.context_id(command.id))
            if record is None:
                outcome = Outcome(
                    "failed",
                    "interrupted: the site restarted after claiming this command and has no "
                    "record of its write; not re-run",
                )
            elif record.get("status") == "completed":
                outcome = Outcome("completed")
            else:
                outcome = Outcome("failed", str(record.get("error") or record.get("status")))
            _LOGGER.info(
                "Central write command %s claimed before a restart: reported %s",
                command.id,
                outcome.status,
            )
            self._unreported[command.id] = outcome
            self.reconciled += 1
        await self._report_owed(conn)

    async def _bacnet_records(self) -> dict[str, dict[str, Any]]:
        """The BACnet write queue's commands by context id (empty without BACnet)."""
        if not self.runtime.services.has("bacnet", "write_commands"):
            return {}
        response = await self.runtime.services.call(
            "bacnet",
            "write_commands",
            {"limit": RECONCILE_LIMIT},
            blocking=True,
            return_response=True,
        )
        commands = (response or {}).get("commands", [])
        return {c["context_id"]: c for c in commands if isinstance(c, dict)}
