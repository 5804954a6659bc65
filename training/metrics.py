"""How good a churn score is on one snapshot: ranking, probability quality, and the top decile.

scikit-learn computes every metric except expected calibration error, which it lacks. Scores
that are not probabilities (the recency rule) get only the ranking metrics.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

Floats = npt.NDArray[np.float64]
Metrics = dict[str, float | None]

TOP_SHARE = 0.10
ECE_BINS = 10
RANKING = ("roc_auc", "pr_auc", "lift_top10", "recall_top10")
PROBABILITY = ("log_loss", "brier", "ece")
METRICS = RANKING + PROBABILITY


def top_flags(score: Floats, share: float = TOP_SHARE) -> npt.NDArray[np.bool_]:
    """The `share` highest scores (ties broken by row order, so the count is exact)."""
    count = max(1, math.ceil(share * len(score)))
    order = np.argsort(-score, kind="stable")
    flags = np.zeros(len(score), dtype=bool)
    flags[order[:count]] = True
    return flags


def expected_calibration_error(y: Floats, probability: Floats, bins: int = ECE_BINS) -> float:
    """Mean |observed rate - mean probability| over equal-width bins, weighted by bin size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            total += members.sum() * abs(y[members].mean() - probability[members].mean())
    return float(total / len(y))


def evaluate(y: Floats, score: Floats, is_probability: bool) -> Metrics:
    flags = top_flags(score)
    base_rate = float(y.mean())
    metrics: Metrics = {
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
        "lift_top10": float(precision_score(y, flags, zero_division=0.0)) / base_rate,
        "recall_top10": float(recall_score(y, flags, zero_division=0.0)),
    }
    if is_probability:
        metrics |= {
            "log_loss": float(log_loss(y, score, labels=[0, 1])),
            "brier": float(brier_score_loss(y, score)),
            "ece": expected_calibration_error(y, score),
        }
    else:
        metrics |= {name: None for name in PROBABILITY}
    return metrics
