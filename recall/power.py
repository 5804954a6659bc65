"""Control groups sized by a power calculation, and the power a finished campaign had.

The review calls a strategy's uplift significant when the 95% Newcombe interval of treated
minus control return rate excludes 0 (`review`). The sizes here are for that test: Cohen's h
between the expected return rate p0 and p0 + MDE, statsmodels' `NormalIndPower` (two-sided
z-test on the arcsine scale, groups of unequal size through `ratio`), and Fleiss' continuity
correction on top (Fleiss, Tytun and Ury 1980): simulated against the review's own Newcombe
test, the uncorrected sizes found an effect of exactly the MDE in 78-80% of campaigns at 80%
power (p0 from 0.05 to 0.75, control shares 0.2 to 0.5); the corrected ones in 83% or more
(tests/recall/test_power.py).

A strategy's control share is the smallest in [min_share, max_share] whose split of its listed
users reaches the power, else the best one can do (max_share, reported with its power).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

SHARE_STEP = 0.005


def _uncorrected(treated: float, ratio: float, effect: float) -> float:
    """Fleiss' correction inverted: the size without it that `treated` users amount to."""
    lost = (ratio + 1) / (2 * ratio * effect)
    return max(treated - lost, 0.0) ** 2 / treated if treated > lost else 0.0


def power(effect: float, base_rate: float, treated: int, control: int, alpha: float) -> float:
    """Chance that the review finds an uplift of `effect` on a return rate of `base_rate`."""
    if treated < 1 or control < 1 or effect <= 0 or base_rate + effect > 1:
        return math.nan
    # statsmodels takes about a second to import: only sized or reviewed campaigns need it
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    ratio = control / treated
    size = _uncorrected(treated, ratio, effect)
    if size == 0:
        return alpha / 2
    h = proportion_effectsize(base_rate + effect, base_rate)
    return float(NormalIndPower().power(h, size, alpha, ratio=ratio))


def minimum_detectable_effect(
    base_rate: float, treated: int, control: int, alpha: float, target: float
) -> float:
    """The smallest uplift the review finds with probability `target` at these sizes (NaN if
    none below 1 - base_rate can be)."""
    ceiling = 1 - base_rate
    if treated < 1 or control < 1 or ceiling <= 0:
        return math.nan

    def short(effect: float) -> float:
        return power(effect, base_rate, treated, control, alpha) - target

    if short(ceiling - 1e-9) < 0:
        return math.nan
    return float(brentq(short, 1e-6, ceiling - 1e-9, xtol=1e-6))


def control_share(
    listed: int,
    effect: float,
    base_rate: float,
    alpha: float,
    target: float,
    low: float,
    high: float,
) -> float:
    """The smallest share of `listed` users to hold out for the power to find `effect`."""
    shares = np.arange(low, high + SHARE_STEP / 2, SHARE_STEP)
    powers = [
        power(effect, base_rate, listed - round(share * listed), round(share * listed), alpha)
        for share in shares
    ]
    reached = [share for share, p in zip(shares, powers, strict=True) if p >= target]
    if reached:
        return round(float(reached[0]), 4)
    finite = [p if math.isfinite(p) else -1.0 for p in powers]
    return round(float(shares[int(np.argmax(finite))]), 4)
