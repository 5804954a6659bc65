"""Each strategy's uplift fit becomes an MLflow run and a registered version, like the churn
model: params, held-out metrics (names containing `qini` and `auuc`, with `_low`/`_high`
bounds), the Qini and decile charts, the held-out predictions, and the model itself as a
models-from-code pyfunc over LightGBM text files (nothing pickled).
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pydantic
from mlflow.models import infer_signature

from artifact.tracking import TrackingStore, experiment_id, use
from uplift import pyfunc_model
from uplift.config import UpliftConfig
from uplift.fit import CampaignData, StrategyFit
from uplift.plots import decile_chart, qini_chart
from uplift.registry import Decision, decide

EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class Logged:
    strategy: str
    run_id: str
    name: str
    version: str
    decision: Decision
    charts: tuple[Path, ...]


def charts(fit: StrategyFit, folder: Path) -> tuple[Path, ...]:
    folder.mkdir(parents=True, exist_ok=True)
    return (
        qini_chart(fit.result, fit.strategy, folder / f"qini_{fit.strategy}.png"),
        decile_chart(fit.result, fit.strategy, folder / f"uplift_deciles_{fit.strategy}.png"),
    )


def _pip_requirements() -> list[str]:
    """Pinned explicitly: MLflow would otherwise load the model in a subprocess to guess."""
    packages = {"mlflow": mlflow, "lightgbm": lgb, "numpy": np, "pandas": pd, "pydantic": pydantic}
    return [f"{name}=={package.__version__}" for name, package in packages.items()]


def _params(fit: StrategyFit, campaign: CampaignData, settings: UpliftConfig) -> dict[str, str]:
    meta = fit.model.metadata
    booster = settings.booster
    return {
        "strategy": fit.strategy,
        "campaign_id": campaign.id,
        "campaign_date": str(campaign.date),
        "window_days": str(campaign.window_days),
        "store_version": campaign.store_version,
        "learner": settings.learner,
        "folds": str(settings.folds),
        "treated": str(meta.treated),
        "control": str(meta.control),
        "features": str(len(meta.features)),
        "bootstrap_rounds": str(settings.bootstrap_rounds),
        "booster.num_leaves": str(booster.num_leaves),
        "booster.min_child_samples": str(booster.min_child_samples),
        "booster.n_estimators": str(booster.n_estimators),
        "booster.learning_rate": str(booster.learning_rate),
    }


def _log_model(fit: StrategyFit, users: pd.DataFrame, folder: Path) -> str:
    files = folder / pyfunc_model.MODEL_ARTIFACT
    fit.model.save(files)
    example = users[fit.model.metadata.input_names].head(EXAMPLE_ROWS)
    output = pd.DataFrame({pyfunc_model.UPLIFT: fit.model.predict(example)})
    with warnings.catch_warnings():  # counts are int64 in the store and never missing
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(example, output)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=pyfunc_model.__file__,
        artifacts={pyfunc_model.MODEL_ARTIFACT: str(files)},
        signature=signature,
        input_example=example,
        pip_requirements=_pip_requirements(),
        registered_model_name=fit.model.metadata.name,
    )
    return str(info.registered_model_version)


def log_fit(
    store: TrackingStore,
    experiment: str,
    fit: StrategyFit,
    campaign: CampaignData,
    users: pd.DataFrame,
    settings: UpliftConfig,
    report_folder: Path,
) -> Logged:
    """One run and one registered version for `fit`; `users` are the campaign's listed users
    with their features (`fit.joined`), which also re-score the current champion."""
    use(store)
    drawn = charts(fit, report_folder)
    run_name = f"uplift-{fit.strategy}-{campaign.id}"
    tags = {"winback.kind": "uplift-fit", "winback.campaign": campaign.id}
    with (
        tempfile.TemporaryDirectory() as scratch,
        mlflow.start_run(experiment_id=experiment_id(store, experiment), run_name=run_name) as run,
    ):
        mlflow.set_tags({**tags, "winback.strategy": fit.strategy})
        mlflow.log_params(_params(fit, campaign, settings))
        metrics = {k: v for k, v in fit.model.metadata.metrics.items() if np.isfinite(v)}
        mlflow.log_metrics(metrics)
        folder = Path(scratch)
        fit.held_out.to_csv(folder / "held_out.csv", index=False)
        fit.result.deciles.to_csv(folder / "uplift_deciles.csv", index=False)
        for path in (*drawn, folder / "held_out.csv", folder / "uplift_deciles.csv"):
            mlflow.log_artifact(str(path))
        version = _log_model(fit, users, folder)
        name = fit.model.metadata.name
        decision = decide(store, name, version, fit, users, settings.promotion)
        mlflow.set_tags({"champion_decision": decision.reason, "promoted": str(decision.promoted)})
    return Logged(fit.strategy, run.info.run_id, name, version, decision, drawn)
