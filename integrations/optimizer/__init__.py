"""The ``optimizer`` integration: deferrable loads, chiller plants and setpoints, solved exactly.

Services with response data (also ``POST /api/services/optimizer/<service>?return_response``):
``optimizer.plan_deferrable_loads`` (native JSON or EMHASS's runtime parameters),
``optimizer.sequence_chillers``, ``optimizer.optimize_setpoints``; ``optimizer.publish_plan``
publishes the latest home plan as EMHASS-named sensors and ``optimizer.apply_plan`` sends a plan
to equipment slot by slot. See README.md for every input and output.

SciPy (HiGHS through ``scipy.optimize.milp``) and NumPy are imported on the first solve, in the
executor, never at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core import Manifest, Runtime, RuntimeKey, hookimpl
from core.http.panels import Panel

from .const import DOMAIN, NAME
from .schema import CONFIG_SCHEMA, OptimizerConfig

if TYPE_CHECKING:
    from .services import OptimizerState

#: The optimizer's state (cache, results table, latest plans), for ``edgewise_stop`` and tests.
STATE: RuntimeKey[OptimizerState] = RuntimeKey("optimizer.state")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is; a bare ``optimizer:`` takes the defaults."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=CONFIG_SCHEMA,
        version="0.1.0",
        entity_domains=("sensor",),
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Register the services; nothing is solved (and SciPy not imported) until one is called."""
    from .apply import Applier  # noqa: PLC0415 - only for sites that configure the optimizer
    from .publish import Publisher  # noqa: PLC0415 - likewise
    from .services import OptimizerState, register_services  # noqa: PLC0415 - likewise
    from .store import ResultCache, ResultStore  # noqa: PLC0415 - likewise
    from .worker import SolverRunner  # noqa: PLC0415 - likewise

    assert isinstance(config, OptimizerConfig)  # noqa: S101 - CONFIG_SCHEMA returns one
    state = OptimizerState(
        config=config,
        cache=ResultCache(config.cache_validity),
        store=ResultStore(runtime.config_dir / "optimizer_results.db", config.keep_results),
        publisher=Publisher(runtime),
        applier=Applier(runtime),
        runner=SolverRunner(
            runtime, isolate=config.isolate_solver, idle_timeout=config.solver_idle_timeout
        ),
    )
    runtime.data[STATE] = state
    register_services(runtime, state)


@hookimpl
def edgewise_panels(runtime: Runtime) -> list[Panel]:
    """The plan chart: loads stacked, PV, price and battery, each slot's reasons on hover."""
    return [
        Panel(
            url_path="optimizer",
            title="Optimizer",
            icon="mdi:chart-timeline-variant",
            module="plan.js",
            static_dir=Path(__file__).parent / "panel",
        )
    ]


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Cancel scheduled publications and commands; remove the services."""
    from .services import remove_services  # noqa: PLC0415 - set up already

    state = runtime.data.get(STATE)
    if state is not None:
        state.publisher.stop()
        state.applier.cancel()
        state.runner.stop()
        del runtime.data[STATE]
    remove_services(runtime)
