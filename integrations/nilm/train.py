"""Train a NILM model on simulated houses and export it as ONNX plus its manifest.

Needs the ``[nilm-train]`` extra (``onnx``; numpy comes with it); never needed to run Edgewise.
The learner is a small multilayer perceptron trained with Adam in numpy, on features the ONNX
graph computes itself from the raw window, so the runtime feeds readings and nothing else:

- the fine view: the 256 readings around the output sample;
- the coarse view: the whole window (2 h at 6 s) as 1-minute means and 1-minute maxima, which
  is what tells a washing machine's or a dishwasher's programme from a kettle or a hob.

Beside that shared perceptron, appliances may have heads of their own, whose answers replace
the shared ones in the graph: the fridge a small convolution over the steps between readings
(``convhead.py``); the dishwasher a "tail", the shared perceptron's last two layers trained on
for it alone, on its first hidden layer and the edge view (``localviews.py``: a heater's
one-second switch and flat power, which a heat pump's ramp and wander are not); the kettle a
perceptron on the readings around the output sample and the shared perceptron's guess, which
learns the kettle's power from the step at its edges and tells it from other loads of that
size.

The model answers the sample at ``output_index`` (three quarters into the window): the live
sensors lag the meter by a quarter of the window, the price of seeing the programme around it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from integrations.simulator.household import APPLIANCES, House, generate_house

from .const import BUNDLED_MODELS, DEFAULT_MODEL
from .convhead import Adam, ConvHead, HeadSpec, add_to_graph, head_inputs, train_head
from .localviews import (
    KETTLE_SPAN,
    add_edges,
    add_kettle_view,
    edge_features,
    kettle_features,
)
from .metrics import evaluate
from .perceptron import Perceptron, add_perceptron, load_weights

_LOGGER = logging.getLogger(__name__)

WINDOW = 1200
OUTPUT_INDEX = 900
FINE = 128
POOL = 10
PERIOD = 6
OFFSET = 0.0
SCALE = 1000.0
#: On-thresholds (W) per appliance, for the on/off targets and the metrics.
THRESHOLDS: dict[str, float] = {
    "fridge": 50.0,
    "kettle": 1000.0,
    "washing_machine": 20.0,
    "dishwasher": 20.0,
    "microwave": 200.0,
    "ev_charger": 1000.0,
    "heat_pump": 100.0,
}
#: Output scale per appliance (W): the power head predicts W / scale.
POWER_SCALE: dict[str, float] = {
    "fridge": 300.0,
    "kettle": 3000.0,
    "washing_machine": 2500.0,
    "dishwasher": 2500.0,
    "microwave": 1500.0,
    "ev_charger": 11000.0,
    "heat_pump": 3000.0,
}


@dataclass(frozen=True)
class TrainOptions:
    """What ``edgewise nilm train`` does."""

    seeds: tuple[int, ...] = tuple(range(1, 21))
    days: int = 14
    windows_per_house: int = 10_000
    hidden: tuple[int, int] = (256, 128)
    #: Epochs of the shared perceptron (0: its weights as ``init_from`` holds them).
    epochs: int = 0
    batch: int = 256
    learning_rate: float = 1e-3
    eval_seed: int = 1000
    eval_days: int = 14
    model_id: str = "edgewise-nilm-home"
    version: str = "1.3.0"
    #: Start from this model's weights (an ONNX file this module exported), to train on.
    init_from: Path | None = BUNDLED_MODELS / f"{DEFAULT_MODEL}.onnx"
    #: The fridge head: epochs (0: none) and uniformly drawn windows per house.
    fridge_epochs: int = 8
    fridge_windows_per_house: int = 10_000
    #: Appliances whose last two layers are a copy of the shared perceptron's, trained on
    #: for them alone (on its first hidden layer, which they share), and how.
    tails: tuple[str, ...] = ("dishwasher",)
    tail_epochs: int = 8
    #: Epochs after which a tail's learning rate halves.
    tail_halving: int = 3
    tail_windows_per_house: int = 20_000
    #: Share of a tail's windows drawn where its appliance is on...
    tail_on_share: float = 0.3
    #: ...and where it is off while a washing machine, a charger or a heat pump runs (the
    #: rest uniform).
    tail_hard_share: float = 0.2
    #: The kettle's head: epochs (0: none), its hidden layers, and its windows per house:
    #: every one where the kettle is on, up to ``kettle_high_per_house`` where something
    #: draws 700 W more than the lowest reading around it, and some uniform ones.
    kettle_epochs: int = 16
    kettle_hidden: tuple[int, int] = (128, 64)
    kettle_high_per_house: int = 20_000
    kettle_uniform_per_house: int = 2_000
    #: Houses the on-probabilities are tuned on (neither training nor evaluation houses).
    tune_seeds: tuple[int, ...] = (500, 501, 502, 503)


@dataclass(frozen=True)
class Heads:
    """The appliances' own heads, whose power and on-logit replace the shared perceptron's."""

    fridge: ConvHead | None = None
    #: On the shared first hidden layer and the edge view.
    tails: dict[str, Perceptron] = field(default_factory=dict)
    #: On the kettle's view (``localviews.kettle_features``).
    kettle: Perceptron | None = None


#: Steps between readings weigh this much more than levels (a fridge's 0.1 kW edge matters).
DIFF_GAIN = 4.0
#: The small-load view: 30 s minima (a hob's or an iron's cycling drops out of a minimum)...
SMALL_POOL = 5
#: ...clipped to this much (normalised: 500 W) either side...
SMALL_CLIP = 0.5
#: ...and magnified, so a fridge's 100 W is as large to the learner as a kettle's 2 kW.
SMALL_GAIN = 5.0
#: Features per window: fine, its steps, coarse mean, max, min, the mean's steps; then the
#: small-load view over the whole window: the 30 s minima relative to the output sample's,
#: above the window's lowest, and their steps.
N_FEATURES = 2 * FINE + (2 * FINE - 1) + 4 * (WINDOW // POOL) - 1 + 3 * (WINDOW // SMALL_POOL) - 1


def features(windows: np.ndarray) -> np.ndarray:
    """The model's features of normalised windows ``[n, WINDOW]`` (as its graph computes them)."""
    n = windows.shape[0]
    fine = windows[:, OUTPUT_INDEX - FINE : OUTPUT_INDEX + FINE]
    blocks = windows.reshape(n, WINDOW // POOL, POOL)
    mean = blocks.mean(axis=2)
    low = windows.reshape(n, WINDOW // SMALL_POOL, SMALL_POOL).min(axis=2)
    centre = low[:, OUTPUT_INDEX // SMALL_POOL : OUTPUT_INDEX // SMALL_POOL + 1]
    relative = np.clip(low - centre, -SMALL_CLIP, SMALL_CLIP) * SMALL_GAIN
    above = np.clip(low - low.min(axis=1, keepdims=True), 0, SMALL_CLIP) * SMALL_GAIN
    return np.concatenate(
        [
            fine,
            (fine[:, 1:] - fine[:, :-1]) * DIFF_GAIN,
            mean,
            blocks.max(axis=2),
            blocks.min(axis=2),
            (mean[:, 1:] - mean[:, :-1]) * DIFF_GAIN,
            relative,
            above,
            np.clip(low[:, 1:] - low[:, :-1], -SMALL_CLIP, SMALL_CLIP) * SMALL_GAIN,
        ],
        axis=1,
    )


#: The fridge's own head: a convolution over the steps between readings at full resolution,
#: from 36 min before the output sample to 30 min after it (a compressor run is 15 to 45
#: minutes), so a start (inrush, then decay) or a stop is recognised wherever it falls.
FRIDGE_HEAD = HeadSpec(
    appliance="fridge",
    start=OUTPUT_INDEX - 360,
    end=WINDOW,
    pool=1,
    step_clip=0.5,
    level_clip=None,
    kernel=12,
    channels=16,
    max_pool=10,
    hidden=64,
    on_share=0.0,
)


def _windows(aggregate: np.ndarray, centres: np.ndarray) -> np.ndarray:
    starts = centres - OUTPUT_INDEX
    idx = starts[:, None] + np.arange(WINDOW)[None, :]
    return ((aggregate[idx] - OFFSET) / SCALE).astype(np.float32)


def _targets(house: House, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    power = np.stack([house.appliances[a][centres] / POWER_SCALE[a] for a in APPLIANCES], axis=1)
    on = np.stack([house.appliances[a][centres] >= THRESHOLDS[a] for a in APPLIANCES], axis=1)
    return power.astype(np.float32), on.astype(np.float32)


def build_dataset(
    houses: list[House], per_house: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, power targets and on targets from windows of ``houses``.

    Half the windows are drawn uniformly, half where a short-lived appliance (kettle,
    microwave, washer, dishwasher) is on, so the rare events are learnt.
    """
    xs, ps, os_ = [], [], []
    for house in houses:
        n = len(house.aggregate)
        valid = np.arange(OUTPUT_INDEX, n - (WINDOW - OUTPUT_INDEX))
        rare = valid[
            np.any(
                [
                    house.appliances[a][valid] >= THRESHOLDS[a]
                    for a in ("kettle", "microwave", "washing_machine", "dishwasher")
                ],
                axis=0,
            )
        ]
        picks = [rng.choice(valid, per_house // 2)]
        if len(rare):
            picks.append(rng.choice(rare, per_house - per_house // 2))
        centres = np.concatenate(picks)
        for chunk in np.array_split(centres, max(1, len(centres) // 4000)):
            xs.append(features(_windows(house.aggregate, chunk)))
            p, o = _targets(house, chunk)
            ps.append(p)
            os_.append(o)
    return np.concatenate(xs), np.concatenate(ps), np.concatenate(os_)


def export_onnx(
    mlp: Perceptron, path: Path, gates: np.ndarray | None = None, heads: Heads | None = None
) -> None:
    """Write the graph: features from the raw window, the perceptron, gated power in W.

    ``gates``: per appliance, the probability above which it is on (0.5 each by default).
    ``heads``: the appliances' own heads, whose power and on-logit replace the shared
    perceptron's (the fridge's convolution; the tails on the shared first hidden layer).
    """
    import onnx  # noqa: PLC0415 - the training extra only
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    k = len(APPLIANCES)
    inits = [
        numpy_helper.from_array(np.array([OUTPUT_INDEX - FINE], np.int64), "fine_start"),
        numpy_helper.from_array(np.array([OUTPUT_INDEX + FINE], np.int64), "fine_end"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([-1, WINDOW // POOL, POOL], np.int64), "block_shape"),
        numpy_helper.from_array(np.array([k, k], np.int64), "split"),
        numpy_helper.from_array(
            np.array([POWER_SCALE[a] for a in APPLIANCES], np.float32), "power_scale"
        ),
        numpy_helper.from_array(
            np.full(k, 0.5, np.float32) if gates is None else gates.astype(np.float32), "gate"
        ),
        numpy_helper.from_array(np.array(DIFF_GAIN, np.float32), "diff_gain"),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
        numpy_helper.from_array(np.array([1 << 30], np.int64), "to_end"),
        numpy_helper.from_array(
            np.array([-1, WINDOW // SMALL_POOL, SMALL_POOL], np.int64), "small_shape"
        ),
        numpy_helper.from_array(np.array([OUTPUT_INDEX // SMALL_POOL], np.int64), "centre_start"),
        numpy_helper.from_array(np.array([OUTPUT_INDEX // SMALL_POOL + 1], np.int64), "centre_end"),
        numpy_helper.from_array(np.array(-SMALL_CLIP, np.float32), "small_lo"),
        numpy_helper.from_array(np.array(SMALL_CLIP, np.float32), "small_hi"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero_f"),
        numpy_helper.from_array(np.array(SMALL_GAIN, np.float32), "small_gain"),
    ]
    nodes = [
        helper.make_node("Slice", ["window", "fine_start", "fine_end", "axis1"], ["fine"]),
        helper.make_node("Reshape", ["window", "block_shape"], ["blocks"]),
        helper.make_node("ReduceMean", ["blocks"], ["coarse_mean"], axes=[2], keepdims=0),
        helper.make_node("ReduceMax", ["blocks"], ["coarse_max"], axes=[2], keepdims=0),
        helper.make_node("ReduceMin", ["blocks"], ["coarse_min"], axes=[2], keepdims=0),
        # The small-load view (see ``features``).
        helper.make_node("Reshape", ["window", "small_shape"], ["small_blocks"]),
        helper.make_node("ReduceMin", ["small_blocks"], ["low"], axes=[2], keepdims=0),
        helper.make_node("Slice", ["low", "centre_start", "centre_end", "axis1"], ["centre"]),
        helper.make_node("Sub", ["low", "centre"], ["low_rel"]),
        helper.make_node("Clip", ["low_rel", "small_lo", "small_hi"], ["low_rel_clip"]),
        helper.make_node("Mul", ["low_rel_clip", "small_gain"], ["relative"]),
        helper.make_node("ReduceMin", ["low"], ["floor"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["low", "floor"], ["low_above"]),
        helper.make_node("Clip", ["low_above", "zero_f", "small_hi"], ["low_above_clip"]),
        helper.make_node("Mul", ["low_above_clip", "small_gain"], ["above"]),
        helper.make_node("Slice", ["low", "axis1", "to_end", "axis1"], ["low_next"]),
        helper.make_node("Slice", ["low", "zero", "minus_one", "axis1"], ["low_prev"]),
        helper.make_node("Sub", ["low_next", "low_prev"], ["low_step"]),
        helper.make_node("Clip", ["low_step", "small_lo", "small_hi"], ["low_step_clip"]),
        helper.make_node("Mul", ["low_step_clip", "small_gain"], ["low_diff"]),
    ]
    for source in ("fine", "coarse_mean"):
        nodes += [
            helper.make_node("Slice", [source, "axis1", "to_end", "axis1"], [f"{source}_next"]),
            helper.make_node("Slice", [source, "zero", "minus_one", "axis1"], [f"{source}_prev"]),
            helper.make_node("Sub", [f"{source}_next", f"{source}_prev"], [f"{source}_step"]),
            helper.make_node("Mul", [f"{source}_step", "diff_gain"], [f"{source}_diff"]),
        ]
    nodes.append(
        helper.make_node(
            "Concat",
            [
                "fine",
                "fine_diff",
                "coarse_mean",
                "coarse_max",
                "coarse_min",
                "coarse_mean_diff",
                "relative",
                "above",
                "low_diff",
            ],
            ["h0"],
            axis=1,
        )
    )
    heads = heads or Heads()
    has_heads = heads.fridge is not None or bool(heads.tails) or heads.kettle is not None
    add_perceptron(mlp, "", "h0", "shared_head" if has_heads else "head", inits=inits, nodes=nodes)
    replaced: dict[int, str] = {}
    if heads.fridge is not None:
        add_to_graph(heads.fridge, "window", "fridge_head", inits=inits, nodes=nodes)
        replaced[APPLIANCES.index("fridge")] = "fridge_head"
    if heads.tails:
        add_edges("window", "edges", length=WINDOW, inits=inits, nodes=nodes)
        # ``h1``: the shared perceptron's first hidden layer.
        nodes.append(helper.make_node("Concat", ["h1", "edges"], ["tail_in"], axis=1))
    for name, tail in heads.tails.items():
        add_perceptron(tail, f"{name}_tail_", "tail_in", f"{name}_tail", inits=inits, nodes=nodes)
        replaced[APPLIANCES.index(name)] = f"{name}_tail"
    columns = [f"shared_column{j}" for j in range(2 * k)]
    if replaced or heads.kettle is not None:
        nodes.append(helper.make_node("Split", ["shared_head"], list(columns), axis=1))
    if heads.kettle is not None:
        add_kettle_view(
            "window",
            columns[k + APPLIANCES.index("kettle")],
            "kettle_in",
            output_index=OUTPUT_INDEX,
            inits=inits,
            nodes=nodes,
        )
        add_perceptron(
            heads.kettle, "kettle_", "kettle_in", "kettle_head", inits=inits, nodes=nodes
        )
        replaced[APPLIANCES.index("kettle")] = "kettle_head"
    if replaced:
        for i, out in replaced.items():
            columns[i], columns[k + i] = f"{out}_power", f"{out}_logit"
            nodes.append(helper.make_node("Split", [out], [columns[i], columns[k + i]], axis=1))
        nodes.append(helper.make_node("Concat", columns, ["head"], axis=1))
    nodes += [
        helper.make_node("Split", ["head", "split"], ["raw_power", "logit"], axis=1),
        helper.make_node("Sigmoid", ["logit"], ["probability"]),
        helper.make_node("Relu", ["raw_power"], ["pos_power"]),
        helper.make_node("Mul", ["pos_power", "power_scale"], ["scaled_power"]),
        helper.make_node("Greater", ["probability", "gate"], ["is_on"]),
        helper.make_node("Cast", ["is_on"], ["on_mask"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["scaled_power", "on_mask"], ["power"]),
    ]
    graph = helper.make_graph(
        nodes,
        "edgewise_nilm",
        [helper.make_tensor_value_info("window", TensorProto.FLOAT, ["batch", WINDOW])],
        [
            helper.make_tensor_value_info("power", TensorProto.FLOAT, ["batch", k]),
            helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", k]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def predict_house(session: Any, aggregate: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Predicted W per appliance for every sample of ``aggregate`` (zero where no window fits)."""
    n = len(aggregate)
    out = np.zeros((n, len(APPLIANCES)), np.float32)
    centres = np.arange(OUTPUT_INDEX, n - (WINDOW - OUTPUT_INDEX))
    for chunk in np.array_split(centres, max(1, len(centres) // batch)):
        out[chunk] = session.run(["power"], {"window": _windows(aggregate, chunk)})[0]
    return out


def train_shared(options: TrainOptions) -> tuple[Perceptron, int]:
    """The shared perceptron (every appliance), and how many windows it learnt from here.

    With no epochs to run it is ``init_from``'s perceptron as it is (no windows).
    """
    rng = np.random.default_rng(0)
    started = time.monotonic()
    if options.epochs == 0:
        mlp = Perceptron([N_FEATURES, *options.hidden, 2 * len(APPLIANCES)], rng)
        if options.init_from is not None:
            load_weights(mlp, options.init_from)
        return mlp, 0
    houses = [generate_house(seed, options.days, PERIOD) for seed in options.seeds]
    x, power, on = build_dataset(houses, options.windows_per_house, rng)
    del houses
    _LOGGER.info("%d training windows in %.0f s", len(x), time.monotonic() - started)
    mlp = Perceptron([x.shape[1], *options.hidden, 2 * len(APPLIANCES)], rng)
    if options.init_from is not None:
        load_weights(mlp, options.init_from)
    on_weight = np.ones(len(APPLIANCES), np.float32)
    for epoch in range(options.epochs):
        order = rng.permutation(len(x))
        lr = options.learning_rate * (0.5 ** (epoch // max(1, options.epochs // 3)))
        losses = [
            mlp.train_batch(x[b], power[b], on[b], lr, on_weight)
            for b in np.array_split(order, max(1, len(order) // options.batch))
        ]
        _LOGGER.info(
            "epoch %d loss %.4f (%.0f s)", epoch, np.mean(losses), time.monotonic() - started
        )
    return mlp, len(x)


def train_fridge(options: TrainOptions) -> ConvHead:
    """The fridge's own head, on uniformly drawn windows of the training houses."""
    rng = np.random.default_rng(0)
    xs, ps, os_ = [], [], []
    for seed in options.seeds:
        house = generate_house(seed, options.days, PERIOD)
        n = len(house.aggregate)
        valid = np.arange(OUTPUT_INDEX, n - (WINDOW - OUTPUT_INDEX))
        centres = rng.choice(valid, options.fridge_windows_per_house)
        for chunk in np.array_split(centres, max(1, len(centres) // 2000)):
            xs.append(head_inputs(FRIDGE_HEAD, _windows(house.aggregate, chunk)))
        truth = house.appliances["fridge"][centres]
        ps.append((truth / POWER_SCALE["fridge"]).astype(np.float32))
        os_.append((truth >= THRESHOLDS["fridge"]).astype(np.float32))
    head = ConvHead(FRIDGE_HEAD, rng)
    train_head(
        head,
        np.concatenate(xs),
        np.concatenate(ps),
        np.concatenate(os_),
        epochs=options.fridge_epochs,
        batch=options.batch,
        learning_rate=options.learning_rate,
        rng=rng,
    )
    return head


#: Where a tail's hard windows are drawn: its appliance off while one of these runs.
TAIL_CONFUSERS = ("washing_machine", "ev_charger", "heat_pump")


def train_tails(options: TrainOptions, mlp: Perceptron) -> dict[str, Perceptron]:
    """Per appliance of ``options.tails``: the shared perceptron's last two layers, trained on.

    Its input: the shared first hidden layer, then the edge view (whose weights start small).
    Its windows: ``tail_on_share`` where the appliance is on, ``tail_hard_share`` where it is
    off and a ``TAIL_CONFUSERS`` appliance runs, the rest uniform; the learning rate halves
    every ``tail_halving`` epochs.
    """
    rng = np.random.default_rng(0)
    k = len(APPLIANCES)
    houses = [generate_house(seed, options.days, PERIOD) for seed in options.seeds]
    tails: dict[str, Perceptron] = {}
    for name in options.tails:
        i = APPLIANCES.index(name)
        xs, ps, os_ = [], [], []
        for house in houses:
            n = len(house.aggregate)
            valid = np.arange(OUTPUT_INDEX, n - (WINDOW - OUTPUT_INDEX))
            truth = house.appliances[name]
            on = valid[truth[valid] >= THRESHOLDS[name]]
            hard = valid[
                (truth[valid] < THRESHOLDS[name])
                & np.any(
                    [
                        house.appliances[a][valid] >= THRESHOLDS[a]
                        for a in TAIL_CONFUSERS
                        if a != name
                    ],
                    axis=0,
                )
            ]
            per = options.tail_windows_per_house
            n_on = int(per * options.tail_on_share) if len(on) else 0
            n_hard = int(per * options.tail_hard_share) if len(hard) else 0
            picks = [rng.choice(valid, per - n_on - n_hard)]
            if n_on:
                picks.append(rng.choice(on, n_on))
            if n_hard:
                picks.append(rng.choice(hard, n_hard))
            centres = np.concatenate(picks)
            for chunk in np.array_split(centres, max(1, len(centres) // 2000)):
                windows = _windows(house.aggregate, chunk)
                _, acts = mlp.forward(features(windows))
                xs.append(np.concatenate([acts[1], edge_features(windows)], axis=1))
            ps.append((truth[centres] / POWER_SCALE[name])[:, None].astype(np.float32))
            os_.append((truth[centres] >= THRESHOLDS[name])[:, None].astype(np.float32))
        x, power, on_target = np.concatenate(xs), np.concatenate(ps), np.concatenate(os_)
        tail = Perceptron([x.shape[1], *(p.shape[1] for p in mlp.params[2:-2:2]), 2], rng)
        shared_rows = mlp.params[2]
        edge_rows = rng.normal(0, 0.01, (x.shape[1] - len(shared_rows), shared_rows.shape[1]))
        tail.params = [
            np.concatenate([shared_rows, edge_rows.astype(np.float32)]),
            *(p.copy() for p in mlp.params[3:-2]),
            mlp.params[-2][:, [i, k + i]].copy(),
            mlp.params[-1][[i, k + i]].copy(),
        ]
        tail.adam = Adam(tail.params)
        for epoch in range(options.tail_epochs):
            order = rng.permutation(len(x))
            lr = options.learning_rate * 0.5 ** (epoch // max(1, options.tail_halving))
            losses = [
                tail.train_batch(x[b], power[b], on_target[b], lr, np.ones(1, np.float32))
                for b in np.array_split(order, max(1, len(order) // options.batch))
            ]
            _LOGGER.info("%s tail epoch %d loss %.4f", name, epoch, np.mean(losses))
        tails[name] = tail
    return tails


#: Above the lowest reading within ``KETTLE_SPAN`` of it, the power (W) of a window that may
#: be mistaken for a kettle's (a toaster, a hob, an iron, an oven, the heaters).
KETTLE_HIGH_W = 700.0


def train_kettle(options: TrainOptions, mlp: Perceptron) -> Perceptron:
    """The kettle's head: power and on-logit from its view, on the windows it must tell apart.

    Its windows: every one where the kettle is on, up to ``kettle_high_per_house`` where
    something of ``KETTLE_HIGH_W`` or more runs, and ``kettle_uniform_per_house`` uniform ones.
    """
    rng = np.random.default_rng(0)
    kettle = APPLIANCES.index("kettle")
    logit_column = len(APPLIANCES) + kettle
    xs, ps, os_ = [], [], []
    for seed in options.seeds:
        house = generate_house(seed, options.days, PERIOD)
        aggregate, truth = house.aggregate, house.appliances["kettle"]
        n = len(aggregate)
        valid = np.arange(OUTPUT_INDEX, n - (WINDOW - OUTPUT_INDEX))
        around = np.lib.stride_tricks.sliding_window_view(aggregate, 2 * KETTLE_SPAN + 1)
        above = np.zeros(n, np.float32)
        above[KETTLE_SPAN : n - KETTLE_SPAN] = aggregate[
            KETTLE_SPAN : n - KETTLE_SPAN
        ] - around.min(axis=1)
        high = valid[above[valid] > KETTLE_HIGH_W]
        centres = np.concatenate(
            [
                valid[truth[valid] > 0],
                rng.choice(high, min(len(high), options.kettle_high_per_house), replace=False),
                rng.choice(valid, options.kettle_uniform_per_house),
            ]
        )
        for chunk in np.array_split(centres, max(1, len(centres) // 2000)):
            windows = _windows(aggregate, chunk)
            out, _ = mlp.forward(features(windows))
            xs.append(kettle_features(windows, OUTPUT_INDEX, out[:, logit_column]))
        ps.append((truth[centres] / POWER_SCALE["kettle"])[:, None].astype(np.float32))
        os_.append((truth[centres] >= THRESHOLDS["kettle"])[:, None].astype(np.float32))
    x, power, on = np.concatenate(xs), np.concatenate(ps), np.concatenate(os_)
    head = Perceptron([x.shape[1], *options.kettle_hidden, 2], rng)
    for epoch in range(options.kettle_epochs):
        order = rng.permutation(len(x))
        lr = options.learning_rate * (0.5 ** (epoch // max(1, options.kettle_epochs // 3)))
        losses = [
            head.train_batch(x[b], power[b], on[b], lr, np.ones(1, np.float32))
            for b in np.array_split(order, max(1, len(order) // options.batch))
        ]
        _LOGGER.info("kettle head epoch %d loss %.4f", epoch, np.mean(losses))
    return head


def predict_numpy(
    mlp: Perceptron, heads: Heads, aggregate: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ungated power (W) and probability per appliance, and the scored centres, in numpy."""
    n = len(aggregate)
    k = len(APPLIANCES)
    centres = np.arange(OUTPUT_INDEX, n - (WINDOW - OUTPUT_INDEX))
    power = np.zeros((len(centres), k), np.float32)
    prob = np.zeros((len(centres), k), np.float32)
    scale = np.array([POWER_SCALE[a] for a in APPLIANCES], np.float32)
    for chunk in np.array_split(np.arange(len(centres)), max(1, len(centres) // 4096)):
        windows = _windows(aggregate, centres[chunk])
        out, acts = mlp.forward(features(windows))
        replaced: dict[str, np.ndarray] = {}
        if heads.tails:
            tail_in = np.concatenate([acts[1], edge_features(windows)], axis=1)
            replaced = {name: tail.forward(tail_in)[0] for name, tail in heads.tails.items()}
        if heads.kettle is not None:
            shared_logit = out[:, k + APPLIANCES.index("kettle")]
            view = kettle_features(windows, OUTPUT_INDEX, shared_logit)
            replaced["kettle"] = heads.kettle.forward(view)[0]
        if heads.fridge is not None:
            replaced["fridge"] = heads.fridge.forward(head_inputs(FRIDGE_HEAD, windows))[0]
        for name, head in replaced.items():
            i = APPLIANCES.index(name)
            out[:, i], out[:, k + i] = head[:, 0], head[:, 1]
        power[chunk] = np.maximum(out[:, :k], 0) * scale
        prob[chunk] = 1 / (1 + np.exp(-np.clip(out[:, k:], -30, 30)))
    return power, prob, centres


#: F1 an on-probability other than 0.5 must gain on the tuning houses to be chosen.
GATE_MIN_GAIN = 0.01


def tune_gates(mlp: Perceptron, heads: Heads, seeds: tuple[int, ...], days: int) -> np.ndarray:
    """Per appliance, the on-probability (0.2 to 0.8) with the best F1 on houses ``seeds``.

    An appliance that never runs in them keeps 0.5.
    """
    powers, probs, truths = [], [], []
    for seed in seeds:
        house = generate_house(seed, days, PERIOD)
        power, prob, centres = predict_numpy(mlp, heads, house.aggregate)
        powers.append(power)
        probs.append(prob)
        truths.append(np.stack([house.appliances[a][centres] for a in APPLIANCES], axis=1))
    power, prob, truth = np.concatenate(powers), np.concatenate(probs), np.concatenate(truths)
    gates = np.full(len(APPLIANCES), 0.5, np.float32)
    for i, name in enumerate(APPLIANCES):
        y = truth[:, i] >= THRESHOLDS[name]
        if not y.any():
            continue

        def f1(gate: float, i: int = i, name: str = name, y: np.ndarray = y) -> float:
            p = power[:, i] * (prob[:, i] > gate) >= THRESHOLDS[name]
            return float(2 * np.sum(p & y) / max(1, np.sum(p) + np.sum(y)))

        # Away from 0.5 only for a clear gain: a flat F1 curve would pick noise.
        best = f1(0.5) + GATE_MIN_GAIN
        for gate in np.round(np.arange(0.2, 0.81, 0.05), 2):
            score = f1(float(gate))
            if score > best:
                best, gates[i] = score, gate
    return gates


def train(options: TrainOptions, out_dir: Path) -> dict[str, Any]:
    """Train, export ``<id>.onnx`` and ``<id>.json`` into ``out_dir``; answer the manifest."""
    started = time.monotonic()
    mlp, windows = train_shared(options)
    heads = Heads(
        fridge=train_fridge(options) if options.fridge_epochs > 0 else None,
        tails=train_tails(options, mlp) if options.tail_epochs > 0 else {},
        kettle=train_kettle(options, mlp) if options.kettle_epochs > 0 else None,
    )
    gates = tune_gates(mlp, heads, options.tune_seeds, options.days)
    return export(
        options,
        out_dir,
        mlp,
        heads,
        gates=gates,
        windows=windows,
        seconds=time.monotonic() - started,
    )


def export(
    options: TrainOptions,
    out_dir: Path,
    mlp: Perceptron,
    heads: Heads,
    *,
    gates: np.ndarray,
    windows: int,
    seconds: float,
) -> dict[str, Any]:
    """Export the model and write its manifest, measured on ``options.eval_seed``."""
    import onnxruntime as ort  # noqa: PLC0415 - the nilm runtime dependency

    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{options.model_id}.onnx"
    export_onnx(mlp, onnx_path, gates, heads)
    house = generate_house(options.eval_seed, options.eval_days, PERIOD)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    pred = predict_house(session, house.aggregate)
    scored = slice(OUTPUT_INDEX, len(house.aggregate) - (WINDOW - OUTPUT_INDEX))
    metrics = evaluate(
        {a: house.appliances[a][scored] for a in APPLIANCES},
        {a: pred[scored, i] for i, a in enumerate(APPLIANCES)},
        THRESHOLDS,
        PERIOD,
    )
    sizes = "-".join(str(p.shape[0]) for p in mlp.params[::2]) + f"-{2 * len(APPLIANCES)}"
    learner = f"shared MLP {sizes}, Adam, {options.epochs} epochs"
    if options.epochs == 0 and options.init_from is not None:
        learner = f"shared MLP {sizes}: {options.init_from.name}'s weights as they are"
    if heads.fridge is not None:
        f = heads.fridge.spec
        learner += (
            f"; fridge head: Conv1d {f.inputs}x{f.kernel}->{f.channels} on readings "
            f"{f.start}-{f.end}, max-pool {f.max_pool}, MLP "
            f"{f.channels * f.positions}-{f.hidden}-2, Adam, {options.fridge_epochs} epochs "
            f"on {options.fridge_windows_per_house} uniform windows per house"
        )
    for name, tail in heads.tails.items():
        tail_sizes = "-".join(str(p.shape[0]) for p in tail.params[::2]) + "-2"
        learner += (
            f"; {name} tail MLP {tail_sizes} on the shared first hidden layer and the edge "
            f"view, from the shared weights, Adam, {options.tail_epochs} epochs on "
            f"{options.tail_windows_per_house} windows per house "
            f"({options.tail_on_share:.0%} with it on, {options.tail_hard_share:.0%} off while "
            f"a {'/'.join(TAIL_CONFUSERS)} runs)"
        )
    if heads.kettle is not None:
        kettle_sizes = "-".join(str(p.shape[0]) for p in heads.kettle.params[::2]) + "-2"
        learner += (
            f"; kettle head MLP {kettle_sizes} on the readings {KETTLE_SPAN} samples either "
            f"side of the output sample and the shared kettle logit, Adam, "
            f"{options.kettle_epochs} epochs on the windows with the kettle on, up to "
            f"{options.kettle_high_per_house} with {KETTLE_HIGH_W:.0f} W or more running and "
            f"{options.kettle_uniform_per_house} uniform ones per house"
        )
    manifest = {
        "id": options.model_id,
        "version": options.version,
        "file": onnx_path.name,
        "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "sample_period_s": PERIOD,
        "window_length": WINDOW,
        "output_index": OUTPUT_INDEX,
        "input": {"name": "window", "normalisation": {"offset": OFFSET, "scale": SCALE}},
        "outputs": {"power": "power", "probability": "probability"},
        "appliances": [
            {
                "name": a,
                "on_threshold_w": THRESHOLDS[a],
                "on_probability": round(float(gates[i]), 2),
            }
            for i, a in enumerate(APPLIANCES)
        ],
        "training": {
            "data": "integrations.simulator.household.generate_house",
            "seeds": list(options.seeds),
            "days_per_house": options.days,
            "windows": windows,
            "learner": f"{learner} (numpy)",
            "on_probability_tuned_on_seeds": list(options.tune_seeds),
            "seconds": round(seconds, 1),
            "continued_from": None if options.init_from is None else options.init_from.name,
        },
        "metrics": {
            "house_seed": options.eval_seed,
            "days": options.eval_days,
            "per_appliance": metrics["appliances"],
            "macro": metrics["macro"],
        },
    }
    (out_dir / f"{options.model_id}.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
