"""The read planner: as few requests as the protocol and the device allow.

Entities that share a device, a table and a scan interval form one poll group. The planner sorts
what they read and merges neighbours into blocks, bridging a gap of unused items when the gap is
no wider than the device's ``max_gap`` (reading a few more registers is cheaper than another
round trip), never across a forbidden range, and never past the per-request limit (125
registers or 2,000 bits, or less where the device says so).

When a device refuses a block with an illegal-address (or illegal-value) exception, ``split``
halves it by its reads, so that a binary search isolates the read the device refuses while the
rest keeps working; the group's plan then keeps the pieces (until the link is opened again,
when the hub plans afresh in case the device was mended).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .const import InputType
from .model import DeviceLimits

#: What a read hands its data to: the items read, or the error that kept them from being read.
Deliver = Callable[[Sequence[int] | Sequence[bool] | None, Exception | None], None]


@dataclass(eq=False, slots=True)
class Read:
    """Items one consumer (an entity, or one of a climate's registers) needs from a table."""

    address: int
    count: int
    deliver: Deliver
    #: A human-readable owner, for the error that reports a read the device refuses.
    owner: str

    @property
    def end(self) -> int:
        """One past the last item."""
        return self.address + self.count


@dataclass(eq=False, slots=True)
class Block:
    """One request: ``count`` items from ``address``, serving ``reads``."""

    address: int
    count: int
    reads: tuple[Read, ...]

    @property
    def end(self) -> int:
        """One past the last item."""
        return self.address + self.count


def plan(reads: Iterable[Read], table: InputType, limits: DeviceLimits) -> list[Block]:
    """Merge ``reads`` into as few blocks as ``limits`` allow.

    Args:
        reads: what the group's entities read; each fits one request (the schema checked).
        table: the table they read, for its per-request limit and gap.
        limits: the device's limits.

    Returns:
        Blocks in address order; every read is in exactly one block.
    """
    ordered = sorted(reads, key=lambda r: (r.address, r.count))
    max_count = limits.max_count(table)
    max_gap = limits.max_gap(table)
    forbidden = [f for f in limits.forbidden if f.input_type is table]
    blocks: list[Block] = []
    start = end = 0
    members: list[Read] = []
    for read in ordered:
        if members:
            gap = read.address - end
            new_end = max(end, read.end)
            if (
                new_end - start <= max_count
                and gap <= max_gap
                and not (gap > 0 and any(f.overlaps(end, gap) for f in forbidden))
            ):
                members.append(read)
                end = new_end
                continue
            blocks.append(Block(start, end - start, tuple(members)))
        start, end, members = read.address, read.end, [read]
    if members:
        blocks.append(Block(start, end - start, tuple(members)))
    return blocks


def split(block: Block) -> list[Block]:
    """Halve a refused block by its reads, each half covering only what its reads need.

    Returns:
        Two blocks, or just the block itself when it serves a single read, or reads that all
        start at the same address and so cannot be told apart.
    """
    reads = sorted(block.reads, key=lambda r: (r.address, r.count))
    starts = sorted({r.address for r in reads})
    if len(starts) < 2:
        return [block]
    pivot = starts[len(starts) // 2]
    halves = ([r for r in reads if r.address < pivot], [r for r in reads if r.address >= pivot])
    result: list[Block] = []
    for half in halves:
        first = min(r.address for r in half)
        last = max(r.end for r in half)
        result.append(Block(first, last - first, tuple(half)))
    return result
