"""Register data to values and back: data types, byte/word order, scale, offset and NaN.

A value of ``count`` registers is turned into bytes big-endian (the Modbus order), reordered as
``swap`` says (``byte`` swaps the two bytes of each register, ``word`` reverses the registers,
``word_byte`` does both), then unpacked with a ``struct`` format. Encoding runs the same steps
backwards; each swap is its own inverse.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from .const import Swap


class DataType(StrEnum):
    """How the registers of a value are read (Home Assistant's names)."""

    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    UINT16 = "uint16"
    UINT32 = "uint32"
    UINT64 = "uint64"
    FLOAT16 = "float16"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    CUSTOM = "custom"


#: The struct format character and register count of each fixed-size data type.
FIXED_FORMATS: dict[DataType, tuple[str, int]] = {
    DataType.INT16: ("h", 1),
    DataType.INT32: ("i", 2),
    DataType.INT64: ("q", 4),
    DataType.UINT16: ("H", 1),
    DataType.UINT32: ("I", 2),
    DataType.UINT64: ("Q", 4),
    DataType.FLOAT16: ("e", 1),
    DataType.FLOAT32: ("f", 2),
    DataType.FLOAT64: ("d", 4),
}

#: Older Home Assistant names, still found in pasted configurations.
DATA_TYPE_ALIASES: dict[str, DataType] = {
    "int": DataType.INT16,
    "uint": DataType.UINT16,
    "float": DataType.FLOAT32,
}

#: What a decoded value may be: a number, a string, or several numbers (custom structures).
Decoded = int | float | str | tuple[int | float, ...]


def registers_to_bytes(registers: Sequence[int], swap: Swap) -> bytes:
    """Join 16-bit registers into bytes in the order ``swap`` gives."""
    regs = list(registers)
    if swap in (Swap.WORD, Swap.WORD_BYTE):
        regs.reverse()
    data = b"".join(int(r & 0xFFFF).to_bytes(2, "big") for r in regs)
    if swap in (Swap.BYTE, Swap.WORD_BYTE):
        data = _swap_bytes(data)
    return data


def bytes_to_registers(data: bytes, swap: Swap) -> list[int]:
    """Split bytes (an even number) into registers; the inverse of ``registers_to_bytes``."""
    if swap in (Swap.BYTE, Swap.WORD_BYTE):
        data = _swap_bytes(data)
    regs = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if swap in (Swap.WORD, Swap.WORD_BYTE):
        regs.reverse()
    return regs


def _swap_bytes(data: bytes) -> bytes:
    swapped = bytearray(data)
    swapped[0::2], swapped[1::2] = data[1::2], data[0::2]
    return bytes(swapped)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a value sits in its registers and how it is packed.

    Attributes:
        data_type: the data type.
        count: registers the value takes.
        structure: the big-endian struct format (``>f``); empty for strings.
        swap: byte/word order.
    """

    data_type: DataType
    count: int
    structure: str
    swap: Swap = Swap.NONE

    @classmethod
    def of(
        cls, data_type: DataType, *, count: int | None, structure: str | None, swap: Swap
    ) -> Layout:
        """The layout of a validated entity (the schema has checked count and structure)."""
        if data_type in FIXED_FORMATS:
            fmt, regs = FIXED_FORMATS[data_type]
            return cls(data_type, regs, f">{fmt}", swap)
        if data_type is DataType.STRING:
            return cls(data_type, count or 1, "", swap)
        assert structure is not None  # noqa: S101 - the schema requires it for custom
        return cls(data_type, count or struct.calcsize(structure) // 2, structure, swap)

    def decode(self, registers: Sequence[int]) -> Decoded:
        """Unpack the value from exactly ``count`` registers.

        Raises:
            ValueError: the registers do not fit the layout.
        """
        data = registers_to_bytes(registers, self.swap)
        if self.data_type is DataType.STRING:
            return data.decode("utf-8", errors="replace").strip("\x00").strip()
        try:
            values = struct.unpack(self.structure, data)
        except struct.error as err:
            raise ValueError(f"{len(registers)} registers do not fit {self.structure}") from err
        return values[0] if len(values) == 1 else tuple(values)

    def raw_unsigned(self, registers: Sequence[int]) -> int:
        """The registers as one unsigned integer in the value's byte order (for ``nan_value``)."""
        return int.from_bytes(registers_to_bytes(registers, self.swap), "big")

    def encode(self, value: int | float | str) -> list[int]:
        """Pack one value into ``count`` registers.

        Raises:
            ValueError: the value does not fit the data type (out of range, not a number).
        """
        if self.data_type is DataType.STRING:
            data = str(value).encode("utf-8")[: self.count * 2].ljust(self.count * 2, b"\x00")
            return bytes_to_registers(data, self.swap)
        fmt = self.structure
        code = fmt.lstrip("<>!=@")
        if isinstance(value, str):
            raise ValueError(f"expected a number for {self.data_type}, got {value!r}")
        if code and code[-1] in "efd":
            packed_value: int | float = float(value)
        else:
            if isinstance(value, float) and not value.is_integer():
                value = round(value)
            packed_value = int(value)
        try:
            data = struct.pack(fmt, packed_value)
        except struct.error as err:
            raise ValueError(f"{value!r} does not fit {self.data_type}: {err}") from err
        return bytes_to_registers(data.ljust(self.count * 2, b"\x00"), self.swap)


@dataclass(frozen=True, slots=True)
class Transform:
    """From a decoded value to the value an entity shows, and back for writes.

    ``shown = decoded * scale + offset``, then clamped to ``[min_value, max_value]`` (as Home
    Assistant does for sensors), zero-suppressed and rounded to ``precision``. A decoded value
    equal to ``nan_value`` (compared with the value and with its raw unsigned registers) or a
    float NaN gives None: the entity shows ``unknown``.
    """

    scale: float = 1.0
    offset: float = 0.0
    precision: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    nan_value: int | None = None
    zero_suppress: float | None = None
    clamp: bool = True

    def apply(self, layout: Layout, registers: Sequence[int]) -> int | float | str | None:
        """Decode ``registers`` and turn them into the shown value (None when not a value)."""
        decoded = layout.decode(registers)
        if isinstance(decoded, str):
            return decoded
        if self.nan_value is not None and (
            decoded == self.nan_value or layout.raw_unsigned(registers) == self.nan_value
        ):
            return None
        if isinstance(decoded, tuple):
            parts = [self._one(v) for v in decoded]
            return ",".join("" if p is None else str(p) for p in parts)
        return self._one(decoded)

    def _one(self, decoded: float) -> int | float | None:
        if isinstance(decoded, float) and not math.isfinite(decoded):
            return None
        integral = (
            isinstance(decoded, int)
            and float(self.scale).is_integer()
            and float(self.offset).is_integer()
        )
        value: float = (
            decoded * int(self.scale) + int(self.offset)
            if integral
            else decoded * self.scale + self.offset
        )
        if self.clamp:
            if self.min_value is not None and value < self.min_value:
                value = self.min_value
            if self.max_value is not None and value > self.max_value:
                value = self.max_value
        if self.zero_suppress is not None and abs(value) <= self.zero_suppress:
            value = 0
        if self.precision is not None:
            rounded = round(float(value), self.precision)
            return int(rounded) if self.precision <= 0 else rounded
        if integral and float(value).is_integer():
            return int(value)
        return float(value)

    def to_raw(self, value: float) -> float:
        """The decoded value that shows as ``value``: the inverse of scale and offset."""
        return (value - self.offset) / self.scale if self.scale else value - self.offset
