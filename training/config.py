"""The `model` section: how churn models are trained and when one becomes champion."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from core.sections import Strict


class LightGBMConfig(Strict):
    """Booster settings. The defaults suit logs of tens of thousands of users and more: small
    trees, strong L2, about a hundred rounds, so serving stays fast (scoring and reasons cost
    grows with the number of trees). Small noisy logs want even smaller trees and a slower
    rate (configs/cdnow.yaml): their test cutoff lies past every training cutoff, and smooth
    models extrapolate better than ones that memorise early cohorts."""

    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.1
    num_leaves: Annotated[int, Field(ge=2)] = 15
    min_data_in_leaf: PositiveInt = 100
    feature_fraction: Annotated[float, Field(gt=0, le=1)] = 0.7
    bagging_fraction: Annotated[float, Field(gt=0, le=1)] = 0.8
    bagging_freq: Annotated[int, Field(ge=0)] = 1
    lambda_l2: Annotated[float, Field(ge=0)] = 10.0
    max_rounds: PositiveInt = 2000
    early_stopping_rounds: PositiveInt = 100
    num_threads: PositiveInt = Field(
        1, description="Fixed so a seed reproduces the model; one is fastest on shared machines"
    )


class PromotionConfig(Strict):
    min_auc_gain: Annotated[float, Field(ge=0)] = Field(
        0.0,
        description="A new model becomes champion only if its test ROC AUC exceeds the "
        "champion's (re-scored on the same snapshot) by more than this",
    )


class ModelConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    seed: int = 42
    validation_cutoffs: PositiveInt = Field(
        1, description="Latest labelable cutoffs before the test cutoff used for validation"
    )
    imbalance: Literal["none", "balanced"] = Field(
        "none",
        description="none: unweighted rows, so probabilities stay honest; balanced: both "
        "classes weigh the same within each cutoff (for rare churn), undone by calibration",
    )
    calibration: tuple[Literal["isotonic", "sigmoid"], ...] = Field(
        ("isotonic", "sigmoid"),
        min_length=1,
        description="Candidates; the one with the lower cross-validated log loss on the "
        "validation snapshot wins",
    )
    probability_alive: bool = Field(
        False,
        description="Add BG/NBD features (probability alive, probability of no event in the "
        "horizon) fitted on the last training cutoff; suits purchase logs",
    )
    lightgbm: LightGBMConfig = Field(default_factory=LightGBMConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
