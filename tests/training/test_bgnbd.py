"""BG/NBD recovers a process simulated from its own assumptions, and reads histories sensibly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from artifact import bgnbd
from training.bgnbd import fit

TRUE = bgnbd.BgNbdParams(r=0.6, alpha=20.0, a=0.8, b=2.5)
HORIZON = 60


def simulate(params: bgnbd.BgNbdParams, users: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Histories as snapshot columns, and whether each user buys again within HORIZON days."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(params.r, 1.0 / params.alpha, users)
    drop = rng.beta(params.a, params.b, users)
    age = rng.uniform(60.0, 360.0, users)
    repeats, last, silent = np.zeros(users), np.zeros(users), np.ones(users, dtype=bool)
    for user in range(users):
        t, alive = 0.0, True
        while alive:
            t += rng.exponential(1.0 / rate[user])
            if t >= age[user]:
                silent[user] = t >= age[user] + HORIZON
                break
            repeats[user] += 1
            last[user] = t
            alive = rng.random() >= drop[user]
    frame = pd.DataFrame(
        {bgnbd.FREQUENCY: repeats + 1, bgnbd.RECENCY: age - last, bgnbd.TENURE: age}
    )
    return frame, silent


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, np.ndarray]:
    return simulate(TRUE, users=4_000, seed=3)


def test_fit_recovers_the_simulated_parameters(simulated: tuple[pd.DataFrame, np.ndarray]) -> None:
    fitted = fit(simulated[0])
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(TRUE, name), rel=0.2), name


def test_silence_probability_matches_the_simulated_future(
    simulated: tuple[pd.DataFrame, np.ndarray],
) -> None:
    frame, silent = simulated
    predicted = bgnbd.probabilities(frame, fit(frame), HORIZON)[bgnbd.SILENT]
    assert predicted.mean() == pytest.approx(silent.mean(), abs=0.02)
    decile = pd.qcut(predicted, 10, labels=False)
    observed = pd.Series(silent).groupby(decile).mean()
    assert observed.is_monotonic_increasing


def test_a_longer_silence_means_less_alive_and_more_likely_silent() -> None:
    frame = pd.DataFrame(
        {
            bgnbd.FREQUENCY: [5, 5, 5, 1],
            bgnbd.RECENCY: [1.0, 60.0, 200.0, 200.0],
            bgnbd.TENURE: 300.0,
        }
    )
    result = bgnbd.probabilities(frame, TRUE, HORIZON)
    alive, silent = result[bgnbd.ALIVE], result[bgnbd.SILENT]
    assert alive[0] > alive[1] > alive[2]
    assert silent[0] < silent[1] < silent[2]
    assert alive[3] == 1.0  # no repeat yet: BG/NBD only lets users drop out after a repeat


def test_heavy_users_do_not_overflow() -> None:
    frame = pd.DataFrame(
        {bgnbd.FREQUENCY: [5_000], bgnbd.RECENCY: [300.0], bgnbd.TENURE: [6_000.0]}
    )
    result = bgnbd.probabilities(frame, TRUE, HORIZON)
    assert all(np.isfinite(values).all() for values in result.values())
    assert result[bgnbd.ALIVE][0] < 1e-6
