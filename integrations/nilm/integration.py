"""The ``nilm`` integration's hooks: the meters' disaggregators, their sensors and the API.

The package's docstring (``integrations/nilm/__init__.py``) describes the integration; this
module is what the ``edgewise.integrations`` entry point names, so that importing the package
(as the inference process does) does not import the kernel.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import Manifest, Runtime, RuntimeKey, add_entities, hookimpl, remove_entities, validators

from .const import BUNDLED_MODELS, DOMAIN, NAME, NOTIFICATION_PREFIX, WORKER_NOTIFICATION

if TYPE_CHECKING:
    from .live import MeterDisaggregator
    from .registry import ModelEntry, ModelRegistry
    from .schema import MeterConfig, NilmConfig
    from .worker import InferenceClient

_LOGGER = logging.getLogger(__name__)


class NilmRunning:
    """What the integration keeps while it runs."""

    def __init__(
        self, config: NilmConfig, registry: ModelRegistry, client: InferenceClient
    ) -> None:
        self.config = config
        self.registry = registry
        self.client = client
        self.meters: list[MeterDisaggregator] = []
        self.removers: list[Callable[[], None]] = []
        #: The task verifying the models in the inference process after the meters start.
        self.verifying: asyncio.Task[None] | None = None


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


def sensor_area(runtime: Runtime, entity_id: str) -> str | None:
    """The name of ``entity_id``'s area: its own, else its device's; None when it has none."""
    entry = runtime.entity_registry.get(entity_id)
    if entry is None:
        return None
    area_id = entry.area_id
    if area_id is None and entry.device_id is not None:
        device = runtime.device_registry.get(entry.device_id)
        area_id = device.area_id if device is not None else None
    area = runtime.area_registry.get(area_id) if area_id is not None else None
    return area.name if area is not None else None


async def recorded_readings(
    runtime: Runtime, meter: MeterConfig, seconds: float
) -> list[tuple[float, str | None, Mapping[str, Any]]]:
    """The power sensor's recorded states of the last ``seconds``, oldest first.

    Through the recorder's history query (the state at the period's start first). Empty when
    there is no recorder or it cannot answer (logged): the window then fills from live readings.
    """
    from integrations.recorder.core import RECORDER  # noqa: PLC0415 - only with a recorder

    recorder = runtime.data.get(RECORDER)
    if recorder is None:
        return []
    from core.state import State  # noqa: PLC0415 - deferred import
    from integrations.recorder.history import get_significant_states  # noqa: PLC0415

    now = runtime.clock.now()
    try:
        found = await get_significant_states(
            recorder,
            now - timedelta(seconds=seconds),
            now,
            [meter.power_sensor],
            significant_changes_only=False,
        )
    except Exception as err:
        _LOGGER.warning(
            "NILM %s: the recorder's history of %s could not be read, the window fills from "
            "live readings: %s",
            meter.name,
            meter.power_sensor,
            err,
        )
        return []
    return [
        (item.last_updated_timestamp, item.state, item.attributes)
        for item in found.get(meter.power_sensor, [])
        if isinstance(item, State)
    ]


async def start_meters(runtime: Runtime, running: NilmRunning) -> None:
    """Start a disaggregator per meter whose model is known and whole; verify models meanwhile.

    Each meter's window is first filled from the recorder's history of its power sensor, so a
    restart resumes at once. A model file whose SHA-256 is not its manifest's leaves its meters
    out at once. The rest of
    the verification (the graph loads, its shapes agree with the manifest) needs the inference
    process, whose start (numpy, onnxruntime) takes about a second here and longer on a Pi: it
    runs in a task after the meters start, so the site is ready without waiting for it. A model
    refused then stops its meters, whose sensors go unavailable, with the same notification.
    """
    from .live import MeterDisaggregator  # noqa: PLC0415 - deferred import
    from .registry import ModelRefused  # noqa: PLC0415 - deferred import

    registry = running.registry
    await runtime.run_in_executor(registry.scan)
    for key, problem in registry.problems.items():
        report_refused(runtime, key, problem)
    loaded = {}
    for meter in running.config.meters:
        if meter.model not in loaded:
            try:
                entry = registry.entry(meter.model)
                await runtime.run_in_executor(registry.check_file, entry)
            except ModelRefused as err:
                _LOGGER.error("NILM meter %s has no model: %s", meter.name, err)
                report_refused(runtime, meter.model, str(err))
                continue
            report_refused(runtime, meter.model, None)
            loaded[meter.model] = entry
        entry = loaded[meter.model]
        unknown = sorted(set(dict(meter.areas)) - set(entry.manifest.appliance_names))
        if unknown:
            _LOGGER.warning(
                "NILM meter %s: areas: %s not appliances of model %s",
                meter.name,
                ", ".join(unknown),
                meter.model,
            )
        area = meter.area or sensor_area(runtime, meter.power_sensor)
        running.meters.append(MeterDisaggregator(runtime, meter, entry, running.client, area))
    await add_entities(runtime, DOMAIN, [e for m in running.meters for e in m.entities])
    for disaggregator in running.meters:
        span = (disaggregator.length + 2) * disaggregator.period
        disaggregator.start(
            functools.partial(recorded_readings, runtime, disaggregator.meter, span)
        )
    running.verifying = runtime.create_task(
        verify_models(runtime, running, loaded), name="nilm: verify models"
    )


async def verify_models(
    runtime: Runtime, running: NilmRunning, entries: dict[str, ModelEntry]
) -> None:
    """Load each model in the inference process; a refused one stops the meters that use it."""
    from core.isolated import WorkerDied, WorkerUnavailable  # noqa: PLC0415 - deferred import

    from .registry import ModelRefused  # noqa: PLC0415 - deferred import

    for model_id, entry in entries.items():
        try:
            await running.client.load(entry)
        except ModelRefused as err:
            _LOGGER.error("NILM model %s refused: %s", model_id, err)
            report_refused(runtime, model_id, str(err))
            for disaggregator in running.meters:
                if disaggregator.model is entry:
                    disaggregator.refuse()
        except (WorkerUnavailable, WorkerDied) as err:
            # The process loads (and verifies) it with the first window, and refuses it then.
            _LOGGER.error("NILM model %s not verified yet: %s", model_id, err)


async def stop_meters(runtime: Runtime, running: NilmRunning) -> None:
    """Stop the meters (and their models' verification) and remove their sensors."""
    if running.verifying is not None:
        running.verifying.cancel()
        running.verifying = None
    for disaggregator in running.meters:
        disaggregator.stop()
    running.meters.clear()
    await remove_entities(runtime, DOMAIN)


def report_worker(runtime: Runtime, healthy: bool, reason: str) -> None:
    """Keep (or dismiss) the notification about an inference process that cannot run."""
    if healthy:
        _LOGGER.info("NILM: %s", reason)
        runtime.notifications.dismiss(WORKER_NOTIFICATION)
        return
    runtime.notifications.create(
        f"NILM cannot disaggregate: {reason}. It is restarted with a growing delay; the "
        "appliance sensors are unavailable meanwhile.",
        title="NILM inference stopped",
        notification_id=WORKER_NOTIFICATION,
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Scan the models, start a disaggregator per meter, register the API."""
    from .api import register_api  # noqa: PLC0415 - deferred import
    from .registry import ModelRegistry  # noqa: PLC0415 - deferred import
    from .schema import NilmConfig  # noqa: PLC0415 - deferred import
    from .worker import InferenceClient  # noqa: PLC0415 - deferred import

    assert isinstance(config, NilmConfig)  # noqa: S101 - CONFIG_SCHEMA returns one
    client = InferenceClient(lambda healthy, reason: report_worker(runtime, healthy, reason))
    running = NilmRunning(config, ModelRegistry(models_folders(runtime, config)), client)
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
    running.client.stop()
