"""LightGBM through its native API: categoricals by index, deterministic for a seed.

`fit` boosts a backtest fold with early stopping on its held-out cutoff; `fit_rounds` boosts
a final model for the rounds the backtest chose. Both take ready arrays, so a benchmark can
time them against bare `lgb.train` calls with the same parameters.
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
    booster: lgb.Booster  # every iteration boosted, so it predicts at any round up to the end
    best_iteration: int  # the round with the lowest log loss on the held-out rows
    validation_loss: list[float]  # binary log loss per iteration on the held-out rows


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


def _dataset(
    train: Design, feature_names: Sequence[str], categorical: Sequence[int]
) -> lgb.Dataset:
    return lgb.Dataset(
        train.x,
        train.y,
        weight=train.weight,
        feature_name=list(feature_names),
        categorical_feature=list(categorical),
        free_raw_data=False,
    )


def fit(
    train: Design,
    held_out: Design,
    feature_names: Sequence[str],
    categorical: Sequence[int],
    config: LightGBMConfig,
    seed: int,
) -> Fitted:
    """Boost until log loss on `held_out` has not improved for `early_stopping_rounds`; the
    booster keeps every round, so pooled curves can choose the rounds across folds."""
    train_set = _dataset(train, feature_names, categorical)
    held_out_set = lgb.Dataset(held_out.x, held_out.y, weight=held_out.weight, reference=train_set)
    history: dict[str, Any] = {}
    booster = lgb.train(
        params(config, seed),
        train_set,
        num_boost_round=config.max_rounds,
        valid_sets=[held_out_set],
        valid_names=["held_out"],
        keep_training_booster=True,  # else LightGBM trims the model to its own best round
        callbacks=[
            lgb.early_stopping(config.early_stopping_rounds, verbose=False),
            lgb.record_evaluation(history),
        ],
    )
    best = booster.best_iteration or booster.current_iteration()
    losses = [float(value) for value in history["held_out"]["binary_logloss"]]
    return Fitted(booster=booster, best_iteration=best, validation_loss=losses)


def fit_rounds(
    train: Design,
    feature_names: Sequence[str],
    categorical: Sequence[int],
    config: LightGBMConfig,
    seed: int,
    rounds: int,
) -> lgb.Booster:
    """Exactly `rounds` rounds, no held-out rows: the backtest already chose how many."""
    return lgb.train(
        params(config, seed), _dataset(train, feature_names, categorical), num_boost_round=rounds
    )
