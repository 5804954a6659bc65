"""Confidence intervals for a difference of two proportions (treated vs control return rate).

Newcombe's hybrid score interval (his method 10) combines the two Wilson score intervals.
Unlike the Wald interval it stays inside [-1, 1] and keeps its coverage when a rate is near
0 or 1 or a group is small, which is common for a campaign's smaller strategies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

Floats = npt.NDArray[np.float64]


def z_value(confidence: float) -> float:
    return float(norm.ppf(0.5 + confidence / 2))


@dataclass(frozen=True)
class Interval:
    low: Floats
    high: Floats


def wilson(successes: Floats, trials: Floats, z: float) -> Interval:
    """Wilson score interval per element; NaN where there are no trials."""
    n = np.where(trials > 0, trials, np.nan)
    p = successes / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return Interval(low=centre - half, high=centre + half)


@dataclass(frozen=True)
class Difference:
    estimate: Floats
    low: Floats
    high: Floats


def newcombe(
    successes_a: Floats, trials_a: Floats, successes_b: Floats, trials_b: Floats, z: float
) -> Difference:
    """p_a - p_b with Newcombe's hybrid score interval."""
    p_a = successes_a / np.where(trials_a > 0, trials_a, np.nan)
    p_b = successes_b / np.where(trials_b > 0, trials_b, np.nan)
    a, b = wilson(successes_a, trials_a, z), wilson(successes_b, trials_b, z)
    estimate = p_a - p_b
    return Difference(
        estimate=estimate,
        low=estimate - np.sqrt((p_a - a.low) ** 2 + (b.high - p_b) ** 2),
        high=estimate + np.sqrt((a.high - p_a) ** 2 + (p_b - b.low) ** 2),
    )
