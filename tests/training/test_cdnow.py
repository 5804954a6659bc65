"""On the real CDNOW log the configured model must beat both baselines on the last labelled
cutoff, with validation only on earlier cutoffs (nothing is tuned on the test snapshot)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from artifact.model import encode
from core.config import load_config
from features.engine import DuckDBEngine
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import feature_set
from serving.reasons import top_features
from training import baselines
from training.dataset import TrainingData, assemble, labels, training_cutoffs
from training.evaluation import MODEL, Evaluation, evaluate_all
from training.fitting import FittedModel, fit_model

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "cdnow.yaml"
ECE_BOUND = 0.03  # the target (README: CDNOW calibration)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[FittedModel, TrainingData]:
    config = load_config(CONFIG)
    config = config.model_copy(update={"workdir": str(tmp_path_factory.mktemp("cdnow"))})
    table, _ = snapshots(config, DuckDBEngine(), training_cutoffs(config))
    data = assemble(
        table.to_pandas(), catalog(feature_set(config)), config.churn.horizon_days, config.model
    )
    assert data.split.test == dt.date(1998, 3, 28)
    assert [fold.cutoff for fold in data.split.folds] == [
        dt.date(1998, 2, 28),
        dt.date(1998, 3, 7),
        dt.date(1998, 3, 14),
        dt.date(1998, 3, 21),
    ]
    assert max(data.split.train) == dt.date(1997, 12, 28)  # its labels end by 1998-03-28
    return fit_model(config, data), data


@pytest.fixture(scope="module")
def evaluation(fitted: tuple[FittedModel, TrainingData]) -> Evaluation:
    model, data = fitted
    rfm = baselines.fit_rfm_logreg(data.train, labels(data.train))
    settings = load_config(CONFIG).model
    return evaluate_all(
        data, model.model, rfm, model.backtest, settings.bootstrap_rounds, settings.seed
    )


def test_the_champions_reasons_are_lightgbms_own_contributions(
    fitted: tuple[FittedModel, TrainingData],
) -> None:
    """The explainer's tables against pred_contrib on the test snapshot (issue 20)."""
    model, data = fitted
    matrix = encode(model.model.inputs(data.test), model.model.metadata.features)
    booster = model.model.booster
    margin, found = model.model.explainer.scores(matrix)
    reference = booster.predict(matrix, pred_contrib=True)
    assert np.abs(found - reference).max() <= 1e-6
    np.testing.assert_array_equal(margin, booster.predict(matrix, raw_score=True))
    np.testing.assert_array_equal(
        top_features(found[:, :-1], 3), top_features(reference[:, :-1], 3)
    )


@pytest.mark.parametrize("metric", ["roc_auc", "pr_auc"])
@pytest.mark.parametrize("baseline", [baselines.RFM_LOGREG, baselines.RECENCY_RULE])
def test_the_model_beats_each_baseline_on_the_test_cutoff(
    evaluation: Evaluation, baseline: str, metric: str
) -> None:
    model, other = evaluation.test[MODEL][metric], evaluation.test[baseline][metric]
    assert model is not None and other is not None
    assert model > other


def test_probabilities_stay_calibrated_on_the_test_cutoff(evaluation: Evaluation) -> None:
    ece = evaluation.test[MODEL]["ece"]
    assert ece is not None and ece <= ECE_BOUND


def test_probabilities_beat_the_rfm_regression_on_log_loss(evaluation: Evaluation) -> None:
    loss = evaluation.test[MODEL]["log_loss"]
    rfm_loss = evaluation.test[baselines.RFM_LOGREG]["log_loss"]
    assert loss is not None and rfm_loss is not None and loss < rfm_loss
