"""`winback train` end to end: snapshots -> split -> backtest (settings, rounds, family,
calibration) -> evaluated fit -> test evaluation with intervals -> refit -> MLflow run ->
registered version and aliases. Each step lives in its own module."""

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
from artifact.reference import reference_of
from artifact.tracking import TrackingStore, experiment_id, use
from core.config import DatasetConfig
from features.engine import Engine
from features.pipeline import snapshots
from features.snapshots import catalog
from features.spec import feature_set
from training import baselines, dataset, pyfunc_model, tracking
from training.dataset import TrainingData, labels
from training.evaluation import Evaluation, draw, evaluate_all
from training.fitting import FittedModel, fit_model
from training.registry import Decision, Snapshot, decide

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
    fitted: FittedModel
    evaluation: Evaluation
    decision: Decision
    tracking_uri: str
    artifact_uri: str


def _with_results(model: ChurnModel, evaluation: Evaluation, test: pd.DataFrame) -> ChurnModel:
    """The metadata gains the model's own score distribution on the test snapshot (for risk
    percentiles), its inputs and score binned there (the drift reference `winback monitor`
    compares served rows with) and every test metric of the evaluated fit."""
    levels = np.linspace(0.0, 1.0, REFERENCE_QUANTILES)
    score = model.predict_proba(test)
    quantiles = np.quantile(score, levels).round(6).tolist()
    kinds = {info.name: info.kind for info in model.metadata.features}
    drift = reference_of(model.inputs(test), kinds, score)
    metadata = model.metadata.model_copy(
        update={"reference_scores": quantiles, "reference": drift, "metrics": evaluation.test}
    )
    return ChurnModel(model.booster, metadata)


def _params(config: DatasetConfig, data: TrainingData, fitted: FittedModel) -> dict[str, str]:
    split, backtest = data.split, fitted.backtest
    flat = pd.json_normalize(config.model.model_dump(mode="json"), sep=".").iloc[0].to_dict()
    chosen = backtest.search.best.settings.model_dump(mode="json")
    return {
        **{f"model.{key}": str(value) for key, value in flat.items()},
        **{f"chosen.lightgbm.{key}": str(value) for key, value in chosen.items()},
        "chosen.rounds": str(fitted.rounds),
        "chosen.family": backtest.winner.name,
        "churn.mode": config.churn.mode,
        "churn.horizon_days": str(config.churn.horizon_days),
        "split.train_cutoffs": ",".join(str(c) for c in split.train),
        "split.backtest_cutoffs": ",".join(str(c) for c in backtest.cutoffs),
        "split.test_cutoff": str(split.test),
        "split.refit_cutoffs": ",".join(str(c) for c in fitted.registered.metadata.train_cutoffs),
        "data.rows_train": str(len(data.train)),
        "data.rows_backtest": str(sum(backtest.sizes)),
        "data.rows_test": str(len(data.test)),
        "data.features": str(len(data.features)),
        "calibration.method": fitted.calibration.chosen.method,
        "registered_fit": "refit" if fitted.registered.metadata.refit else "evaluated",
    }


def _metrics(evaluation: Evaluation, fitted: FittedModel) -> dict[str, float]:
    """Test metrics under their usual names, each interval beside them, the paired
    differences, the backtest's candidates and the chosen calibration's losses."""
    values: dict[str, float] = {"model/best_iteration": float(fitted.rounds)}
    for scorer, metrics in evaluation.test.items():
        values |= {f"{scorer}/test_{k}": v for k, v in metrics.items() if v is not None}
    for scorer, intervals in evaluation.intervals.items():
        for name, interval in intervals.items():
            values |= {
                f"{scorer}/test_{name}_low": interval.low,
                f"{scorer}/test_{name}_high": interval.high,
            }
    for baseline, paired in evaluation.paired.items():
        for name, interval in paired.items():
            prefix = f"model_minus_{baseline}/test_{name}"
            values |= {prefix: interval.estimate, f"{prefix}_low": interval.low}
            values |= {f"{prefix}_high": interval.high}
    backtest = fitted.backtest
    values |= {"backtest/pooled_log_loss": backtest.winner.log_loss}
    for candidate in backtest.candidates:
        values |= {f"candidate/{candidate.name.replace(' ', '_')}/log_loss": candidate.log_loss}
    chosen = fitted.calibration.cv_log_loss
    values |= {f"calibration/cv_log_loss_{m}": v for m, v in chosen.items()}
    return values


def _fold_metrics(evaluation: Evaluation) -> list[Metric]:
    """Per backtest fold, as steps of one metric each (MLflow draws them as a curve)."""
    return [
        Metric(f"backtest/{name}", value, 0, step)
        for step, (_cutoff, metrics) in enumerate(evaluation.folds)
        for name, value in metrics.items()
        if value is not None
    ]


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
    """Params, metrics (with intervals, folds and the pooled curve), config, data fingerprint,
    the backtest's trials and candidates, and plots."""
    mlflow.log_params(_params(config, data, fitted))
    mlflow.log_metrics(_metrics(evaluation, fitted))
    curve = [
        Metric("backtest/pooled_log_loss_curve", loss, 0, step)
        for step, loss in enumerate(fitted.backtest.search.best.curve, start=1)
    ]
    store.client().log_batch(run_id, metrics=curve + _fold_metrics(evaluation))
    fingerprint = dataset.fingerprint(data)
    commit = tracking.git_commit(Path(__file__).parent)
    mlflow.set_tags(
        {
            "git_commit": commit or "unknown",
            "data_sha256": fingerprint["sha256"],
            "backtest_winner": backtest_reason(fitted),
        }
    )
    mlflow.log_dict(config.model_dump(mode="json"), "config.yaml")
    mlflow.log_dict(fingerprint, "data_fingerprint.json")
    mlflow.log_dict(backtest_record(fitted, evaluation), "backtest.json")
    for path in plots:
        mlflow.log_artifact(str(path), "plots")


def backtest_reason(fitted: FittedModel) -> str:
    """Why the registered family won, in one line a person reads."""
    ranked = fitted.backtest.candidates
    others = ", ".join(f"{c.name} {c.log_loss:.5f}" for c in ranked[1:])
    return f"{ranked[0].name}: lowest pooled backtest log loss {ranked[0].log_loss:.5f}" + (
        f" (then {others})" if others else ""
    )


def backtest_record(fitted: FittedModel, evaluation: Evaluation) -> dict[str, object]:
    backtest = fitted.backtest
    return {
        "folds": [
            {"cutoff": str(cutoff), "rows": size, **metrics}
            for (cutoff, metrics), size in zip(evaluation.folds, backtest.sizes, strict=True)
        ],
        "trials": [
            {
                **trial.settings.model_dump(mode="json"),
                "rounds": trial.rounds,
                "pooled_log_loss": trial.log_loss,
                "pruned": trial.pruned,
            }
            for trial in backtest.search.tried
        ],
        "candidates": [
            {
                "name": c.name,
                "log_loss": c.log_loss,
                "calibration": c.calibration.chosen.method,
                "cv_log_loss": c.calibration.cv_log_loss,
            }
            for c in backtest.candidates
        ],
    }


def _silent(_message: str) -> None:
    pass


def _experiment(config: DatasetConfig, store: TrackingStore) -> str:
    """Points MLflow at `store`; the model's experiment, created on first use."""
    use(store)
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
    grid = len(config.cutoffs.dates())
    say(f"[1/{STEPS}] building snapshots for {grid} cutoffs and the backtest's")
    table, _ = snapshots(config, engine, dataset.training_cutoffs(config), progress=say)
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

    say(f"[2/{STEPS}] backtest on {len(data.split.folds)} folds")
    fitted = fit_model(config, data, lambda message: say(f"[2/{STEPS}] {message}"))

    test = data.test
    say(f"[3/{STEPS}] fitting baselines and scoring the test snapshot ({data.split.test})")
    rfm = baselines.fit_rfm_logreg(data.train, labels(data.train))
    settings = config.model
    evaluation = evaluate_all(
        data, fitted.model, rfm, fitted.backtest, settings.bootstrap_rounds, settings.seed
    )
    model = _with_results(fitted.registered, evaluation, test)

    with (
        tempfile.TemporaryDirectory() as scratch,
        mlflow.start_run(experiment_id=experiment) as run,
    ):
        folder = Path(scratch)
        say(f"[4/{STEPS}] drawing plots")
        plots = draw(data, fitted.model, evaluation, folder / "plots", settings.seed)

        say(f"[5/{STEPS}] logging run {run.info.run_id}")
        _log_run(config, data, fitted, evaluation, plots, store, run.info.run_id)

        say(f"[6/{STEPS}] logging and registering the model as {settings.name}")
        version = str(_log_model(model, data, folder).registered_model_version)

        say(f"[7/{STEPS}] checking against the champion on {data.split.test}")
        challenger = evaluation.test["model"]
        judged = Snapshot(data.split.test, test, labels(test))
        decision = decide(store, settings.name, version, challenger, judged, settings.promotion)
        mlflow.set_tags({"champion_decision": decision.reason, "promoted": str(decision.promoted)})
    return TrainingResult(
        run_id=run.info.run_id,
        experiment_id=experiment,
        model_name=settings.name,
        version=version,
        data=data,
        fitted=fitted,
        evaluation=evaluation,
        decision=decision,
        tracking_uri=store.uri,
        artifact_uri=run.info.artifact_uri or "",
    )
