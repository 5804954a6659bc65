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

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

from artifact.bgnbd import PARAM_DIGITS, BgNbdParams, Floats, History
from artifact.bgnbd import history as read_history
from training.errors import TrainingError


def _negative_log_likelihood(log_params: Floats, h: History) -> float:
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
    history = read_history(frame)
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
