"""The helpers every test area shares: wait for a condition, let the loop settle, a free port.

One module, so a fix (a longer limit for loaded CI machines, a clearer failure) reaches every
test. Prefer awaiting an event (``asyncio.Event``, a future the code under test completes, a
``FakeClock`` advance) where there is one; :func:`wait_for` is for conditions that no event
announces (a peer's reply, a state reached through several tasks).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from core.bus import EventBus

if TYPE_CHECKING:
    from core.runtime import Runtime

#: The repository's root, where a fresh interpreter finds Edgewise's packages.
REPO = Path(__file__).resolve().parents[1]

#: How long :func:`wait_for` waits by default: generous, for a loaded 2-core CI machine.
WAIT_LIMIT = 30.0

#: How often :func:`wait_for` checks its condition (seconds).
POLL_INTERVAL = 0.01


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(
    predicate: Callable[[], Any],
    what: str | Callable[[], str] = "the condition",
    *,
    within: float = WAIT_LIMIT,
) -> Any:
    """Wait until ``predicate()`` is truthy and return its value.

    Args:
        predicate: checked on the loop every ``POLL_INTERVAL`` seconds.
        what: what is awaited, for the failure message (or a function giving it, called
            only on failure, to show the state at the time).
        within: fail (``pytest.fail``) after this many seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = predicate()
        if result:
            return result
        if loop.time() > deadline:
            pytest.fail(
                f"timed out after {within:g} s waiting for {what() if callable(what) else what}"
            )
        await asyncio.sleep(POLL_INTERVAL)


async def settle(target: Runtime | EventBus | None = None, *, ticks: int = 3) -> None:
    """Let queued work run: the bus's deliveries and listener tasks, then ``ticks`` loop turns.

    Args:
        target: a runtime or a bus whose queued deliveries are awaited (bounded to
            ``WAIT_LIMIT``); None to only turn the loop.
        ticks: loop turns after the first drain, so tasks started by listeners run; the bus
            is drained again after them.
    """
    bus = target if target is None or isinstance(target, EventBus) else target.bus
    async with asyncio.timeout(WAIT_LIMIT):
        if bus is not None:
            await bus.drain()
        for _ in range(ticks):
            await asyncio.sleep(0)
        if bus is not None:
            await bus.drain()


def run_site_script(script: str, *args: str, timeout: float = 120) -> dict[str, str]:
    """Run ``script`` in a fresh interpreter from the repository, with ``args``, and return the
    ``name value`` lines it prints as a mapping (what a test checks a fresh process for, such
    as the modules it imported). The script must succeed; its error output is shown if not."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())
