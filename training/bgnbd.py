"""BG/NBD (Fader, Hardie & Lee 2005): how likely a user is still 'alive', from x, t_x and T.

Trees cannot extrapolate a user's history to a later cutoff where everyone is older; this
small probabilistic model can, so its two probabilities go into the booster as features.
Its four parameters are fitted on the latest cutoff whose features training may see (the
last validation cutoff: features only, no labels) and stored in the model metadata, so
serving computes exactly the same values from the same snapshot columns. Fitting on the
latest population rather than the last training one measured better calibrated on a
backtest that ends before the test cutoff (CDNOW: ECE 0.039 -> 0.034).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln

from features.spec import Feature
from training.errors import TrainingError

Floats = npt.NDArray[np.float64]

FREQUENCY, RECENCY, TENURE = "active_days_total", "recency_days", "tenure_days"
INPUTS = (FREQUENCY, RECENCY, TENURE)
ALIVE = "bgnbd_alive_probability"
SILENT = "bgnbd_silent_probability"
DAY_DECIMALS = 6  # snapshot days carry float noise from parallel sums; the fit must not see it
PARAM_DIGITS = 6  # significant digits kept, so one snapshot always gives the same parameters


@dataclass(frozen=True)
class BgNbdParams:
    """Gamma(r, alpha) purchase rates per day and Beta(a, b) drop-out after each active day."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class _History:
    x: Floats  # repeat active days
    t_x: Floats  # days from the first to the last active day
    age: Floats  # days from the first active day to the cutoff


def features(horizon_days: int) -> list[Feature]:
    return [
        Feature(
            ALIVE,
            "probability",
            "Chance the user is still active, from how often and how recently they came (BG/NBD)",
            "model",
        ),
        Feature(
            SILENT,
            "probability",
            f"Chance of no activity in the next {horizon_days} days by the BG/NBD model",
            "model",
        ),
    ]


def _history(frame: pd.DataFrame | Mapping[str, Any]) -> _History:
    missing = [name for name in INPUTS if name not in frame]
    if missing:
        raise TrainingError(f"BG/NBD needs the snapshot columns {missing}")
    age = np.asarray(frame[TENURE], dtype="float64").round(DAY_DECIMALS)
    x = np.maximum(np.asarray(frame[FREQUENCY], dtype="float64") - 1.0, 0.0)
    t_x = np.clip(age - np.asarray(frame[RECENCY], dtype="float64").round(DAY_DECIMALS), 0.0, age)
    return _History(x=x, t_x=t_x, age=age)


def _negative_log_likelihood(log_params: Floats, h: _History) -> float:
    r, alpha, a, b = np.exp(log_params)
    common = gammaln(r + h.x) - gammaln(r) + r * np.log(alpha)
    stays = betaln(a, b + h.x) - betaln(a, b) - (r + h.x) * np.log(alpha + h.age)
    repeat = h.x > 0
    left = np.full_like(h.x, -np.inf)
    left[repeat] = (
        betaln(a + 1, b + h.x[repeat] - 1)
        - betaln(a, b)
        - (r + h.x[repeat]) * np.log(alpha + h.t_x[repeat])
    )
    return float(-(common + np.logaddexp(stays, left)).sum())


def fit(frame: pd.DataFrame) -> BgNbdParams:
    """Maximum likelihood over every user seen before the cutoff (any status)."""
    history = _history(frame)
    if len(history.x) < 10:
        raise TrainingError("BG/NBD needs at least 10 users at the last validation cutoff")
    start = np.log([1.0, max(float(history.age.mean()), 1.0), 1.0, 1.0])
    result = minimize(
        _negative_log_likelihood,
        start,
        args=(history,),
        method="L-BFGS-B",
    )
    if not np.isfinite(result.fun):
        raise TrainingError("BG/NBD fit did not converge: set model.probability_alive: false")
    r, alpha, a, b = (float(f"{value:.{PARAM_DIGITS}g}") for value in np.exp(result.x))
    return BgNbdParams(r=r, alpha=alpha, a=a, b=b)


def probabilities(
    frame: pd.DataFrame | Mapping[str, Any], params: BgNbdParams, horizon_days: int
) -> dict[str, Floats]:
    """P(alive) and P(no activity in the horizon); computed in logs, so heavy users are safe."""
    h = _history(frame)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = h.x > 0
    log_odds_dead = np.full_like(h.x, -np.inf)
    log_odds_dead[repeat] = (
        np.log(a)
        - np.log(b + h.x[repeat] - 1)
        + (r + h.x[repeat]) * (np.log(alpha + h.age[repeat]) - np.log(alpha + h.t_x[repeat]))
    )
    alive = expit(-log_odds_dead)
    quiet_if_alive = np.exp(
        (r + h.x) * (np.log(alpha + h.age) - np.log(alpha + h.age + horizon_days))
    )
    silent = 1.0 - alive + alive * quiet_if_alive
    return {ALIVE: alive, SILENT: silent}
