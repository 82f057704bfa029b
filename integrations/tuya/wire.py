"""Tuya frames on an asyncio stream, cut and checked by tinytuya's own header parser.

Both ends of Edgewise's Tuya conversations (the integration's session and the device double)
read frames here: ``read_frame`` reads the fixed header, lets ``tinytuya.parse_header`` say how
long the frame is (it refuses lengths past tinytuya's ``MAX_PAYLOAD_LENGTH``), and reads the rest.
Packing, unpacking and the crypto are tinytuya's (``pack_message``, ``unpack_message``,
``AESCipher``); nothing here re-implements them. Imports tinytuya: import this module only when
the ``tuya`` integration (or the simulator's Tuya plugs) is configured.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Final

from tinytuya import header as H
from tinytuya.core.exceptions import DecodeError
from tinytuya.core.message_helper import TuyaHeader, parse_header

from core import DeviceProtocolError

#: The fixed header of a 55AA frame, and the 2 bytes more of a 6699 frame.
_HEADER_55AA: Final = struct.calcsize(H.MESSAGE_HEADER_FMT_55AA)
_HEADER_6699: Final = struct.calcsize(H.MESSAGE_HEADER_FMT_6699)


async def read_frame(reader: asyncio.StreamReader, device: str) -> tuple[TuyaHeader, bytes]:
    """Read one whole frame from ``reader``.

    Args:
        reader: the stream.
        device: the device's name, for errors.

    Returns:
        The parsed header and the frame's bytes (header included).

    Raises:
        asyncio.IncompleteReadError: the peer closed the connection.
        DeviceProtocolError: the bytes are not a Tuya frame (bad prefix, absurd length).
    """
    data = await reader.readexactly(_HEADER_55AA)
    if data[:4] == H.PREFIX_6699_BIN:
        data += await reader.readexactly(_HEADER_6699 - _HEADER_55AA)
    try:
        header = parse_header(data)
    except DecodeError as err:
        raise DeviceProtocolError(f"not a Tuya frame: {err}", device=device) from err
    rest = header.total_length - len(data)
    if rest > 0:
        data += await reader.readexactly(rest)
    return header, data
