"""A Tuya device on loopback that speaks the real LAN protocol (3.1, 3.3, 3.4 and 3.5).

Built on tinytuya's own encoding (``pack_message``, ``unpack_message``, ``AESCipher`` and the
session-key arithmetic of its ``XenonDevice``), so both ends agree with the reference client:
the tests drive it with tinytuya's ``OutletDevice`` as well as with Edgewise's session. The
simulator serves its plugs with it, so a fresh install has Tuya devices to talk to.

What it does, as a plug does (tinytuya's PROTOCOL.md):

- one TCP connection at a time: a second one is closed at once (``refuse_second``);
- 3.4 and 3.5 negotiate a session key first (commands 3, 4, 5; two nonces, HMACs with the local
  key); 3.5 frames are 6699/AES-GCM, 3.4 frames 55AA with an HMAC, 3.3 55AA with AES-ECB and
  the version header outside the ciphertext, 3.1 plain JSON with encrypted pushes;
- DP_QUERY (10, or 16 on 3.4+) is answered with the data points; CONTROL (7, or 13 on 3.4+)
  with an empty acknowledgement followed by a STATUS (8) push of what changed; UPDATEDPS (18)
  with an acknowledgement and a push of the refreshed data points; HEART_BEAT (9) with a
  heartbeat; every reply carries the 4-byte return code that ``pack_message`` does not add;
- a request it cannot read (another key) is answered in its own key, which the client cannot
  read either: tinytuya then reports error 904 (3.1/3.3) or 914 (3.4/3.5).

Misbehaviour for the bad-input tests is switched on with attributes: ``silent`` (never answers),
``garbage`` (answers bytes that are no frame), ``close_on_control`` (drops the connection when a
command arrives). Runs on the event loop; ``start``/``stop`` own the listening socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import struct
import time
from collections.abc import Callable
from hashlib import md5, sha256
from typing import Any, Final

import tinytuya
from tinytuya import AESCipher, TuyaMessage, pack_message, unpack_message
from tinytuya import command_types as CT
from tinytuya import header as H

from core import DeviceProtocolError

from .wire import read_frame

_LOGGER = logging.getLogger(__name__)

#: The data point values a plug holds: JSON scalars keyed by the DP number as a string.
DpsValue = bool | int | float | str | None

_RETCODE_OK: Final = struct.pack(H.MESSAGE_RETCODE_FMT, 0)
_VERSION_HEADERS: Final = {
    3.3: H.PROTOCOL_33_HEADER,
    3.4: H.PROTOCOL_34_HEADER,
    3.5: H.PROTOCOL_35_HEADER,
}
#: A frame sent by a device that answers garbage: no Tuya prefix anywhere.
GARBAGE: Final = b"\x13\x37" * 24


class _Connection:
    """The state of one client connection: its session key and sequence numbers."""

    def __init__(self, double: TuyaDeviceDouble, writer: asyncio.StreamWriter) -> None:
        self.double = double
        self.writer = writer
        self.real_key = double.local_key.encode("latin1")
        #: The key frames are encrypted with: the session key once negotiated (3.4+).
        self.key = self.real_key
        self.client_nonce = b""
        self.device_nonce = b""
        self.seqno = 0

    # --- sending ---------------------------------------------------------------------------------

    def send(self, cmd: int, body: bytes, *, header: bool = False) -> None:
        """Encode ``body`` as this version's device frame with return code 0 and send it."""
        version = self.double.version
        self.seqno += 1
        if version >= 3.5:
            raw = (_VERSION_HEADERS[3.5] + body) if header and body else body
            msg = TuyaMessage(self.seqno, cmd, 0, raw, 0, True, H.PREFIX_6699_VALUE, True)
            data = pack_message(msg, hmac_key=self.key)
        else:
            payload = self._encrypt_55aa(cmd, body, header=header)
            msg = TuyaMessage(
                self.seqno, cmd, 0, _RETCODE_OK + payload, 0, True, H.PREFIX_55AA_VALUE, False
            )
            data = pack_message(msg, hmac_key=self.key if version >= 3.4 else None)
        if self.double.garbage:
            data = GARBAGE
        self.writer.write(data)

    def _encrypt_55aa(self, cmd: int, body: bytes, *, header: bool) -> bytes:
        version = self.double.version
        if not body:
            return b""
        cipher = AESCipher(self.key)
        if version >= 3.4:
            raw = (_VERSION_HEADERS[3.4] + body) if header else body
            return bytes(cipher.encrypt(raw, False))
        if version >= 3.2:
            crypted = bytes(cipher.encrypt(body, False))
            return (_VERSION_HEADERS[3.3] + crypted) if header else crypted
        if cmd == CT.STATUS:
            # 3.1 pushes: version, 16 characters of an MD5 hex digest, base64 ciphertext.
            crypted = bytes(cipher.encrypt(body))
            digest = md5(  # noqa: S324 - the protocol's own checksum, not a security measure
                b"data=" + crypted + b"||lpv=" + H.PROTOCOL_VERSION_BYTES_31 + b"||" + self.key
            ).hexdigest()
            version_bytes: bytes = H.PROTOCOL_VERSION_BYTES_31
            return version_bytes + digest[8:24].encode("latin1") + crypted
        return body

    def send_json(self, cmd: int, data: dict[str, Any], *, header: bool = False) -> None:
        """Send a JSON body."""
        self.send(cmd, json.dumps(data, separators=(",", ":")).encode(), header=header)

    def send_status(self, dps: dict[str, DpsValue]) -> None:
        """Push a STATUS (8) frame with ``dps``."""
        now = int(time.time())
        if self.double.version >= 3.4:
            body: dict[str, Any] = {"protocol": 4, "t": now, "data": {"dps": dps}}
        else:
            body = {"devId": self.double.device_id, "dps": dps, "t": now}
        self.send_json(CT.STATUS, body, header=True)

    # --- receiving -------------------------------------------------------------------------------

    def decode(self, frame: bytes) -> tuple[int, bytes] | None:
        """The command and plaintext of a client frame, or None when it cannot be read."""
        version = self.double.version
        hmac_key = self.key if version >= 3.4 else None
        try:
            msg = unpack_message(frame, hmac_key=hmac_key, no_retcode=True)
        except Exception:
            return None
        if not msg.crc_good:
            return None
        payload = bytes(msg.payload)
        try:
            return msg.cmd, self._decrypt(msg.cmd, payload)
        except Exception:
            return None

    def _decrypt(self, cmd: int, payload: bytes) -> bytes:
        version = self.double.version
        cipher = AESCipher(self.key)
        if version >= 3.5:
            plain = payload  # unpack_message checked and removed the GCM layer
        elif version >= 3.4:
            plain = bytes(cipher.decrypt(payload, False, decode_text=False, verify_padding=True))
        elif version >= 3.2:
            if payload.startswith(H.PROTOCOL_VERSION_BYTES_33):
                payload = payload[len(H.PROTOCOL_33_HEADER) :]
            if not payload:
                return b""
            plain = bytes(cipher.decrypt(payload, False, decode_text=False, verify_padding=True))
        elif payload.startswith(H.PROTOCOL_VERSION_BYTES_31):
            plain = bytes(cipher.decrypt(payload[3 + 16 :], decode_text=False, verify_padding=True))
        else:
            plain = payload
        for prefix in (H.PROTOCOL_VERSION_BYTES_34, H.PROTOCOL_VERSION_BYTES_35):
            if plain.startswith(prefix):
                plain = plain[len(H.PROTOCOL_34_HEADER) :]
        if cmd not in (CT.SESS_KEY_NEG_START, CT.SESS_KEY_NEG_FINISH) and plain:
            json.loads(plain)  # another key decrypts to noise: refuse it as unreadable
        return plain


class TuyaDeviceDouble:
    """A Tuya plug (or strip) on a loopback TCP port. Runs on the event loop.

    Args:
        device_id: the device id (20 or 22 characters on real devices).
        local_key: the 16-character local key.
        version: 3.1, 3.3, 3.4 or 3.5.
        dps: the data points and their values; changed in place by commands.
        host: the address to listen on.
        port: the TCP port; 0 picks a free one (see ``port`` after ``start``).
        refresh: called with the DP numbers an UPDATEDPS asks for; returns their fresh values.
        on_control: called with the data points a command set (after they are set).
    """

    def __init__(
        self,
        device_id: str,
        local_key: str,
        version: float,
        dps: dict[str, DpsValue],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        refresh: Callable[[list[int]], dict[str, DpsValue]] | None = None,
        on_control: Callable[[dict[str, DpsValue]], None] | None = None,
    ) -> None:
        if version not in (3.1, 3.3, 3.4, 3.5):
            raise ValueError(f"unsupported Tuya protocol version {version}")
        if len(local_key) != 16:
            raise ValueError("a Tuya local key has 16 characters")
        self.device_id = device_id
        self.local_key = local_key
        self.version = version
        self.dps = dps
        self.host = host
        self._port = port
        self.refresh = refresh
        self.on_control = on_control
        self.refuse_second = True
        self.silent = False
        self.garbage = False
        self.close_on_control = False
        #: Commands received, in order: (command, plaintext); for tests.
        self.received: list[tuple[int, bytes]] = []
        #: Connections accepted since start, and refused because one was open.
        self.connections = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._current: _Connection | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The TCP port listened on."""
        return self._port

    @property
    def connected(self) -> bool:
        """Whether a client is connected."""
        return self._current is not None

    async def start(self) -> None:
        """Listen. Raises OSError when the port is taken."""
        self._server = await asyncio.start_server(self._handle, self.host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop the client, as a device that loses power."""
        if self._server is not None:
            self._server.close()
        self.drop()
        # Closing the socket ends the handler; a cancelled handler would make asyncio's stream
        # server log an error, so cancel only one that has not ended within a second.
        tasks = list(self._tasks)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def drop(self) -> None:
        """Close the client's connection (as a device that drops idle sockets)."""
        if self._current is not None:
            self._current.writer.close()

    def set_dps(self, changes: dict[str, DpsValue]) -> None:
        """Change data points on the device (a button pressed, a new reading) and push them."""
        self.dps.update(changes)
        if self._current is not None and not self.silent:
            self._current.send_status(dict(changes))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._current is not None and self.refuse_second:
            self.refused += 1
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections += 1
        conn = _Connection(self, writer)
        self._current = conn
        try:
            while True:
                _, frame = await read_frame(reader, self.device_id)
                decoded = conn.decode(frame)
                if decoded is not None:
                    self.received.append(decoded)
                if self.silent:
                    continue
                if decoded is None:
                    # Another key: answer in ours, which the client cannot read either.
                    conn.send_json(CT.DP_QUERY, {"dps": {}}, header=False)
                    await writer.drain()
                    continue
                cmd, plain = decoded
                if not self._answer(conn, cmd, plain):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, DeviceProtocolError):
            pass
        finally:
            if self._current is conn:
                self._current = None
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    def _answer(self, conn: _Connection, cmd: int, plain: bytes) -> bool:
        """Answer one client command; False when the connection is to be closed."""
        if cmd == CT.SESS_KEY_NEG_START:
            self._negotiate_start(conn, plain)
        elif cmd == CT.SESS_KEY_NEG_FINISH:
            return self._negotiate_finish(conn, plain)
        elif cmd == CT.HEART_BEAT:
            conn.send(CT.HEART_BEAT, b"")
        elif cmd in (CT.DP_QUERY, CT.DP_QUERY_NEW):
            if self.version >= 3.4:
                conn.send_json(
                    cmd, {"protocol": 4, "t": int(time.time()), "data": {"dps": self.dps}}
                )
            else:
                conn.send_json(cmd, {"devId": self.device_id, "dps": self.dps})
        elif cmd in (CT.CONTROL, CT.CONTROL_NEW):
            if self.close_on_control:
                return False
            request = json.loads(plain)
            changes = request.get("data", request).get("dps", {})
            self.dps.update(changes)
            conn.send(cmd, b"")
            conn.send_status(dict(changes))
            if self.on_control is not None:
                self.on_control(dict(changes))
        elif cmd == CT.UPDATEDPS:
            wanted = [int(dp) for dp in json.loads(plain).get("dpId", [])]
            fresh = self.refresh(wanted) if self.refresh is not None else {}
            self.dps.update(fresh)
            conn.send(cmd, b"")
            current = {str(dp): self.dps[str(dp)] for dp in wanted if str(dp) in self.dps}
            if current:
                conn.send_status(current)
        return True

    def _negotiate_start(self, conn: _Connection, client_nonce: bytes) -> None:
        """Step 2 of the handshake: our nonce and the HMAC of theirs, under the local key."""
        conn.key = conn.real_key
        conn.client_nonce = client_nonce[:16]
        conn.device_nonce = os.urandom(16)
        proof = hmac.new(conn.real_key, conn.client_nonce, sha256).digest()
        conn.send(CT.SESS_KEY_NEG_RESP, conn.device_nonce + proof)

    def _negotiate_finish(self, conn: _Connection, proof: bytes) -> bool:
        """Step 3: check the client's HMAC of our nonce, then derive the session key."""
        expected = hmac.new(conn.real_key, conn.device_nonce, sha256).digest()
        if not hmac.compare_digest(proof[:32], expected):
            return False
        # tinytuya's own derivation, run on a client object that holds the two nonces.
        reference = tinytuya.XenonDevice(
            self.device_id, "127.0.0.1", self.local_key, version=self.version
        )
        reference.local_nonce = conn.client_nonce
        reference.remote_nonce = conn.device_nonce
        reference.local_key = conn.real_key
        reference._negotiate_session_key_generate_finalize()  # noqa: SLF001 - the reference math
        conn.key = bytes(reference.local_key)
        return True
