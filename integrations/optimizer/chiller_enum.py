"""Exact hourly dispatch of a chiller plant by enumeration, and a DP over hours for starts.

Each chiller's part-load curve is cut into *modes*: maximal runs of segments whose slopes rise
(a convex curve is one mode). With a mode fixed for every running chiller, the least-power split
of a load is found by filling the cheapest segments first (exact: each mode is convex), so
enumerating every assignment of "off or one mode" to each chiller gives the exact least power
of every set of running chillers, for every hour at once (vectorised with NumPy).

When only start penalties tie the hours together, the least-cost sequence is a shortest path
over (hour, set of running chillers), found exactly by dynamic programming.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .chillers_input import Chiller, ChillerRequest

#: Most mode assignments enumerated per hour before the MILP is used instead.
MAX_ASSIGNMENTS = 200_000


@dataclass(frozen=True, slots=True)
class Mode:
    """A convex run of a chiller's curve: from ``lo`` kW at ``p_lo`` kW, segment by segment."""

    lo: float
    p_lo: float
    widths: tuple[float, ...]
    slopes: tuple[float, ...]


def modes(chiller: Chiller) -> list[Mode]:
    """The chiller's curve as maximal convex runs of segments."""
    curve = chiller.curve
    slopes = chiller.slopes
    result: list[Mode] = []
    start = 0
    for k in range(1, len(slopes) + 1):
        if k == len(slopes) or slopes[k] < slopes[k - 1] - 1e-12:
            result.append(
                Mode(
                    lo=curve[start][0],
                    p_lo=curve[start][1],
                    widths=tuple(curve[j + 1][0] - curve[j][0] for j in range(start, k)),
                    slopes=slopes[start:k],
                )
            )
            start = k
    return result


def assignments_count(request: ChillerRequest) -> int:
    """How many assignments (off or a mode, per chiller) an hour's enumeration tries."""
    count = 1
    for chiller in request.chillers:
        count *= 1 + len(modes(chiller))
    return count


@dataclass(frozen=True, slots=True)
class SetCosts:
    """Per hour and per set of running chillers (a bit mask): least power and the loads."""

    power: np.ndarray  # (hours, 2**n), inf where the set cannot meet the demand
    loads: np.ndarray  # (hours, 2**n, n)
    tried: int


def set_costs(request: ChillerRequest) -> SetCosts:
    """The exact least electric power of every set of running chillers in every hour."""
    chillers = request.chillers
    n = len(chillers)
    per_chiller = [modes(c) for c in chillers]
    # Rows: every assignment; column i holds 0 for off or 1 + the mode's index.
    grids = np.meshgrid(*[np.arange(1 + len(m)) for m in per_chiller], indexing="ij")
    choices = np.stack(grids, axis=-1).reshape(-1, n).astype(np.int64)  # itertools.product order
    rows = len(choices)
    mask_bits = (choices > 0).astype(np.int64) @ (1 << np.arange(n, dtype=np.int64))
    # Rows grouped by their set of running chillers, in a stable order: within a set the first
    # row of least cost is taken, as when the rows are looked at one by one.
    by_set = np.argsort(mask_bits, kind="stable")
    choices, set_of = choices[by_set], mask_bits[by_set]
    base_load = np.zeros(rows)
    base_power = np.zeros(rows)
    segments: list[tuple[float, float, int, int]] = []  # slope, width, chiller, mode
    for i, ms in enumerate(per_chiller):
        for k, mode in enumerate(ms):
            chosen = choices[:, i] == k + 1
            base_load += chosen * mode.lo
            base_power += chosen * mode.p_lo
            segments += [(s, w, i, k + 1) for s, w in zip(mode.slopes, mode.widths, strict=True)]
    segments.sort()
    slopes = np.array([s[0] for s in segments])
    widths = np.array([s[1] for s in segments])
    owner = np.array([s[2] for s in segments], dtype=np.int64)
    seg_mode = np.array([s[3] for s in segments], dtype=np.int64)
    active = choices[:, owner] == seg_mode[None, :]  # (rows, segments)
    width_rows = active * widths[None, :]
    # Accumulated along the segments with the rows side by side (one long add per segment).
    cumulative = np.ascontiguousarray(np.cumsum(width_rows.T, axis=0).T)
    capacity = base_load + cumulative[:, -1]
    available = np.array([[c.available[h] for c in chillers] for h in range(request.hours)])
    hours = request.hours
    size = 1 << n
    # What each row's chillers carry at their modes' lower ends, and which chiller owns each
    # segment, so a row's loads per chiller are one product.
    lo_table = np.zeros((n, 1 + max((len(m) for m in per_chiller), default=0)))
    for i, ms in enumerate(per_chiller):
        for k, mode in enumerate(ms):
            lo_table[i, k + 1] = mode.lo
    row_lo = lo_table[np.arange(n)[None, :], choices]  # (rows, n)
    owned = np.zeros((len(segments), n))
    owned[np.arange(len(segments)), owner] = 1.0
    starts = np.flatnonzero(np.r_[True, set_of[1:] != set_of[:-1]])
    sizes = np.diff(np.r_[starts, rows])
    group_sets = set_of[starts]
    off = choices == 0
    below = cumulative - width_rows
    position = np.arange(rows)
    power = np.full((hours, size), np.inf)
    loads = np.zeros((hours, size, n))
    done: dict[tuple[float, bytes], int] = {}  # hours of the same demand and availability
    for h in range(hours):
        demand = request.demand[h]
        key = (demand, available[h].tobytes())
        if key in done:
            power[h] = power[done[key]]
            loads[h] = loads[done[key]]
            continue
        done[key] = h
        ok = capacity >= demand - 1e-9
        if not available[h].all():
            ok &= np.all(available[h][None, :] | off, axis=1)
        rest = np.maximum(demand - base_load, 0.0)
        taken = np.subtract(rest[:, None], below)
        np.maximum(taken, 0.0, out=taken)
        np.minimum(taken, width_rows, out=taken)
        cost = np.where(ok, base_power + taken @ slopes, np.inf)
        # The least cost per set, and the first row reaching it.
        least = np.minimum.reduceat(cost, starts)
        at_least = np.where(cost == np.repeat(least, sizes), position, rows)
        first = np.minimum.reduceat(at_least, starts)
        finite = np.isfinite(least)
        chosen, sets = first[finite], group_sets[finite]
        power[h, sets] = least[finite]
        loads[h, sets] = taken[chosen] @ owned + row_lo[chosen]
    return SetCosts(power, loads, rows)


def shortest_sequence(request: ChillerRequest, costs: SetCosts) -> list[int] | None:
    """The least-cost set of running chillers per hour, with start penalties (exact DP).

    Returns None when no sequence meets every hour's demand.
    """
    n = len(request.chillers)
    size = 1 << n
    sets = np.arange(size, dtype=np.int64)
    penalties = np.array([c.start_penalty for c in request.chillers])
    bits = ((sets[:, None] >> np.arange(n)) & 1).astype(float)  # (size, n)
    # Penalty of going from set a (row) to set b (column): chillers in b and not in a.
    started = np.clip(bits[None, :, :] - bits[:, None, :], 0.0, None)
    transition = started @ penalties  # (size, size)
    initial = sum(1 << i for i, c in enumerate(request.chillers) if c.initially_on)
    price = np.asarray(request.price)
    value = transition[initial] + price[0] * costs.power[0]
    back = []
    # [next set, previous set]: each next set's options in one contiguous row.
    into = np.ascontiguousarray(transition.T)
    for h in range(1, request.hours):
        total = value[None, :] + into
        choice = np.argmin(total, axis=1)
        value = total[sets, choice] + price[h] * costs.power[h]
        back.append(choice)
    if not np.isfinite(value).any():
        return None
    last = int(np.argmin(value))
    if not np.isfinite(value[last]):
        return None
    path = [last]
    for choice in reversed(back):
        path.append(int(choice[path[-1]]))
    path.reverse()
    return path


def shortest_sequence_locked(request: ChillerRequest, costs: SetCosts) -> list[int] | None:
    """As ``shortest_sequence``, with minimum on and off times of up to 2 h (exact DP).

    The state is the set running and the set *locked*: chillers that started (with a 2 h
    minimum on time) or stopped (with a 2 h minimum off time) in the hour before, which may not
    change now. Chillers are never locked in the first hour (what ran before the horizon is not
    known), as in the MILP.
    """
    chillers = request.chillers
    n = len(chillers)
    size = 1 << n
    full = size - 1
    on2 = sum(1 << i for i, c in enumerate(chillers) if c.min_on >= 2)
    off2 = sum(1 << i for i, c in enumerate(chillers) if c.min_off >= 2)
    sets = np.arange(size, dtype=np.int64)
    penalties = np.array([c.start_penalty for c in chillers])
    bits = ((sets[:, None] >> np.arange(n)) & 1).astype(float)
    started = np.clip(bits[None, :, :] - bits[:, None, :], 0.0, None)
    transition = started @ penalties  # [previous set, next set]
    changed = sets[:, None] ^ sets[None, :]  # [previous, next]
    next_sets = np.broadcast_to(sets[None, :], (size, size))
    locked_next = changed & ((next_sets & on2) | (~next_sets & full & off2))
    price = np.asarray(request.price)
    initial = sum(1 << i for i, c in enumerate(chillers) if c.initially_on)
    # value[S, L]: least cost of ending the hour running S with L locked.
    value = np.full((size, size), np.inf)
    first = transition[initial] + price[0] * costs.power[0]
    value[sets, locked_next[initial]] = first
    back: list[np.ndarray] = []
    flat = sets[None, :] * size + locked_next  # [previous, next] -> index of (next, locked)
    for h in range(1, request.hours):
        # best[S, X] = min over locked sets L inside X of value[S, L] (a subset-min transform).
        best = value.copy()
        arg = np.broadcast_to(sets[None, :], (size, size)).copy()
        for i in range(n):
            bit = 1 << i
            with_bit = sets[(sets & bit) != 0]
            lower = best[:, with_bit ^ bit]
            take = lower < best[:, with_bit]
            best[:, with_bit] = np.where(take, lower, best[:, with_bit])
            arg[:, with_bit] = np.where(take, arg[:, with_bit ^ bit], arg[:, with_bit])
        # Going from S to S' needs every changed chiller unlocked: L inside full ^ (S ^ S').
        allowed = full ^ changed
        total = best[sets[:, None], allowed] + transition  # [previous, next]
        candidate = np.full(size * size, np.inf)
        np.minimum.at(candidate, flat.ravel(), total.ravel())
        # Which previous (set, locked) reached each (next, locked) at its least cost.
        order = np.lexsort((total.ravel(), flat.ravel()))
        keys = flat.ravel()[order]
        firsts = np.ones(len(keys), dtype=bool)
        firsts[1:] = keys[1:] != keys[:-1]
        winners = order[firsts]
        prev_set = winners // size
        prev_locked = arg[prev_set, allowed.ravel()[winners]]
        pointer = np.full((size * size, 2), -1, dtype=np.int64)
        pointer[keys[firsts], 0] = prev_set
        pointer[keys[firsts], 1] = prev_locked
        back.append(pointer)
        value = candidate.reshape(size, size) + price[h] * costs.power[h][:, None]
    index = int(np.argmin(value))
    if not np.isfinite(value.flat[index]):
        return None
    state = (index // size, index % size)
    path = [state[0]]
    for pointer in reversed(back):
        prev = pointer[state[0] * size + state[1]]
        state = (int(prev[0]), int(prev[1]))
        path.append(state[0])
    path.reverse()
    return path
