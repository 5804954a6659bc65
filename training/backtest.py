"""The rolling-origin backtest: fold boosters, the settings search, the pooled predictions.

Each fold's cutoff is predicted by boosters fitted only on cutoffs whose labels are known by
then (`training.split`). The number of rounds is the one with the lowest log loss pooled over
every fold's held-out rows, and each setting tried is judged by that pooled loss: many more
rows than one validation cutoff, and several base rates. Optuna's TPE picks the settings to
try (trial 0 is the configured one); its median pruner drops a setting once its pooled loss
over the first folds is worse than the others', which is where it earns its place over a
grid: most of a search's time is spent on settings that lose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training import lgbm
from training.config import LightGBMConfig
from training.dataset import TrainingData, balanced_weights
from training.lgbm import Design, Floats
from training.split import Fold

Report = Callable[[int, float], None]  # (folds done, pooled log loss so far); may prune
Progress = Callable[[str], None]
SEARCHED = ("num_leaves", "min_data_in_leaf", "learning_rate", "feature_fraction", "lambda_l2")


@dataclass(frozen=True)
class FoldData:
    """One fold's rows: its training cutoffs' and its own (held out), ready for both families."""

    fold: Fold
    train: Design
    target: Design
    train_rows: pd.DataFrame
    target_rows: pd.DataFrame


@dataclass(frozen=True)
class Trial:
    settings: LightGBMConfig
    rounds: int  # the round with the lowest pooled held-out log loss
    log_loss: float  # pooled over every fold's held-out rows, at `rounds`
    margins: list[Floats]  # each fold's held-out raw margins at `rounds`
    curve: list[float]  # pooled log loss per round
    pruned: bool = False


@dataclass(frozen=True)
class Search:
    best: Trial
    tried: list[Trial]  # every setting, in the order tried (pruned ones with their partial loss)


def fold_data(data: TrainingData, fold: Fold, balanced: bool) -> FoldData:
    """BG/NBD features come from a fit on the fold's own cutoff, as at prediction time."""
    params = data.bgnbd_at(fold.cutoff)
    train_rows = data.rows(fold.train, params)
    target_rows = data.rows([fold.cutoff], params)
    weight = balanced_weights(train_rows) if balanced else None
    return FoldData(
        fold=fold,
        train=data.design(train_rows, weight),
        target=data.design(target_rows),
        train_rows=train_rows,
        target_rows=target_rows,
    )


def pooled_curve(curves: Sequence[Sequence[float]], sizes: Sequence[int]) -> Floats:
    """Log loss per round over all folds' held-out rows, up to the shortest fold's curve
    (early stopping ends each fold `early_stopping_rounds` past its own best)."""
    usable = min(len(curve) for curve in curves)
    stacked = np.array([curve[:usable] for curve in curves], dtype="float64")
    weights = np.asarray(sizes, dtype="float64")[:, None]
    return np.asarray((weights * stacked).sum(axis=0) / weights.sum(), dtype="float64")


def run_trial(
    folds: Sequence[FoldData],
    settings: LightGBMConfig,
    data: TrainingData,
    seed: int,
    report: Report | None = None,
) -> Trial:
    curves, boosters = [], []
    sizes = [len(fold.target.y) for fold in folds]
    for done, fold in enumerate(folds, start=1):
        fitted = lgbm.fit(
            fold.train, fold.target, data.feature_names, data.categorical, settings, seed
        )
        curves.append(fitted.validation_loss)
        boosters.append(fitted.booster)
        if report is not None:
            report(done, float(pooled_curve(curves, sizes[:done]).min()))
    curve = pooled_curve(curves, sizes)
    rounds = int(np.argmin(curve)) + 1
    margins = [
        np.asarray(
            booster.predict(fold.target.x, raw_score=True, num_iteration=rounds), dtype="float64"
        )
        for booster, fold in zip(boosters, folds, strict=True)
    ]
    return Trial(settings, rounds, float(curve[rounds - 1]), margins, curve.tolist())


def _suggest(trial: Any, base: LightGBMConfig) -> LightGBMConfig:
    """Around the sizes that suit churn logs: small trees, strong regularisation."""
    return base.model_copy(
        update={
            "num_leaves": trial.suggest_int("num_leaves", 3, 63, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 1000, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 0.0, 30.0),
        }
    )


def search(
    folds: Sequence[FoldData],
    base: LightGBMConfig,
    data: TrainingData,
    trials: int,
    seed: int,
    say: Progress,
) -> Search:
    """The configured settings, then `trials - 1` more chosen by TPE (seeded: reproducible)."""
    say(f"backtest: {len(folds)} folds, setting 1 of {trials}")
    steps: dict[int, float] = {}
    first = run_trial(folds, base, data, seed, steps.__setitem__)
    if trials == 1:
        return Search(first, [first])
    import optuna  # only a search needs it

    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    study.add_trial(
        optuna.trial.create_trial(
            params={name: getattr(base, name) for name in SEARCHED},
            distributions=_distributions(optuna),
            value=first.log_loss,
            intermediate_values=steps,
        )
    )
    tried = [first]

    def objective(trial: Any) -> float:
        settings = _suggest(trial, base)
        say(f"backtest: {len(folds)} folds, setting {len(tried) + 1} of {trials}")

        def report(done: int, loss: float) -> None:
            trial.report(loss, done)
            if trial.should_prune():
                tried.append(Trial(settings, 0, loss, [], [], pruned=True))
                raise optuna.TrialPruned

        result = run_trial(folds, settings, data, seed, report)
        tried.append(result)
        return result.log_loss

    study.optimize(objective, n_trials=trials - 1)
    finished = [trial for trial in tried if not trial.pruned]
    return Search(min(finished, key=lambda trial: trial.log_loss), tried)


def _distributions(optuna: Any) -> dict[str, Any]:
    """The same space as `_suggest`, for recording the configured settings as trial 0."""
    d = optuna.distributions
    return {
        "num_leaves": d.IntDistribution(2, 63, log=True),
        "min_data_in_leaf": d.IntDistribution(1, 1000, log=True),
        "learning_rate": d.FloatDistribution(0.001, 1.0, log=True),
        "feature_fraction": d.FloatDistribution(0.01, 1.0),
        "lambda_l2": d.FloatDistribution(0.0, 1000.0),
    }
