"""The uplift interval: Newcombe's published example, and sane bounds for any counts."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from recall.stats import newcombe, wilson, z_value

Z = z_value(0.95)


def one(x: float) -> np.ndarray:
    return np.array([x], dtype=np.float64)


def test_matches_newcombe_1998() -> None:
    """Newcombe, Statistics in Medicine 17:873 (1998): 56/70 vs 48/80 -> 0.0524 to 0.3339;
    Wilson for 81/263 -> 0.2553 to 0.3662."""
    difference = newcombe(one(56), one(70), one(48), one(80), Z)
    assert np.allclose([difference.low[0], difference.high[0]], [0.0524, 0.3339], atol=5e-5)
    interval = wilson(one(81), one(263), Z)
    assert np.allclose([interval.low[0], interval.high[0]], [0.2553, 0.3662], atol=5e-5)


@given(
    n_a=st.integers(1, 500),
    n_b=st.integers(1, 500),
    share_a=st.floats(0, 1),
    share_b=st.floats(0, 1),
)
def test_the_interval_holds_the_estimate_and_stays_in_range(
    n_a: int, n_b: int, share_a: float, share_b: float
) -> None:
    k_a, k_b = round(share_a * n_a), round(share_b * n_b)
    d = newcombe(one(k_a), one(n_a), one(k_b), one(n_b), Z)
    assert -1 - 1e-12 <= d.low[0] <= d.estimate[0] <= d.high[0] <= 1 + 1e-12


def test_no_trials_gives_no_interval() -> None:
    d = newcombe(one(0), one(0), one(3), one(10), Z)
    assert np.isnan([d.estimate[0], d.low[0], d.high[0]]).all()
