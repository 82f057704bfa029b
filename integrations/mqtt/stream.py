"""The state stream: each state change published to ``<base>/<domain>/<object_id>/state``.

With ``publish_attributes`` each attribute goes to ``<base>/<domain>/<object_id>/<attribute>``
as JSON, and with ``publish_timestamps`` ``last_changed`` and ``last_updated`` too, as Home
Assistant's ``mqtt_statestream`` does. Meant for a central broker or a BacPipes-style pipeline.
Only what changed is published: an attribute that kept its value is not sent again.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from core import Event, callback
from core.const import EVENT_STATE_CHANGED

if TYPE_CHECKING:
    from .client import MqttHub
    from .schema import StreamConfig

_LOGGER = logging.getLogger(__name__)


def _json(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


class StateStream:
    """Publishes the state changes that pass the filter. Start it with ``start``."""

    def __init__(self, hub: MqttHub, config: StreamConfig) -> None:
        self.hub = hub
        self.config = config
        self.published = 0
        self._unsubscribe: Any = None

    def start(self) -> None:
        """Listen to ``state_changed``."""
        self._unsubscribe = self.hub.runtime.bus.listen(EVENT_STATE_CHANGED, self._changed)

    def stop(self) -> None:
        """Stop listening."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @callback
    def _changed(self, event: Event[Any]) -> None:
        entity_id: str = event.data["entity_id"]
        if not self.config.entity_filter(entity_id):
            return
        new = event.data.get("new_state")
        old = event.data.get("old_state")
        domain, _, object_id = entity_id.partition(".")
        base = f"{self.config.base_topic}/{domain}/{object_id}"
        messages: list[tuple[str, str]] = []
        if new is None:
            # Removed: an empty retained payload clears what the broker kept.
            messages.append((f"{base}/state", ""))
        else:
            if old is None or old.state != new.state:
                messages.append((f"{base}/state", new.state))
            if self.config.publish_timestamps:
                messages.append((f"{base}/last_updated", new.last_updated.isoformat()))
                if old is None or old.state != new.state:
                    messages.append((f"{base}/last_changed", new.last_changed.isoformat()))
            if self.config.publish_attributes:
                old_attributes = old.attributes if old is not None else {}
                for key, value in new.attributes.items():
                    if key not in old_attributes or old_attributes[key] != value:
                        messages.append((f"{base}/{key}", _json(value)))
        for topic, payload in messages:
            self.published += 1
            self.hub.publish_nowait(topic, payload, self.config.qos, self.config.retain)
