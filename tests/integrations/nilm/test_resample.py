"""Time-weighted resampling: means over each period, gaps and bad readings left missing."""

from __future__ import annotations

import math

from integrations.nilm.resample import Resampler


def test_each_sample_is_the_time_weighted_mean_over_its_period() -> None:
    r = Resampler(6, 60)
    assert r.add(0, 100) == []
    assert r.add(3, 400) == []  # 3 s at 100, then 400
    done = r.add(12, 400)
    assert done == [(0, 250.0), (6, 400.0)]


def test_a_first_partial_period_is_missing_not_guessed() -> None:
    r = Resampler(6, 60)
    r.add(2, 100)
    (slot, value), *_ = r.add(12, 100)
    assert slot == 0
    assert math.isnan(value)


def test_unavailable_negative_and_nan_readings_leave_their_time_missing() -> None:
    for bad in (None, -5.0, float("nan"), float("inf")):
        r = Resampler(6, 60)
        r.add(0, 100)
        done = r.add(6, bad) + r.add(18, 100)
        assert done[0] == (0, 100.0)
        assert all(math.isnan(v) for _, v in done[1:]), bad


def test_a_silent_sensor_is_held_only_up_to_the_hold_limit() -> None:
    r = Resampler(6, 30)
    r.add(0, 100)
    done = r.advance(60)
    values = [v for _, v in done]
    assert values[:5] == [100.0] * 5
    assert all(math.isnan(v) for v in values[5:])
    assert len(values) == 10
