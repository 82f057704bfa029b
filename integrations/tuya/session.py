"""One Tuya device's session: a persistent connection driven from asyncio with tinytuya's codec.

tinytuya's device API is blocking, but its message layer is not: a ``tinytuya.Device`` object
with no socket builds request payloads (``generate_payload``), frames and encrypts them
(``_encode_message``, with ``pack_message`` and ``AESCipher``), runs the 3.4/3.5 session-key
arithmetic (``_negotiate_session_key_generate_*``) and decrypts and parses replies
(``unpack_message``, ``_decode_payload``). ``TuyaSession`` uses exactly those on an asyncio
stream, so nothing blocks the loop and no framing or crypto is written again here. (The
underscore methods are tinytuya's internal API: the dependency is pinned to 1.20.x and the
device-double tests check both ends against tinytuya's own client.)

A session owns one TCP connection at a time (devices accept one), sends a heartbeat every
``heartbeat_interval``, asks for fresh power readings with UPDATEDPS every ``poll_interval``,
hands every status the device pushes to ``on_dps`` at once, and reconnects with jittered
exponential backoff. A command (``set_dps``) is confirmed only when the device reports the new
values; unconfirmed after ``command_timeout`` it is sent once more, then fails. A wrong or
changed local key (two connections in a row that the key cannot read) stops the session and
calls ``on_key_error`` once, instead of reconnecting for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import tinytuya
from tinytuya import command_types as CT
from tinytuya.core.message_helper import unpack_message

from core import DeviceConnectError, DeviceProtocolError, DeviceTimeout

from .const import (
    BACKOFF_FACTOR,
    BACKOFF_INITIAL,
    BACKOFF_MAX,
    CONNECT_TIMEOUT,
    PROBE_TIMEOUT,
    SILENCE_HEARTBEATS,
    VERSIONS,
)
from .schema import TuyaDeviceConfig
from .wire import read_frame

_LOGGER = logging.getLogger(__name__)

#: tinytuya's error codes that mean "the key cannot read this": payload (904), key/version (914).
_KEY_ERROR_CODES = frozenset({"904", "914"})
#: tinytuya's "invalid JSON response" error code.
_INVALID_JSON = "900"
#: Consecutive connections the key could not read before the session gives up.
_KEY_FAILURES_TO_GIVE_UP = 2


class TuyaKeyError(DeviceProtocolError):
    """The device's frames cannot be read with the local key: wrong, or changed by re-pairing."""


@dataclass(slots=True)
class _Waiter:
    """A command waiting for the device to report the values it set."""

    remaining: dict[str, Any]
    future: asyncio.Future[None]


@dataclass(slots=True)
class _Link:
    """One open connection and the tinytuya codec whose session key belongs to it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    codec: tinytuya.Device
    version: float
    last_rx: float = field(default_factory=time.monotonic)

    def send(self, command: int, data: Any = None) -> None:
        """Build, encrypt and frame ``command`` with tinytuya, then write it."""
        payload = self.codec.generate_payload(command, data)
        self.writer.write(self.codec._encode_message(payload))  # noqa: SLF001 - tinytuya codec

    def close(self) -> None:
        self.writer.close()


def _closed_at_once(name: str) -> DeviceConnectError:
    return DeviceConnectError(
        f"{name} closed the connection at once: a device accepts one connection, "
        "is the Tuya app or another client connected to it?",
        device=name,
    )


OnDps = Callable[[dict[str, Any]], None]
OnAvailable = Callable[[bool], None]
OnKeyError = Callable[[TuyaKeyError], None]


class TuyaSession:
    """The persistent session with one device. Runs on the event loop.

    Args:
        config: the device.
        on_dps: called with every data-point report (the first full status, then pushes).
        on_available: called when the device becomes reachable or is lost.
        on_key_error: called once when the key cannot read the device; the session has stopped.
    """

    def __init__(
        self,
        config: TuyaDeviceConfig,
        *,
        on_dps: OnDps,
        on_available: OnAvailable,
        on_key_error: OnKeyError,
        power_dps: Callable[[], list[int]] = list,
    ) -> None:
        self.config = config
        self._on_dps = on_dps
        self._on_available = on_available
        self._on_key_error = on_key_error
        self._power_dps = power_dps
        #: The protocol version in use: the configured one, or the one detected.
        self.version: float | None = config.version
        self._link: _Link | None = None
        self._connected = asyncio.Event()
        self._waiters: list[_Waiter] = []
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        #: How often the session has connected (1 after the first connection), for diagnostics.
        self.connects = 0
        self.last_error: str | None = None
        #: Set when the session stopped because the key cannot read the device.
        self.gave_up = asyncio.Event()

    @property
    def name(self) -> str:
        """The device's name, for logs and errors."""
        return self.config.title

    @property
    def available(self) -> bool:
        """Whether the device is connected."""
        return self._link is not None

    def start(self) -> None:
        """Start connecting in the background."""
        if self._task is not None:
            raise RuntimeError(f"tuya session {self.name} already started")
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"tuya[{self.config.device_id}].session"
        )

    async def stop(self) -> None:
        """Close the connection and stop reconnecting; waiting commands fail."""
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._fail_waiters(DeviceConnectError("session stopped", device=self.name))

    # --- commands -------------------------------------------------------------------------------

    async def set_dps(self, dps: Mapping[str, Any]) -> None:
        """Set data points and wait until the device reports them back.

        Sent once more when unconfirmed after ``command_timeout`` (or when the connection
        dropped meanwhile and came back in time).

        Raises:
            DeviceTimeout: the device did not confirm twice.
            DeviceConnectError: the device is not connected.
        """
        timeout = self.config.command_timeout
        wanted = {str(dp): value for dp, value in dps.items()}
        last: Exception = DeviceTimeout(
            f"{self.name} did not confirm {wanted} twice",
            device=self.name,
            address=",".join(wanted),
        )
        for attempt in (1, 2):
            link = self._link
            if link is None:
                try:
                    async with asyncio.timeout(timeout):
                        await self._connected.wait()
                except TimeoutError:
                    last = DeviceConnectError(f"{self.name} is not connected", device=self.name)
                    continue
                link = self._link
                if link is None:
                    continue
            waiter = _Waiter(dict(wanted), asyncio.get_running_loop().create_future())
            self._waiters.append(waiter)
            try:
                link.send(CT.CONTROL, wanted)
                async with asyncio.timeout(timeout):
                    await waiter.future
                return
            except TimeoutError:
                _LOGGER.debug("%s: %s unconfirmed on attempt %d", self.name, wanted, attempt)
            except DeviceConnectError as err:
                last = err
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        raise last

    # --- the connection loop --------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        # Consecutive connections the key could not read. Not reset by a connection that
        # merely opened: on 3.1 the status query is plain text, so a wrong key shows only in
        # the pushes of each new connection.
        key_failures = 0
        while not self._stopped:
            try:
                link, status = await self._connect()
            except TuyaKeyError as err:
                key_failures += 1
                self.last_error = str(err)
                if key_failures >= _KEY_FAILURES_TO_GIVE_UP:
                    self._give_up(err)
                    return
                failures += 1
                await asyncio.sleep(self._backoff(failures))
                continue
            except Exception as err:
                failures += 1
                self.last_error = str(err) or type(err).__name__
                log = _LOGGER.warning if failures == 1 else _LOGGER.debug
                log("%s: %s (retrying)", self.name, self.last_error)
                await asyncio.sleep(self._backoff(failures))
                continue
            failures = 0
            self.connects += 1
            self._link = link
            self._connected.set()
            _LOGGER.info("%s: connected (protocol %s)", self.name, link.version)
            self._on_available(True)
            self._handle_dps(status)
            key_error: TuyaKeyError | None = None
            try:
                await self._serve(link)
            except TuyaKeyError as err:
                key_error = err
                key_failures += 1
                self.last_error = str(err)
                _LOGGER.warning("%s: %s", self.name, err)
            except Exception as err:
                key_failures = 0
                self.last_error = str(err) or type(err).__name__
                _LOGGER.warning("%s: connection lost: %s", self.name, self.last_error)
            finally:
                self._link = None
                self._connected.clear()
                link.close()
                lost = DeviceConnectError(f"{self.name} disconnected", device=self.name)
                self._fail_waiters(lost)
                if not self._stopped:
                    self._on_available(False)
            if key_error is not None and key_failures >= _KEY_FAILURES_TO_GIVE_UP:
                self._give_up(key_error)
                return
            failures = 1
            await asyncio.sleep(self._backoff(failures))

    def _give_up(self, err: TuyaKeyError) -> None:
        """Stop for good after the key failed twice in a row, and say so once."""
        _LOGGER.error("%s: %s; not reconnecting until the key is fixed", self.name, err)
        self.gave_up.set()
        self._on_key_error(err)

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with full jitter between half and all of the step."""
        step = min(BACKOFF_MAX, BACKOFF_INITIAL * BACKOFF_FACTOR ** (failures - 1))
        return step * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography

    async def _connect(self) -> tuple[_Link, dict[str, Any]]:
        """Open a connection, negotiate, read the first status; detect the version if unknown.

        Raises:
            DeviceConnectError: the device cannot be reached, or closed the connection at once.
            TuyaKeyError: the device answers, but in frames the key cannot read.
        """
        if self.version is not None:
            try:
                return await self._open(self.version, CONNECT_TIMEOUT)
            except (asyncio.IncompleteReadError, ConnectionResetError) as err:
                raise _closed_at_once(self.name) from err
        key_errors: list[str] = []
        for version in VERSIONS:
            try:
                result = await self._probe(version)
            except TuyaKeyError as err:
                key_errors.append(f"{version}: {err}")
                continue
            except (TimeoutError, OSError, asyncio.IncompleteReadError, DeviceProtocolError) as err:
                _LOGGER.debug("%s: not protocol %s: %r", self.name, version, err)
                continue
            self.version = version
            _LOGGER.info("%s: detected protocol version %s", self.name, version)
            return result
        if key_errors:
            raise TuyaKeyError(
                f"no protocol version could read {self.name} with its local key "
                f"({'; '.join(key_errors)})",
                device=self.name,
                code="914",
            )
        raise DeviceConnectError(
            f"{self.name} did not answer in any protocol version", device=self.name
        )

    async def _probe(self, version: float) -> tuple[_Link, dict[str, Any]]:
        """Try one version; once more when the device had not yet let go of the last probe."""
        try:
            return await self._open(version, PROBE_TIMEOUT)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            # A device takes a moment to notice that the previous probe's connection closed.
            await asyncio.sleep(PROBE_TIMEOUT / 10)
            return await self._open(version, PROBE_TIMEOUT)

    async def _open(self, version: float, limit: float) -> tuple[_Link, dict[str, Any]]:
        cfg = self.config
        try:
            async with asyncio.timeout(limit):
                reader, writer = await asyncio.open_connection(cfg.host, cfg.port)
        except (OSError, TimeoutError) as err:
            raise DeviceConnectError(
                f"cannot connect to {cfg.host}:{cfg.port}: {err or type(err).__name__}",
                device=self.name,
            ) from err
        codec = tinytuya.Device(
            cfg.device_id, cfg.host, cfg.local_key, version=version, port=cfg.port
        )
        link = _Link(reader, writer, codec, version)
        try:
            async with asyncio.timeout(limit):
                if version >= 3.4:
                    await self._negotiate(link)
                status = await self._query(link)
        except BaseException:
            link.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(limit):
                    await link.writer.wait_closed()
            raise
        return link, status

    async def _negotiate(self, link: _Link) -> None:
        """The 3.4/3.5 session-key handshake, with tinytuya's own steps."""
        codec = link.codec
        step1 = codec._negotiate_session_key_generate_step_1()  # noqa: SLF001 - tinytuya codec
        link.writer.write(codec._encode_message(step1))  # noqa: SLF001
        header, frame = await read_frame(link.reader, self.name)
        try:
            msg = unpack_message(frame, header=header, hmac_key=codec.local_key, no_retcode=False)
        except Exception as err:
            raise DeviceProtocolError(
                f"{self.name} answered the key negotiation with a malformed frame: {err}",
                device=self.name,
            ) from err
        if not msg.crc_good:
            raise TuyaKeyError(
                f"{self.name} answered the key negotiation in another key",
                device=self.name,
                code="914",
            )
        step3 = codec._negotiate_session_key_generate_step_3(msg)  # noqa: SLF001
        if not step3:
            raise TuyaKeyError(
                f"{self.name} failed the key negotiation", device=self.name, code="914"
            )
        link.writer.write(codec._encode_message(step3))  # noqa: SLF001
        codec._negotiate_session_key_generate_finalize()  # noqa: SLF001

    async def _query(self, link: _Link) -> dict[str, Any]:
        """Ask for the full status and return the data points of the answer."""
        link.send(CT.DP_QUERY)
        while True:
            result = await self._receive(link)
            if result is None:
                if link.codec.dev_type != "default":
                    link.send(CT.DP_QUERY)  # tinytuya switched to device22 requests: ask again
                continue
            dps = result.get("dps")
            if isinstance(dps, dict):
                return dps

    async def _receive(self, link: _Link) -> dict[str, Any] | None:
        """Read one frame and decode it; None for an acknowledgement or heartbeat.

        Raises:
            TuyaKeyError: the frame is authentic but the key cannot read it, or fails its HMAC.
            DeviceProtocolError: not a frame, or a frame that fails its checksum.
        """
        header, frame = await read_frame(link.reader, self.name)
        link.last_rx = time.monotonic()
        codec = link.codec
        hmac_key = codec.local_key if link.version >= 3.4 else None
        try:
            msg = unpack_message(frame, header=header, hmac_key=hmac_key, no_retcode=False)
        except Exception as err:
            raise DeviceProtocolError(f"malformed frame: {err}", device=self.name) from err
        if not msg.crc_good:
            if link.version >= 3.4:
                raise TuyaKeyError(
                    f"{self.name} sent a frame the key does not authenticate",
                    device=self.name,
                    code="914",
                )
            raise DeviceProtocolError(f"{self.name} sent a frame with a bad CRC", device=self.name)
        if not msg.payload:
            return None
        try:
            result = codec._decode_payload(msg.payload)  # noqa: SLF001 - tinytuya codec
        except Exception as err:
            raise TuyaKeyError(
                f"{self.name} sent a status the key cannot decrypt", device=self.name, code="904"
            ) from err
        if not isinstance(result, dict):
            return None
        code = str(result.get("Err", ""))
        # An encrypted payload (all of them from 3.2 on; on 3.1 the "3.1"-signed pushes, not the
        # plain status answers) that decrypts to bytes that are not even text was read with the
        # wrong key: AES with another key yields noise, whose padding tinytuya does not check,
        # so now and then it is handed on as "invalid JSON" (900, the bytes as its payload)
        # rather than refused. Text that is not JSON is the device's own (a device error).
        encrypted = link.version >= 3.2 or msg.payload.startswith(b"3.1")
        noise = code == _INVALID_JSON and encrypted and isinstance(result.get("Payload"), bytes)
        if code in _KEY_ERROR_CODES or noise:
            code = "904" if code == _INVALID_JSON else code
            raise TuyaKeyError(
                f"{self.name} sent data the key cannot decrypt", device=self.name, code=code
            )
        if code:
            _LOGGER.debug("%s: device error %s: %s", self.name, code, result.get("Error"))
            return None
        return result

    async def _serve(self, link: _Link) -> None:
        """Read pushes, send heartbeats and power refreshes until the connection fails."""
        device_id = self.config.device_id
        helpers = [
            asyncio.create_task(self._heartbeat(link), name=f"tuya[{device_id}].heartbeat"),
            asyncio.create_task(self._poll(link), name=f"tuya[{device_id}].poll"),
        ]
        try:
            await self._read(link)
        finally:
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _read(self, link: _Link) -> None:
        """Hand on every report until the device goes silent or the connection fails.

        Raises:
            TimeoutError: nothing arrived for ``SILENCE_HEARTBEATS`` heartbeat intervals.
            asyncio.IncompleteReadError: the device closed the connection.
        """
        silence = self.config.heartbeat_interval * SILENCE_HEARTBEATS
        while True:
            async with asyncio.timeout(silence):
                result = await self._receive(link)
            if result is not None and isinstance(dps := result.get("dps"), dict):
                self._handle_dps(dps)

    async def _heartbeat(self, link: _Link) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            link.send(CT.HEART_BEAT)

    async def _poll(self, link: _Link) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval)
            if dps := self._power_dps():
                link.send(CT.UPDATEDPS, dps)

    # --- reports ---------------------------------------------------------------------------------

    def _handle_dps(self, dps: dict[str, Any]) -> None:
        """Hand a report to the entities, then complete the commands it confirms."""
        self._on_dps(dps)
        for waiter in self._waiters:
            for dp, value in dps.items():
                if dp in waiter.remaining and waiter.remaining[dp] == value:
                    del waiter.remaining[dp]
            if not waiter.remaining and not waiter.future.done():
                waiter.future.set_result(None)

    def _fail_waiters(self, err: Exception) -> None:
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(err)
