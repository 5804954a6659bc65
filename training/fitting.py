"""From training data to the models `winback train` evaluates and registers; no tracking.

The backtest chooses the booster's settings and rounds, the model family and the calibration
(`training.backtest`, `training.candidates`). The evaluated model is then fitted on the
cutoffs whose labels are known by the test cutoff and judged there; the registered one is
refitted on every labelled cutoff, test included, with the same choices and a calibration
fitted the same way (the backtest's held-out margins plus the evaluated model's on the test
cutoff). Kept apart from the pipeline so tests, notebooks and benchmarks get the exact models
`winback train` would register without touching MLflow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from artifact.model import CalibrationMap, ChurnModel, ModelMetadata
from core.config import DatasetConfig
from features.definition import feature_definition
from training import baselines, lgbm
from training.backtest import Search, fold_data, search
from training.calibration import CalibrationChoice, calibrate, grouped_folds
from training.candidates import Candidate, Pooled, compare, linear_margins, pool
from training.dataset import TrainingData, balanced_weights, labels
from training.lgbm import Design, Floats

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Backtest:
    """What the pooled held-out predictions chose, and the evidence for it."""

    cutoffs: list[dt.date]  # one per fold, oldest first
    sizes: list[int]  # held-out rows per fold
    search: Search
    candidates: list[Candidate]  # best first
    pooled: Pooled

    @property
    def winner(self) -> Candidate:
        return self.candidates[0]

    def fold_predictions(self) -> list[tuple[dt.date, Floats, Floats]]:
        """(cutoff, labels, calibrated probabilities of the winner) per fold."""
        probability = self.winner.calibration.chosen.apply(self.pooled.margin(self.winner.weight))
        bounds = np.cumsum([0, *self.sizes])
        return [
            (cutoff, self.pooled.y[start:end], probability[start:end])
            for cutoff, start, end in zip(self.cutoffs, bounds[:-1], bounds[1:], strict=True)
        ]


@dataclass(frozen=True)
class FittedModel:
    model: ChurnModel  # the evaluated fit: known-by-the-test-cutoff labels only
    registered: ChurnModel  # the refit on every labelled cutoff (or `model`, refit off)
    backtest: Backtest

    @property
    def calibration(self) -> CalibrationChoice:
        return self.backtest.winner.calibration

    @property
    def rounds(self) -> int:
        return self.backtest.search.best.rounds


def choose(config: DatasetConfig, data: TrainingData, say: Progress) -> Backtest:
    settings = config.model
    folds = [fold_data(data, f, settings.imbalance == "balanced") for f in data.split.folds]
    found = search(folds, settings.lightgbm, data, settings.search.trials, settings.seed, say)
    say(f"backtest: comparing {', '.join(settings.candidates)} on the pooled folds")
    pooled = pool(folds, found.best.margins, linear_margins(folds))
    candidates = compare(pooled, settings.candidates, settings.calibration, settings.seed)
    return Backtest(
        cutoffs=[fold.fold.cutoff for fold in folds],
        sizes=[len(fold.target.y) for fold in folds],
        search=found,
        candidates=candidates,
        pooled=pooled,
    )


def _booster(
    config: DatasetConfig, data: TrainingData, train: Design, backtest: Backtest
) -> lgb.Booster:
    """The chosen settings for the chosen rounds; one round where the trees weigh nothing
    (the format keeps a booster, the RFM regression carries the whole margin)."""
    best = backtest.search.best
    rounds = best.rounds if backtest.winner.weight > 0 else 1
    return lgbm.fit_rounds(
        train, data.feature_names, data.categorical, best.settings, config.model.seed, rounds
    )


def _fit(
    config: DatasetConfig,
    data: TrainingData,
    cutoffs: Sequence[dt.date],
    backtest: Backtest,
    calibration: CalibrationMap,
    calibrated_on: Sequence[dt.date],
) -> ChurnModel:
    """The winning family fitted on `cutoffs`, BG/NBD as of the test cutoff."""
    split, winner = data.split, backtest.winner
    params = data.bgnbd_at(split.test)
    rows = data.rows(cutoffs, params)
    weight = balanced_weights(rows) if config.model.imbalance == "balanced" else None
    booster = _booster(config, data, data.design(rows, weight), backtest)
    linear = None
    if winner.weight < 1:
        linear = baselines.linear_term(baselines.fit_rfm_logreg(rows, labels(rows)))
    metadata = ModelMetadata(
        name=config.model.name,
        dataset=config.name,
        horizon_days=config.churn.horizon_days,
        features=data.features,
        calibration=calibration,
        reference_scores=[],
        bgnbd=params,
        family=winner.family,
        blend_weight=winner.weight,
        linear=linear,
        train_cutoffs=list(cutoffs),
        validation_cutoffs=list(calibrated_on),
        test_cutoff=split.test,
        refit=split.test in cutoffs,
        best_iteration=booster.current_iteration(),
        seed=config.model.seed,
        definition=feature_definition(config),
    )
    return ChurnModel(booster, metadata)


def fit_model(
    config: DatasetConfig, data: TrainingData, progress: Progress | None = None
) -> FittedModel:
    say = progress or (lambda _message: None)
    backtest = choose(config, data, say)
    split, winner = data.split, backtest.winner
    say(f"fitting {winner.name} on {len(split.train)} cutoffs for the test cutoff {split.test}")
    evaluated = _fit(
        config, data, split.train, backtest, winner.calibration.chosen, backtest.cutoffs
    )
    if not config.model.refit:
        return FittedModel(evaluated, evaluated, backtest)
    say(f"refitting {winner.name} on all {len(split.refit)} labelled cutoffs")
    test = data.test
    margins = np.concatenate([backtest.pooled.margin(winner.weight), evaluated.margin(test)])
    y = np.concatenate([backtest.pooled.y, labels(test)])
    users = np.concatenate([backtest.pooled.users, test["user_id"].to_numpy()])
    settings = config.model
    method = [winner.calibration.chosen.method]
    refit_calibration = calibrate(margins, y, method, grouped_folds(y, settings.seed, users))
    registered = _fit(
        config,
        data,
        split.refit,
        backtest,
        refit_calibration.chosen,
        [*backtest.cutoffs, split.test],
    )
    return FittedModel(evaluated, registered, backtest)
