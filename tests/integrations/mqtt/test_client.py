"""The connection against real Mosquitto brokers: birth and will, dispatch, outage and outbox,
refused credentials, TLS and protocol 5."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import aiomqtt
import pytest

from integrations.mqtt.client import backoff_delay
from integrations.mqtt.setup import get_hub
from integrations.mqtt.topics import ReceivedMessage
from tests._helpers import wait_for
from tests.integrations.mqtt.certs import Certificates, make_certificates
from tests.integrations.mqtt.conftest import RuntimeFactory
from tests.integrations.mqtt.peers import (
    WAIT,
    device_client,
    make_password_file,
    private_broker,
    state_of,
)

CONNECTIVITY = "binary_sensor.mqtt_broker"

pytestmark = pytest.mark.usefixtures("shared_broker")


def test_backoff_doubles_within_jitter_and_stops_at_the_maximum() -> None:
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (3, 8.0), (10, 60.0), (500, 60.0)]:
        for _ in range(20):
            assert ceiling / 2 <= backoff_delay(attempt, 1.0, 60.0) <= ceiling


async def test_birth_after_subscribing_and_connectivity_entity(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    async with device_client() as device:
        await device.subscribe(f"{prefix}/status")
        async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}\n") as runtime:
            message = await asyncio.wait_for(anext(aiter(device.messages)), WAIT)
            assert message.payload == b"online"
            await wait_for(lambda: state_of(runtime, CONNECTIVITY) == "on", "connected")
            state = runtime.states.get(CONNECTIVITY)
            assert state is not None
            assert state.attributes["device_class"] == "connectivity"
            metrics = runtime.metrics.render().decode()
            assert "mqtt_connected 1.0" in metrics
            assert "mqtt_connections_total 1.0" in metrics
            assert "mqtt_outbox_messages 0.0" in metrics
        # A clean stop says goodbye with the will payload.
        message = await asyncio.wait_for(anext(aiter(device.messages)), WAIT)
        assert message.payload == b"offline"


async def test_dispatch_by_exact_topic_and_by_wildcards(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}/ha\n") as runtime:
        hub = get_hub(runtime)
        await asyncio.wait_for(hub.wait_connected(), WAIT)
        got: dict[str, list[str]] = {"exact": [], "plus": [], "hash": [], "other": []}

        def collect(name: str) -> object:
            def on_message(message: ReceivedMessage) -> None:
                got[name].append(message.topic)

            return on_message

        await hub.subscribe(f"{prefix}/a/b", collect("exact"))  # type: ignore[arg-type]
        await hub.subscribe(f"{prefix}/+/b", collect("plus"))  # type: ignore[arg-type]
        unsub_hash = await hub.subscribe(f"{prefix}/#", collect("hash"))  # type: ignore[arg-type]
        await hub.subscribe(f"{prefix}/x/y", collect("other"))  # type: ignore[arg-type]
        async with device_client() as device:
            for topic in ("a/b", "c/b", "a/c", "a/b/c"):
                await device.publish(f"{prefix}/{topic}", b"1", qos=1)
        await wait_for(lambda: len(got["hash"]) == 4, "four messages on #")
        assert got["exact"] == [f"{prefix}/a/b"]
        assert sorted(got["plus"]) == [f"{prefix}/a/b", f"{prefix}/c/b"]
        assert got["other"] == []
        unsub_hash()
        async with device_client() as device:
            await device.publish(f"{prefix}/a/b", b"2", qos=1)
        await wait_for(lambda: len(got["exact"]) == 2, "the second exact message")
        assert len(got["hash"]) == 4


async def test_invalid_topics_are_refused_with_the_reason(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}\n") as runtime:
        hub = get_hub(runtime)
        with pytest.raises(ValueError, match="'#' must be the whole last level"):
            await hub.subscribe(f"{prefix}/#/x", lambda m: None)
        with pytest.raises(ValueError, match="wildcards"):
            await hub.publish(f"{prefix}/+/x", "1")
        with pytest.raises(ValueError, match="NUL"):
            await hub.publish(f"{prefix}/a\0b", "1")


async def test_outage_keeps_qos1_messages_and_delivers_them_after_reconnect(
    mqtt_runtime: RuntimeFactory, prefix: str, tmp_path: Path
) -> None:
    with private_broker(tmp_path / "broker") as broker:
        yaml = (
            f"mqtt:\n  broker: 127.0.0.1\n  port: {broker.port}\n  discovery_prefix: {prefix}\n"
            "  reconnect: {min_delay: 0.05, max_delay: 0.5}\n"
            "  sensor:\n"
            f"    - {{name: Stream, unique_id: stream1, state_topic: {prefix}/stream}}\n"
        )
        async with mqtt_runtime(yaml) as runtime:
            hub = get_hub(runtime)
            await asyncio.wait_for(hub.wait_connected(), WAIT)
            async with device_client(broker.port) as device:
                for value in range(20):
                    await device.publish(f"{prefix}/stream", str(value).encode(), qos=1)
            await wait_for(lambda: state_of(runtime, "sensor.stream") == "19", "the stream")
            broker.kill()  # the broker vanishes mid-stream
            await wait_for(lambda: state_of(runtime, CONNECTIVITY) == "off", "disconnected")
            assert state_of(runtime, "sensor.stream") == "unavailable"
            for index in range(50):
                await runtime.services.call(
                    "mqtt",
                    "publish",
                    {
                        "topic": f"{prefix}/out/{index}",
                        "payload": str(index),
                        "qos": 1,
                        "retain": True,
                    },
                )
            assert len(hub.outbox) == 50
            broker.start()
            await wait_for(lambda: state_of(runtime, CONNECTIVITY) == "on", "reconnected")
            await wait_for(lambda: len(hub.outbox) == 0, "the outbox to empty")
            received: dict[str, bytes] = {}
            async with device_client(broker.port) as device:
                await device.subscribe(f"{prefix}/out/#", qos=1)
                async with asyncio.timeout(WAIT):
                    async for message in device.messages:
                        received[message.topic.value] = message.payload  # type: ignore[assignment]
                        if len(received) == 50:
                            break
                # Subscriptions came back: the sensor follows the stream again.
                await device.publish(f"{prefix}/stream", b"42", qos=1)
            assert received == {f"{prefix}/out/{i}": str(i).encode() for i in range(50)}
            await wait_for(lambda: state_of(runtime, "sensor.stream") == "42", "resubscribed")
            assert hub.connections == 2


async def test_will_is_published_by_the_broker_when_the_link_breaks(
    mqtt_runtime: RuntimeFactory, prefix: str, tmp_path: Path
) -> None:
    with private_broker(tmp_path / "broker") as broker:
        yaml = (
            f"mqtt:\n  port: {broker.port}\n  discovery_prefix: {prefix}\n"
            "  reconnect: {min_delay: 0.05, max_delay: 0.2}\n"
        )
        async with device_client(broker.port) as device:
            await device.subscribe(f"{prefix}/status")
            async with mqtt_runtime(yaml) as runtime:
                hub = get_hub(runtime)
                await asyncio.wait_for(hub.wait_connected(), WAIT)
                payloads = [b"online"]
                assert (await asyncio.wait_for(anext(aiter(device.messages)), WAIT)).payload == (
                    b"online"
                )
                # Cut the TCP connection under the client: the broker publishes the will.
                assert hub._client is not None
                sock = hub._client._client.socket()
                assert isinstance(sock, socket.socket)
                sock.shutdown(socket.SHUT_RDWR)
                async with asyncio.timeout(WAIT):
                    async for message in device.messages:
                        payloads.append(message.payload)  # type: ignore[arg-type]
                        if len(payloads) == 3:
                            break
                assert payloads == [b"online", b"offline", b"online"]


async def test_refused_credentials_are_reported_and_right_ones_connect(
    mqtt_runtime: RuntimeFactory,
    prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    directory = tmp_path / "broker"
    directory.mkdir()
    passwords = make_password_file(directory / "passwords", "edgewise", "s3cret")
    extra = f"allow_anonymous false\npassword_file {passwords}\n"
    with private_broker(directory, extra=extra) as broker:
        base = (
            f"mqtt:\n  port: {broker.port}\n  discovery_prefix: {prefix}\n"
            "  reconnect: {min_delay: 0.05, max_delay: 0.2}\n  username: edgewise\n"
        )
        with caplog.at_level(logging.ERROR, logger="integrations.mqtt.client"):
            async with mqtt_runtime(base + "  password: wrong\n") as runtime:
                hub = get_hub(runtime)
                await wait_for(lambda: hub.attempt >= 3, "a few refused attempts")
                assert state_of(runtime, CONNECTIVITY) == "off"
                assert hub.last_error is not None
                assert "not authori" in hub.last_error.lower()
        refusals = [r for r in caplog.records if "refused" in r.getMessage()]
        assert len(refusals) == 1, "an outage is logged once, not once per attempt"
        assert "wrong" not in caplog.text, "the password is never logged"
        async with mqtt_runtime(base + "  password: s3cret\n") as runtime:
            await wait_for(lambda: state_of(runtime, CONNECTIVITY) == "on", "connected")


async def test_protocol_5_round_trip(mqtt_runtime: RuntimeFactory, prefix: str) -> None:
    yaml = (
        f'mqtt:\n  protocol: "5"\n  discovery_prefix: {prefix}\n  sensor:\n'
        f"    - {{name: Five, state_topic: {prefix}/five}}\n"
    )
    async with mqtt_runtime(yaml) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        async with device_client(protocol=aiomqtt.ProtocolVersion.V5) as device:
            await device.publish(f"{prefix}/five", b"5.5", qos=1)
        await wait_for(lambda: state_of(runtime, "sensor.five") == "5.5", "the v5 message")


def _tls_extra(certs: Certificates, *, require_client_cert: bool) -> str:
    lines = [
        f"cafile {certs.ca}",
        f"certfile {certs.server_cert}",
        f"keyfile {certs.server_key}",
    ]
    if require_client_cert:
        lines.append("require_certificate true")
    return "\n".join(lines) + "\n"


async def test_tls_with_ca_and_client_certificate(
    mqtt_runtime: RuntimeFactory, prefix: str, tmp_path: Path
) -> None:
    certs = make_certificates(tmp_path / "certs", server_names=["127.0.0.1"])
    extra = _tls_extra(certs, require_client_cert=True)
    with private_broker(tmp_path / "broker", extra=extra) as broker:
        yaml = (
            f"mqtt:\n  port: {broker.port}\n  discovery_prefix: {prefix}\n"
            f"  certificate: {certs.ca}\n  client_cert: {certs.client_cert}\n"
            f"  client_key: {certs.client_key}\n"
        )
        async with mqtt_runtime(yaml) as runtime:
            await wait_for(lambda: state_of(runtime, CONNECTIVITY) == "on", "TLS connection")


async def test_tls_host_name_is_checked_unless_insecure(
    mqtt_runtime: RuntimeFactory, prefix: str, tmp_path: Path
) -> None:
    # The broker's certificate names another host than the 127.0.0.1 we connect to.
    certs = make_certificates(tmp_path / "certs", server_names=["broker.invalid"])
    extra = _tls_extra(certs, require_client_cert=False)
    with private_broker(tmp_path / "broker", extra=extra) as broker:
        yaml = (
            f"mqtt:\n  port: {broker.port}\n  discovery_prefix: {prefix}\n"
            f"  certificate: {certs.ca}\n  reconnect: {{min_delay: 0.05, max_delay: 0.2}}\n"
        )
        async with mqtt_runtime(yaml) as runtime:
            hub = get_hub(runtime)
            await wait_for(lambda: hub.attempt >= 2, "refused TLS attempts")
            assert state_of(runtime, CONNECTIVITY) == "off"
            assert hub.last_error is not None
            assert "certificate" in hub.last_error.lower() or "hostname" in hub.last_error.lower()
        async with mqtt_runtime(yaml + "  tls_insecure: true\n") as runtime:
            await wait_for(lambda: state_of(runtime, CONNECTIVITY) == "on", "insecure TLS")


async def test_a_burst_is_read_in_batches_without_losing_a_message(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    """Thousands of queued packets: the batching reader takes them all, in order."""
    async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}/ha\n") as runtime:
        hub = get_hub(runtime)
        await asyncio.wait_for(hub.wait_connected(), WAIT)
        got: list[bytes] = []
        await hub.subscribe(f"{prefix}/burst", lambda message: got.append(message.payload), 1)
        async with device_client() as device:
            await asyncio.gather(
                *(device.publish(f"{prefix}/burst", str(i).encode(), qos=1) for i in range(3000))
            )
        await wait_for(lambda: len(got) == 3000, "every message of the burst")
        assert got == [str(i).encode() for i in range(3000)]


async def test_persisted_outbox_survives_a_restart_and_is_bounded(
    prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Messages queued while the broker is away are kept on disk over a restart; beyond
    max_messages the oldest are dropped, counted and logged."""
    from tests.integrations._runtime import running
    from tests.integrations.mqtt.conftest import HEADER, START

    site = tmp_path / "site"
    site.mkdir()
    with private_broker(tmp_path / "broker") as broker:
        yaml = HEADER + (
            f"mqtt:\n  port: {broker.port}\n  discovery_prefix: {prefix}\n"
            "  reconnect: {min_delay: 0.05, max_delay: 0.2}\n"
            "  outbox: {max_messages: 5, persist: true}\n"
        )
        broker.kill()
        async with running(site, yaml, START) as runtime:
            hub = get_hub(runtime)
            for index in range(8):
                await hub.publish(f"{prefix}/kept/{index}", str(index), qos=1, retain=True)
            assert len(hub.outbox) == 5
            assert hub.outbox.dropped == 3
        assert "MQTT outbox full (5 messages): dropped the oldest" in caplog.text
        assert (site / ".storage" / "mqtt.outbox").exists()
        broker.start()
        async with running(site, yaml, START) as runtime:
            hub = get_hub(runtime)
            await wait_for(lambda: hub.connected and len(hub.outbox) == 0, "the outbox sent")
        received: dict[str, bytes] = {}
        async with device_client(broker.port) as device:
            await device.subscribe(f"{prefix}/kept/#", qos=1)
            async with asyncio.timeout(WAIT):
                async for message in device.messages:
                    received[message.topic.value] = message.payload  # type: ignore[assignment]
                    if len(received) == 5:
                        break
        assert received == {f"{prefix}/kept/{i}": str(i).encode() for i in range(3, 8)}
