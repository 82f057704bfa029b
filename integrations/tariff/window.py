"""The cheapest window: exact, on the price data's own grid. Pure, no I/O.

The search runs on cells of the timeline's resolution between the earliest start (rounded up to
the grid) and the deadline (rounded down). A cell over a hole, or dearer than the price cap, is
never used. A run of ``k`` cells:

* in one block: prefix sums over the cells, every start tried, O(cells);
* in up to ``N`` blocks: when the ``k`` cheapest cells already form at most ``N`` runs they
  are the answer (nothing can cost less); otherwise, after leaving out the cells no optimal
  plan can use (``_pruned_blocks``), a dynamic programme over (cell, cells still
  needed, blocks left, whether the previous cell is used), run backwards so the plan is read
  forwards; O(cells * k * N). Ties go to the earliest plan (or the latest, when asked: the same
  search on the reversed cells).

Both are exact: no heuristic, no sampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from .timeline import Timeline

INF = math.inf
#: Two plans whose costs differ by less than this are a tie.
EPSILON = 1e-9


class WindowError(ValueError):
    """The search cannot be made as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class Block:
    """One contiguous part of a plan."""

    start: datetime
    end: datetime
    price_sum: float  # sum of cell prices (per kWh)
    cells: int

    def as_dict(self, step_h: float, power_kw: float | None) -> dict[str, object]:
        """The JSON form, with the cost at ``power_kw`` when given."""
        out: dict[str, object] = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "average_price": round(self.price_sum / self.cells, 6),
        }
        if power_kw is not None:
            out["cost"] = round(self.price_sum * step_h * power_kw, 6)
        return out


@dataclass(frozen=True, slots=True)
class Plan:
    """The cheapest plan found."""

    blocks: tuple[Block, ...]
    step: timedelta

    @property
    def price_sum(self) -> float:
        """Sum of the used cells' prices."""
        return sum(b.price_sum for b in self.blocks)

    @property
    def cells(self) -> int:
        """How many cells the plan uses."""
        return sum(b.cells for b in self.blocks)

    def cost(self, power_kw: float) -> float:
        """The energy cost at a constant ``power_kw``."""
        return self.price_sum * self.step.total_seconds() / 3600.0 * power_kw

    def as_dict(self, power_kw: float | None = None) -> dict[str, object]:
        """The JSON form (the service's response)."""
        step_h = self.step.total_seconds() / 3600.0
        out: dict[str, object] = {
            "start": self.blocks[0].start.isoformat(),
            "end": self.blocks[-1].end.isoformat(),
            "blocks": [b.as_dict(step_h, power_kw) for b in self.blocks],
            "average_price": round(self.price_sum / self.cells, 6),
            "resolution_minutes": self.step.total_seconds() / 60.0,
        }
        if power_kw is not None:
            out["cost"] = round(self.cost(power_kw), 6)
        return out


def cells_of(
    timeline: Timeline, earliest: datetime, deadline: datetime
) -> tuple[datetime, list[float]]:
    """The grid's first cell start and each cell's price (``inf`` over a hole)."""
    step = timeline.resolution
    origin = timeline.start
    if origin is None:
        raise WindowError("no prices are known")
    offset = math.ceil(max((earliest - origin) / step, 0))
    first = origin + offset * step
    count = int((deadline - first) // step) if deadline > first else 0
    prices: list[float] = []
    step_h = step.total_seconds() / 3600.0
    stamps = timeline.stamps
    position = timeline.index_at(first)
    base, width = first.timestamp(), step.total_seconds()
    for index in range(count):
        start = base + index * width
        end = start + width
        # Segments are sorted: walk them alongside the cells instead of searching each time.
        while position < len(stamps) and stamps[position][1] <= start:
            position += 1
        if position < len(stamps) and stamps[position][0] <= start and stamps[position][1] >= end:
            prices.append(stamps[position][2])
        else:  # a cell across a boundary or a hole: its average price, if it has one
            cell = first + index * step
            cost = timeline.cost(cell, cell + step, 1000.0)
            prices.append(INF if cost is None else cost / step_h)
    return first, prices


def cheapest(
    timeline: Timeline,
    duration: timedelta,
    earliest: datetime,
    deadline: datetime,
    *,
    blocks: int = 1,
    cap: float | None = None,
    latest: bool = False,
) -> Plan:
    """The cheapest plan of ``duration`` (rounded up to the grid) between ``earliest`` and
    ``deadline``, in at most ``blocks`` blocks, using no cell above ``cap``.

    Raises:
        WindowError: the deadline leaves less time than the run, or no plan fits (holes, cap).
    """
    if duration <= timedelta(0):
        raise WindowError("the duration must be positive")
    if deadline - earliest < duration:
        raise WindowError(
            f"the deadline {deadline.isoformat()} is less than {duration} after the earliest "
            f"start {earliest.isoformat()}"
        )
    step = timeline.resolution
    need = math.ceil(duration / step)
    first, prices = cells_of(timeline, earliest, deadline)
    if len(prices) < need:
        raise WindowError(
            f"only {len(prices)} slot(s) of {step} between the earliest start and the deadline, "
            f"the run needs {need}"
        )
    if cap is not None:
        prices = [p if p <= cap else INF for p in prices]
    if latest:
        prices.reverse()
    if blocks == 1:
        runs = _one_block(prices, need)
    else:
        runs = _cheapest_cells(prices, need, blocks) or _pruned_blocks(prices, need, blocks)
    if runs is None:
        raise WindowError(
            "no plan fits: too few slots with a known price"
            + (f" at or below the cap {cap}" if cap is not None else "")
        )
    if latest:
        total = len(prices)
        prices.reverse()
        runs = sorted((total - end, total - start) for start, end in runs)
    return Plan(
        tuple(
            Block(first + a * step, first + b * step, math.fsum(prices[a:b]), b - a)
            for a, b in runs
        ),
        step,
    )


def _one_block(prices: list[float], need: int) -> list[tuple[int, int]] | None:
    """The cheapest run of ``need`` consecutive cells (earliest on ties)."""
    best = INF
    best_start = -1
    total = 0.0
    bad = 0  # cells at INF in the current window
    for index, price in enumerate(prices):
        if price == INF:
            bad += 1
        else:
            total += price
        if index >= need:
            old = prices[index - need]
            if old == INF:
                bad -= 1
            else:
                total -= old
        if index >= need - 1 and bad == 0 and total < best - EPSILON:
            best = total
            best_start = index - need + 1
    if best_start < 0:
        return None
    return [(best_start, best_start + need)]


def _runs(cells: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for index in cells:
        if runs and runs[-1][1] == index:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    return runs


def _cheapest_cells(
    prices: list[float], need: int, max_blocks: int
) -> list[tuple[int, int]] | None:
    """The ``need`` cheapest cells (earliest on ties) when they form at most ``max_blocks``
    runs: then no plan can cost less, and among equal plans it is the earliest. Else None."""
    usable = [i for i, p in enumerate(prices) if p != INF]
    if len(usable) < need:
        return None
    chosen = sorted(sorted(usable, key=lambda i: prices[i])[:need])
    runs = _runs(chosen)
    return runs if len(runs) <= max_blocks else None


def _pruned_blocks(prices: list[float], need: int, max_blocks: int) -> list[tuple[int, int]] | None:
    """``_blocks`` on only the cells an optimal plan can use.

    A plan that uses a cell of price ``p`` costs at least ``p`` plus the ``need - 1`` cheapest
    prices. With ``bound`` the cost of any feasible plan (the best of: one block; the plan among
    the ``2 * need`` cheapest cells), a cell with ``p`` above ``bound`` minus those prices is in
    no optimal plan, tied ones included; leaving it out gives the same answer faster.
    """
    usable = sorted(p for p in prices if p != INF)
    if len(usable) < need:
        return None
    bounds = []
    if (one := _one_block(prices, need)) is not None:
        bounds.append(math.fsum(prices[one[0][0] : one[0][1]]))
    limit = usable[min(len(usable), 2 * need) - 1]
    if (trial := _blocks([p if p <= limit else INF for p in prices], need, max_blocks)) is not None:
        bounds.append(math.fsum(prices[i] for a, b in trial for i in range(a, b)))
    if not bounds:
        return _blocks(prices, need, max_blocks)
    threshold = min(bounds) - math.fsum(usable[: need - 1]) + EPSILON
    return _blocks([p if p <= threshold else INF for p in prices], need, max_blocks)


def _blocks(prices: list[float], need: int, max_blocks: int) -> list[tuple[int, int]] | None:
    """The cheapest ``need`` cells in at most ``max_blocks`` runs (earliest on ties).

    Tables are flat lists of stride ``need + 2`` per blocks-left value: column 0 is a sentinel
    (always ``INF``), column ``j + 1`` holds "``j`` cells still needed".
    """
    stride = need + 2
    size = (max_blocks + 1) * stride
    sentinel_row = [INF] * (max_blocks + 1)
    # After the last cell: nothing more is possible, 0 when no cell is needed.
    done = [INF] * size
    for b in range(max_blocks + 1):
        done[b * stride + 1] = 0.0
    # tables[i] = (free, joined): the optimum from cell i when cell i-1 is unused / used.
    tables: list[tuple[list[float], list[float]]] = [(done, done)] * (len(prices) + 1)
    free, joined = done, done
    for index in range(len(prices) - 1, -1, -1):
        price = prices[index]
        if price != INF:
            skip = free
            # Continue the block: same blocks left, one cell fewer.
            new_joined = [INF] + [
                s if s <= price + c else price + c for s, c in zip(skip[1:], joined, strict=False)
            ]
            # Start a block: one block fewer, one cell fewer.
            new_free = skip[: stride + 1] + [
                s if s <= price + c else price + c
                for s, c in zip(skip[stride + 1 :], joined, strict=False)
            ]
            new_joined[::stride] = sentinel_row
            new_free[::stride] = sentinel_row
            free, joined = new_free, new_joined
        else:
            joined = free  # cannot use this cell: same as skipping it
        tables[index] = (free, joined)
    position = max_blocks * stride + need + 1
    if tables[0][0][position] == INF:
        return None
    chosen: list[int] = []
    in_block = False
    remaining = need
    blocks_left = max_blocks
    for index, price in enumerate(prices):
        if remaining == 0:
            break
        if price == INF:
            in_block = False
            continue
        following_free, following_joined = tables[index + 1]
        here = blocks_left * stride + remaining + 1
        skip_cost = following_free[here]
        if in_block:
            take = price + following_joined[here - 1]
        elif blocks_left > 0:
            take = price + following_joined[here - stride - 1]
        else:
            take = INF
        if take != INF and take <= skip_cost + EPSILON:
            chosen.append(index)
            if not in_block:
                blocks_left -= 1
            in_block = True
            remaining -= 1
        else:
            in_block = False
    return _runs(chosen)
