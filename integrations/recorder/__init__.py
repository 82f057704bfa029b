"""The built-in ``recorder`` integration: the history of states and events in a SQL database.

On by default (SQLite in the configuration directory); ``configuration.yaml`` may point it at
PostgreSQL, tune batching and purging, and filter what is kept (``schema.py``).

Setup is light: it registers the bus listener, the queue, the services (``core.py``,
``services.py``, ``statistics.py``) and the history, logbook and statistics APIs (``api.py``), and
starts the writer task. The writer imports the drivers (``database.py``, ``sql.py``: aiosqlite for
SQLite, SQLAlchemy for a database server), opens and migrates the database once the runtime is
ready, so ``/ready`` never waits for it; what is fired meanwhile is queued. A database the recorder
cannot use is reported as the integration's failure (``Runtime.integration_failed``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from core import BackupDatabase, Manifest, Runtime, RuntimeKey, hookimpl

from .const import DOMAIN, NAME, SERVICE_PURGE, SERVICE_PURGE_ENTITIES
from .schema import CONFIG_SCHEMA, RecorderConfig

#: Cancels the statistics compile job and removes ``recorder.get_statistics``.
_STOP_STATISTICS: RuntimeKey[Callable[[], Awaitable[None]]] = RuntimeKey("recorder.stop_statistics")


@hookimpl
def edgewise_manifest() -> Manifest[RecorderConfig]:
    """Who the integration is: on by default, with a long stop so the queue can be written."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=CONFIG_SCHEMA,
        config_type=RecorderConfig,
        default=True,
        stop_timeout=20.0,
        version="0.1.0",
        services=(SERVICE_PURGE, SERVICE_PURGE_ENTITIES),
        documentation="https://www.home-assistant.io/integrations/recorder/",
    )


@hookimpl
def edgewise_backup_databases(
    config_dir: Path, config: RecorderConfig | None
) -> list[BackupDatabase]:
    """The recorder's database: SQLite in ``config_dir`` unless ``db_url`` says otherwise."""
    from .backup import recorder_database  # noqa: PLC0415 - only the operations commands

    return [recorder_database(config_dir, config)]


@hookimpl
async def edgewise_setup(runtime: Runtime, config: RecorderConfig | None) -> None:
    """Start the recorder's listener and writer task, register its services and its APIs.

    Nothing here imports a database driver or opens the database (the writer does, after
    start-up).
    """
    from .api import register_api  # noqa: PLC0415 - deferred import, see above
    from .core import RECORDER, Recorder  # noqa: PLC0415 - deferred import, see above
    from .services import register_services, remove_services  # noqa: PLC0415 - see above
    from .statistics import setup_statistics  # noqa: PLC0415 - deferred import, see above
    from .ws_api import register_ws_api  # noqa: PLC0415 - deferred import, see above

    recorder = Recorder(runtime, config if config is not None else RecorderConfig())
    recorder.start()
    runtime.data[RECORDER] = recorder
    register_services(runtime, recorder)
    register_api(runtime, recorder)
    register_ws_api(runtime, recorder)
    runtime.data[_STOP_STATISTICS] = setup_statistics(runtime, recorder)

    async def undo_on_failure() -> None:
        # The recorder gave up (it has reported the failure): no compiles, no services.
        if (stop_statistics := runtime.data.get(_STOP_STATISTICS)) is not None:
            del runtime.data[_STOP_STATISTICS]
            await stop_statistics()
        remove_services(runtime)

    recorder.on_failure(undo_on_failure)


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Write what is queued, close the run and the database connections."""
    from .core import RECORDER  # noqa: PLC0415 - loaded by setup already
    from .services import remove_services  # noqa: PLC0415 - loaded by setup already

    if (stop_statistics := runtime.data.get(_STOP_STATISTICS)) is not None:
        await stop_statistics()
    remove_services(runtime)
    recorder = runtime.data.get(RECORDER)
    if recorder is None:
        return
    await recorder.stop()
