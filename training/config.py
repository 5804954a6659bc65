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


class BacktestConfig(Strict):
    """Rolling-origin backtest: each fold's cutoff is predicted by a model trained only on
    cutoffs whose label windows end by it; the pooled predictions choose and calibrate."""

    folds: PositiveInt = Field(4, description="Cutoffs before the test one to backtest")
    step_days: PositiveInt | None = Field(
        7,
        description="Days between fold cutoffs, counted back from the test cutoff (added to "
        "the snapshot off the grid); null = the latest grid cutoffs",
    )
    min_rows: PositiveInt = Field(
        200, description="Fewest labelled users a fold or the test cutoff needs to count"
    )
    min_each_class: PositiveInt = Field(
        20, description="Fewest churned and fewest retained users a fold or the test needs"
    )


class SearchConfig(Strict):
    """The booster settings tried on the backtest (Optuna's TPE, trial 0 = `lightgbm`)."""

    trials: Annotated[int, Field(ge=1)] = Field(
        8, description="Settings tried, the configured ones first; 1 = only those"
    )


Family = Literal["lightgbm", "rfm_logreg", "blend"]


class PromotionConfig(Strict):
    """Every check must pass for a new model to become champion (both re-scored on the same
    test snapshot); the decision lists each one."""

    min_auc_gain: Annotated[float, Field(ge=0)] = Field(
        0.0,
        description="Test ROC AUC must exceed the champion's by more than this",
    )
    max_log_loss_increase: Annotated[float, Field(ge=0)] = Field(
        0.01, description="Test log loss may be worse than the champion's by at most this"
    )
    max_ece: Annotated[float, Field(gt=0, le=1)] = Field(
        0.05, description="Test expected calibration error must be at most this"
    )


class ModelConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    seed: int = 42
    imbalance: Literal["none", "balanced"] = Field(
        "none",
        description="none: unweighted rows, so probabilities stay honest; balanced: both "
        "classes weigh the same within each cutoff (for rare churn), undone by calibration",
    )
    calibration: tuple[Literal["isotonic", "sigmoid"], ...] = Field(
        ("isotonic", "sigmoid"),
        min_length=1,
        description="Candidates; the one with the lower cross-validated log loss on the "
        "backtest's pooled predictions wins",
    )
    probability_alive: bool = Field(
        False,
        description="Add BG/NBD features (probability alive, probability of no event in the "
        "horizon), fitted on the features at the cutoff each model predicts; suits purchase logs",
    )
    candidates: tuple[Family, ...] = Field(
        ("lightgbm", "rfm_logreg", "blend"),
        min_length=1,
        description="Model families that compete on the backtest's pooled log loss",
    )
    refit: bool = Field(
        True,
        description="Register a refit on every labelled cutoff (test included) with the chosen "
        "settings; false: register the fit evaluated on the test cutoff",
    )
    bootstrap_rounds: PositiveInt = Field(
        1000, description="Resamples behind every test metric's 95% interval"
    )
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    lightgbm: LightGBMConfig = Field(default_factory=LightGBMConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
