"""The built-in ``tariff`` integration: prices, cheapest windows, exact schedules, autopilot.

Prices come from a time-of-use plan in YAML (``plan.py``) or a price entity's forecast
(``dynamic.py``), kept in a ``Timeline`` (``timeline.py``) by ``Prices`` (``prices.py``), which
arms one timer per boundary. On top: the sensors (``sensor.py``), the services with response
data (``services.py``: the exact cheapest-window search of ``window.py`` and cost previews), and
the ``tariff`` trigger platform (``trigger.py``), exact appliance schedules on the kernel's
persistent schedules (``schedules.py``) with metered runs and receipts (``runs.py``), kept in
``store.py``, and the API (``api.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import Manifest, Runtime, RuntimeKey, add_entities, hookimpl, remove_entities, validators

from .const import DOMAIN, NAME

if TYPE_CHECKING:
    from core.http.panels import Panel
    from core.trigger import TriggerPlatform

_REMOVERS: RuntimeKey[list[Callable[[], Any]]] = RuntimeKey("tariff.removers")
#: The running autopilot and insights (tests, the bench).
AUTOPILOT: RuntimeKey[Any] = RuntimeKey("tariff.autopilot")
INSIGHTS: RuntimeKey[Any] = RuntimeKey("tariff.insights")
SCHEDULES: RuntimeKey[Any] = RuntimeKey("tariff.schedules")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is; set up after the appliances it schedules and pauses."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=validators.deferred("integrations.tariff.schema"),
        after_dependencies=("recorder", "appliance", "template", "mqtt"),
        version="0.1.0",
        entity_domains=("sensor",),
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Load the prices, add the sensors and register the services."""
    from core.entity_platform import entity_index  # noqa: PLC0415 - deferred import

    from .api import TariffApi, register_api  # noqa: PLC0415 - deferred import
    from .autopilot import Autopilot  # noqa: PLC0415 - deferred import
    from .insights import DayTotalSensor, Insights  # noqa: PLC0415 - deferred import
    from .prices import Prices  # noqa: PLC0415 - deferred import
    from .runs import RunTracker  # noqa: PLC0415 - deferred import
    from .schedules import ApplianceSchedules  # noqa: PLC0415 - deferred import
    from .schema import TariffConfig  # noqa: PLC0415 - deferred import
    from .sensor import (  # noqa: PLC0415 - deferred import
        CheapestWindowSensor,
        NextChangeSensor,
        NextPeakSensor,
        PriceSensor,
        SlotTypeSensor,
    )
    from .services import register_services  # noqa: PLC0415 - deferred import
    from .store import TariffStore  # noqa: PLC0415 - deferred import
    from .trigger import PRICES  # noqa: PLC0415 - deferred import

    assert isinstance(config, TariffConfig)  # noqa: S101 - CONFIG_SCHEMA returns one
    prices = Prices(runtime, config)
    prices.start()
    runtime.data[PRICES] = prices
    removers: list[Callable[[], Any]] = [prices.stop, lambda: _forget(runtime, PRICES)]
    runtime.data[_REMOVERS] = removers
    entities = [
        PriceSensor(prices),
        SlotTypeSensor(prices),
        NextChangeSensor(prices),
        NextPeakSensor(prices),
        *(CheapestWindowSensor(prices, duration) for duration in config.windows),
    ]
    await add_entities(runtime, DOMAIN, entities)
    for service in register_services(runtime, prices):
        removers.append(_service_remover(runtime, service))
    store = TariffStore(runtime)
    await store.load()
    runs = RunTracker(runtime, prices, store, config.carbon_intensity)
    runs.start()
    removers.append(store.flush)
    removers.append(runs.stop)
    schedules = ApplianceSchedules(runtime, prices, store, runs)
    await schedules.start()
    removers.append(schedules.stop)
    runtime.data[SCHEDULES] = schedules
    removers.append(lambda: _forget(runtime, SCHEDULES))
    autopilot = Autopilot(runtime, prices, store, runs, config.autopilot)
    autopilot.start()
    removers.append(autopilot.stop)
    runtime.data[AUTOPILOT] = autopilot
    removers.append(lambda: _forget(runtime, AUTOPILOT))
    insights = Insights(runtime, prices, store, runs, config.notify)
    insights.start()
    removers.append(insights.stop)
    runtime.data[INSIGHTS] = insights
    removers.append(lambda: _forget(runtime, INSIGHTS))
    totals = []
    for entity in entity_index(runtime):
        if entity.domain == "appliance" and hasattr(entity, "config"):
            name = entity.config.name
            totals += [
                DayTotalSensor(store, entity.entity_id, name, "cost", config.currency),
                DayTotalSensor(store, entity.entity_id, name, "savings", config.currency),
            ]
    insights.sensors = totals
    await add_entities(runtime, DOMAIN, totals)
    removers.append(register_api(runtime, TariffApi(prices, schedules, store)))


def _forget(runtime: Runtime, key: RuntimeKey[Any]) -> None:
    if key in runtime.data:
        del runtime.data[key]


def _service_remover(runtime: Runtime, service: str) -> Callable[[], None]:
    def remove() -> None:
        if runtime.services.has(DOMAIN, service):
            runtime.services.remove(DOMAIN, service)

    return remove


@hookimpl
def edgewise_trigger_platforms(runtime: Runtime) -> Mapping[str, TriggerPlatform] | None:
    """The ``tariff`` trigger platform."""
    from .trigger import TariffTrigger  # noqa: PLC0415 - deferred import

    return {DOMAIN: TariffTrigger()}


@hookimpl
def edgewise_panels(runtime: Runtime) -> list[Panel]:
    """The Energy page: prices, cheapest windows, schedules with costs, receipts."""
    from core.http.panels import Panel  # noqa: PLC0415 - the panel module loads with HTTP

    if _REMOVERS not in runtime.data:
        return []
    return [
        Panel(
            url_path="energy",
            title="Energy",
            icon="mdi:lightning-bolt",
            module="energy.js",
            static_dir=Path(__file__).parent / "panel",
        )
    ]


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Undo the setup in reverse."""
    removers = runtime.data.get(_REMOVERS)
    if removers is not None:
        del runtime.data[_REMOVERS]
        for remove in reversed(removers):
            result = remove()
            if hasattr(result, "__await__"):
                await result
    await remove_entities(runtime, DOMAIN)
