"""The outbox: QoS 1/2 messages waiting for the broker's acknowledgement.

Every message published with QoS 1 or 2 enters the outbox and leaves it only when the broker has
acknowledged it. While the broker is away the messages wait here, in order; after a reconnect
they are sent again. The outbox is bounded: beyond ``max_messages`` the oldest message is
dropped, counted and logged. With ``persist`` it is written to
``<config>/.storage/mqtt.outbox`` (coalesced, at most once a second, and at stop), so a restart
while the broker is away loses nothing that was written.

Delivery is at least once: a message whose acknowledgement was lost in a disconnect is sent
again, as MQTT QoS 1 itself does.
"""

from __future__ import annotations

import base64
import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.storage import ExecutorJob, JsonStore

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY: Final = "mqtt.outbox"
STORAGE_VERSION: Final = 1
#: Seconds between a change and its write to disk.
SAVE_DELAY: Final = 1.0


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message to publish with QoS 1 or 2."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool

    def as_dict(self) -> dict[str, Any]:
        """The JSON form; the payload is base64, as it may be any bytes."""
        return {
            "topic": self.topic,
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "qos": self.qos,
            "retain": self.retain,
        }


class Outbox:
    """A bounded FIFO of messages not yet acknowledged by the broker. Used on the loop."""

    def __init__(
        self,
        max_messages: int,
        *,
        store: JsonStore | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.max_messages = max_messages
        self._messages: deque[OutboxMessage] = deque()
        self._seq = itertools.count(1)
        self._store = store
        self._on_change = on_change
        #: Messages dropped because the outbox was full, since start.
        self.dropped = 0
        #: Messages acknowledged by the broker after waiting here, since start.
        self.delivered = 0

    @classmethod
    def persisted(cls, executor: ExecutorJob, config_dir: Path, max_messages: int) -> Outbox:
        """An outbox kept in ``<config_dir>/.storage/mqtt.outbox``."""
        store = JsonStore(
            executor,
            config_dir / ".storage" / STORAGE_KEY,
            key=STORAGE_KEY,
            version=STORAGE_VERSION,
        )
        return cls(max_messages, store=store)

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[OutboxMessage]:
        return iter(self._messages)

    async def load(self) -> None:
        """Take back the messages a previous run left (persisted outboxes only)."""
        if self._store is None:
            return
        data = await self._store.load()
        if not data:
            return
        restored = 0
        for item in data.get("messages", []):
            try:
                message = OutboxMessage(
                    next(self._seq),
                    str(item["topic"]),
                    base64.b64decode(item["payload"]),
                    int(item["qos"]),
                    bool(item["retain"]),
                )
            except (KeyError, TypeError, ValueError) as err:
                _LOGGER.error("Skipping a malformed message in %s: %s", STORAGE_KEY, err)
                continue
            self._append(message)
            restored += 1
        if restored:
            _LOGGER.info("Restored %d unsent MQTT message(s) from %s", restored, STORAGE_KEY)

    def put(self, topic: str, payload: bytes, qos: int, retain: bool) -> OutboxMessage:
        """Queue a message at the end; drops the oldest when full."""
        message = OutboxMessage(next(self._seq), topic, payload, qos, retain)
        self._append(message)
        self._changed()
        return message

    def _append(self, message: OutboxMessage) -> None:
        if self.max_messages and len(self._messages) >= self.max_messages:
            dropped = self._messages.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                _LOGGER.warning(
                    "MQTT outbox full (%d messages): dropped the oldest, to %s (%d dropped)",
                    self.max_messages,
                    dropped.topic,
                    self.dropped,
                )
        self._messages.append(message)

    def head(self, count: int) -> list[OutboxMessage]:
        """The first ``count`` messages, oldest first, without removing them."""
        return list(itertools.islice(self._messages, count))

    def acknowledge(self, messages: list[OutboxMessage]) -> None:
        """Remove messages the broker acknowledged (they may have been dropped meanwhile)."""
        done = {message.seq for message in messages}
        if not done:
            return
        before = len(self._messages)
        # Acknowledged messages are nearly always at the head: pop them without a rebuild.
        while self._messages and self._messages[0].seq in done:
            done.discard(self._messages.popleft().seq)
        if done:
            self._messages = deque(m for m in self._messages if m.seq not in done)
        self.delivered += before - len(self._messages)
        self._changed()

    def _changed(self) -> None:
        if self._store is not None:
            self._store.schedule_save(self._data, SAVE_DELAY)
        if self._on_change is not None:
            self._on_change()

    def _data(self) -> dict[str, Any]:
        return {"messages": [message.as_dict() for message in self._messages]}

    async def flush(self) -> None:
        """Write the outbox to disk now (at stop)."""
        if self._store is not None:
            await self._store.save(self._data())
