"""Booster plus calibration plus metadata: a `ChurnModel` from training data, no tracking.

Kept apart from the pipeline so tests, notebooks and benchmarks get the exact model
`winback train` would register without touching MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from artifact.model import ChurnModel, ModelMetadata
from core.config import DatasetConfig
from training import lgbm
from training.calibration import CalibrationChoice, calibrate
from training.dataset import TrainingData, balanced_weights


@dataclass(frozen=True)
class FittedModel:
    model: ChurnModel
    boosting: lgbm.Fitted  # the booster, its best iteration and validation curve
    calibration: CalibrationChoice


def fit_model(config: DatasetConfig, data: TrainingData) -> FittedModel:
    """Early-stopped booster, calibration chosen on validation, metadata to serve it."""
    settings = config.model
    balanced = settings.imbalance == "balanced"
    fitted = lgbm.fit(
        data.design(data.train, balanced_weights(data.train) if balanced else None),
        data.design(data.validation, balanced_weights(data.validation) if balanced else None),
        data.feature_names,
        data.categorical,
        settings.lightgbm,
        settings.seed,
    )
    validation = data.design(data.validation)
    margin = np.asarray(fitted.booster.predict(validation.x, raw_score=True), dtype="float64")
    choice = calibrate(margin, validation.y, settings.calibration, settings.seed)
    split = data.split
    metadata = ModelMetadata(
        name=settings.name,
        dataset=config.name,
        horizon_days=config.churn.horizon_days,
        features=data.features,
        calibration=choice.chosen,
        reference_scores=[],
        bgnbd=data.bgnbd,
        train_cutoffs=list(split.train),
        validation_cutoffs=list(split.validation),
        test_cutoff=split.test,
        best_iteration=fitted.best_iteration,
        seed=settings.seed,
    )
    return FittedModel(ChurnModel(fitted.booster, metadata), fitted, choice)
