"""The connection to the broker: connect, reconnect, subscribe, publish, dispatch.

``MqttHub`` owns one aiomqtt client at a time. It reconnects with jittered exponential backoff
(``reconnect.min_delay`` doubling up to ``reconnect.max_delay``), subscribes again to every
filter after a reconnect, publishes the birth message once subscribed (so devices that answer
it with their discovery are heard), and leaves a will message with the broker.

Received messages are not queued: a queue class handed to aiomqtt dispatches each message, on
the loop, straight from the socket reader through the ``SubscriptionTable``. QoS 1/2 messages
go through the ``Outbox`` and are sent, in order, whenever the broker is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import select
import ssl
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import aiomqtt

from core import callback

from .const import (
    EVENT_MQTT_CONNECTED,
    EVENT_MQTT_DISCONNECTED,
    NETWORK_TIMEOUT,
    PROTOCOL_5,
    SUBSCRIBE_BATCH,
)
from .outbox import Outbox, OutboxMessage
from .schema import MqttConfig, TlsConfig
from .topics import (
    MessageCallback,
    ReceivedMessage,
    Subscription,
    SubscriptionTable,
    topic_problem,
)

if TYPE_CHECKING:
    from core import Runtime

_LOGGER = logging.getLogger(__name__)

#: Outbox messages in flight at once (paho's own in-flight window is 20).
OUTBOX_WINDOW: Final = 20
#: QoS 0 messages waiting for the sender task at most; beyond, the oldest are dropped.
QOS0_QUEUE: Final = 10_000
#: Packets read per wake-up of the socket reader, at most (see ``_BatchReadingClient``).
READ_BATCH: Final = 256

Unsubscribe = Callable[[], None]
Payload = str | bytes | bytearray | int | float | None


class HubState(StrEnum):
    """Where the connection is."""

    NOT_STARTED = "not_started"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


def encode_payload(payload: Payload) -> bytes:
    """The bytes of a payload: strings as UTF-8, numbers as their text, None as empty."""
    if payload is None:
        return b""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, bytearray):
        return bytes(payload)
    return str(payload).encode("utf-8")


def backoff_delay(attempt: int, min_delay: float, max_delay: float) -> float:
    """The wait before reconnect attempt ``attempt`` (0-based): doubled each time, jittered.

    The delay is drawn between half and all of ``min_delay * 2**attempt`` (capped at
    ``max_delay``), so a fleet of sites that lost the same broker does not come back in step.
    """
    ceiling = min(max_delay, min_delay * (2 ** min(attempt, 30)))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography


def make_tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """An SSL context for the broker; blocking (reads files), run it in the executor.

    Raises:
        OSError, ssl.SSLError: a certificate or key cannot be read.
    """
    cafile = None if tls.certificate == "auto" else tls.certificate
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if tls.client_cert is not None:
        context.load_cert_chain(tls.client_cert, tls.client_key)
    if tls.insecure:
        # As in Home Assistant: the certificate chain is still checked, not the host name.
        context.check_hostname = False
    return context


_CONNECTED: Final = HubState.CONNECTED


class MqttHub:
    """The connection owner: one broker, its subscriptions, its outbox.

    ``async with hub:`` starts it and stops it; it is not re-entrant. Every method runs on the
    event loop.
    """

    def __init__(self, runtime: Runtime, config: MqttConfig, outbox: Outbox) -> None:
        self.runtime = runtime
        self.config = config
        self.outbox = outbox
        self.state = HubState.NOT_STARTED
        self.table = SubscriptionTable()
        #: Reconnect attempts since the last successful connection.
        self.attempt = 0
        #: Successful connections since start.
        self.connections = 0
        #: Messages received and dispatched since start.
        self.received = 0
        #: QoS 0 messages dropped because too many were waiting to be sent.
        self.qos0_dropped = 0
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._outbox_task: asyncio.Task[None] | None = None
        self._outbox_wake = asyncio.Event()
        self._qos0: deque[tuple[str, bytes, bool]] = deque()
        self._qos0_task: asyncio.Task[None] | None = None
        self._qos0_wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._connected_event = asyncio.Event()
        self._to_subscribe: dict[str, int] = {}
        self._to_unsubscribe: set[str] = set()
        self._sub_task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[bool], None]] = []
        self._tls_context: ssl.SSLContext | None = None
        self._failure_logged = False
        self._qos0_dropped_logged = False
        self.last_error: str | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the broker has accepted the connection and it has not dropped since."""
        # Asked for every state write of every MQTT entity: a module constant, not an enum lookup.
        return self.state is _CONNECTED

    async def __aenter__(self) -> MqttHub:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start connecting in the background; returns at once (the broker may be away).

        Raises:
            RuntimeError: the hub was started before.
            OSError, ssl.SSLError: the TLS files cannot be read.
        """
        if self.state is not HubState.NOT_STARTED:
            raise RuntimeError(f"MQTT hub {self.config.name} cannot start from {self.state}")
        if self.config.tls is not None:
            self._tls_context = await self.runtime.run_in_executor(
                make_tls_context, self.config.tls
            )
        self.state = HubState.CONNECTING
        self._task = self.runtime.create_task(
            self._run(), name=f"mqtt[{self.config.name}].connection"
        )

    async def stop(self) -> None:
        """Say goodbye (the will payload, as a clean stop does not trigger the will), disconnect.

        Waits at most ``NETWORK_TIMEOUT`` for the goodbye and the disconnect.
        """
        if self.state in (HubState.NOT_STARTED, HubState.STOPPED):
            self.state = HubState.STOPPED
            return
        self._stop.set()
        client = self._client
        will = self.config.will
        if client is not None and self.connected and will is not None:
            try:
                await client.publish(
                    will.topic, will.payload, qos=will.qos, retain=will.retain, timeout=2.0
                )
            except aiomqtt.MqttError as err:
                _LOGGER.debug("Could not publish the will message at stop: %s", err)
        if self._task is not None:
            try:
                async with asyncio.timeout(NETWORK_TIMEOUT):
                    await self._task
            except TimeoutError:
                _LOGGER.warning("MQTT %s did not disconnect in time", self.config.name)
                self._task.cancel()
        self.state = HubState.STOPPED

    async def wait_connected(self) -> None:
        """Wait until the hub is connected (and has subscribed again); bound it yourself."""
        await self._connected_event.wait()

    @callback
    def add_connection_listener(self, listener: Callable[[bool], None]) -> Unsubscribe:
        """Call ``listener(connected)`` whenever the connection comes or goes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # --- the connection loop -------------------------------------------------------------------

    def _make_client(self) -> aiomqtt.Client:
        config = self.config
        will = config.will
        client = _BatchReadingClient(
            config.broker,
            config.port,
            username=config.username,
            password=config.password,
            identifier=config.client_id,
            protocol=(
                aiomqtt.ProtocolVersion.V5
                if config.protocol == PROTOCOL_5
                else aiomqtt.ProtocolVersion.V311
            ),
            will=(
                aiomqtt.Will(will.topic, will.payload, will.qos, will.retain)
                if will is not None
                else None
            ),
            keepalive=config.keepalive,
            timeout=NETWORK_TIMEOUT,
            tls_context=self._tls_context,
            queue_type=_dispatch_queue(self._dispatch),
        )
        # The outbox keeps a window of publishes in flight; aiomqtt warns above 10 by default.
        client.pending_calls_threshold = OUTBOX_WINDOW * 5
        return client

    async def _run(self) -> None:
        """Connect, serve until the connection drops, wait, and again; until ``stop``."""
        while not self._stop.is_set():
            self.state = HubState.CONNECTING
            try:
                client = self._make_client()
                async with client:
                    self._client = client
                    await self._serve(client)
            except aiomqtt.MqttError as err:
                self._connection_failed(err)
            except OSError as err:
                self._connection_failed(err)
            finally:
                self._client = None
                self._disconnected()
            if self._stop.is_set():
                break
            delay = backoff_delay(
                self.attempt, self.config.reconnect_min_delay, self.config.reconnect_max_delay
            )
            self.attempt += 1
            _LOGGER.debug("Reconnecting to MQTT %s in %.2f s", self.config.name, delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Subscribe, say hello, send the outbox; return on stop, raise when the link drops."""
        if self._failure_logged:
            _LOGGER.info("Connected to MQTT %s again", self.config.name)
        else:
            _LOGGER.info("Connected to MQTT %s", self.config.name)
        self._failure_logged = False
        self.last_error = None
        self.attempt = 0
        self.connections += 1
        self._to_unsubscribe.clear()
        self._to_subscribe = self.table.filters()
        await self._send_subscriptions(client)
        if (birth := self.config.birth) is not None:
            await client.publish(birth.topic, birth.payload, qos=birth.qos, retain=birth.retain)
        self.state = HubState.CONNECTED
        self._connected_event.set()
        # Subscriptions made while the first ones were in flight (retained messages arrive at
        # once, and a discovered entity subscribes to its own topics) go out now.
        self._schedule_subscriptions()
        self._outbox_task = self.runtime.create_task(
            self._send_outbox(client), name=f"mqtt[{self.config.name}].outbox"
        )
        self._qos0_task = self.runtime.create_task(
            self._send_qos0(client), name=f"mqtt[{self.config.name}].publish"
        )
        self._notify(True)
        self.runtime.bus.fire(EVENT_MQTT_CONNECTED, {"broker": self.config.name})
        # The queue never holds a message (they are dispatched as they come), so this loop
        # only ends by raising MqttError when the connection drops.
        listen = asyncio.ensure_future(_until_disconnected(client))
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({listen, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not listen.done():
                listen.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listen
        # A dropped link raises here; a stop returns and lets the client disconnect cleanly.
        if listen.done() and not listen.cancelled() and (err := listen.exception()) is not None:
            raise err

    def _connection_failed(self, err: Exception) -> None:
        self.last_error = str(err) or type(err).__name__
        if not self._failure_logged:
            self._failure_logged = True
            _LOGGER.error(
                "Connection to MQTT %s lost or refused: %s (retrying)",
                self.config.name,
                self.last_error,
            )
        else:
            _LOGGER.debug("MQTT %s still unreachable: %s", self.config.name, self.last_error)

    def _disconnected(self) -> None:
        for task in (self._outbox_task, self._qos0_task):
            if task is not None:
                task.cancel()
        self._outbox_task = self._qos0_task = None
        self._qos0.clear()
        if self._sub_task is not None and not self._sub_task.done():
            self._sub_task.cancel()
        self._sub_task = None
        self._qos0_dropped_logged = False
        was_connected = self.state is HubState.CONNECTED
        self.state = HubState.DISCONNECTED
        self._connected_event.clear()
        if was_connected:
            self._notify(False)
            self.runtime.bus.fire(EVENT_MQTT_DISCONNECTED, {"broker": self.config.name})

    def _notify(self, connected: bool) -> None:
        for listener in list(self._listeners):
            try:
                listener(connected)
            except Exception:  # an isolation boundary: one listener only
                _LOGGER.exception("Error in MQTT connection listener %r", listener)

    # --- receiving -----------------------------------------------------------------------------

    def _dispatch(self, message: aiomqtt.Message) -> None:
        """Hand a received message to every matching subscriber. Runs on the loop.

        It runs inside aiomqtt's socket reader: an exception escaping here would drop the
        connection, so each subscriber is isolated.
        """
        self.received += 1
        topic = message.topic.value
        payload = message.payload
        if not isinstance(payload, bytes):
            payload = encode_payload(payload)
        for subscription in self.table.match(topic):
            try:
                subscription.callback(
                    ReceivedMessage(
                        topic, payload, message.qos, message.retain, subscription.topic_filter
                    )
                )
            except Exception:  # an isolation boundary: one subscriber of one message
                _LOGGER.exception(
                    "Error handling MQTT message on %s by %r", topic, subscription.callback
                )

    # --- subscribing ---------------------------------------------------------------------------

    async def subscribe(
        self,
        topic_filter: str,
        message_callback: MessageCallback,
        qos: int = 0,
    ) -> Unsubscribe:
        """Subscribe ``message_callback`` to ``topic_filter``; returns its unsubscribe.

        When connected, returns once the broker has acknowledged the subscription (several
        subscriptions made at once share one SUBSCRIBE). When not, the subscription is made on
        connect. The callback runs on the loop, must not block, and gets a ``ReceivedMessage``.

        Raises:
            ValueError: ``topic_filter`` is not a valid topic filter.
        """
        unsubscribe = self.subscribe_soon(topic_filter, message_callback, qos)
        task = self._sub_task
        if task is not None and not task.done():
            # The flush logs its own failures; a reconnect subscribes again anyway.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(task)
        return unsubscribe

    @callback
    def subscribe_soon(
        self,
        topic_filter: str,
        message_callback: MessageCallback,
        qos: int = 0,
    ) -> Unsubscribe:
        """Like ``subscribe``, without waiting for the broker. Must run on the loop.

        Raises:
            ValueError: ``topic_filter`` is not a valid topic filter.
        """
        if (problem := topic_problem(topic_filter, wildcards=True)) is not None:
            raise ValueError(problem)
        subscription = Subscription(topic_filter, message_callback, qos)
        before = self.table.qos_of(topic_filter)
        first = self.table.add(subscription)
        if first or qos > before:
            self._to_unsubscribe.discard(topic_filter)
            self._to_subscribe[topic_filter] = max(qos, before)
            self._schedule_subscriptions()

        @callback
        def unsubscribe() -> None:
            if self.table.remove(subscription) and not self._stop.is_set():
                self._to_subscribe.pop(topic_filter, None)
                self._to_unsubscribe.add(topic_filter)
                self._schedule_subscriptions()

        return unsubscribe

    def _schedule_subscriptions(self) -> None:
        client = self._client
        if client is None or self.state is not HubState.CONNECTED:
            return  # sent on connect
        if not (self._to_subscribe or self._to_unsubscribe):
            return
        if self._sub_task is None or self._sub_task.done():
            self._sub_task = self.runtime.create_task(
                self._send_subscriptions_soon(client),
                name=f"mqtt[{self.config.name}].subscribe",
            )

    async def _send_subscriptions_soon(self, client: aiomqtt.Client) -> None:
        # One loop turn, so that the subscriptions made together go out together.
        await asyncio.sleep(0)
        try:
            await self._send_subscriptions(client)
        except aiomqtt.MqttError as err:
            # The connection is going; the next connect subscribes to every filter.
            _LOGGER.debug("Subscribing on MQTT %s failed: %s", self.config.name, err)

    async def _send_subscriptions(self, client: aiomqtt.Client) -> None:
        """Send the pending SUBSCRIBE/UNSUBSCRIBE packets, in batches."""
        while self._to_subscribe or self._to_unsubscribe:
            if self._to_unsubscribe:
                batch_out = list(self._to_unsubscribe)[:SUBSCRIBE_BATCH]
                self._to_unsubscribe.difference_update(batch_out)
                await client.unsubscribe(batch_out, timeout=NETWORK_TIMEOUT)
                continue
            batch = list(self._to_subscribe.items())[:SUBSCRIBE_BATCH]
            for topic_filter, _ in batch:
                del self._to_subscribe[topic_filter]
            result = await client.subscribe(batch, timeout=NETWORK_TIMEOUT)
            self._check_granted(batch, result)

    def _check_granted(self, batch: list[tuple[str, int]], result: Any) -> None:
        """Log each filter the broker refused (SUBACK code 0x80 or above)."""
        for (topic_filter, _), granted in zip(batch, result, strict=False):
            code = getattr(granted, "value", granted)
            if isinstance(code, int) and code >= 0x80:
                _LOGGER.error(
                    "MQTT %s refused the subscription to %s: %s",
                    self.config.name,
                    topic_filter,
                    granted,
                )

    # --- publishing ----------------------------------------------------------------------------

    async def publish(
        self, topic: str, payload: Payload, qos: int = 0, retain: bool = False
    ) -> OutboxMessage | None:
        """Publish a message.

        QoS 0 is sent now, or dropped (logged once per outage) when the broker is away. QoS 1
        and 2 enter the outbox and are sent in order, now or after the next connect; the
        returned ``OutboxMessage`` is what waits there.

        Raises:
            ValueError: ``topic`` is not a valid topic to publish to, or ``qos`` is not 0-2.
        """
        data, message = self._accept(topic, payload, qos, retain)
        if message is not None:
            return message
        client = self._client
        if client is None or not self.connected:
            self._drop_qos0(topic)
            return None
        try:
            await client.publish(topic, data, qos=0, retain=retain, timeout=NETWORK_TIMEOUT)
        except aiomqtt.MqttError as err:
            _LOGGER.warning("Publishing to %s on MQTT %s failed: %s", topic, self.config.name, err)
        return None

    @callback
    def publish_nowait(
        self, topic: str, payload: Payload, qos: int = 0, retain: bool = False
    ) -> None:
        """Like ``publish``, for callbacks on the loop: QoS 0 is queued for a sender task.

        Raises:
            ValueError: ``topic`` is not a valid topic to publish to, or ``qos`` is not 0-2.
        """
        data, message = self._accept(topic, payload, qos, retain)
        if message is not None:
            return
        if self.connected:
            if len(self._qos0) >= QOS0_QUEUE:
                self._qos0.popleft()
                self.qos0_dropped += 1
                if self.qos0_dropped == 1 or self.qos0_dropped % 10_000 == 0:
                    _LOGGER.warning(
                        "MQTT %s: more than %d QoS 0 messages waiting; dropped the oldest "
                        "(%d so far)",
                        self.config.name,
                        QOS0_QUEUE,
                        self.qos0_dropped,
                    )
            self._qos0.append((topic, data, retain))
            self._qos0_wake.set()
        else:
            self._drop_qos0(topic)

    def _accept(
        self, topic: str, payload: Payload, qos: int, retain: bool
    ) -> tuple[bytes, OutboxMessage | None]:
        """Check and encode a message to publish; QoS 1 and 2 go into the outbox here.

        Returns:
            The encoded payload, and the outbox entry (None for QoS 0, which the caller sends).

        Raises:
            ValueError: ``topic`` is not a valid topic to publish to, or ``qos`` is not 0-2.
        """
        if (problem := topic_problem(topic, wildcards=False)) is not None:
            raise ValueError(problem)
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {qos!r}")
        data = encode_payload(payload)
        if qos == 0:
            return data, None
        message = self.outbox.put(topic, data, qos, retain)
        self._outbox_wake.set()
        return data, message

    def _drop_qos0(self, topic: str) -> None:
        if not self._qos0_dropped_logged:
            self._qos0_dropped_logged = True
            _LOGGER.warning(
                "MQTT %s is not connected: dropping QoS 0 message(s) to %s (use qos 1 to "
                "queue them)",
                self.config.name,
                topic,
            )

    async def _send_qos0(self, client: aiomqtt.Client) -> None:
        """Send the QoS 0 messages queued by ``publish_nowait``, in order."""
        queue = self._qos0
        while True:
            if not queue:
                self._qos0_wake.clear()
                await self._qos0_wake.wait()
                continue
            topic, data, retain = queue.popleft()
            try:
                await client.publish(topic, data, qos=0, retain=retain, timeout=NETWORK_TIMEOUT)
            except aiomqtt.MqttError as err:
                _LOGGER.debug("Publishing to %s failed: %s", topic, err)

    async def _send_outbox(self, client: aiomqtt.Client) -> None:
        """Send what waits in the outbox while connected, a window at a time, in order."""
        while True:
            batch = self.outbox.head(OUTBOX_WINDOW)
            if not batch:
                self._outbox_wake.clear()
                await self._outbox_wake.wait()
                continue
            results = await asyncio.gather(
                *(
                    client.publish(
                        m.topic, m.payload, qos=m.qos, retain=m.retain, timeout=NETWORK_TIMEOUT
                    )
                    for m in batch
                ),
                return_exceptions=True,
            )
            acked = [m for m, result in zip(batch, results, strict=True) if result is None]
            self.outbox.acknowledge(acked)
            if len(acked) < len(batch):
                failure = next(r for r in results if r is not None)
                _LOGGER.debug("Outbox send on MQTT %s failed: %s", self.config.name, failure)
                # The connection is most likely going; if not, try again shortly.
                await asyncio.sleep(1.0)


class _BatchReadingClient(aiomqtt.Client):
    """aiomqtt's client, handling up to ``READ_BATCH`` packets per wake-up of its reader.

    aiomqtt reads one packet per event-loop iteration, so at thousands of messages a second the
    loop's own work (a poll of the selector per message) costs about as much as the message.
    This registers, after aiomqtt's own, a reader that goes on reading while the socket has
    data. It extends aiomqtt 2.5's ``_on_socket_open``; ``test_client.py`` pins the behaviour.

    aiomqtt has no public way to read more than one packet per wake-up (its public knobs are
    ``queue_type`` and ``max_queued_incoming_messages``, used for dispatch above), and this is
    the only private part of aiomqtt the hub uses. Measured with ``bench/mqtt.py``: without it
    the Edgewise process spends about 25% more CPU per received message (93-100 µs against
    72-79 µs, same loaded machine, interleaved runs).
    """

    def _on_socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        super()._on_socket_open(client, userdata, sock)
        # One poll object per connection: cheaper per packet than select.select([sock], ...).
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        poll = poller.poll
        pending = getattr(sock, "pending", None)
        loop_read = client.loop_read

        def read() -> None:
            try:
                for _ in range(READ_BATCH):
                    loop_read()
                    if client.socket() is not sock:
                        break  # the connection closed while reading
                    if pending is not None and pending() > 0:
                        continue  # TLS: decrypted bytes wait in the SSL object
                    if not poll(0):
                        break
            except Exception as exc:  # as aiomqtt's reader: a read error ends the connection
                if not self._disconnected.done():
                    self._disconnected.set_exception(exc)

        # Like aiomqtt, from paho's connecting thread: replace the reader it just registered.
        self._loop.call_soon_threadsafe(self._loop.add_reader, sock.fileno(), read)


async def _until_disconnected(client: aiomqtt.Client) -> None:
    async for _ in client.messages:
        pass  # never reached: the dispatch queue keeps nothing


def _dispatch_queue(
    dispatch: Callable[[aiomqtt.Message], None],
) -> type[asyncio.Queue[aiomqtt.Message]]:
    """A queue class for aiomqtt whose ``put_nowait`` dispatches the message instead."""

    class DispatchQueue(asyncio.Queue[aiomqtt.Message]):
        def put_nowait(self, item: aiomqtt.Message) -> None:
            dispatch(item)

    return DispatchQueue
