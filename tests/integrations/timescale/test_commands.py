"""Central write commands against the real PostgreSQL and a real BACnet device on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg

from core.context import Context
from core.runtime import Runtime
from integrations.timescale import COMMAND_RUNNER
from integrations.timescale.commands import claim
from tests._helpers import wait_for
from tests.integrations.bacnet.conftest import running, site_yaml
from tests.integrations.bacnet.device import TestDevice

from .conftest import central_rows, timescale_yaml

WRITE_COMMANDS_DDL = """
CREATE TABLE write_commands (
    id serial PRIMARY KEY,
    site_id text NOT NULL,
    point_id text NOT NULL,
    command_type text NOT NULL CHECK (command_type IN ('write_value', 'release_priority')),
    value double precision,
    priority integer CHECK (priority BETWEEN 1 AND 16),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'executing', 'completed', 'failed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    executed_at timestamptz,
    completed_at timestamptz,
    error_message text,
    created_by text,
    source_ip inet
)
"""


async def central(dsn: str, sql: str, *args: Any) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def statuses(dsn: str) -> dict[int, tuple[str, str | None]]:
    rows = await central_rows(dsn, "SELECT id, status, error_message FROM write_commands")
    return {r["id"]: (r["status"], r["error_message"]) for r in rows}


def setpoint_of(runtime: Runtime) -> str:
    found = [s.entity_id for s in runtime.states.all() if s.entity_id.endswith("supply_setpoint")]
    assert len(found) == 1, found
    return found[0]


async def bacnet_commands(runtime: Runtime) -> list[dict[str, Any]]:
    response = await runtime.services.call(
        "bacnet", "write_commands", {"limit": 1000}, blocking=True, return_response=True
    )
    assert response is not None
    return list(response["commands"])


async def test_commands_run_once_through_the_bacnet_queue_and_report_back(
    central_db: str, device: TestDevice, client_port: int, tmp_path: Path
) -> None:
    await central(central_db, WRITE_COMMANDS_DDL)
    yaml = site_yaml(device, client_port) + timescale_yaml(
        central_db, "site-a", write_commands=True, command_poll_interval=0.1
    )
    async with running(tmp_path, yaml) as runtime:
        setpoint = setpoint_of(runtime)
        await central(
            central_db,
            "INSERT INTO write_commands (site_id, point_id, command_type, value, priority, "
            "created_by) VALUES ($1, $2, 'write_value', 21, 8, 'ops'), "
            "($1, $2, 'write_value', 99, 8, 'ops'), ('site-b', $2, 'write_value', 20, 8, 'ops')",
            "site-a",
            setpoint,
        )
        await wait_for(lambda: runtime.data[COMMAND_RUNNER].executed >= 2, "two commands executed")
        await wait_for(runtime.data[COMMAND_RUNNER].idle.is_set, "reports written")
        done = await statuses(central_db)
        assert done[1] == ("completed", None)
        assert done[2][0] == "failed"
        assert "outside its bounds" in (done[2][1] or "")
        assert done[3] == ("pending", None)  # another site's command
        recorded = [
            c for c in await bacnet_commands(runtime) if c["context_id"].startswith("central:")
        ]
        assert sorted(c["context_id"] for c in recorded) == [
            "central:site-a:1",
            "central:site-a:2",
        ]
        assert {c["requested_by"] for c in recorded} == {"api"}


async def test_two_claimers_of_one_site_never_get_the_same_command(central_db: str) -> None:
    await central(central_db, WRITE_COMMANDS_DDL)
    await central(
        central_db,
        "INSERT INTO write_commands (site_id, point_id, command_type, value, priority) "
        "SELECT 'site-a', 'number.x', 'write_value', n, 8 FROM generate_series(1, 60) AS n",
    )
    claimed: list[list[int]] = [[], []]

    async def claimer(index: int) -> None:
        conn = await asyncpg.connect(central_db)
        try:
            while (command := await claim(conn, "site-a")) is not None:
                claimed[index].append(command.id)
                await asyncio.sleep(0)
        finally:
            await conn.close()

    await asyncio.gather(claimer(0), claimer(1))
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == list(range(1, 61))
    assert claimed[0]
    assert claimed[1]


async def test_a_command_claimed_before_a_restart_is_reconciled_not_rerun(
    central_db: str, device: TestDevice, client_port: int, tmp_path: Path
) -> None:
    await central(central_db, WRITE_COMMANDS_DDL)
    base = site_yaml(device, client_port)
    # The first life: command 1 was claimed and written, then the site died before reporting;
    # command 2 was claimed and the site died before writing.
    async with running(tmp_path, base) as runtime:
        setpoint = setpoint_of(runtime)
        await runtime.services.call(
            "bacnet",
            "write",
            {"entity_id": setpoint, "value": 19, "priority": 8, "requested_by": "api"},
            context=Context(id="central:site-a:1"),
            blocking=True,
        )
    await central(
        central_db,
        "INSERT INTO write_commands (site_id, point_id, command_type, value, priority, status) "
        "VALUES ('site-a', $1, 'write_value', 19, 8, 'executing'), "
        "('site-a', $1, 'write_value', 18, 8, 'executing')",
        setpoint,
    )
    yaml = base + timescale_yaml(
        central_db, "site-a", write_commands=True, command_poll_interval=0.1
    )
    async with running(tmp_path, yaml) as runtime:
        runner = runtime.data[COMMAND_RUNNER]
        await wait_for(runner.idle.is_set, "the first poll")
        done = await statuses(central_db)
        assert done[1] == ("completed", None)
        assert done[2][0] == "failed"
        assert "not re-run" in (done[2][1] or "")
        assert runner.executed == 0
        assert runner.reconciled == 2
        recorded = [
            c for c in await bacnet_commands(runtime) if c["context_id"].startswith("central:")
        ]
        assert [c["context_id"] for c in recorded] == ["central:site-a:1"]
