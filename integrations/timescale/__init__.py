"""The ``timescale`` integration: a central historian in PostgreSQL/TimescaleDB.

Every accepted state becomes a row of a narrow table in the central database, going first
through a local store-and-forward buffer so that nothing is lost while the site's link or the
database is down (``historian.py``). Setup imports neither asyncpg nor SQLite work: the writer
task opens the buffer and connects after start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core import IntegrationError, Manifest, Runtime, RuntimeKey, hookimpl, validators
from core.const import EVENT_EDGEWISE_STARTED

from .const import DOMAIN, NAME

if TYPE_CHECKING:
    from core.http.panels import Panel

    from .commands import CommandRunner
    from .sources import ReadOnlySource

#: The read-only source ``timescale.query`` reads through.
QUERY_SOURCE: RuntimeKey[ReadOnlySource] = RuntimeKey("timescale.query_source")
#: Runs the central write commands (with ``write_commands: true``).
COMMAND_RUNNER: RuntimeKey[CommandRunner] = RuntimeKey("timescale.command_runner")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is; its stop sends what it can before closing."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=validators.deferred("integrations.timescale.schema"),
        after_dependencies=("bacnet",),
        stop_timeout=25.0,
        version="0.1.0",
        documentation="https://docs.timescale.com/",
        entity_domains=("sensor",),
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Start the historian's listener and writer task; register its services."""
    from .historian import HISTORIAN, Historian  # noqa: PLC0415 - only when configured
    from .schema import TimescaleConfig  # noqa: PLC0415 - only when configured
    from .services import register_query, register_services  # noqa: PLC0415 - see above
    from .sources import ReadOnlySource  # noqa: PLC0415 - asyncpg, only when configured

    if not isinstance(config, TimescaleConfig):
        raise IntegrationError(f"unexpected configuration {config!r}", integration=DOMAIN)
    historian = Historian(runtime, config)
    historian.start()
    runtime.data[HISTORIAN] = historian
    register_services(runtime, historian)
    source = ReadOnlySource(config.db_url, name=DOMAIN)
    runtime.data[QUERY_SOURCE] = source
    register_query(runtime, config, source)
    if config.write_commands:
        from .commands import CommandRunner  # noqa: PLC0415 - only when configured

        runner = CommandRunner(runtime, config)
        runtime.data[COMMAND_RUNNER] = runner
        if runtime.ready:
            runner.start()
        else:
            runtime.bus.listen_once(EVENT_EDGEWISE_STARTED, lambda _event: runner.start())


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Buffer what is in memory, send what can be sent, close."""
    from .historian import HISTORIAN  # noqa: PLC0415 - loaded by setup already
    from .services import remove_services  # noqa: PLC0415 - loaded by setup already

    remove_services(runtime)
    if (runner := runtime.data.get(COMMAND_RUNNER)) is not None:
        del runtime.data[COMMAND_RUNNER]
        await runner.stop()
    historian = runtime.data.get(HISTORIAN)
    if historian is None:
        return
    del runtime.data[HISTORIAN]
    await historian.stop()
    if (source := runtime.data.get(QUERY_SOURCE)) is not None:
        del runtime.data[QUERY_SOURCE]
        await source.close()


@hookimpl
def edgewise_panels(runtime: Runtime) -> list[Panel]:
    """The Historian page: the completeness report (admins only: it names every series)."""
    from core.http.panels import Panel  # noqa: PLC0415 - the panel module loads with HTTP

    from .historian import HISTORIAN  # noqa: PLC0415 - loaded by setup already

    if HISTORIAN not in runtime.data:
        return []
    return [
        Panel(
            url_path="historian",
            title="Historian",
            icon="mdi:database-sync",
            module="historian.js",
            static_dir=Path(__file__).parent / "panel",
            require_admin=True,
        )
    ]
