"""Setting the integration up and down: the order things start and stop in."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core import IntegrationError, RuntimeKey, add_entities, remove_entities
from core.metrics import get_metrics

from .bridge import CommandBridge
from .client import MqttHub
from .connectivity import BrokerConnectivity
from .const import DOMAIN
from .entities import create_entity, disabled_by_default
from .outbox import Outbox
from .schema import MqttConfig
from .services import register_services
from .stream import StateStream

if TYPE_CHECKING:
    from core import Runtime

    from .discovery import Discovery

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class MqttData:
    """What the integration keeps in the runtime."""

    hub: MqttHub
    stream: StateStream | None = None
    bridge: CommandBridge | None = None
    discovery: Discovery | None = None
    extra: dict[str, Any] = field(default_factory=dict)


MQTT_DATA: RuntimeKey[MqttData] = RuntimeKey("mqtt")


def get_hub(runtime: Runtime) -> MqttHub:
    """The runtime's MQTT hub.

    Raises:
        KeyError: MQTT is not set up.
    """
    return runtime.data[MQTT_DATA].hub


async def async_setup(runtime: Runtime, config: object) -> None:
    """Start the hub, add the YAML entities, then discovery, the stream and the bridge."""
    if not isinstance(config, MqttConfig):
        config = MqttConfig()
    if config.outbox_persist:
        outbox = Outbox.persisted(
            runtime.run_in_executor, runtime.config_dir, config.outbox_max_messages
        )
        await outbox.load()
    else:
        outbox = Outbox(config.outbox_max_messages)
    hub = MqttHub(runtime, config, outbox)
    try:
        await hub.start()
    except (OSError, ssl.SSLError) as err:
        raise IntegrationError(f"cannot read the TLS files: {err}", integration=DOMAIN) from err
    data = MqttData(hub)
    runtime.data[MQTT_DATA] = data
    register_services(hub)
    register_metrics(runtime)
    await add_entities(runtime, DOMAIN, [BrokerConnectivity(hub)])
    entities = [create_entity(hub, entity) for entity in config.entities]
    await add_entities(runtime, DOMAIN, [e for e in entities if not disabled_by_default(hub, e)])
    if config.discovery:
        from .discovery import Discovery  # noqa: PLC0415 - only when discovery is on

        data.discovery = Discovery(hub, config.discovery_prefix)
        await data.discovery.start()
    if config.state_stream is not None:
        data.stream = StateStream(hub, config.state_stream)
        data.stream.start()
    if config.command_bridge is not None:
        data.bridge = CommandBridge(hub, config.command_bridge)
        await data.bridge.start()


def register_metrics(runtime: Runtime) -> None:
    """The connection and the outbox in ``/metrics``, read from the hub at scrape time."""
    metrics = get_metrics(runtime)

    def reader(read: Callable[[MqttHub], float]) -> Callable[[], float]:
        def value() -> float:
            data = runtime.data.get(MQTT_DATA)
            return 0.0 if data is None else float(read(data.hub))

        return value

    metrics.value(
        "mqtt_connected", "1 while the MQTT broker is connected", reader(lambda h: h.connected)
    )
    metrics.value(
        "mqtt_connections",
        "Successful connections to the MQTT broker",
        reader(lambda h: h.connections),
        counter=True,
    )
    metrics.value(
        "mqtt_messages_received",
        "MQTT messages received and dispatched",
        reader(lambda h: h.received),
        counter=True,
    )
    metrics.value(
        "mqtt_outbox_messages",
        "QoS 1/2 messages waiting for the broker",
        reader(lambda h: len(h.outbox)),
    )
    metrics.value(
        "mqtt_outbox_dropped",
        "QoS 1/2 messages dropped because the outbox was full",
        reader(lambda h: h.outbox.dropped),
        counter=True,
    )


async def async_stop(runtime: Runtime) -> None:
    """Stop in reverse: bridge, stream, discovery, entities, hub; then keep the outbox."""
    data = runtime.data.get(MQTT_DATA)
    if data is None:
        return
    if data.bridge is not None:
        data.bridge.stop()
    if data.stream is not None:
        data.stream.stop()
    if data.discovery is not None:
        data.discovery.stop()
    await remove_entities(runtime, DOMAIN)
    await data.hub.stop()
    await data.hub.outbox.flush()
    del runtime.data[MQTT_DATA]
