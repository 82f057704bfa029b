"""The built-in ``recorder`` integration: the history of states and events in a SQL database.

On by default (SQLite in the configuration directory); ``configuration.yaml`` may point it at
PostgreSQL, tune batching and purging, and filter what is kept (``schema.py``). The writer is in
``core.py``; SQLAlchemy is imported only when the integration is set up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core import IntegrationError, Manifest, Runtime, RuntimeKey, hookimpl

from .const import DOMAIN, NAME
from .schema import CONFIG_SCHEMA, RecorderConfig

#: Cancels the statistics compile job and removes ``recorder.get_statistics``.
_STOP_STATISTICS: RuntimeKey[Callable[[], Awaitable[None]]] = RuntimeKey("recorder.stop_statistics")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is: on by default, with a long stop so the queue can be written."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=CONFIG_SCHEMA,
        default=True,
        stop_timeout=20.0,
        version="0.1.0",
        documentation="https://www.home-assistant.io/integrations/recorder/",
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Start the recorder and register its services.

    Raises:
        IntegrationError: the database is newer than this code (``SchemaTooNewError``).
    """
    # SQLAlchemy and the drivers load only here, for sites that run the recorder.
    from .core import RECORDER, Recorder  # noqa: PLC0415 - deferred import, see above
    from .services import register_services  # noqa: PLC0415 - deferred import, see above
    from .statistics import setup_statistics  # noqa: PLC0415 - deferred import, see above

    if config is None:
        config = RecorderConfig()
    if not isinstance(config, RecorderConfig):
        raise IntegrationError(f"unexpected configuration {config!r}", integration=DOMAIN)
    recorder = Recorder(runtime, config)
    await recorder.start()
    runtime.data[RECORDER] = recorder
    register_services(runtime, recorder)
    runtime.data[_STOP_STATISTICS] = setup_statistics(runtime, recorder)


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Write what is queued, close the run and the database connections."""
    from .core import RECORDER  # noqa: PLC0415 - loaded by setup already
    from .services import remove_services  # noqa: PLC0415 - loaded by setup already

    recorder = runtime.data.get(RECORDER)
    if recorder is None:
        return
    if (stop_statistics := runtime.data.get(_STOP_STATISTICS)) is not None:
        await stop_statistics()
    remove_services(runtime)
    await recorder.stop()
