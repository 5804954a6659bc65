"""Score the test snapshot with the model and both baselines, with the uncertainty of every
number that decides something, and draw the run's plots."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
from sklearn.pipeline import Pipeline

from artifact.model import ChurnModel, encode
from training import baselines, plots
from training.dataset import TrainingData, labels
from training.fitting import Backtest
from training.lgbm import Floats
from training.metrics import Metrics, evaluate
from training.uncertainty import Interval, PairedMetric, bootstrap

MODEL = "model"
BASELINES = (baselines.RFM_LOGREG, baselines.RECENCY_RULE)
PAIRED: tuple[PairedMetric, ...] = ("roc_auc", "pr_auc")


@dataclass(frozen=True)
class Evaluation:
    test: dict[str, Metrics]  # scorer -> metrics on the test snapshot
    intervals: dict[str, dict[str, Interval]]  # scorer -> metric -> bootstrap 95% interval
    paired: dict[str, dict[str, Interval]]  # baseline -> metric -> model minus baseline
    folds: list[tuple[dt.date, Metrics]]  # the chosen model on each backtest fold (held out)
    scores: dict[str, Floats]  # scorer -> scores of the test rows
    test_margin: Floats  # the model's raw margin on the test rows

    @property
    def test_probability(self) -> Floats:
        return self.scores[MODEL]

    @property
    def test_auc(self) -> float:
        """The model's test ROC AUC: always measured (only other metrics can be None)."""
        return cast(float, self.test[MODEL]["roc_auc"])


def evaluate_all(
    data: TrainingData,
    model: ChurnModel,
    rfm: Pipeline,
    backtest: Backtest,
    rounds: int,
    seed: int,
) -> Evaluation:
    test = data.test
    y = labels(test)
    margin = model.margin(test)  # once: the probabilities and the plots both need it
    scores = {
        MODEL: model.metadata.calibration.apply(margin),
        baselines.RFM_LOGREG: baselines.rfm_logreg_scores(rfm, test),
        baselines.RECENCY_RULE: baselines.recency_rule(test),
    }
    probability = {name: name != baselines.RECENCY_RULE for name in scores}
    # One set of resamples for every scorer: the paired differences need the same rows anyway,
    # and it is about three times quicker than a draw per interval.
    boot = bootstrap(y, scores, [n for n in scores if probability[n]], rounds=rounds, seed=seed)
    return Evaluation(
        test={name: evaluate(y, score, probability[name]) for name, score in scores.items()},
        intervals={name: boot.intervals(name) for name in scores},
        paired={b: {m: boot.difference(MODEL, b, m) for m in PAIRED} for b in BASELINES},
        folds=[
            (cutoff, evaluate(fold_y, fold_probability, is_probability=True))
            for cutoff, fold_y, fold_probability in backtest.fold_predictions()
        ],
        scores=scores,
        test_margin=margin,
    )


def draw(
    data: TrainingData, model: ChurnModel, evaluation: Evaluation, folder: Path, seed: int
) -> list[Path]:
    """ROC, PR, reliability with bin counts, gains/lift, lift quality, backtest folds,
    importance and contributions, as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    test = data.test
    y = labels(test)
    scores = evaluation.scores
    probabilities = {
        MODEL: scores[MODEL],
        f"{MODEL} (uncalibrated)": 1.0 / (1.0 + np.exp(-evaluation.test_margin)),
        baselines.RFM_LOGREG: scores[baselines.RFM_LOGREG],
    }
    names = [info.name for info in model.metadata.features]
    gain = np.asarray(model.booster.feature_importance(importance_type="gain"), dtype="float64")
    sample = test.iloc[plots.sample_rows(len(test), seed)]
    values = encode(model.inputs(sample), model.metadata.features)
    folds = [(str(cutoff), metrics) for cutoff, metrics in evaluation.folds]
    return [
        plots.roc(y, scores, folder / "roc.png"),
        plots.precision_recall(y, scores, folder / "precision_recall.png"),
        plots.reliability_with_counts(y, probabilities, folder / "calibration.png"),
        plots.gains(y, scores, folder / "gains_lift.png"),
        plots.lift_quality_plot(y, scores, folder / "lift_quality.png"),
        plots.fold_metrics_plot(folds, folder / "backtest_folds.png"),
        plots.importance(names, gain, folder / "importance_gain.png"),
        plots.contributions(
            names, model.contributions(sample), values, folder / "contributions.png", seed
        ),
    ]
