"""The backtest chooses by held-out loss pooled over folds, and its search is reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from tests.trained import ConfigFactory
from training.backtest import fold_data, pooled_curve, run_trial, search
from training.candidates import Pooled, compare
from training.config import LightGBMConfig
from training.dataset import TrainingData
from training.fitting import fit_model


def test_the_pooled_curve_weighs_each_fold_by_its_rows_up_to_the_shortest() -> None:
    curve = pooled_curve([[1.0, 0.5, 0.2], [0.0, 1.0]], [1, 3])
    assert curve.tolist() == pytest.approx([0.25, 0.875])


def test_a_fold_sees_only_its_own_training_cutoffs(training_data: TrainingData) -> None:
    for fold in training_data.split.folds:
        rows = fold_data(training_data, fold, balanced=False)
        assert set(rows.train_rows["cutoff"]) == set(fold.train)
        assert set(rows.target_rows["cutoff"]) == {fold.cutoff}


def test_the_chosen_rounds_minimise_the_pooled_held_out_loss(
    training_data: TrainingData,
) -> None:
    folds = [fold_data(training_data, f, balanced=False) for f in training_data.split.folds]
    trial = run_trial(folds, LightGBMConfig(min_data_in_leaf=40), training_data, seed=3)
    assert trial.rounds == int(np.argmin(trial.curve)) + 1
    assert trial.log_loss == pytest.approx(min(trial.curve))
    assert [len(m) for m in trial.margins] == [len(f.target.y) for f in folds]


def test_the_search_is_reproducible_and_keeps_its_best(training_data: TrainingData) -> None:
    folds = [fold_data(training_data, f, balanced=False) for f in training_data.split.folds]
    base = LightGBMConfig(min_data_in_leaf=40, max_rounds=300)
    first = search(folds, base, training_data, trials=4, seed=5, say=lambda _m: None)
    again = search(folds, base, training_data, trials=4, seed=5, say=lambda _m: None)
    assert [t.settings for t in first.tried] == [t.settings for t in again.tried]
    assert first.tried[0].settings == base  # trial 0 is the configured setting
    finished = [t for t in first.tried if not t.pruned]
    assert first.best.log_loss == min(t.log_loss for t in finished)
    assert len(first.tried) == 4


def test_candidates_rank_by_pooled_calibrated_log_loss() -> None:
    rng = np.random.default_rng(0)
    informative = rng.normal(size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-2 * informative))).astype("float64")
    pooled = Pooled(y=y, trees=informative, linear=rng.normal(size=4000), users=np.arange(4000))
    ranked = compare(pooled, ["rfm_logreg", "lightgbm", "blend"], ["sigmoid"], seed=0)
    assert ranked[0].family == "lightgbm"  # the noise-only linear margin loses
    assert ranked[-1].family == "rfm_logreg"
    losses = [candidate.log_loss for candidate in ranked]
    assert losses == sorted(losses)


def test_a_family_that_loses_the_backtest_is_never_registered(
    make_config: ConfigFactory, training_data: TrainingData
) -> None:
    fitted = fit_model(make_config(), training_data)
    assert fitted.registered.metadata.family == fitted.backtest.winner.family
    assert fitted.backtest.winner.log_loss == min(c.log_loss for c in fitted.backtest.candidates)
