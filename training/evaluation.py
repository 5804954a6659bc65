"""Score the test snapshot with the model and both baselines, and draw the run's plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
from sklearn.pipeline import Pipeline

from artifact.model import ChurnModel, encode
from training import baselines, plots
from training.dataset import TrainingData, labels
from training.lgbm import Floats
from training.metrics import Metrics, evaluate

MODEL = "model"


@dataclass(frozen=True)
class Evaluation:
    test: dict[str, Metrics]  # scorer -> metrics on the test snapshot
    validation: Metrics  # the model on its validation snapshot (calibrated in-sample)
    scores: dict[str, Floats]  # scorer -> scores of the test rows
    test_margin: Floats  # the model's raw margin on the test rows

    @property
    def test_probability(self) -> Floats:
        return self.scores[MODEL]

    @property
    def test_auc(self) -> float:
        """The model's test ROC AUC: always measured (only other metrics can be None)."""
        return cast(float, self.test[MODEL]["roc_auc"])


def evaluate_all(data: TrainingData, model: ChurnModel, rfm: Pipeline) -> Evaluation:
    y = labels(data.test)
    margin = model.margin(data.test)  # once: the probabilities and the plots both need it
    scores = {
        MODEL: model.metadata.calibration.apply(margin),
        baselines.RFM_LOGREG: baselines.rfm_logreg_scores(rfm, data.test),
        baselines.RECENCY_RULE: baselines.recency_rule(data.test),
    }
    test = {
        name: evaluate(y, score, is_probability=name != baselines.RECENCY_RULE)
        for name, score in scores.items()
    }
    validation = evaluate(
        labels(data.validation), model.predict_proba(data.validation), is_probability=True
    )
    return Evaluation(test, validation, scores, margin)


def draw(
    data: TrainingData, model: ChurnModel, evaluation: Evaluation, folder: Path, seed: int
) -> list[Path]:
    """ROC, PR, reliability, gains/lift, importance and contributions, as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    y = labels(data.test)
    scores = evaluation.scores
    probabilities = {
        MODEL: scores[MODEL],
        f"{MODEL} (uncalibrated)": 1.0 / (1.0 + np.exp(-evaluation.test_margin)),
        baselines.RFM_LOGREG: scores[baselines.RFM_LOGREG],
    }
    names = [info.name for info in model.metadata.features]
    gain = np.asarray(model.booster.feature_importance(importance_type="gain"), dtype="float64")
    sample = data.test.iloc[plots.sample_rows(len(data.test), seed)]
    values = encode(model.inputs(sample), model.metadata.features)
    return [
        plots.roc(y, scores, folder / "roc.png"),
        plots.precision_recall(y, scores, folder / "precision_recall.png"),
        plots.reliability(y, probabilities, folder / "calibration.png"),
        plots.gains(y, scores, folder / "gains_lift.png"),
        plots.importance(names, gain, folder / "importance_gain.png"),
        plots.contributions(
            names, model.contributions(sample), values, folder / "contributions.png", seed
        ),
    ]
