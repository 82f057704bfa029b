"""``tuya.discover``: listen to the devices' UDP broadcasts for a while and list what answered.

Tuya devices announce themselves every few seconds: 3.1 devices in plain JSON on UDP 6666,
3.3 and later encrypted on 6667 (AES with the well-known key MD5("yGAdlopoPVldABfn")), and 3.5
devices answer a solicitation broadcast to UDP 7000 (a 6699 frame) with a unicast to 7000.
tinytuya's ``decrypt_udp`` reads all three forms. Input is bounded: datagrams over
``DISCOVERY_MAX_DATAGRAM`` bytes are dropped unread, at most ``DISCOVERY_MAX_DATAGRAMS`` are
looked at per call and ``DISCOVERY_MAX_DEVICES`` kept; anything that does not decode to an
announcement (a JSON object with a string ``gwId`` and ``ip``) is counted as malformed and
ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from tinytuya import REQ_DEVINFO, TuyaMessage, pack_message
from tinytuya import header as H
from tinytuya.core.udp_helper import decrypt_udp, encrypt, udpkey

from .const import DISCOVERY_MAX_DATAGRAM, DISCOVERY_MAX_DATAGRAMS, DISCOVERY_MAX_DEVICES
from .schema import DiscoveryConfig

_LOGGER = logging.getLogger(__name__)


@dataclass
class DiscoveryResult:
    """What one discovery heard."""

    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    datagrams: int = 0
    malformed: int = 0
    oversized: int = 0
    dropped: int = 0

    def as_response(self) -> dict[str, Any]:
        """The service's response data."""
        return {
            "devices": sorted(self.devices.values(), key=lambda d: (d["ip"], d["device_id"])),
            "datagrams": self.datagrams,
            "malformed": self.malformed,
            "oversized": self.oversized,
            "dropped": self.dropped,
        }


def parse_announcement(data: bytes, port: int) -> dict[str, Any] | None:
    """The device an announcement describes, or None when it is not one."""
    try:
        text = decrypt_udp(data)
        message = json.loads(text)
    except Exception:
        return None
    if not isinstance(message, dict):
        return None
    device_id, ip = message.get("gwId"), message.get("ip")
    if not isinstance(device_id, str) or not isinstance(ip, str):
        return None
    if not (0 < len(device_id) <= 64 and 0 < len(ip) <= 64):
        return None
    version = message.get("version")
    product_key = message.get("productKey")
    return {
        "device_id": device_id,
        "ip": ip,
        "version": version if isinstance(version, str) and len(version) <= 8 else None,
        "product_key": product_key if isinstance(product_key, str) else None,
        "encrypted": port != 6666,
    }


class _Listener(asyncio.DatagramProtocol):
    """Counts and parses the datagrams of one port into the shared result."""

    def __init__(self, result: DiscoveryResult, port: int, full: asyncio.Event, own: bytes) -> None:
        self.result = result
        self.port = port
        self.full = full
        self.own = own

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        result = self.result
        if result.datagrams >= DISCOVERY_MAX_DATAGRAMS:
            result.dropped += 1
            self.full.set()
            return
        if data == self.own:
            return  # our own solicitation, heard back on the app port
        result.datagrams += 1
        if len(data) > DISCOVERY_MAX_DATAGRAM:
            result.oversized += 1
            return
        device = parse_announcement(data, self.port)
        if device is None:
            result.malformed += 1
            return
        if device["device_id"] in result.devices:
            return
        if len(result.devices) >= DISCOVERY_MAX_DEVICES:
            result.dropped += 1
            return
        result.devices[device["device_id"]] = device


def solicitation(ip: str) -> bytes:
    """The 3.5 discovery request an app broadcasts to UDP 7000, framed by tinytuya."""
    body = json.dumps({"from": "app", "ip": ip}).encode()
    msg = TuyaMessage(0, REQ_DEVINFO, None, body, 0, True, H.PREFIX_6699_VALUE, True)
    return bytes(pack_message(msg, hmac_key=udpkey))


async def discover(config: DiscoveryConfig, duration: float) -> DiscoveryResult:
    """Listen on the three ports for ``duration`` seconds; solicit 3.5 devices once a second."""
    loop = asyncio.get_running_loop()
    result = DiscoveryResult()
    full = asyncio.Event()
    transports: list[asyncio.DatagramTransport] = []
    ports = (
        (config.plain_port, 6666),
        (config.encrypted_port, 6667),
        (config.app_port, 7000),
    )
    request = solicitation(config.bind)
    try:
        for port, kind in ports:
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    functools.partial(_Listener, result, kind, full, request),
                    local_addr=(config.bind, port),
                    reuse_port=True,
                    allow_broadcast=True,
                )
            except OSError as err:
                _LOGGER.warning("tuya.discover: cannot listen on UDP %s: %s", port, err)
                continue
            transports.append(transport)
        app = next(
            (t for t in transports if t.get_extra_info("sockname")[1] == config.app_port), None
        )
        deadline = loop.time() + duration
        while (remaining := deadline - loop.time()) > 0 and not full.is_set():
            if app is not None:
                with contextlib.suppress(OSError):
                    app.sendto(request, (config.broadcast, config.app_port))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(1.0, remaining)):
                    await full.wait()
    finally:
        for transport in transports:
            transport.close()
    return result


def announcement(device_id: str, ip: str, version: float, product_key: str = "keyabc") -> bytes:
    """The broadcast a device of ``version`` sends (for tests and the simulator's plugs)."""
    body = json.dumps(
        {
            "ip": ip,
            "gwId": device_id,
            "active": 2,
            "ability": 0,
            "mode": 0,
            "encrypt": version >= 3.3,
            "productKey": product_key,
            "version": f"{version:.1f}",
        }
    ).encode()
    if version >= 3.5:
        msg = TuyaMessage(0, 0x13, 0, body, 0, True, H.PREFIX_6699_VALUE, True)
        return bytes(pack_message(msg, hmac_key=udpkey))
    if version >= 3.2:
        body = bytes(encrypt(body, udpkey))
    retcode = b"\x00\x00\x00\x00"
    msg = TuyaMessage(0, 0x13, 0, retcode + body, 0, True, H.PREFIX_55AA_VALUE, False)
    return bytes(pack_message(msg))
