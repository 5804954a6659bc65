"""Performance a calibrated model expects of itself before any label exists (NannyML's
confidence-based performance estimation, CBPE).

Each calibrated probability p is read as the chance that the user churns, so a user counts
p of a positive and 1 - p of a negative. Walking down the ranking, the expected true and
false positives are running sums of p and 1 - p: their rates trace an expected ROC curve,
and its area is the expected ROC AUC. The expected precision of the top 10% is the mean p
there. Only as good as the calibration: it cannot see a change in how features relate to
churn (concept drift), which is why matured snapshots are checked against real labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from artifact.reference import Floats
from training.metrics import top_flags


@dataclass(frozen=True)
class Expected:
    roc_auc: float
    precision_top10: float
    churn_rate: float

    def as_dict(self) -> dict[str, float]:
        return {
            "roc_auc": self.roc_auc,
            "precision_top10": self.precision_top10,
            "churn_rate": self.churn_rate,
        }


def expected_roc_auc(probability: Floats) -> float:
    """Trapezoids under the expected ROC curve; tied probabilities form one step, as they do
    in sklearn's `roc_auc_score`."""
    p = np.sort(np.asarray(probability, dtype="float64"))[::-1]
    last_of_tie = np.r_[np.flatnonzero(np.diff(p) != 0), len(p) - 1]
    tp = np.r_[0.0, np.cumsum(p)[last_of_tie]]
    fp = np.r_[0.0, np.cumsum(1.0 - p)[last_of_tie]]
    if tp[-1] == 0 or fp[-1] == 0:
        return float("nan")
    tpr, fpr = tp / tp[-1], fp / fp[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def expected(probability: Floats) -> Expected:
    p = np.asarray(probability, dtype="float64")
    return Expected(
        roc_auc=expected_roc_auc(p),
        precision_top10=float(p[top_flags(p)].mean()),
        churn_rate=float(p.mean()),
    )
