"""Model families compete on the backtest: LightGBM, the RFM logistic regression, blends.

Each family's pooled held-out margins (every fold's cutoff, predicted by models fitted only on
what was known by then) are calibrated with cross-validation; the lowest calibrated log loss
wins. A family that loses here is never registered, so it cannot become champion. Blends mix
the two margins before calibration, `weight` being the booster's share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from artifact.model import CalibrationMethod, Family
from training import baselines
from training.backtest import FoldData
from training.calibration import CalibrationChoice, calibrate, grouped_folds
from training.lgbm import Floats

BLEND_WEIGHTS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Candidate:
    family: Family
    weight: float  # the booster's share of the margin
    calibration: CalibrationChoice  # fitted on the pooled held-out margins

    @property
    def name(self) -> str:
        return self.family if self.family != "blend" else f"blend {self.weight:.2f}"

    @property
    def log_loss(self) -> float:
        """Cross-validated log loss of the chosen calibration on the pooled margins."""
        return min(self.calibration.cv_log_loss.values())


@dataclass(frozen=True)
class Pooled:
    """Every fold's held-out rows, in fold order: labels and both families' margins."""

    y: Floats
    trees: Floats
    linear: Floats
    users: npt.NDArray[Any]  # whose row each is: a user recurs across folds

    def margin(self, weight: float) -> Floats:
        return weight * self.trees + (1.0 - weight) * self.linear


def linear_margins(folds: Sequence[FoldData]) -> list[Floats]:
    """The RFM logistic regression fitted per fold on the fold's training rows."""
    return [
        baselines.rfm_logreg_margin(
            baselines.fit_rfm_logreg(fold.train_rows, fold.train.y), fold.target_rows
        )
        for fold in folds
    ]


def pool(folds: Sequence[FoldData], trees: Sequence[Floats], linear: Sequence[Floats]) -> Pooled:
    return Pooled(
        y=np.concatenate([fold.target.y for fold in folds]),
        users=np.concatenate([fold.target_rows["user_id"].to_numpy() for fold in folds]),
        trees=np.concatenate(trees),
        linear=np.concatenate(linear),
    )


def weights_of(family: Family) -> tuple[float, ...]:
    return {"lightgbm": (1.0,), "rfm_logreg": (0.0,), "blend": BLEND_WEIGHTS}[family]


def compare(
    pooled: Pooled,
    families: Sequence[Family],
    methods: Sequence[CalibrationMethod],
    seed: int,
) -> list[Candidate]:
    """Every candidate, best first (lowest pooled calibrated log loss; ties: fewer parts)."""
    folds = grouped_folds(pooled.y, seed, pooled.users)
    found = [
        Candidate(
            family,
            weight,
            calibrate(pooled.margin(weight), pooled.y, methods, folds),
        )
        for family in families
        for weight in weights_of(family)
    ]
    return sorted(found, key=lambda c: (round(c.log_loss, 12), c.family == "blend"))


def pooled_auc(pooled: Pooled, candidate: Candidate) -> float:
    return float(roc_auc_score(pooled.y, pooled.margin(candidate.weight)))
