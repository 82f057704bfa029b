"""Edgewise with BACnet configured, run inside a network namespace by the broadcast test.

``python netns_client.py <config_dir>`` starts a Runtime on ``<config_dir>`` (whose device has
no address, so the integration must find it with a broadcast Who-Is), waits until the device's
point is read, calls ``bacnet.discover`` with a global broadcast, prints one JSON line with what
it found, and stops.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from core.runtime import Runtime


async def main(config_dir: Path) -> None:
    runtime = Runtime(config_dir)
    await runtime.start()
    try:
        state = None
        for _ in range(300):
            state = runtime.states.get("sensor.remote_supply_temperature")
            if state is not None and state.state not in ("unknown", "unavailable"):
                break
            await asyncio.sleep(0.05)
        everyone = await runtime.services.call(
            "bacnet", "discover", {"timeout": 2}, return_response=True
        )
        ranged = await runtime.services.call(
            "bacnet", "discover", {"low": 1200, "high": 1299, "timeout": 2}, return_response=True
        )
        print(
            json.dumps(
                {
                    "state": None if state is None else state.state,
                    "discover": everyone,
                    "ranged": ranged,
                }
            ),
            flush=True,
        )
    finally:
        await runtime.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
