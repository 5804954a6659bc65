"""LightGBM through its native API: early stopping on validation, categoricals by index.

`fit` is the whole training step on ready arrays, so a benchmark can time it against a bare
`lgb.train` call with the same parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from training.config import LightGBMConfig

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Design:
    """Rows ready for the booster: features in model order, labels, optional row weights."""

    x: Floats
    y: Floats
    weight: Floats | None = None


@dataclass(frozen=True)
class Fitted:
    booster: lgb.Booster  # holds only the iterations up to the best one
    best_iteration: int
    validation_loss: list[float]  # binary log loss per iteration, for the run's history


def params(config: LightGBMConfig, seed: int) -> dict[str, Any]:
    """Native parameters; deterministic with a fixed thread count, so a seed reproduces."""
    return {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_data_in_leaf,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": config.bagging_freq,
        "lambda_l2": config.lambda_l2,
        "num_threads": config.num_threads,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbosity": -1,
    }


def fit(
    train: Design,
    validation: Design,
    feature_names: Sequence[str],
    categorical: Sequence[int],
    config: LightGBMConfig,
    seed: int,
) -> Fitted:
    """Boost until validation log loss has not improved for `early_stopping_rounds`."""
    train_set = lgb.Dataset(
        train.x,
        train.y,
        weight=train.weight,
        feature_name=list(feature_names),
        categorical_feature=list(categorical),
        free_raw_data=False,
    )
    valid_set = lgb.Dataset(
        validation.x, validation.y, weight=validation.weight, reference=train_set
    )
    history: dict[str, Any] = {}
    booster = lgb.train(
        params(config, seed),
        train_set,
        num_boost_round=config.max_rounds,
        valid_sets=[valid_set],
        valid_names=["validation"],
        callbacks=[
            lgb.early_stopping(config.early_stopping_rounds, verbose=False),
            lgb.record_evaluation(history),
        ],
    )
    best = booster.best_iteration or booster.current_iteration()
    trimmed = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    losses = [float(value) for value in history["validation"]["binary_logloss"]]
    return Fitted(booster=trimmed, best_iteration=best, validation_loss=losses)
