"""An appliance's own head: a small 1D convolution over a slice of the window, then a perceptron.

The shared perceptron of ``train.py`` sees every position of the window through weights of
its own, so an edge learnt at one position is not known at the next. A convolution learns an
appliance's edge shapes once (a fridge's inrush and decay, a heater switching, a pump) and
finds them anywhere in its slice; max-pooling keeps where, roughly, and the perceptron on top
reads the order of the edges (a fridge is on when its last start came after its last stop).

Its input channels, computed by the graph from the raw window: the steps between (pooled)
readings; optionally the level above the slice's lowest; and, when readings are pooled, the
spread (max - min) within each pooled block; each clipped and scaled to 0..1 or ±1. The level
is left out of the fridge's head: relative to the slice's lowest it depends on what else the
house runs, and the head generalised much worse to unseen houses with it.
numpy only for training; ``add_to_graph`` writes the head into the model's ONNX graph.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_LOGGER = logging.getLogger(__name__)


class Adam:
    """Adam's moment estimates for a list of parameter arrays (the learners here share it)."""

    def __init__(self, params: list[np.ndarray]) -> None:
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.step = 0

    def update(self, params: list[np.ndarray], grads: Sequence[np.ndarray], lr: float) -> None:
        """One step: ``params[i]`` moves against ``grads[i]`` (replaced, as float32)."""
        self.step += 1
        b1, b2 = 0.9, 0.999
        for i, g in enumerate(grads):
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            mh = self.m[i] / (1 - b1**self.step)
            vh = self.v[i] / (1 - b2**self.step)
            params[i] = params[i] - (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)


@dataclass(frozen=True)
class HeadSpec:
    """What an appliance's head sees and how large it is."""

    appliance: str
    #: The slice of the window it reads (samples from the window's start).
    start: int
    end: int
    #: Readings averaged before the convolution (1: full resolution).
    pool: int
    #: Steps clipped to ±this much (normalised: kW), then divided by it.
    step_clip: float
    #: Level above the slice's lowest clipped to this much (normalised), then divided by it
    #: (None: no level channel).
    level_clip: float | None
    kernel: int
    channels: int
    #: Convolution outputs max-pooled this many at a time.
    max_pool: int
    hidden: int
    #: Share of the training windows drawn where the appliance is on (the rest uniform).
    on_share: float

    @property
    def length(self) -> int:
        """Readings in the head's input after pooling."""
        return (self.end - self.start) // self.pool

    @property
    def inputs(self) -> int:
        """Input channels: steps, the level if any, the spread within a pooled block if any."""
        return 1 + (self.level_clip is not None) + (self.pool > 1)

    @property
    def positions(self) -> int:
        """Pooled convolution outputs per channel."""
        return (self.length - 1 - self.kernel + 1) // self.max_pool


def head_inputs(spec: HeadSpec, windows: np.ndarray) -> np.ndarray:
    """The head's input channels ``[n, spec.inputs, length - 1]`` of normalised windows."""
    x = windows[:, spec.start : spec.end]
    spread = None
    if spec.pool > 1:
        blocks = x.reshape(len(x), spec.length, spec.pool)
        x = blocks.mean(axis=2)
        spread = blocks.max(axis=2) - blocks.min(axis=2)
    channels = [np.clip(x[:, 1:] - x[:, :-1], -spec.step_clip, spec.step_clip) / spec.step_clip]
    if spec.level_clip is not None:
        level = np.clip(x - x.min(axis=1, keepdims=True), 0, spec.level_clip) / spec.level_clip
        channels.append(level[:, 1:])
    if spread is not None:
        channels.append(np.clip(spread[:, 1:], 0, spec.step_clip) / spec.step_clip)
    return np.stack(channels, axis=1).astype(np.float32)


class ConvHead:
    """Convolution, max-pool, ReLU, a hidden layer and (power, on-logit); Adam in numpy."""

    def __init__(self, spec: HeadSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        fan = spec.inputs * spec.kernel
        flat = spec.channels * spec.positions
        shapes = [(fan, spec.channels), (flat, spec.hidden), (spec.hidden, 2)]
        self.params: list[np.ndarray] = []
        for fan_in, fan_out in shapes:
            self.params.append(rng.normal(0, np.sqrt(2.0 / fan_in), (fan_in, fan_out)))
            self.params.append(np.zeros(fan_out))
        self.params = [p.astype(np.float32) for p in self.params]
        self.adam = Adam(self.params)

    def _patches(self, inputs: np.ndarray) -> np.ndarray:
        s = self.spec
        used = s.positions * s.max_pool
        p = sliding_window_view(inputs, s.kernel, axis=2)[:, :, :used]  # n, c, used, k
        return np.ascontiguousarray(p.transpose(0, 2, 1, 3)).reshape(len(inputs), used, -1)

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, tuple[Any, ...]]:
        """(power, logit) ``[n, 2]`` and what the backward pass needs."""
        s = self.spec
        w0, b0, w1, b1, w2, b2 = self.params
        patches = self._patches(inputs)
        z = patches @ w0 + b0  # n, used, channels
        blocks = z.reshape(len(z), s.positions, s.max_pool, s.channels)
        pooled = blocks.max(axis=2)
        h0 = np.maximum(pooled, 0).reshape(len(z), -1)
        z1 = h0 @ w1 + b1
        h1 = np.maximum(z1, 0)
        out = h1 @ w2 + b2
        return out, (patches, blocks, pooled, h0, h1)

    def train_batch(
        self, inputs: np.ndarray, power: np.ndarray, on: np.ndarray, lr: float
    ) -> float:
        """One Adam step on a batch; answers its loss."""
        s = self.spec
        out, (patches, blocks, pooled, h0, h1) = self.forward(inputs)
        n = len(inputs)
        prob = 1.0 / (1.0 + np.exp(-np.clip(out[:, 1], -30, 30)))
        grad = np.empty_like(out)
        grad[:, 0] = 2 * (out[:, 0] - power) / n
        grad[:, 1] = (prob - on) / n
        loss = float(np.mean((out[:, 0] - power) ** 2)) - float(
            np.mean(on * np.log(prob + 1e-7) + (1 - on) * np.log(1 - prob + 1e-7))
        )
        _, _, w1, _, w2, _ = self.params
        g2, gb2 = h1.T @ grad, grad.sum(axis=0)
        d1 = (grad @ w2.T) * (h1 > 0)
        g1, gb1 = h0.T @ d1, d1.sum(axis=0)
        d0 = ((d1 @ w1.T) * (h0 > 0)).reshape(pooled.shape)
        mask = blocks == pooled[:, :, None, :]
        dz = (mask * d0[:, :, None, :]).reshape(n, -1, s.channels)
        g0 = patches.reshape(-1, patches.shape[2]).T @ dz.reshape(-1, s.channels)
        gb0 = dz.sum(axis=(0, 1))
        self.adam.update(self.params, (g0, gb0, g1, gb1, g2, gb2), lr)
        return loss

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """(power / scale, on-logit) ``[n, 2]`` for normalised windows."""
        out = np.empty((len(windows), 2), np.float32)
        for chunk in np.array_split(np.arange(len(windows)), max(1, len(windows) // 2048)):
            out[chunk] = self.forward(head_inputs(self.spec, windows[chunk]))[0]
        return out


def train_head(
    head: ConvHead,
    inputs: np.ndarray,
    power: np.ndarray,
    on: np.ndarray,
    *,
    epochs: int,
    batch: int,
    learning_rate: float,
    rng: np.random.Generator,
) -> None:
    """Train ``head`` on precomputed ``head_inputs`` with a halving learning rate."""
    started = time.monotonic()
    for epoch in range(epochs):
        order = rng.permutation(len(inputs))
        lr = learning_rate * (0.5 ** (epoch // max(1, epochs // 3)))
        losses = [
            head.train_batch(inputs[b], power[b], on[b], lr)
            for b in np.array_split(order, max(1, len(order) // batch))
        ]
        _LOGGER.info(
            "%s head epoch %d loss %.4f (%.0f s)",
            head.spec.appliance,
            epoch,
            np.mean(losses),
            time.monotonic() - started,
        )


def _i64(value: int) -> np.ndarray:
    return np.array([value], np.int64)


def _f32(value: float) -> np.ndarray:
    return np.array(value, np.float32)


def add_to_graph(
    head: ConvHead, window: str, out: str, *, inits: list[Any], nodes: list[Any]
) -> None:
    """Add ``head`` to a graph: from the normalised ``window`` ``[n, W]`` to ``out`` ``[n, 2]``."""
    from onnx import helper, numpy_helper  # noqa: PLC0415 - the training extra only

    s = head.spec
    p = s.appliance

    def init(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, f"{p}_{name}"))
        return f"{p}_{name}"

    def node(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [f"{p}_{name}"], **attrs))
        return f"{p}_{name}"

    one = init("axis1", np.array([1], np.int64))
    x = node(
        "Slice",
        [window, init("start", _i64(s.start)), init("end", _i64(s.end)), one],
        "slice",
    )
    spread = None
    if s.pool > 1:
        shape = init("pool_shape", np.array([-1, s.length, s.pool], np.int64))
        blocks = node("Reshape", [x, shape], "blocks")
        x = node("ReduceMean", [blocks], "pooled", axes=[2], keepdims=0)
        spread = node(
            "Sub",
            [
                node("ReduceMax", [blocks], "block_max", axes=[2], keepdims=0),
                node("ReduceMin", [blocks], "block_min", axes=[2], keepdims=0),
            ],
            "block_spread",
        )
    zero = init("zero", np.array([0], np.int64))
    last = init("last", np.array([-1], np.int64))
    to_end = init("to_end", np.array([1 << 30], np.int64))
    nxt = node("Slice", [x, one, to_end, one], "next")
    prev = node("Slice", [x, zero, last, one], "prev")
    step_clip = init("step_clip", np.array(s.step_clip, np.float32))
    step = node("Sub", [nxt, prev], "diff")
    step = node(
        "Clip",
        [step, init("step_lo", np.array(-s.step_clip, np.float32)), step_clip],
        "step_clipped",
    )
    axis = init("channel_axis", np.array([1], np.int64))
    step = node("Div", [step, step_clip], "step")
    channels = [node("Unsqueeze", [step, axis], "step_c")]
    if s.level_clip is not None:
        floor = node("ReduceMin", [x], "floor", axes=[1], keepdims=1)
        level_clip = init("level_clip", np.array(s.level_clip, np.float32))
        level = node(
            "Clip",
            [node("Sub", [nxt, floor], "above"), init("zero_f", _f32(0.0)), level_clip],
            "level_clipped",
        )
        level = node("Div", [level, level_clip], "level")
        channels.append(node("Unsqueeze", [level, axis], "level_c"))
    if spread is not None:
        spread = node("Slice", [spread, one, to_end, one], "spread_next")
        spread = node("Clip", [spread, init("spread_lo", _f32(0.0)), step_clip], "spread_clipped")
        spread = node("Div", [spread, step_clip], "spread")
        channels.append(node("Unsqueeze", [spread, axis], "spread_c"))
    stacked = node("Concat", channels, "inputs", axis=1)
    w0, b0, w1, b1, w2, b2 = head.params
    used = s.positions * s.max_pool
    stacked = node(
        "Slice",
        [
            stacked,
            init("conv_start", np.array([0], np.int64)),
            init("conv_end", np.array([used + s.kernel - 1], np.int64)),
            init("axis2", np.array([2], np.int64)),
        ],
        "conv_in",
    )
    # numpy's [inputs * kernel, channels] is ONNX's [channels, inputs, kernel].
    kernel = np.ascontiguousarray(w0.reshape(s.inputs, s.kernel, s.channels).transpose(2, 0, 1))
    conv = node("Conv", [stacked, init("conv_w", kernel), init("conv_b", b0)], "conv")
    pooled = node("MaxPool", [conv], "maxpool", kernel_shape=[s.max_pool], strides=[s.max_pool])
    h0 = node("Relu", [pooled], "h0_cp")
    h0 = node("Transpose", [h0], "h0_pc", perm=[0, 2, 1])
    h0 = node("Flatten", [h0], "h0", axis=1)
    h1 = node("Relu", [node("Gemm", [h0, init("w1", w1), init("b1", b1)], "z1")], "h1")
    nodes.append(helper.make_node("Gemm", [h1, init("w2", w2), init("b2", b2)], [out]))
