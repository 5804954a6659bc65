"""Each campaign review becomes its own MLflow run, beside the models it judges.

The tracking target is resolved by the caller (the CLI) and passed in: nothing here reads
the environment or sets a global URI, so tests and the service choose their own store.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from serving.recall.report import ReportFiles
from serving.recall.review import ALL, Review

TRACKING_ENV = "MLFLOW_TRACKING_URI"
METRICS = ("uplift", "ci_low", "ci_high", "saved_users", "cost", "cost_per_saved", "roi")


@dataclass(frozen=True)
class Tracking:
    uri: str
    artifact_root: Path | None  # where a new experiment keeps artifacts; None: the server's


def tracking_for(workdir: Path) -> Tracking:
    """$MLFLOW_TRACKING_URI if set, else SQLite and artifacts in the workdir."""
    uri = os.environ.get(TRACKING_ENV)
    if uri:
        return Tracking(uri=uri, artifact_root=None)
    return Tracking(uri=f"sqlite:///{workdir / 'mlflow.db'}", artifact_root=workdir / "mlartifacts")


def _experiment_id(client: MlflowClient, name: str, tracking: Tracking) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None if tracking.artifact_root is None else tracking.artifact_root.as_uri()
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except MlflowException:  # another review created it in the meantime
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def _metrics(table: pd.DataFrame, now: int) -> list[Metric]:
    """`<metric>.<strategy>` for every finite number, pooled ones as `<metric>.all`."""
    metrics = []
    for row in table.to_dict("records"):
        key = "all" if row["strategy"] == ALL else row["strategy"]
        for name in METRICS:
            value = float(row[name])
            if pd.notna(value):
                metrics.append(Metric(f"{name}.{key}", value, now, 0))
    return metrics


def log_review(review: Review, files: ReportFiles, tracking: Tracking, experiment: str) -> str:
    """Log the review's numbers and report files as a new run; returns the run id."""
    client = MlflowClient(tracking_uri=tracking.uri)
    run = client.create_run(
        _experiment_id(client, experiment, tracking),
        run_name=f"review-{review.campaign_id}",
        tags={"winback.kind": "campaign-review", "winback.campaign": review.campaign_id},
    )
    run_id = run.info.run_id
    try:
        _log(client, run_id, review, files)
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id


def _log(client: MlflowClient, run_id: str, review: Review, files: ReportFiles) -> None:
    params = {
        "campaign_id": review.campaign_id,
        "campaign_date": str(review.campaign_date),
        "window_days": str(review.window_days),
        "observed_until": str(review.observed_until),
        "window_complete": str(review.complete),
    }
    client.log_batch(
        run_id,
        metrics=_metrics(review.table, int(time.time() * 1000)),
        params=[Param(key, value) for key, value in params.items()],
    )
    client.log_artifacts(run_id, str(files.folder))
