"""The perceptron the NILM learners share: ReLU layers and a linear (power, on-logit) head.

numpy, trained with Adam (``convhead.Adam``); ``load_weights`` reads an exported model's
shared perceptron back, ``add_perceptron`` writes one into a graph.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from .convhead import Adam


class Perceptron:
    """ReLU hidden layers, then a linear head: power, then on-logit, per appliance."""

    def __init__(self, sizes: list[int], rng: np.random.Generator) -> None:
        self.params: list[np.ndarray] = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            self.params.append(
                (rng.normal(0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))).astype(np.float32)
            )
            self.params.append(np.zeros(fan_out, dtype=np.float32))
        self.adam = Adam(self.params)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """The head's output and every layer's activation (the input first)."""
        acts = [x]
        h = x
        layers = len(self.params) // 2
        for i in range(layers):
            h = h @ self.params[2 * i] + self.params[2 * i + 1]
            if i < layers - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        return h, acts

    def train_batch(
        self, x: np.ndarray, power: np.ndarray, on: np.ndarray, lr: float, on_weight: np.ndarray
    ) -> float:
        """One Adam step on squared power error plus weighted on/off cross-entropy; its loss."""
        out, acts = self.forward(x)
        k = power.shape[1]
        pred_p, logit = out[:, :k], out[:, k:]
        prob = 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))
        n = x.shape[0]
        grad = np.empty_like(out)
        grad[:, :k] = 2 * (pred_p - power) / n
        grad[:, k:] = (prob - on) * on_weight / n
        loss = float(np.mean((pred_p - power) ** 2)) + float(
            -np.mean(on * np.log(prob + 1e-7) + (1 - on) * np.log(1 - prob + 1e-7))
        )
        layers = len(self.params) // 2
        grads: list[np.ndarray] = [np.empty(0)] * len(self.params)
        for i in reversed(range(layers)):
            grads[2 * i] = acts[i].T @ grad
            grads[2 * i + 1] = grad.sum(axis=0)
            if i > 0:
                grad = (grad @ self.params[2 * i].T) * (acts[i] > 0)
        self.adam.update(self.params, grads, lr)
        return loss


def load_weights(mlp: Perceptron, path: Path) -> None:
    """Set ``mlp``'s weights from a model ``export_onnx`` wrote (same layer sizes).

    Raises:
        ValueError: the model's layers differ from ``mlp``'s.
    """
    import onnx  # noqa: PLC0415 - the training extra only
    from onnx import numpy_helper  # noqa: PLC0415

    stored = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    for i in range(len(mlp.params) // 2):
        for j, name in ((2 * i, f"w{i}"), (2 * i + 1, f"b{i}")):
            if name not in stored or stored[name].shape != mlp.params[j].shape:
                raise ValueError(f"{path}: layer {name} differs from the perceptron's")
            mlp.params[j] = stored[name].astype(np.float32)


def add_perceptron(
    mlp: Perceptron, prefix: str, source: str, out: str, *, inits: list[Any], nodes: list[Any]
) -> None:
    """Add ``mlp``'s layers (Gemm, ReLU between) from ``source`` to ``out``."""
    from onnx import helper, numpy_helper  # noqa: PLC0415 - the training extra only

    layers = len(mlp.params) // 2
    current = source
    for i in range(layers):
        inits.append(numpy_helper.from_array(mlp.params[2 * i], f"{prefix}w{i}"))
        inits.append(numpy_helper.from_array(mlp.params[2 * i + 1], f"{prefix}b{i}"))
        z = f"{prefix}z{i}" if i < layers - 1 else out
        nodes.append(helper.make_node("Gemm", [current, f"{prefix}w{i}", f"{prefix}b{i}"], [z]))
        if i < layers - 1:
            current = f"{prefix}h{i + 1}"
            nodes.append(helper.make_node("Relu", [z], [current]))
