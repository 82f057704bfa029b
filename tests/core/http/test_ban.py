"""core/http/ban.py on a FakeClock: bans expire, failures age out, attempts are reserved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.clock import FakeClock
from core.http.ban import LoginGuard


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 1, tzinfo=UTC))


def test_a_ban_expires_when_the_runtime_clock_passes_it(clock: FakeClock) -> None:
    guard = LoginGuard(threshold=3, ban_seconds=60, clock=clock)
    for _ in range(3):
        guard.failed("10.0.0.66", "login")
    assert guard.banned_for("10.0.0.66") == 60
    assert guard.banned_for("10.0.0.7") == 0
    clock.advance(timedelta(seconds=59))
    assert guard.banned_for("10.0.0.66") == pytest.approx(1)
    assert not guard.reserve("10.0.0.66")
    clock.advance(timedelta(seconds=1.5))
    assert guard.banned_for("10.0.0.66") == 0
    assert guard.reserve("10.0.0.66")


def test_failures_age_out_of_the_window(clock: FakeClock) -> None:
    guard = LoginGuard(threshold=3, ban_seconds=60, window=600, clock=clock)
    guard.failed("10.0.0.66", "login")
    guard.failed("10.0.0.66", "login")
    clock.advance(timedelta(seconds=601))
    assert guard.failures("10.0.0.66") == 0
    guard.failed("10.0.0.66", "login")
    assert guard.banned_for("10.0.0.66") == 0


def test_attempts_in_flight_count_before_they_fail(clock: FakeClock) -> None:
    guard = LoginGuard(threshold=3, ban_seconds=60, clock=clock)
    guard.failed("10.0.0.66", "login")
    assert guard.reserve("10.0.0.66")
    assert guard.reserve("10.0.0.66")
    # One failure and two checks running: a third check must wait for their outcome.
    assert not guard.reserve("10.0.0.66")
    guard.release("10.0.0.66", failed=False)
    assert guard.reserve("10.0.0.66")
    guard.release("10.0.0.66", failed=True)
    guard.release("10.0.0.66", failed=True)
    assert guard.banned_for("10.0.0.66") == 60
    assert guard.failures("10.0.0.66") == 0  # cleared by the ban


def test_memory_stays_bounded_under_a_scan(clock: FakeClock) -> None:
    guard = LoginGuard(threshold=5, ban_seconds=60, clock=clock)
    for i in range(25_000):
        guard.failed(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "login")
    assert guard.failures("10.0.97.167") == 1  # the newest are kept
    assert len(guard._failures) <= 10_001
    # Reservations that succeed leave nothing behind.
    assert guard.reserve("192.0.2.1")
    guard.release("192.0.2.1", failed=False)
    assert "192.0.2.1" not in guard._failures
    assert "192.0.2.1" not in guard._pending
