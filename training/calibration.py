"""Turn booster margins into honest probabilities, fitted on the validation snapshot.

Isotonic regression is flexible and always wins on the data it was fitted on, so the two
methods are compared by cross-validated log loss on the pooled backtest rows; the winner is
refitted on all of them. The backtest's folds are a week apart, so most users appear in each:
the cross-validation keeps every user's rows on one side (grouped folds), else a flexible map
is judged on rows it has seen the twins of. Both maps are strictly increasing, so ranking
metrics are those of the booster itself. The result is stored as numbers (`CalibrationMap`),
not a pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedGroupKFold

from artifact.model import CalibrationMap, CalibrationMethod
from training.errors import TrainingError

Floats = npt.NDArray[np.float64]
Folds = list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]
FOLDS = 5
PROBABILITY_FLOOR = 1e-3  # a calibrated model never claims certainty from a finite sample


@dataclass(frozen=True)
class CalibrationChoice:
    chosen: CalibrationMap
    cv_log_loss: dict[CalibrationMethod, float]


def _centred_isotonic(margin: Floats, y: Floats) -> CalibrationMap:
    """scikit-learn's isotonic fit, read off at the centre of each of its steps."""
    steps = IsotonicRegression(
        y_min=PROBABILITY_FLOOR, y_max=1 - PROBABILITY_FLOOR, out_of_bounds="clip"
    ).fit(margin, y)
    level = steps.predict(margin)
    centres = pd.Series(margin).groupby(level).mean()
    return CalibrationMap(
        method="isotonic",
        x=centres.to_numpy().tolist(),
        y=centres.index.to_numpy().tolist(),
        floor=PROBABILITY_FLOOR,
    )


def fit_map(method: CalibrationMethod, margin: Floats, y: Floats) -> CalibrationMap:
    if method == "isotonic":
        return _centred_isotonic(margin, y)
    if method == "sigmoid":
        platt = LogisticRegression(C=np.inf).fit(margin.reshape(-1, 1), y)
        return CalibrationMap(
            method="sigmoid", a=float(platt.coef_[0, 0]), b=float(platt.intercept_[0])
        )
    raise ValueError(f"unknown calibration method {method!r}")


def grouped_folds(y: Floats, seed: int, users: npt.NDArray[Any] | None = None) -> Folds:
    """Each user's rows on one side of every split (`users` None: every row its own user).

    Made once per set of rows and handed to every `calibrate` on them: scikit-learn's grouped
    stratification walks the users in Python (about half a second on a backtest's pool), and
    every candidate and method is judged on the same rows, so on the same split.
    """
    if min(int(y.sum()), int(len(y) - y.sum())) < FOLDS:
        raise TrainingError(
            f"the backtest needs at least {FOLDS} churned and {FOLDS} retained users "
            "to choose a calibration"
        )
    groups = np.arange(len(y)) if users is None else users
    splitter = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups=groups))


def _cross_validated_log_loss(
    method: CalibrationMethod, margin: Floats, y: Floats, folds: Folds
) -> float:
    out_of_fold = np.empty_like(margin)
    for fit_rows, held_out in folds:
        mapping = fit_map(method, margin[fit_rows], y[fit_rows])
        out_of_fold[held_out] = mapping.apply(margin[held_out])
    return float(log_loss(y, out_of_fold, labels=[0, 1]))


def calibrate(
    margin: Floats, y: Floats, methods: Sequence[CalibrationMethod], folds: Folds
) -> CalibrationChoice:
    """`folds`: `grouped_folds` of these rows."""
    losses = {m: _cross_validated_log_loss(m, margin, y, folds) for m in methods}
    best = min(losses, key=lambda method: (losses[method], method))
    return CalibrationChoice(chosen=fit_map(best, margin, y), cv_log_loss=losses)
