"""Two views of the window for the appliances' own heads, in numpy and as ONNX nodes.

- The edge view (the dishwasher's tail): per minute of the whole window, the largest rise
  and the largest fall between readings two samples apart, and the spread of the readings
  (max - min). A heater switches in one second (at 6 s its step falls within two readings)
  and draws a flat power; a heat pump or a charger ramps up over a minute or two, a heat
  pump's power wanders and a washing machine's drum turns on top of its heater: the shared
  perceptron's 1-minute means cannot tell them apart.
- The kettle's view: the readings from ``KETTLE_SPAN`` samples (4.8 min) before the output
  sample to as many after it, each relative to the output sample's, and the shared
  perceptron's on-logit for the kettle. A kettle is on for 1 to 4 minutes at one flat
  power, so the step to the readings just outside its run is its power, and what a
  toaster, a hob or an iron does around it tells it apart.

numpy for training; the ``add_*`` functions write the same computation into the model's graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Readings apart that an edge spans (a one-second switch is within two 6 s readings)...
EDGE_SPAN = 2
#: ...clipped to ±this much (normalised: 3 kW), then divided by it...
EDGE_CLIP = 3.0
#: ...and the largest rise and fall kept per this many readings (one minute at 6 s).
EDGE_BLOCK = 10
#: The spread of the readings per block clipped to this much (normalised: 250 W), then
#: divided by it.
SPREAD_CLIP = 0.25

#: The kettle's view: this many readings either side of the output sample...
KETTLE_SPAN = 48
#: ...and the shared perceptron's kettle logit, clipped to ±this much and divided by it.
LOGIT_CLIP = 10.0


def edge_blocks(window: int) -> int:
    """Blocks of the rises and the falls of the edge view of ``window`` readings."""
    return (window - EDGE_SPAN) // EDGE_BLOCK


def edge_features(windows: np.ndarray) -> np.ndarray:
    """The edge view of normalised windows ``[n, W]``: the rises, the falls, the spreads.

    ``[n, 2 * edge_blocks(W) + W // EDGE_BLOCK]``; the spreads are of whole blocks of readings
    (``W`` is a multiple of ``EDGE_BLOCK``).
    """
    n, length = windows.shape
    blocks = edge_blocks(length)
    step = np.clip(windows[:, EDGE_SPAN:] - windows[:, :-EDGE_SPAN], -EDGE_CLIP, EDGE_CLIP)
    step = (step[:, : blocks * EDGE_BLOCK] / EDGE_CLIP).reshape(n, blocks, EDGE_BLOCK)
    readings = windows.reshape(n, length // EDGE_BLOCK, EDGE_BLOCK)
    spread = np.clip(readings.max(axis=2) - readings.min(axis=2), 0, SPREAD_CLIP) / SPREAD_CLIP
    return np.concatenate([step.max(axis=2), step.min(axis=2), spread], axis=1).astype(np.float32)


def kettle_features(windows: np.ndarray, output_index: int, logit: np.ndarray) -> np.ndarray:
    """The kettle's view ``[n, 2 * KETTLE_SPAN + 2]`` of normalised windows.

    ``logit``: the shared perceptron's kettle on-logit per window.
    """
    local = windows[:, output_index - KETTLE_SPAN : output_index + KETTLE_SPAN + 1]
    local = local - windows[:, output_index : output_index + 1]
    shared = np.clip(logit, -LOGIT_CLIP, LOGIT_CLIP)[:, None] / LOGIT_CLIP
    return np.concatenate([local, shared], axis=1).astype(np.float32)


def _init(inits: list[Any], name: str, value: np.ndarray) -> str:
    from onnx import numpy_helper  # noqa: PLC0415 - the training extra only

    inits.append(numpy_helper.from_array(value, name))
    return name


def add_edges(window: str, out: str, *, length: int, inits: list[Any], nodes: list[Any]) -> None:
    """Add the edge view of ``window`` ``[n, length]`` as ``out`` (see ``edge_features``)."""
    from onnx import helper  # noqa: PLC0415 - the training extra only

    blocks = edge_blocks(length)
    axis = _init(inits, "edge_axis", np.array([1], np.int64))
    start = _init(inits, "edge_start", np.array([EDGE_SPAN], np.int64))
    stop = _init(inits, "edge_stop", np.array([length], np.int64))
    zero = _init(inits, "edge_zero", np.array([0], np.int64))
    lag_end = _init(inits, "edge_lag_end", np.array([length - EDGE_SPAN], np.int64))
    used = _init(inits, "edge_used", np.array([blocks * EDGE_BLOCK], np.int64))
    clip = _init(inits, "edge_clip", np.array(EDGE_CLIP, np.float32))
    shape = _init(inits, "edge_shape", np.array([-1, blocks, EDGE_BLOCK], np.int64))
    nodes += [
        helper.make_node("Slice", [window, start, stop, axis], ["edge_next"]),
        helper.make_node("Slice", [window, zero, lag_end, axis], ["edge_prev"]),
        helper.make_node("Sub", ["edge_next", "edge_prev"], ["edge_step"]),
        helper.make_node(
            "Clip",
            ["edge_step", _init(inits, "edge_lo", np.array(-EDGE_CLIP, np.float32)), clip],
            ["edge_clipped"],
        ),
        helper.make_node("Slice", ["edge_clipped", zero, used, axis], ["edge_used_steps"]),
        helper.make_node("Div", ["edge_used_steps", clip], ["edge_scaled"]),
        helper.make_node("Reshape", ["edge_scaled", shape], ["edge_blocks"]),
        helper.make_node("ReduceMax", ["edge_blocks"], ["edge_rise"], axes=[2], keepdims=0),
        helper.make_node("ReduceMin", ["edge_blocks"], ["edge_fall"], axes=[2], keepdims=0),
        helper.make_node(
            "Reshape",
            [
                window,
                _init(
                    inits,
                    "spread_shape",
                    np.array([-1, length // EDGE_BLOCK, EDGE_BLOCK], np.int64),
                ),
            ],
            ["spread_blocks"],
        ),
        helper.make_node("ReduceMax", ["spread_blocks"], ["spread_max"], axes=[2], keepdims=0),
        helper.make_node("ReduceMin", ["spread_blocks"], ["spread_min"], axes=[2], keepdims=0),
        helper.make_node("Sub", ["spread_max", "spread_min"], ["spread_raw"]),
        helper.make_node(
            "Clip",
            [
                "spread_raw",
                _init(inits, "spread_lo", np.array(0.0, np.float32)),
                _init(inits, "spread_clip", np.array(SPREAD_CLIP, np.float32)),
            ],
            ["spread_clipped"],
        ),
        helper.make_node("Div", ["spread_clipped", "spread_clip"], ["spread"]),
        helper.make_node("Concat", ["edge_rise", "edge_fall", "spread"], [out], axis=1),
    ]


def add_kettle_view(
    window: str,
    logit: str,
    out: str,
    *,
    output_index: int,
    inits: list[Any],
    nodes: list[Any],
) -> None:
    """Add the kettle's view of ``window`` and the shared ``logit`` ``[n, 1]`` as ``out``."""
    from onnx import helper  # noqa: PLC0415 - the training extra only

    axis = _init(inits, "kettle_axis", np.array([1], np.int64))
    lo = np.array([output_index - KETTLE_SPAN], np.int64)
    hi = np.array([output_index + KETTLE_SPAN + 1], np.int64)
    clip = _init(inits, "kettle_logit_clip", np.array(LOGIT_CLIP, np.float32))
    nodes += [
        helper.make_node(
            "Slice",
            [window, _init(inits, "kettle_lo", lo), _init(inits, "kettle_hi", hi), axis],
            ["kettle_local"],
        ),
        helper.make_node(
            "Slice",
            [
                window,
                _init(inits, "kettle_at", np.array([output_index], np.int64)),
                _init(inits, "kettle_after", np.array([output_index + 1], np.int64)),
                axis,
            ],
            ["kettle_level"],
        ),
        helper.make_node("Sub", ["kettle_local", "kettle_level"], ["kettle_relative"]),
        helper.make_node(
            "Clip",
            [logit, _init(inits, "kettle_logit_lo", np.array(-LOGIT_CLIP, np.float32)), clip],
            ["kettle_logit_clipped"],
        ),
        helper.make_node("Div", ["kettle_logit_clipped", clip], ["kettle_shared"]),
        helper.make_node("Concat", ["kettle_relative", "kettle_shared"], [out], axis=1),
    ]
