"""The disaggregation metrics: MAE, SAE, on/off precision, recall and F1, NDE.

Per appliance, with ``y`` the true and ``p`` the predicted power (W) at ``period`` s:

- ``mae_w``: mean |p - y|;
- ``sae``: (Σp - Σy) / Σy over the whole period (signed) and its absolute value;
  ``sae_per_day``: the same per day (the mean of the signed and of the absolute daily values);
- ``precision``, ``recall``, ``f1``: of the on state, on meaning power ≥ the appliance's
  on-threshold (the model manifest's);
- ``nde``: Σ(p - y)² / Σy².

``macro`` is the mean of each figure over the appliances. numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

DAY = 86_400


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def appliance_metrics(
    y: np.ndarray, p: np.ndarray, threshold: float, period: int
) -> dict[str, Any]:
    """The figures of one appliance (``None`` where undefined, e.g. never on)."""
    y = y.astype(np.float64)
    p = p.astype(np.float64)
    true_on, pred_on = y >= threshold, p >= threshold
    tp = int(np.sum(true_on & pred_on))
    fp = int(np.sum(~true_on & pred_on))
    fn = int(np.sum(true_on & ~pred_on))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    sae = _ratio(float(p.sum() - y.sum()), float(y.sum()))
    per_day = max(1, DAY // period)
    daily: list[float] = []
    for start in range(0, len(y) - per_day + 1, per_day):
        ratio = _ratio(
            float(p[start : start + per_day].sum() - y[start : start + per_day].sum()),
            float(y[start : start + per_day].sum()),
        )
        if ratio is not None:
            daily.append(ratio)
    return {
        "mae_w": float(np.mean(np.abs(p - y))) if len(y) else None,
        "sae": sae,
        "sae_abs": None if sae is None else abs(sae),
        "sae_per_day": float(np.mean(daily)) if daily else None,
        "sae_per_day_abs": float(np.mean(np.abs(daily))) if daily else None,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "nde": _ratio(float(np.sum((p - y) ** 2)), float(np.sum(y**2))),
        "samples": len(y),
    }


def evaluate(
    truth: Mapping[str, np.ndarray],
    pred: Mapping[str, np.ndarray],
    thresholds: Mapping[str, float],
    period: int,
) -> dict[str, Any]:
    """Every appliance present in both ``truth`` and ``pred`` with a threshold, and the macro mean.

    Raises:
        ValueError: an appliance's arrays differ in length, or no appliance is common.
    """
    names = [n for n in truth if n in pred and n in thresholds]
    if not names:
        raise ValueError("no appliance is in the truth, the prediction and the model's thresholds")
    per: dict[str, dict[str, Any]] = {}
    for name in names:
        y, p = np.asarray(truth[name]), np.asarray(pred[name])
        if y.shape != p.shape:
            raise ValueError(f"{name}: truth has {y.shape[0]} samples, prediction {p.shape[0]}")
        per[name] = appliance_metrics(y, p, thresholds[name], period)
    macro: dict[str, float | None] = {}
    for key in (
        "mae_w",
        "sae",
        "sae_abs",
        "sae_per_day",
        "sae_per_day_abs",
        "precision",
        "recall",
        "f1",
        "nde",
    ):
        values = [per[n][key] for n in names if per[n][key] is not None]
        macro[key] = float(np.mean(values)) if values else None
    return {"appliances": per, "macro": macro}
