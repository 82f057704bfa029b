"""The broker connection as a diagnostic ``binary_sensor`` (device class ``connectivity``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core import BinarySensorDeviceClass, BinarySensorEntity, EntityCategory, callback

if TYPE_CHECKING:
    from .client import MqttHub


class BrokerConnectivity(BinarySensorEntity):
    """On while the broker has accepted the connection; its attributes say how it went."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, hub: MqttHub) -> None:
        super().__init__()
        self.hub = hub
        name = hub.config.client_id or hub.config.name
        self._attr_unique_id = f"mqtt_broker_{name}"
        self._attr_name = "MQTT broker"

    @property
    def is_on(self) -> bool | None:
        """Whether the broker is connected."""
        return self.hub.connected

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The broker, the last error, and the outbox's counters."""
        outbox = self.hub.outbox
        return {
            "broker": self.hub.config.name,
            "connections": self.hub.connections,
            "last_error": self.hub.last_error,
            "outbox_queued": len(outbox),
            "outbox_dropped": outbox.dropped,
        }

    async def added_to_runtime(self) -> None:
        """Follow the connection."""
        self.on_remove(self.hub.add_connection_listener(self._changed))

    @callback
    def _changed(self, connected: bool) -> None:
        if self.added:
            self.write_state()
