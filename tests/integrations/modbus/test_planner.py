"""The read planner: blocks within the device's limits; splits that isolate a refused read."""

from __future__ import annotations

from integrations.modbus.const import InputType
from integrations.modbus.model import DeviceLimits, ForbiddenRange
from integrations.modbus.planner import Read, plan, split


def reads(*spans: tuple[int, int]) -> list[Read]:
    return [Read(a, c, lambda _d, _e: None, owner=f"r{a}") for a, c in spans]


def test_neighbours_merge_and_small_gaps_are_bridged() -> None:
    blocks = plan(reads((0, 2), (2, 1), (8, 2), (30, 1)), InputType.HOLDING, DeviceLimits())
    assert [(b.address, b.count, len(b.reads)) for b in blocks] == [(0, 10, 3), (30, 1, 1)]


def test_limits_gap_and_forbidden_ranges_end_a_block() -> None:
    limits = DeviceLimits(
        max_read_registers=5,
        max_gap_registers=2,
        forbidden=(ForbiddenRange(InputType.HOLDING, 20, 20),),
    )
    blocks = plan(
        reads((0, 2), (2, 2), (4, 2), (9, 1), (19, 1), (21, 1)), InputType.HOLDING, limits
    )
    assert [(b.address, b.count) for b in blocks] == [(0, 4), (4, 2), (9, 1), (19, 1), (21, 1)]


def test_bits_use_the_bit_limits() -> None:
    blocks = plan(
        reads((0, 1), (1999, 1), (2000, 1)), InputType.COIL, DeviceLimits(max_gap_bits=2000)
    )
    assert [(b.address, b.count) for b in blocks] == [(0, 2000), (2000, 1)]


def test_split_halves_by_reads_until_one_is_left() -> None:
    (block,) = plan(reads((0, 1), (1, 1), (2, 1), (3, 1)), InputType.INPUT, DeviceLimits())
    left, right = split(block)
    assert [(left.address, left.count), (right.address, right.count)] == [(0, 2), (2, 2)]
    last = split(right)[1]
    assert (last.address, last.count) == (3, 1)
    assert split(last) == [last]  # a single read cannot be split further
