"""The fitted model carries what serving needs, and class weighting is undone by calibration."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from tests.trained import ConfigFactory
from training.dataset import TrainingData, labels
from training.fitting import FittedModel, fit_model


def test_metadata_records_split_features_and_calibration(
    training_data: TrainingData, fitted: FittedModel
) -> None:
    metadata = fitted.model.metadata
    split = training_data.split
    assert metadata.train_cutoffs == list(split.train)
    assert metadata.validation_cutoffs == list(split.validation)
    assert metadata.test_cutoff == split.test
    assert [info.name for info in metadata.features] == training_data.feature_names
    assert all(info.unit and info.description for info in metadata.features)
    assert metadata.calibration.method == fitted.calibration.chosen.method
    assert metadata.best_iteration == fitted.boosting.best_iteration


def test_balanced_weights_shift_raw_scores_and_calibration_shifts_them_back(
    make_config: ConfigFactory, training_data: TrainingData
) -> None:
    """Rare churn weighted up makes raw scores overstate risk; calibration on unweighted
    validation rows restores the observed rate."""
    config = make_config(imbalance="balanced")
    model = fit_model(config, training_data).model
    rows, rate = training_data.validation, labels(training_data.validation).mean()
    raw = expit(model.margin(rows)).mean()
    calibrated = model.predict_proba(rows).mean()
    assert raw > rate + 0.08
    assert abs(calibrated - rate) < 0.01
    assert np.isfinite(model.predict_proba(training_data.test)).all()
