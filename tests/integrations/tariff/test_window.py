"""The cheapest-window search: exact against brute force, blocks, caps, ties, bad input."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from integrations.tariff.timeline import Segment, Timeline
from integrations.tariff.window import (
    INF,
    WindowError,
    _blocks,
    _cheapest_cells,
    _pruned_blocks,
    cheapest,
)

T0 = datetime(2026, 1, 15, tzinfo=UTC)
STEP = timedelta(minutes=15)


def _timeline(prices: list[float], step: timedelta = STEP) -> Timeline:
    return Timeline(
        [Segment(T0 + i * step, T0 + (i + 1) * step, p) for i, p in enumerate(prices)], step
    )


def _brute(prices: list[float], need: int, blocks: int) -> tuple[float, tuple[int, ...]] | None:
    best: tuple[float, tuple[int, ...]] | None = None
    for comb in itertools.combinations(range(len(prices)), need):
        if any(prices[i] == INF for i in comb):
            continue
        runs = 1 + sum(1 for a, b in itertools.pairwise(comb) if b != a + 1)
        cost = sum(prices[i] for i in comb)
        if runs <= blocks and (best is None or cost < best[0] - 1e-9):
            best = (cost, comb)
    return best


def test_the_block_search_matches_brute_force_including_earliest_ties() -> None:
    rng = random.Random(7)  # noqa: S311 - test data
    for _ in range(600):
        size = rng.randint(1, 11)
        need, blocks = rng.randint(1, size), rng.randint(1, 3)
        prices = [rng.choice([1.0, 2.0, 3.0, 1.5, INF, -0.5]) for _ in range(size)]
        expected = _brute(prices, need, blocks)
        runs = _blocks(prices, need, blocks)
        fast = _cheapest_cells(prices, need, blocks)
        if fast is not None:
            assert fast == runs  # the shortcut agrees with the programme, ties included
        assert _pruned_blocks(prices, need, blocks) == runs  # so does the pruned programme
        if expected is None:
            assert runs is None
            continue
        assert runs is not None
        cells = tuple(i for a, b in runs for i in range(a, b))
        assert cells == expected[1]


def test_one_block_is_the_cheapest_contiguous_run() -> None:
    timeline = _timeline([5, 5, 1, 2, 1, 9, 1, 1])
    plan = cheapest(timeline, timedelta(minutes=30), T0, T0 + 8 * STEP)
    assert plan.blocks[0].start == T0 + 6 * STEP
    assert plan.cost(1.0) == pytest.approx(0.5)  # 2 cells x 0.25 h x 1 kWh price 1


def test_ties_go_earliest_unless_latest_is_asked() -> None:
    timeline = _timeline([1, 3, 1, 3, 1])
    early = cheapest(timeline, STEP, T0, T0 + 5 * STEP)
    late = cheapest(timeline, STEP, T0, T0 + 5 * STEP, latest=True)
    assert early.blocks[0].start == T0
    assert late.blocks[0].start == T0 + 4 * STEP


def test_two_blocks_under_a_cap_skip_the_dear_slots() -> None:
    timeline = _timeline([1, 1, 9, 9, 2, 1, 8])
    plan = cheapest(timeline, timedelta(minutes=60), T0, T0 + 7 * STEP, blocks=2, cap=5)
    assert [(b.start, b.end) for b in plan.blocks] == [
        (T0, T0 + 2 * STEP),
        (T0 + 4 * STEP, T0 + 6 * STEP),
    ]


def test_a_deadline_shorter_than_the_run_is_refused() -> None:
    with pytest.raises(WindowError, match="less than 2:00:00 after the earliest start"):
        cheapest(_timeline([1] * 8), timedelta(hours=2), T0, T0 + timedelta(hours=1))


def test_holes_are_never_used_and_too_few_priced_slots_say_so() -> None:
    segments = [Segment(T0, T0 + STEP, 1.0), Segment(T0 + 3 * STEP, T0 + 4 * STEP, 1.0)]
    timeline = Timeline(segments, STEP)
    with pytest.raises(WindowError, match="too few slots with a known price"):
        cheapest(timeline, timedelta(minutes=30), T0, T0 + 4 * STEP, blocks=1)
    plan = cheapest(timeline, timedelta(minutes=30), T0, T0 + 4 * STEP, blocks=2)
    assert [b.start for b in plan.blocks] == [T0, T0 + 3 * STEP]


def test_sixty_minute_data_is_searched_on_its_own_grid() -> None:
    timeline = _timeline([4, 1, 3], step=timedelta(hours=1))
    plan = cheapest(
        timeline, timedelta(minutes=50), T0 + timedelta(minutes=10), T0 + timedelta(hours=3)
    )
    assert plan.blocks[0].start == T0 + timedelta(hours=1)
    assert plan.blocks[0].end == T0 + timedelta(hours=2)


def test_pruning_never_changes_the_plan_on_longer_days() -> None:
    rng = random.Random(11)  # noqa: S311 - test data
    for _ in range(200):
        size = rng.randint(20, 80)
        need, blocks = rng.randint(1, 16), rng.randint(2, 4)
        levels = [rng.uniform(-0.05, 0.4) for _ in range(5)]
        prices = [
            rng.choice(levels) if rng.random() < 0.5 else rng.uniform(-0.05, 0.4)
            for _ in range(size)
        ]
        prices = [INF if rng.random() < 0.1 else p for p in prices]
        assert _pruned_blocks(prices, need, blocks) == _blocks(prices, need, blocks)
