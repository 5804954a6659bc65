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

from features.config import DatasetConfig
from features.engine import Engine
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import feature_set
from training import baselines, dataset, lgbm, pyfunc_model, tracking
from training.calibration import CalibrationChoice, calibrate
from training.dataset import TrainingData, balanced_weights, labels
from training.evaluation import Evaluation, draw, evaluate_all
from training.model_files import ChurnModel, ModelMetadata
from training.registry import Decision, decide
from training.tracking import TrackingStore

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


def _booster_and_calibration(
    config: DatasetConfig, data: TrainingData
) -> tuple[lgbm.Fitted, CalibrationChoice]:
    model = config.model
    balanced = model.imbalance == "balanced"
    fitted = lgbm.fit(
        data.design(data.train, balanced_weights(data.train) if balanced else None),
        data.design(data.validation, balanced_weights(data.validation) if balanced else None),
        data.feature_names,
        data.categorical,
        model.lightgbm,
        model.seed,
    )
    validation = data.design(data.validation)
    margin = np.asarray(fitted.booster.predict(validation.x, raw_score=True), dtype="float64")
    return fitted, calibrate(margin, validation.y, model.calibration, model.seed)


def _metadata(
    config: DatasetConfig, data: TrainingData, fitted: lgbm.Fitted, choice: CalibrationChoice
) -> ModelMetadata:
    split = data.split
    return ModelMetadata(
        name=config.model.name,
        dataset=config.name,
        horizon_days=config.churn.horizon_days,
        features=data.features,
        calibration=choice.chosen,
        reference_scores=[],
        bgnbd=data.bgnbd,
        train_cutoffs=list(split.train),
        validation_cutoffs=list(split.validation),
        test_cutoff=split.test,
        best_iteration=fitted.best_iteration,
        seed=config.model.seed,
    )


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


def _log_model(model: ChurnModel, data: TrainingData, folder: Path) -> ModelInfo:
    """A models-from-code pyfunc whose artifacts are the two model files; the signature
    takes the snapshot's own column types, which is what callers hold."""
    files = folder / pyfunc_model.MODEL_ARTIFACT
    model.save(files)
    rows = data.test[model.metadata.input_names]
    output = pd.DataFrame({pyfunc_model.PROBABILITY: model.predict_proba(rows)})
    with warnings.catch_warnings():  # counts are int64 in snapshots and never missing
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(rows, output)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=pyfunc_model.__file__,
        artifacts={pyfunc_model.MODEL_ARTIFACT: str(files)},
        signature=signature,
        input_example=rows.head(INPUT_EXAMPLE_ROWS),
        pip_requirements=_pip_requirements(),
        registered_model_name=model.metadata.name,
    )


def train(
    config: DatasetConfig,
    engine: Engine,
    store: TrackingStore,
    progress: Progress | None = None,
) -> TrainingResult:
    say = progress or (lambda _message: None)
    tracking.use(store)
    experiment = tracking.experiment_id(store, config.model.name)

    say(f"[1/{STEPS}] building snapshots for {len(config.cutoffs.dates())} cutoffs")
    table, _ = snapshots(config, engine, config.cutoffs.dates(), progress=say)
    features = catalog(feature_set(config))
    data = dataset.assemble(table.to_pandas(), features, config.churn.horizon_days, config.model)

    say(
        f"[2/{STEPS}] training LightGBM on {len(data.train):,} rows, "
        f"validating on {len(data.validation):,}"
    )
    fitted, choice = _booster_and_calibration(config, data)
    model = ChurnModel(fitted.booster, _metadata(config, data, fitted, choice))

    say(f"[3/{STEPS}] fitting baselines and scoring the test snapshot ({data.split.test})")
    rfm = baselines.fit_rfm_logreg(data.train, labels(data.train))
    evaluation = evaluate_all(data, model, rfm)
    model = _with_results(model, evaluation)

    with (
        tempfile.TemporaryDirectory() as scratch,
        mlflow.start_run(experiment_id=experiment) as run,
    ):
        folder = Path(scratch)
        say(f"[4/{STEPS}] drawing plots")
        plot_files = draw(data, model, rfm, evaluation, folder / "plots", config.model.seed)

        say(f"[5/{STEPS}] logging run {run.info.run_id}")
        mlflow.log_params(_params(config, data, choice))
        mlflow.log_metrics(_metrics(evaluation, fitted, choice))
        curve = [
            Metric("model/validation_curve_log_loss", loss, 0, step)
            for step, loss in enumerate(fitted.validation_loss, start=1)
        ]
        store.client().log_batch(run.info.run_id, metrics=curve)
        commit = tracking.git_commit(Path(__file__).parent)
        mlflow.set_tags(
            {"git_commit": commit or "unknown", "data_sha256": dataset.fingerprint(data)["sha256"]}
        )
        mlflow.log_dict(config.model_dump(mode="json"), "config.yaml")
        mlflow.log_dict(dataset.fingerprint(data), "data_fingerprint.json")
        for path in plot_files:
            mlflow.log_artifact(str(path), "plots")

        say(f"[6/{STEPS}] logging and registering the model as {config.model.name}")
        info = _log_model(model, data, folder)
        version = str(info.registered_model_version)

        say(f"[7/{STEPS}] comparing with the champion on {data.split.test}")
        decision = decide(
            store,
            config.model.name,
            version,
            model,
            data.test,
            labels(data.test),
            config.model.promotion.min_auc_gain,
        )
        mlflow.set_tags({"champion_decision": decision.reason, "promoted": str(decision.promoted)})
        artifact_uri = run.info.artifact_uri or ""
    return TrainingResult(
        run_id=run.info.run_id,
        experiment_id=experiment,
        model_name=config.model.name,
        version=version,
        data=data,
        best_iteration=fitted.best_iteration,
        calibration=choice,
        evaluation=evaluation,
        decision=decision,
        tracking_uri=store.uri,
        artifact_uri=artifact_uri,
    )
