"""The fitted models carry what serving needs, the registered one is the refit, and class
weighting is undone by calibration."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from tests.trained import ConfigFactory
from training.dataset import TrainingData, labels
from training.fitting import FittedModel, fit_model


def test_metadata_records_the_fits_cutoffs_features_and_calibration(
    training_data: TrainingData, fitted: FittedModel
) -> None:
    split = training_data.split
    evaluated, registered = fitted.model.metadata, fitted.registered.metadata
    backtest = [fold.cutoff for fold in split.folds]
    assert evaluated.train_cutoffs == list(split.train) and not evaluated.refit
    assert evaluated.validation_cutoffs == backtest
    assert registered.train_cutoffs == list(split.refit) and registered.refit
    assert registered.validation_cutoffs == [*backtest, split.test]
    for metadata in (evaluated, registered):
        assert metadata.test_cutoff == split.test
        assert [info.name for info in metadata.features] == training_data.feature_names
        assert all(info.unit and info.description for info in metadata.features)
        assert metadata.calibration.method == fitted.calibration.chosen.method
        assert metadata.family == fitted.backtest.winner.family
    if fitted.backtest.winner.weight > 0:
        assert evaluated.best_iteration == fitted.rounds == registered.best_iteration


def test_the_evaluated_fit_never_sees_the_test_cutoff(fitted: FittedModel) -> None:
    metadata = fitted.model.metadata
    assert metadata.test_cutoff not in metadata.train_cutoffs
    assert metadata.test_cutoff not in metadata.validation_cutoffs


def test_balanced_weights_shift_raw_scores_and_calibration_shifts_them_back(
    make_config: ConfigFactory, training_data: TrainingData
) -> None:
    """Rare churn weighted up makes raw scores overstate risk; calibration on the unweighted
    pooled backtest rows restores the observed rate."""
    config = make_config(imbalance="balanced", candidates=["lightgbm"])
    fitted = fit_model(config, training_data)
    pooled, winner = fitted.backtest.pooled, fitted.backtest.winner
    rate = pooled.y.mean()
    margin = pooled.margin(winner.weight)
    assert expit(margin).mean() > rate + 0.08
    assert abs(winner.calibration.chosen.apply(margin).mean() - rate) < 0.01
    assert np.isfinite(fitted.model.predict_proba(training_data.test)).all()
    assert labels(training_data.test).size == len(training_data.test)
