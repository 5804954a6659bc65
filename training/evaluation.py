"""Score the test snapshot with the model and both baselines, and draw the run's plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from training import baselines, plots
from training.dataset import TrainingData, labels
from training.lgbm import Floats
from training.metrics import Metrics, evaluate
from training.model_files import ChurnModel, encode

MODEL = "model"
SCORERS = (MODEL, baselines.RFM_LOGREG, baselines.RECENCY_RULE)


@dataclass(frozen=True)
class Evaluation:
    test: dict[str, Metrics]  # scorer -> metrics on the test snapshot
    validation: Metrics  # the model on its validation snapshot (calibrated in-sample)
    test_probability: Floats
    test_margin: Floats


def evaluate_all(data: TrainingData, model: ChurnModel, rfm: Pipeline) -> Evaluation:
    y = labels(data.test)
    probability = model.predict_proba(data.test)
    scores = {
        MODEL: probability,
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
    return Evaluation(
        test=test,
        validation=validation,
        test_probability=probability,
        test_margin=model.margin(data.test),
    )


def draw(
    data: TrainingData,
    model: ChurnModel,
    rfm: Pipeline,
    evaluation: Evaluation,
    folder: Path,
    seed: int,
) -> list[Path]:
    """ROC, PR, reliability, gains/lift, importance and contributions, as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    y = labels(data.test)
    rfm_score = baselines.rfm_logreg_scores(rfm, data.test)
    ranking = {
        MODEL: evaluation.test_probability,
        baselines.RFM_LOGREG: rfm_score,
        baselines.RECENCY_RULE: baselines.recency_rule(data.test),
    }
    uncalibrated = 1.0 / (1.0 + np.exp(-evaluation.test_margin))
    probabilities = {
        MODEL: evaluation.test_probability,
        f"{MODEL} (uncalibrated)": uncalibrated,
        baselines.RFM_LOGREG: rfm_score,
    }
    names = [info.name for info in model.metadata.features]
    gain = np.asarray(model.booster.feature_importance(importance_type="gain"), dtype="float64")
    values = encode(model.inputs(data.test), model.metadata.features)
    return [
        plots.roc(y, ranking, folder / "roc.png"),
        plots.precision_recall(y, ranking, folder / "precision_recall.png"),
        plots.reliability(y, probabilities, folder / "calibration.png"),
        plots.gains(y, ranking, folder / "gains_lift.png"),
        plots.importance(names, gain, folder / "importance_gain.png"),
        plots.contributions(
            names, model.contributions(data.test), values, folder / "contributions.png", seed
        ),
    ]
