"""core/http/registry.py and core/registrations.py: routes, commands and services per runtime.

What an integration registers is tracked under it (also from tasks its setup started) and
removed at once by its teardown; what the kernel registers is not tracked; removers are safe to
call twice; two runtimes in one process share nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from core.auth import Permission
from core.http.registry import ApiRegistry
from core.logbook import LogbookDescriptions
from core.registrations import Registrations
from core.runtime import Runtime


async def _ok(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


async def _other(request: web.Request) -> web.StreamResponse:
    return web.Response(text="other")


def _command(conn: Any, msg: dict[str, Any]) -> None:
    return None


def test_exact_and_placeholder_routes_resolve_with_their_values() -> None:
    api = ApiRegistry(Registrations())
    api.add_route("GET", "/api/meter/readings", _ok, Permission.READ)
    api.add_route("get", "/api/meter/readings/{meter}/{day}", _other, Permission.READ)

    assert api.resolve("GET", "/api/meter/readings") == (_ok, {})
    assert api.resolve("GET", "/api/meter/readings/north/2026-01-01") == (
        _other,
        {"meter": "north", "day": "2026-01-01"},
    )
    assert api.resolve("GET", "/api/meter/readings/north") is None
    assert api.resolve("GET", "/api/meter/readings//x") is None
    assert api.resolve("POST", "/api/meter/readings") is None
    assert api.allowed_methods("/api/meter/readings") == {"GET"}


@pytest.mark.parametrize(
    ("method", "path", "permission", "error"),
    [
        ("GET", "/meter", Permission.READ, "under /api/"),
        ("GET", "/api//meter", Permission.READ, "under /api/"),
        ("GET", "/api/meter/x{id}", Permission.READ, "whole segment"),
        ("GET", "/api/meter/{id}/{id}", Permission.READ, "twice"),
        ("GET", "/api/meter", Permission.PUBLIC, "signed-in user"),
        ("GET", "/api/taken", Permission.READ, "exists already"),
        ("GET", "/api/taken/{x}", Permission.READ, "exists already"),
    ],
)
def test_a_bad_or_taken_route_is_refused_naming_it(
    method: str, path: str, permission: Permission, error: str
) -> None:
    api = ApiRegistry(Registrations())
    api.add_route("GET", "/api/taken", _ok, Permission.READ)
    api.add_route("GET", "/api/taken/{y}", _ok, Permission.READ)

    with pytest.raises(ValueError, match=error):
        api.add_route(method, path, _ok, permission)


def test_commands_are_checked_and_the_kernels_are_there_from_the_start() -> None:
    from core.http.ws_commands import KERNEL_COMMANDS

    api = ApiRegistry(Registrations(), KERNEL_COMMANDS)

    assert {"get_states", "call_service", "render_template"} <= set(api.commands)
    with pytest.raises(ValueError, match="already registered"):
        api.add_command("get_states", _command, Permission.READ)
    with pytest.raises(ValueError, match="Invalid WebSocket command type"):
        api.add_command("Meter Readings", _command, Permission.READ)
    with pytest.raises(ValueError, match="signed-in user"):
        api.add_command("meter/readings", _command, Permission.PUBLIC)


async def test_teardown_removes_what_the_owner_registered_also_from_its_tasks() -> None:
    registrations = Registrations()
    api = ApiRegistry(registrations)
    logbook = LogbookDescriptions(registrations)
    kernel_remove = api.add_route("GET", "/api/kernel", _ok, Permission.READ)

    async def later() -> None:
        api.add_command("meter/later", _command, Permission.READ)

    with registrations.owner("meter"):
        api.add_route("GET", "/api/meter/{x}", _ok, Permission.READ)
        api.add_command("meter/readings", _command, Permission.READ)
        logbook.register("meter_read", lambda data: {"message": "read"})
        task = asyncio.get_running_loop().create_task(later())
    await task
    with registrations.owner("other"):
        api.add_command("other/x", _command, Permission.READ)

    assert registrations.owned("meter") == 4
    assert registrations.teardown("meter") == 4
    assert api.resolve("GET", "/api/meter/1") is None
    assert set(api.commands) == {"other/x"}
    assert "meter_read" not in logbook.event_types
    assert api.resolve("GET", "/api/kernel") == (_ok, {})  # not the owner's
    kernel_remove()
    kernel_remove()  # twice is harmless
    assert api.resolve("GET", "/api/kernel") is None


def test_an_early_remove_is_forgotten_and_a_failing_remover_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registrations = Registrations()
    removed: list[str] = []

    def failing() -> None:
        raise RuntimeError("cannot")

    with registrations.owner("meter"):
        first = registrations.track(lambda: removed.append("first"))
        registrations.track(failing)
        registrations.track(lambda: removed.append("third"))
    first()

    assert registrations.owned("meter") == 2
    assert registrations.teardown("meter") == 2
    assert removed == ["first", "third"]
    assert "Error removing a registration of meter" in caplog.text


async def test_two_runtimes_in_one_process_share_no_command(tmp_path: Path) -> None:
    one = Runtime(tmp_path / "one")
    two = Runtime(tmp_path / "two")

    with one.registrations.owner("meter"):
        one.api.add_command("meter/readings", _command, Permission.READ)
        # Another runtime's registration made meanwhile belongs to its kernel, not to "meter".
        two.api.add_command("meter/readings", _command, Permission.READ)

    assert "meter/readings" in two.api.commands
    one.registrations.teardown("meter")
    assert "meter/readings" not in one.api.commands
    assert "meter/readings" in two.api.commands
    assert two.registrations.owned("meter") == 0


async def test_a_service_is_tracked_declares_its_role_and_a_replacement_survives(
    tmp_path: Path,
) -> None:
    runtime = Runtime(tmp_path)
    services = runtime.services

    with runtime.registrations.owner("meter"):
        remove = services.register("meter", "calibrate", _command, permission=Permission.ADMIN)
        services.register("meter", "read", _command)

    assert services.get("meter", "calibrate").permission is Permission.ADMIN
    assert services.get("meter", "read").permission is Permission.CONTROL
    with pytest.raises(ValueError, match="CONTROL or ADMIN, not READ"):
        services.register("meter", "peek", _command, permission=Permission.READ)
    remove()
    assert not services.has("meter", "calibrate")
    # Replaced by someone else: the first owner's teardown leaves the new one alone.
    services.register("meter", "read", _other)
    runtime.registrations.teardown("meter")
    assert services.get("meter", "read").handler is _other
