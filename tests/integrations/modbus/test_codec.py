"""Register layouts: encoding and decoding agree with ``struct`` in every byte and word order."""

from __future__ import annotations

import math
import struct

import pytest

from integrations.modbus.codec import DataType, Layout, Transform
from integrations.modbus.const import Swap

CASES = [
    (DataType.INT16, -2, None),
    (DataType.UINT16, 65535, None),
    (DataType.INT32, -70000, None),
    (DataType.UINT32, 4_000_000_000, None),
    (DataType.INT64, -(2**50), None),
    (DataType.UINT64, 2**64 - 1, None),
    (DataType.FLOAT16, -0.5, None),
    (DataType.FLOAT32, 3.25, None),
    (DataType.FLOAT64, 1e-300, None),
    (DataType.CUSTOM, 123456, ">i"),
]


@pytest.mark.parametrize(("data_type", "value", "structure"), CASES)
@pytest.mark.parametrize("swap", list(Swap))
def test_encode_then_decode_gives_the_value_back(
    data_type: DataType, value: float, structure: str | None, swap: Swap
) -> None:
    layout = Layout.of(data_type, count=None, structure=structure, swap=swap)
    registers = layout.encode(value)
    assert len(registers) == layout.count
    assert layout.decode(registers) == value


def test_word_byte_swap_reverses_words_and_their_bytes() -> None:
    layout = Layout.of(DataType.UINT32, count=None, structure=None, swap=Swap.WORD_BYTE)
    assert layout.encode(0x11223344) == [0x4433, 0x2211]
    assert struct.unpack(">I", bytes.fromhex("11223344"))[0] == 0x11223344


def test_strings_are_padded_and_stripped() -> None:
    layout = Layout.of(DataType.STRING, count=3, structure=None, swap=Swap.BYTE)
    registers = layout.encode("abc")
    assert registers == [0x6261, 0x0063, 0x0000]
    assert layout.decode(registers) == "abc"


def test_transform_scales_and_inverts() -> None:
    transform = Transform(scale=0.1, offset=-40, precision=1)
    layout = Layout.of(DataType.INT16, count=None, structure=None, swap=Swap.NONE)
    assert transform.apply(layout, [615]) == 21.5
    assert layout.encode(transform.to_raw(21.5)) == [615]


def test_nan_and_out_of_range_values() -> None:
    layout = Layout.of(DataType.FLOAT32, count=None, structure=None, swap=Swap.NONE)
    assert Transform().apply(layout, layout.encode(math.nan)) is None
    int16 = Layout.of(DataType.INT16, count=None, structure=None, swap=Swap.NONE)
    with pytest.raises(ValueError, match="does not fit int16"):
        int16.encode(40000)
