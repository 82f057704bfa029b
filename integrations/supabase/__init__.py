"""The built-in ``supabase`` integration: live rows in from a Supabase project.

Rows of configured tables are read through PostgREST (``rest.py``) and become sensor entities
(``source.py``); Supabase Realtime (``realtime.py``, Phoenix channels with heartbeats, token
refresh and rejoin) turns each change into a state at once, and every (re)join re-reads the
table so nothing is missed while the feed was down. It never writes to source tables.
``double.py`` (with ``double_rest.py`` and ``double_realtime.py``) is a Supabase project on
loopback backed by the real PostgreSQL, for the tests and ``bench/supabase.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import Manifest, Runtime, RuntimeKey, hookimpl, remove_entities, validators

from .const import DOMAIN, NAME

if TYPE_CHECKING:
    from .setup import SupabaseRuntime

#: The running sources and feeds, for ``edgewise_stop`` and tests.
SUPABASE: RuntimeKey[SupabaseRuntime] = RuntimeKey("supabase.runtime")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=validators.deferred("integrations.supabase.schema"),
        # The mirror subscribes to the control log, receipts and schedule log: set up first.
        after_dependencies=("appliance", "tariff"),
        version="0.1.0",
        entity_domains=("sensor",),
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Read the configured tables and follow them through Realtime."""
    from .schema import SupabaseConfig  # noqa: PLC0415 - only sites that configure Supabase
    from .setup import SupabaseRuntime  # noqa: PLC0415 - deferred import

    assert isinstance(config, SupabaseConfig)  # noqa: S101 - CONFIG_SCHEMA returns one
    supabase = SupabaseRuntime(runtime, config)
    runtime.data[SUPABASE] = supabase
    await supabase.start()


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Stop the feeds and remove the entities."""
    supabase = runtime.data.get(SUPABASE)
    if supabase is not None:
        await supabase.stop()
        del runtime.data[SUPABASE]
    await remove_entities(runtime, DOMAIN)
