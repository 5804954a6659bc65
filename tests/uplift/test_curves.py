"""The held-out metrics equal causalml's definitions (per user) and their intervals behave."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uplift.curves import Prefix, auuc, cross_fitted, evaluate, qini_coefficient

with warnings.catch_warnings(), matplotlib.rc_context():  # causalml restyles matplotlib
    warnings.simplefilter("ignore")
    from causalml.metrics import auuc_score, qini_score


def ranked(score: np.ndarray, treated: np.ndarray, returned: np.ndarray) -> tuple:
    order = np.argsort(-score, kind="stable")
    return treated[order].astype(float), returned[order].astype(float)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(12, 400))
def test_qini_and_auuc_are_causalmls_divided_by_the_number_of_users(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n)  # continuous: no ties, whose order causalml leaves to its sort
    treated = rng.random(n) < rng.uniform(0.2, 0.8)
    treated[:2] = [True, False]  # both groups present
    returned = rng.random(n) < 0.3 + 0.3 * treated * (score > 0)
    frame = pd.DataFrame({"y": returned.astype(int), "w": treated.astype(int), "m": score})
    t, y = ranked(score, treated, returned)
    assert np.isclose(qini_coefficient(t, y), qini_score(frame, normalize=False).iloc[0] / n)
    assert np.isclose(auuc(t, y), auuc_score(frame, normalize=False).iloc[0] / n)


def test_a_ranking_by_the_true_effect_beats_chance_and_the_reverse_loses() -> None:
    rng = np.random.default_rng(3)
    n = 4_000
    effect = rng.choice([0.0, 0.3, -0.2], size=n)
    treated = rng.random(n) < 0.5
    returned = rng.random(n) < 0.4 + effect * treated
    result = evaluate(effect + rng.normal(0, 1e-6, n), treated, returned, [10], 300, 0)
    reverse = evaluate(-effect + rng.normal(0, 1e-6, n), treated, returned, [10], 300, 0)
    assert result.qini.low > 0 and reverse.qini.high < 0
    assert result.top[10].low > 0.15  # the top tenth is the +30 points users
    assert result.deciles.observed.iloc[0] > result.deciles.observed.iloc[-1]
    assert result.curve.share.iloc[-1] == 1 and np.isclose(
        result.curve.qini.iloc[-1], Prefix.of(*ranked(effect, treated, returned)).qini_curve()[-1]
    )


def test_cross_fitted_numbers_are_fold_means_with_averaged_bounds() -> None:
    rng = np.random.default_rng(4)
    n = 3_000
    score, fold = rng.normal(size=n), rng.integers(0, 3, n)
    treated, returned = rng.random(n) < 0.5, rng.random(n) < 0.4
    combined = cross_fitted(score, fold, treated, returned, [20], 200, 7)
    folds = [
        evaluate(score[fold == k], treated[fold == k], returned[fold == k], [20], 200, 7 + k)
        for k in range(3)
    ]
    assert np.isclose(combined.qini.value, np.mean([f.qini.value for f in folds]))
    assert np.isclose(combined.qini.low, np.mean([f.qini.low for f in folds]))
    assert np.isclose(combined.top[20].high, np.mean([f.top[20].high for f in folds]))
    assert combined.users == n and len(combined.deciles) == 10


def test_too_few_users_to_rank_is_an_error() -> None:
    with pytest.raises(ValueError, match="too few to rank"):
        evaluate(np.arange(5.0), np.ones(5, bool), np.ones(5, bool), [10], 50, 0)
