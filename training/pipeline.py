"""`winback train` end to end: snapshots -> split -> booster -> calibration -> evaluation
-> MLflow run -> registered version and aliases. Each step lives in its own module."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pydantic
import scipy
import sklearn
from mlflow.entities import Metric
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from threadpoolctl import threadpool_limits

from artifact.model import ChurnModel
from artifact.tracking import TrackingStore, experiment_id
from core.config import DatasetConfig
from features.engine import Engine
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import feature_set
from training import baselines, dataset, lgbm, pyfunc_model, tracking
from training.calibration import CalibrationChoice
from training.dataset import TrainingData, labels
from training.evaluation import Evaluation, draw, evaluate_all
from training.fitting import FittedModel, fit_model
from training.registry import Decision, decide

Progress = Callable[[str], None]
REFERENCE_QUANTILES = 1001
STEPS = 7
INPUT_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class TrainingResult:
    run_id: str
    experiment_id: str
    model_name: str
    version: str
    data: TrainingData
    best_iteration: int
    calibration: CalibrationChoice
    evaluation: Evaluation
    decision: Decision
    tracking_uri: str
    artifact_uri: str


def _with_results(model: ChurnModel, evaluation: Evaluation) -> ChurnModel:
    """The metadata gains the test snapshot's score distribution and every test metric."""
    levels = np.linspace(0.0, 1.0, REFERENCE_QUANTILES)
    reference = np.quantile(evaluation.test_probability, levels).round(6).tolist()
    metadata = model.metadata.model_copy(
        update={"reference_scores": reference, "metrics": evaluation.test}
    )
    return ChurnModel(model.booster, metadata)


def _params(config: DatasetConfig, data: TrainingData, choice: CalibrationChoice) -> dict[str, str]:
    split = data.split
    flat = pd.json_normalize(config.model.model_dump(mode="json"), sep=".").iloc[0].to_dict()
    return {
        **{f"model.{key}": str(value) for key, value in flat.items()},
        "churn.mode": config.churn.mode,
        "churn.horizon_days": str(config.churn.horizon_days),
        "split.train_cutoffs": ",".join(str(c) for c in split.train),
        "split.validation_cutoffs": ",".join(str(c) for c in split.validation),
        "split.test_cutoff": str(split.test),
        "data.rows_train": str(len(data.train)),
        "data.rows_validation": str(len(data.validation)),
        "data.rows_test": str(len(data.test)),
        "data.features": str(len(data.features)),
        "calibration.method": choice.chosen.method,
    }


def _metrics(
    evaluation: Evaluation, fitted: lgbm.Fitted, choice: CalibrationChoice
) -> dict[str, float]:
    values: dict[str, float] = {"model/best_iteration": float(fitted.best_iteration)}
    for scorer, metrics in evaluation.test.items():
        values |= {f"{scorer}/test_{k}": v for k, v in metrics.items() if v is not None}
    values |= {
        f"model/validation_{k}": v for k, v in evaluation.validation.items() if v is not None
    }
    values |= {f"calibration/cv_log_loss_{m}": v for m, v in choice.cv_log_loss.items()}
    return values


def _pip_requirements() -> list[str]:
    """Pinned explicitly: MLflow would otherwise load the model in a subprocess to guess."""
    packages = (mlflow, lgb, np, pd, pydantic, scipy, sklearn)
    names = ("mlflow", "lightgbm", "numpy", "pandas", "pydantic", "scipy", "scikit-learn")
    return [f"{name}=={package.__version__}" for name, package in zip(names, packages, strict=True)]


def _schema_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The first rows, plus for each column with a missing value a row where it is missing.

    MLflow infers the same signature from these as from all rows (types from the columns, and
    a column is optional when it has a missing value), but checks every value in Python: on
    the whole test snapshot that took seconds.
    """
    missing = rows.isna().to_numpy()
    first_missing = missing.argmax(axis=0)[missing.any(axis=0)]
    return rows.iloc[np.union1d(np.arange(min(INPUT_EXAMPLE_ROWS, len(rows))), first_missing)]


def _log_model(model: ChurnModel, data: TrainingData, folder: Path) -> ModelInfo:
    """A models-from-code pyfunc whose artifacts are the two model files; the signature
    takes the snapshot's own column types, which is what callers hold."""
    files = folder / pyfunc_model.MODEL_ARTIFACT
    model.save(files)
    rows = data.test[model.metadata.input_names]
    example = rows.head(INPUT_EXAMPLE_ROWS)
    output = pd.DataFrame({pyfunc_model.PROBABILITY: model.predict_proba(example)})
    with warnings.catch_warnings():  # counts are int64 in snapshots and never missing
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(_schema_rows(rows), output)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=pyfunc_model.__file__,
        artifacts={pyfunc_model.MODEL_ARTIFACT: str(files)},
        signature=signature,
        input_example=example,
        pip_requirements=_pip_requirements(),
        registered_model_name=model.metadata.name,
    )


def _log_run(
    config: DatasetConfig,
    data: TrainingData,
    fitted: FittedModel,
    evaluation: Evaluation,
    plots: list[Path],
    store: TrackingStore,
    run_id: str,
) -> None:
    """Params, metrics (with the validation curve), config, data fingerprint and plots."""
    mlflow.log_params(_params(config, data, fitted.calibration))
    mlflow.log_metrics(_metrics(evaluation, fitted.boosting, fitted.calibration))
    curve = [
        Metric("model/validation_curve_log_loss", loss, 0, step)
        for step, loss in enumerate(fitted.boosting.validation_loss, start=1)
    ]
    store.client().log_batch(run_id, metrics=curve)
    fingerprint = dataset.fingerprint(data)
    commit = tracking.git_commit(Path(__file__).parent)
    mlflow.set_tags({"git_commit": commit or "unknown", "data_sha256": fingerprint["sha256"]})
    mlflow.log_dict(config.model_dump(mode="json"), "config.yaml")
    mlflow.log_dict(fingerprint, "data_fingerprint.json")
    for path in plots:
        mlflow.log_artifact(str(path), "plots")


def _silent(_message: str) -> None:
    pass


def _experiment(config: DatasetConfig, store: TrackingStore) -> str:
    """Points MLflow at `store`; the model's experiment, created on first use."""
    tracking.use(store)
    return experiment_id(store, config.model.name)


def train(
    config: DatasetConfig,
    engine: Engine,
    store: TrackingStore,
    progress: Progress | None = None,
) -> TrainingResult:
    """One MLflow run and one registered version; `store` is where both go."""
    say = progress or _silent
    experiment = _experiment(config, store)  # first: a bad store fails before the long build
    say(f"[1/{STEPS}] building snapshots for {len(config.cutoffs.dates())} cutoffs")
    table, _ = snapshots(config, engine, config.cutoffs.dates(), progress=say)
    return _train_on(config, table.to_pandas(), store, experiment, say)


def train_on(
    config: DatasetConfig,
    snapshot: pd.DataFrame,
    store: TrackingStore,
    progress: Progress | None = None,
) -> TrainingResult:
    """`train` from a snapshot table in hand (a notebook's, or the training benchmark's,
    which times training alone: building snapshots is the feature benchmark's subject)."""
    return _train_on(config, snapshot, store, _experiment(config, store), progress or _silent)


def _train_on(
    config: DatasetConfig,
    snapshot: pd.DataFrame,
    store: TrackingStore,
    experiment: str,
    say: Progress,
) -> TrainingResult:
    """Every thread pool the steps use (LightGBM's OpenMP when scoring, BLAS in the baselines)
    is held to `model.lightgbm.num_threads`, as the booster's training is. On the 2-core
    bench machine the extra threads spun more than they helped: the RFM fit took 0.73 s wall
    and 1.21 s CPU on two threads, 0.56 s and 0.67 s on one."""
    with threadpool_limits(limits=config.model.lightgbm.num_threads):
        return _steps(config, snapshot, store, experiment, say)


def _steps(
    config: DatasetConfig,
    snapshot: pd.DataFrame,
    store: TrackingStore,
    experiment: str,
    say: Progress,
) -> TrainingResult:
    say(f"[1/{STEPS}] splitting {len(snapshot):,} snapshot rows by cutoff")
    features = catalog(feature_set(config))
    data = dataset.assemble(snapshot, features, config.churn.horizon_days, config.model)

    say(
        f"[2/{STEPS}] training LightGBM on {len(data.train):,} rows, "
        f"validating on {len(data.validation):,}"
    )
    fitted = fit_model(config, data)

    say(f"[3/{STEPS}] fitting baselines and scoring the test snapshot ({data.split.test})")
    rfm = baselines.fit_rfm_logreg(data.train, labels(data.train))
    evaluation = evaluate_all(data, fitted.model, rfm)
    model = _with_results(fitted.model, evaluation)

    with (
        tempfile.TemporaryDirectory() as scratch,
        mlflow.start_run(experiment_id=experiment) as run,
    ):
        folder = Path(scratch)
        say(f"[4/{STEPS}] drawing plots")
        plots = draw(data, model, evaluation, folder / "plots", config.model.seed)

        say(f"[5/{STEPS}] logging run {run.info.run_id}")
        _log_run(config, data, fitted, evaluation, plots, store, run.info.run_id)

        say(f"[6/{STEPS}] logging and registering the model as {config.model.name}")
        version = str(_log_model(model, data, folder).registered_model_version)

        say(f"[7/{STEPS}] comparing with the champion on {data.split.test}")
        y = labels(data.test)
        margin = config.model.promotion.min_auc_gain
        auc = evaluation.test_auc
        decision = decide(store, config.model.name, version, auc, data.test, y, margin)
        mlflow.set_tags({"champion_decision": decision.reason, "promoted": str(decision.promoted)})
    return TrainingResult(
        run_id=run.info.run_id,
        experiment_id=experiment,
        model_name=config.model.name,
        version=version,
        data=data,
        best_iteration=fitted.boosting.best_iteration,
        calibration=fitted.calibration,
        evaluation=evaluation,
        decision=decision,
        tracking_uri=store.uri,
        artifact_uri=run.info.artifact_uri or "",
    )
