"""On a log whose churn rate rises and whose users change over time (planted drift), the
backtest-chosen model still beats both baselines with intervals clear of zero and stays
calibrated on the test cutoff."""

from __future__ import annotations

import pytest

from core.config import DatasetConfig, parse_config
from features.engine import DuckDBEngine
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import feature_set
from features.status import LABEL
from features.synthetic import DRIFT_PRESETS, SyntheticSpec, generate, write
from features.timeline import CUTOFF
from tests.trained import config_data
from training import baselines
from training.dataset import TrainingData, assemble, labels, training_cutoffs
from training.evaluation import BASELINES, MODEL, Evaluation, evaluate_all
from training.fitting import fit_model

Drifting = tuple[DatasetConfig, TrainingData]
ECE_BOUND = 0.03  # the target on the drifting log

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drifting(tmp_path_factory: pytest.TempPathFactory) -> Drifting:
    folder = tmp_path_factory.mktemp("drift")
    spec = SyntheticSpec(users=6_000, days=300, seed=4, drift=DRIFT_PRESETS["churn-rise"])
    write(generate(spec), folder / "data")
    data = config_data(folder / "data", folder / "work", search={"trials": 2})
    data["cutoffs"] = {"start": "2025-04-01", "end": "2025-09-28", "step_days": 30}
    config = parse_config(data, folder / "config.yaml")
    table, _ = snapshots(config, DuckDBEngine(threads=2), training_cutoffs(config))
    return config, assemble(table.to_pandas(), catalog(feature_set(config)), 30, config.model)


@pytest.fixture(scope="module")
def evaluation(drifting: Drifting) -> Evaluation:
    config, training = drifting
    fitted = fit_model(config, training)
    rfm = baselines.fit_rfm_logreg(training.train, labels(training.train))
    return evaluate_all(training, fitted.model, rfm, fitted.backtest, 300, config.model.seed)


@pytest.mark.parametrize("metric", ["roc_auc", "pr_auc"])
@pytest.mark.parametrize("baseline", BASELINES)
def test_the_model_beats_each_baseline_with_an_interval_clear_of_zero(
    evaluation: Evaluation, baseline: str, metric: str
) -> None:
    assert evaluation.paired[baseline][metric].low > 0


def test_the_model_stays_calibrated_on_the_test_cutoff(evaluation: Evaluation) -> None:
    ece = evaluation.test[MODEL]["ece"]
    assert ece is not None and ece <= ECE_BOUND


def test_the_churn_rate_really_moves_across_the_cutoffs(
    drifting: Drifting,
) -> None:
    """Else this would be a stationary test under another name."""
    rate = drifting[1].labelled.groupby(CUTOFF)[LABEL].mean()
    assert rate.iloc[-1] > rate.iloc[0] + 0.03
