"""The built-in ``nilm`` integration: appliance-level power and energy from one meter.

Non-intrusive load monitoring: a model (ONNX, run by onnxruntime) reads a window of a meter's
power and answers, per appliance, its power and whether it runs. Per configured meter and per
appliance of its model there are three sensors: power (W), running (on/off) and energy (kWh,
``total_increasing``), each with a ``confidence`` attribute (see ``live.py``).

Models come from the registry (``registry.py``): the one shipped in the package and those in
the configuration's ``models_dir``; each is verified against its manifest before it loads, and
a refused model is a persistent notification naming the reason. ``api.py`` serves the models,
inference with persisted predictions, and the admin upload and reload.

numpy and onnxruntime are imported only when ``nilm:`` is configured (from ``edgewise_setup``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core import Manifest, Runtime, RuntimeKey, add_entities, hookimpl, remove_entities, validators

from .const import BUNDLED_MODELS, DOMAIN, NAME, NOTIFICATION_PREFIX

if TYPE_CHECKING:
    from .live import MeterDisaggregator
    from .registry import ModelRegistry
    from .schema import NilmConfig

_LOGGER = logging.getLogger(__name__)


class NilmRunning:
    """What the integration keeps while it runs."""

    def __init__(self, config: NilmConfig, registry: ModelRegistry) -> None:
        self.config = config
        self.registry = registry
        self.meters: list[MeterDisaggregator] = []
        self.removers: list[Callable[[], None]] = []


#: The running integration, for the API and ``edgewise_stop``.
RUNNING: RuntimeKey[NilmRunning] = RuntimeKey("nilm.running")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is; set up after the sources its meters may come from."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=validators.deferred("integrations.nilm.schema"),
        after_dependencies=("recorder", "simulator", "modbus", "mqtt", "template", "tuya"),
        version="0.1.0",
    )


def models_folders(runtime: Runtime, config: NilmConfig) -> list[Path]:
    """The registry's folders: the site's own (uploads go there), then the shipped models."""
    own = Path(config.models_dir)
    if not own.is_absolute():
        own = runtime.config_dir / own
    return [own, BUNDLED_MODELS]


def report_refused(runtime: Runtime, key: str, reason: str | None) -> None:
    """Keep (or, with no reason, dismiss) the notification about a refused model."""
    notification_id = f"{NOTIFICATION_PREFIX}{key}"
    if reason is None:
        runtime.notifications.dismiss(notification_id)
        return
    runtime.notifications.create(
        f"The NILM model was refused and is not used: {reason}",
        title="NILM model refused",
        notification_id=notification_id,
    )


async def start_meters(runtime: Runtime, running: NilmRunning) -> None:
    """Load each meter's model and start its sensors; a refused model leaves its meter out."""
    from .live import MeterDisaggregator  # noqa: PLC0415 - deferred import (numpy)
    from .registry import ModelRefused  # noqa: PLC0415 - deferred import (onnxruntime)

    registry = running.registry
    await runtime.run_in_executor(registry.scan)
    for key, problem in registry.problems.items():
        report_refused(runtime, key, problem)
    loaded = {}
    for meter in running.config.meters:
        if meter.model not in loaded:
            try:
                loaded[meter.model] = await runtime.run_in_executor(registry.load, meter.model)
            except ModelRefused as err:
                _LOGGER.error("NILM meter %s has no model: %s", meter.name, err)
                report_refused(runtime, meter.model, str(err))
                continue
            report_refused(runtime, meter.model, None)
        running.meters.append(MeterDisaggregator(runtime, meter, loaded[meter.model]))
    await add_entities(runtime, DOMAIN, [e for m in running.meters for e in m.entities])
    for disaggregator in running.meters:
        disaggregator.start()


async def stop_meters(runtime: Runtime, running: NilmRunning) -> None:
    """Stop the meters and remove their sensors."""
    for disaggregator in running.meters:
        disaggregator.stop()
    running.meters.clear()
    await remove_entities(runtime, DOMAIN)


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Scan the models, start a disaggregator per meter, register the API."""
    from .api import register_api  # noqa: PLC0415 - deferred import
    from .registry import ModelRegistry  # noqa: PLC0415 - deferred import (onnxruntime)
    from .schema import NilmConfig  # noqa: PLC0415 - deferred import

    assert isinstance(config, NilmConfig)  # noqa: S101 - CONFIG_SCHEMA returns one
    running = NilmRunning(config, ModelRegistry(models_folders(runtime, config)))
    runtime.data[RUNNING] = running
    await start_meters(runtime, running)
    if runtime.http is not None:
        running.removers.extend(register_api(runtime, running))


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Stop the meters, remove the API and the sensors."""
    running = runtime.data.get(RUNNING)
    if running is None:
        return
    del runtime.data[RUNNING]
    for remove in running.removers:
        remove()
    await stop_meters(runtime, running)
