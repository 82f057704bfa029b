"""Writes a generated house (``household.generate_house``) to a file the simulator plays back.

Run in a child process by the simulator (``playback.ensure_trace``), so numpy and the 1 s
physics (about 200 MB for 14 days) never enter the runtime's own memory::

    python -m integrations.simulator.household_export SEED PERIOD DAYS PATH

The house is exactly ``generate_house(SEED, DAYS, PERIOD)``: the data the NILM model was trained
and is evaluated on. The file is one line of JSON (the header), then one row per period of
little-endian float32, the header's ``columns`` in order:

* ``other``: what the meter reads beyond the seven appliances (base load, lights, and the
  unmetered hob, oven, toaster and iron), so ``aggregate = other + sum(appliances)``;
* one column per appliance of ``household.APPLIANCES``.

The header: ``format``, ``seed``, ``period``, ``days``, ``rows``, ``columns``, and ``cycles``:
for the dishwasher, the washing machine and the EV charger, the house's own cycles as
``[first row, rows]``, which the simulator replays when a plug starts one on demand.
The file is written next to ``PATH`` and renamed into place, so a reader never sees half.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from .household import APPLIANCES, generate_house

#: The file format's version (in the header).
FORMAT = 1
#: Appliances whose cycles are listed, for on-demand starts.
CYCLED = ("dishwasher", "washing_machine", "ev_charger")
#: A pause shorter than this (s) does not end a cycle (a washer's drum stops, an EV's taper).
CYCLE_PAUSE_S = 600


def cycles(power: np.ndarray, period: int) -> list[list[int]]:
    """The runs of ``power`` above 0.5 W, pauses shorter than ``CYCLE_PAUSE_S`` bridged."""
    on = np.flatnonzero(power > 0.5)
    if on.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(on) * period > CYCLE_PAUSE_S)
    firsts = np.concatenate([[on[0]], on[breaks + 1]])
    lasts = np.concatenate([on[breaks], [on[-1]]])
    return [[int(a), int(b - a + 1)] for a, b in zip(firsts, lasts, strict=True)]


def export(seed: int, period: int, days: int, path: Path) -> None:
    """Generate the house and write it to ``path`` (atomically)."""
    house = generate_house(seed, days=days, period=period)
    other = house.aggregate.astype(np.float64) - sum(
        house.appliances[name].astype(np.float64) for name in APPLIANCES
    )
    columns = ["other", *APPLIANCES]
    table = np.column_stack(
        [np.clip(other, 0, None)] + [house.appliances[name] for name in APPLIANCES]
    ).astype("<f4")
    header = {
        "format": FORMAT,
        "seed": seed,
        "period": period,
        "days": days,
        "rows": int(table.shape[0]),
        "columns": columns,
        "cycles": {name: cycles(house.appliances[name], period) for name in CYCLED},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    with partial.open("wb") as out:
        out.write(json.dumps(header).encode() + b"\n")
        out.write(table.tobytes())
    os.replace(partial, path)


def main(argv: list[str]) -> int:
    """``SEED PERIOD DAYS PATH``; 0 when written, 2 on bad arguments."""
    try:
        seed, period, days, path = int(argv[0]), int(argv[1]), int(argv[2]), Path(argv[3])
    except (IndexError, ValueError):
        print("usage: household_export SEED PERIOD DAYS PATH", file=sys.stderr)
        return 2
    export(seed, period, days, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
