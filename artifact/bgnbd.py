"""BG/NBD (Fader, Hardie & Lee 2005) as the model applies it: parameters and the two
probabilities, from x, t_x and T. Fitting lives in `training.bgnbd`; serving computes these
from the stored parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit

from core.config import InputError
from features.spec import Feature

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
class History:
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


def history(frame: pd.DataFrame | Mapping[str, Any]) -> History:
    missing = [name for name in INPUTS if name not in frame]
    if missing:
        raise InputError(f"BG/NBD needs the snapshot columns {missing}")
    age = np.asarray(frame[TENURE], dtype="float64").round(DAY_DECIMALS)
    x = np.maximum(np.asarray(frame[FREQUENCY], dtype="float64") - 1.0, 0.0)
    t_x = np.clip(age - np.asarray(frame[RECENCY], dtype="float64").round(DAY_DECIMALS), 0.0, age)
    return History(x=x, t_x=t_x, age=age)


def probabilities(
    frame: pd.DataFrame | Mapping[str, Any], params: BgNbdParams, horizon_days: int
) -> dict[str, Floats]:
    """P(alive) and P(no activity in the horizon); computed in logs, so heavy users are safe."""
    h = history(frame)
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
